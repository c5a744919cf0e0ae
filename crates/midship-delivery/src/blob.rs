//! The package store: blobs named by their sha256, so a blob is written once however often it is
//! uploaded, and a name always means the same bytes. A blob becomes visible only when complete
//! (written to a temporary file, synced, then renamed), so a half-uploaded package is never
//! offered.

use std::fmt::Debug;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::pin::Pin;

use async_trait::async_trait;
use bytes::Bytes;
use sha2::{Digest, Sha256};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncSeekExt};

#[derive(Debug, thiserror::Error)]
pub enum BlobError {
    #[error("{0} is not a sha256 name")]
    BadName(String),
    #[error("cannot {action} blob {name}: {source}")]
    Io { action: &'static str, name: String, source: std::io::Error },
}

pub type BlobReader = Pin<Box<dyn AsyncRead + Send>>;

#[async_trait]
pub trait BlobStore: Send + Sync + Debug {
    /// Stores `bytes` durably and returns their sha256 (hex).
    async fn put(&self, bytes: Bytes) -> Result<String, BlobError>;
    /// The blob's size, `None` if there is no such blob.
    async fn size(&self, sha256: &str) -> Result<Option<u64>, BlobError>;
    /// `length` bytes from `offset`; the range must lie inside the blob.
    async fn open(&self, sha256: &str, offset: u64, length: u64) -> Result<BlobReader, BlobError>;
    /// A URL devices may download the blob from directly for `valid_for` (a pre-signed object
    /// storage URL); `None` when the store has none and the server streams it itself.
    fn download_url(&self, _sha256: &str, _valid_for: std::time::Duration) -> Option<String> {
        None
    }

    async fn read_all(&self, sha256: &str) -> Result<Vec<u8>, BlobError> {
        let size = self.size(sha256).await?.ok_or_else(|| BlobError::Io {
            action: "read",
            name: sha256.to_owned(),
            source: std::io::ErrorKind::NotFound.into(),
        })?;
        let mut reader = self.open(sha256, 0, size).await?;
        let mut bytes = Vec::with_capacity(size as usize);
        reader.read_to_end(&mut bytes).await.map_err(|source| BlobError::Io {
            action: "read",
            name: sha256.to_owned(),
            source,
        })?;
        Ok(bytes)
    }
}

pub(crate) fn check_name(sha256: &str) -> Result<(), BlobError> {
    if sha256.len() == 64 && sha256.bytes().all(|byte| matches!(byte, b'0'..=b'9' | b'a'..=b'f')) {
        Ok(())
    } else {
        Err(BlobError::BadName(midship_core::ids::echo(sha256)))
    }
}

/// Blobs as files under a directory: `ab/abcdef…`.
#[derive(Debug, Clone)]
pub struct LocalBlobStore {
    root: PathBuf,
}

impl LocalBlobStore {
    pub fn new(root: impl Into<PathBuf>) -> Self {
        Self { root: root.into() }
    }

    fn path(&self, sha256: &str) -> PathBuf {
        self.root.join(&sha256[..2]).join(sha256)
    }
}

fn write_durably(root: &Path, target: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let directory = target.parent().expect("blob paths have a parent");
    std::fs::create_dir_all(directory)?;
    let temporary_directory = root.join("incoming");
    std::fs::create_dir_all(&temporary_directory)?;
    let mut temporary = tempfile_in(&temporary_directory)?;
    temporary.1.write_all(bytes)?;
    temporary.1.sync_all()?;
    std::fs::rename(&temporary.0, target)?;
    std::fs::File::open(directory)?.sync_all()
}

/// A new file with a unique name (no `tempfile` crate outside tests).
fn tempfile_in(directory: &Path) -> std::io::Result<(PathBuf, std::fs::File)> {
    static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let sequence = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let name = format!("{}.{sequence}.part", std::process::id());
    let path = directory.join(name);
    let file = std::fs::OpenOptions::new().write(true).create_new(true).open(&path)?;
    Ok((path, file))
}

#[async_trait]
impl BlobStore for LocalBlobStore {
    async fn put(&self, bytes: Bytes) -> Result<String, BlobError> {
        let root = self.root.clone();
        let store = self.clone();
        tokio::task::spawn_blocking(move || {
            let sha256 = hex::encode(Sha256::digest(&bytes));
            let target = store.path(&sha256);
            if !target.exists() {
                write_durably(&root, &target, &bytes).map_err(|source| BlobError::Io {
                    action: "write",
                    name: sha256.clone(),
                    source,
                })?;
            }
            Ok(sha256)
        })
        .await
        .expect("the blob writer does not panic")
    }

    async fn size(&self, sha256: &str) -> Result<Option<u64>, BlobError> {
        check_name(sha256)?;
        match tokio::fs::metadata(self.path(sha256)).await {
            Ok(metadata) => Ok(Some(metadata.len())),
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(source) => Err(BlobError::Io { action: "inspect", name: sha256.to_owned(), source }),
        }
    }

    async fn open(&self, sha256: &str, offset: u64, length: u64) -> Result<BlobReader, BlobError> {
        check_name(sha256)?;
        let io = |source| BlobError::Io { action: "read", name: sha256.to_owned(), source };
        let mut file = tokio::fs::File::open(self.path(sha256)).await.map_err(io)?;
        file.seek(std::io::SeekFrom::Start(offset)).await.map_err(io)?;
        Ok(Box::pin(file.take(length)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn blobs_are_named_by_content_and_read_by_range() {
        let directory = tempfile::tempdir().unwrap();
        let store = LocalBlobStore::new(directory.path());
        let name = store.put(Bytes::from_static(b"hello world")).await.unwrap();
        assert_eq!(name, hex::encode(Sha256::digest(b"hello world")));
        assert_eq!(store.put(Bytes::from_static(b"hello world")).await.unwrap(), name);
        assert_eq!(store.size(&name).await.unwrap(), Some(11));
        let mut part = String::new();
        store.open(&name, 6, 5).await.unwrap().read_to_string(&mut part).await.unwrap();
        assert_eq!(part, "world");
        assert_eq!(store.read_all(&name).await.unwrap(), b"hello world");
        assert_eq!(store.size(&"0".repeat(64)).await.unwrap(), None);
        assert!(matches!(store.size("../../etc/passwd").await, Err(BlobError::BadName(_))));
    }
}
