//! The manifest a package carries: what it is and the sha256 of every file, signed by the
//! workspace's key. A device trusts a file only when its hash is in a manifest that verifies.

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::{Files, PackageError};

pub fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileEntry {
    pub path: String,
    pub sha256: String,
    pub size: u64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PackageManifest {
    pub workspace_id: String,
    /// `upgrade`, `h5`, `mini_program` or `hotpatch`.
    pub kind: String,
    /// The H5 or mini program id; the platform for upgrades and hotpatches.
    pub app_id: String,
    pub version: String,
    /// The full package (zip or binary) as downloaded.
    pub package_sha256: String,
    pub package_size: u64,
    /// The unpacked files, sorted by path; empty for packages that are not unpacked (apk, ipa).
    #[serde(default)]
    pub files: Vec<FileEntry>,
}

impl PackageManifest {
    pub fn file_entries(files: &Files) -> Vec<FileEntry> {
        files
            .iter()
            .map(|(path, content)| FileEntry {
                path: path.clone(),
                sha256: sha256_hex(content),
                size: content.len() as u64,
            })
            .collect()
    }

    /// Every file is the manifest's, byte for byte, and nothing is missing or added.
    pub fn check_files(&self, files: &Files) -> Result<(), PackageError> {
        if files.len() != self.files.len() {
            let extra = files.keys().find(|path| !self.files.iter().any(|entry| &entry.path == *path));
            let missing = self.files.iter().find(|entry| !files.contains_key(&entry.path));
            let (path, reason) = match (extra, missing) {
                (Some(path), _) => (path.clone(), "not in the manifest"),
                (None, Some(entry)) => (entry.path.clone(), "missing"),
                (None, None) => (String::new(), "file count differs"),
            };
            return Err(PackageError::ManifestMismatch { path, reason: reason.into() });
        }
        for entry in &self.files {
            let content = files
                .get(&entry.path)
                .ok_or_else(|| PackageError::ManifestMismatch { path: entry.path.clone(), reason: "missing".into() })?;
            if content.len() as u64 != entry.size || sha256_hex(content) != entry.sha256 {
                return Err(PackageError::ManifestMismatch {
                    path: entry.path.clone(),
                    reason: "sha256 differs".into(),
                });
            }
        }
        Ok(())
    }

    /// The downloaded package itself is the manifest's.
    pub fn check_package(&self, bytes: &[u8]) -> Result<(), PackageError> {
        if bytes.len() as u64 != self.package_size || sha256_hex(bytes) != self.package_sha256 {
            return Err(PackageError::ManifestMismatch {
                path: String::new(),
                reason: "package sha256 differs".into(),
            });
        }
        Ok(())
    }
}
