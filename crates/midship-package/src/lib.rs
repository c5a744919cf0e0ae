//! Delivery packages as both ends see them, with no I/O: the server builds and signs them, the
//! SDK verifies and rebuilds them with the same code.
//!
//! - [`archive`]: zip archives read into files, with limits and no entry escaping the root;
//! - [`manifest`]: the signed list of a package's files and their sha256;
//! - [`signing`]: Ed25519 signatures over manifests;
//! - [`patch`]: content diffs (file by file) and plain binary diffs, both zstd patch-from.

pub mod archive;
pub mod manifest;
pub mod patch;
pub mod signing;

use std::collections::BTreeMap;

pub use archive::{ArchiveLimits, read_zip, write_zip};
pub use manifest::{FileEntry, PackageManifest, sha256_hex};
pub use patch::{apply_binary_patch, apply_content_patch, create_binary_patch, create_content_patch};
pub use signing::{ManifestSigner, SignedManifest, verify_manifest};

/// A package's files by path (`/`-separated, relative to the package root).
pub type Files = BTreeMap<String, Vec<u8>>;

#[derive(Debug, thiserror::Error)]
pub enum PackageError {
    #[error("not a valid zip archive: {0}")]
    Corrupt(String),
    #[error("zip entry `{0}` escapes the package root")]
    EscapingEntry(String),
    #[error("zip entry `{0}` is a symbolic link, which packages may not contain")]
    SymbolicLink(String),
    #[error("zip entry `{0}` appears twice")]
    DuplicateEntry(String),
    #[error("the zip lists an entry name more than once")]
    DuplicateNames,
    #[error("package is too large: {0}")]
    TooLarge(String),
    #[error("invalid patch: {0}")]
    InvalidPatch(String),
    #[error("file `{path}` does not match the signed manifest: {reason}")]
    ManifestMismatch { path: String, reason: String },
    #[error("the manifest signature does not verify: {0}")]
    BadSignature(String),
}
