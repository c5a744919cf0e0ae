//! Diffs between two versions of a package.
//!
//! A **content patch** goes file by file: a file whose bytes an old file already has is copied
//! (by hash, so renames cost nothing), a changed file is a zstd frame compressed against the old
//! file of the same path (zstd's patch-from: the old file is the frame's reference prefix), and a
//! new file is compressed alone. Files not named are gone. Layout: `MSPATCH1`, the header length
//! (u32 little-endian), the JSON header, then the frames.
//!
//! A **binary patch** (for apk/ipa that are not unpacked on the device) is one patch-from frame
//! of the whole new file against the whole old one: `MSBDIFF1`, the new size (u64 LE), the frame.
//!
//! Applying never trusts the patch: sizes are bounded while decoding, and callers check every
//! result against the signed manifest.

use std::collections::HashMap;
use std::io::{Read, Write};

use serde::{Deserialize, Serialize};

use crate::archive::is_safe_path;
use crate::{Files, PackageError, sha256_hex};

const CONTENT_MAGIC: &[u8; 8] = b"MSPATCH1";
const BINARY_MAGIC: &[u8; 8] = b"MSBDIFF1";
/// zstd's highest level: patches are made once and downloaded many times.
const LEVEL: i32 = 19;
/// Decoders accept windows up to 2 GiB, what the encoder may choose for large binaries.
const MAX_WINDOW_LOG: u32 = 31;

#[derive(Debug, Serialize, Deserialize)]
struct PatchHeader {
    files: Vec<PatchedFile>,
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case")]
enum PatchedFile {
    Copy { path: String, from: String },
    Patch { path: String, from: String, offset: u64, length: u64, size: u64 },
    Add { path: String, offset: u64, length: u64, size: u64 },
}

fn invalid(reason: impl Into<String>) -> PackageError {
    PackageError::InvalidPatch(reason.into())
}

/// The smallest window holding the reference and the new content, as patch-from needs.
fn window_log(reference: usize, content: usize) -> u32 {
    let needed = (reference + content).max(1 << 10) as u64;
    (64 - (needed - 1).leading_zeros()).clamp(10, MAX_WINDOW_LOG)
}

fn compress(content: &[u8], reference: &[u8]) -> Vec<u8> {
    let mut encoder =
        zstd::stream::write::Encoder::with_ref_prefix(Vec::new(), LEVEL, reference).expect("zstd accepts the level");
    encoder.window_log(window_log(reference.len(), content.len())).expect("the window log is in range");
    encoder.long_distance_matching(reference.len() + content.len() > 8 << 20).expect("a known parameter");
    encoder.set_pledged_src_size(Some(content.len() as u64)).expect("before any data");
    encoder.write_all(content).expect("writing to memory");
    encoder.finish().expect("writing to memory")
}

fn decompress(frame: &[u8], reference: &[u8], size: u64) -> Result<Vec<u8>, PackageError> {
    let mut decoder = zstd::stream::read::Decoder::with_ref_prefix(frame, reference)
        .map_err(|error| invalid(format!("zstd: {error}")))?;
    decoder.window_log_max(MAX_WINDOW_LOG).map_err(|error| invalid(format!("zstd: {error}")))?;
    let mut content = Vec::with_capacity(size.min(1 << 30) as usize);
    decoder.take(size + 1).read_to_end(&mut content).map_err(|error| invalid(format!("zstd: {error}")))?;
    if content.len() as u64 != size {
        return Err(invalid(format!("a frame gives {} bytes, the header says {size}", content.len())));
    }
    Ok(content)
}

/// The patch that turns `old` into `new`.
pub fn create_content_patch(old: &Files, new: &Files) -> Vec<u8> {
    let old_by_hash: HashMap<String, &str> =
        old.iter().map(|(path, content)| (sha256_hex(content), path.as_str())).collect();
    let mut header = PatchHeader { files: Vec::with_capacity(new.len()) };
    let mut data = Vec::new();
    for (path, content) in new {
        if let Some(from) = old_by_hash.get(&sha256_hex(content)) {
            header.files.push(PatchedFile::Copy { path: path.clone(), from: (*from).to_owned() });
            continue;
        }
        let offset = data.len() as u64;
        let size = content.len() as u64;
        match old.get(path) {
            Some(reference) => {
                data.extend(compress(content, reference));
                let length = data.len() as u64 - offset;
                header.files.push(PatchedFile::Patch { path: path.clone(), from: path.clone(), offset, length, size });
            }
            None => {
                data.extend(compress(content, &[]));
                let length = data.len() as u64 - offset;
                header.files.push(PatchedFile::Add { path: path.clone(), offset, length, size });
            }
        }
    }
    let header = serde_json::to_vec(&header).expect("headers serialize");
    let mut patch = Vec::with_capacity(12 + header.len() + data.len());
    patch.extend_from_slice(CONTENT_MAGIC);
    patch.extend_from_slice(&(header.len() as u32).to_le_bytes());
    patch.extend_from_slice(&header);
    patch.extend_from_slice(&data);
    patch
}

/// The new version's files, rebuilt from `old` and `patch`; `max_bytes` bounds their total size.
pub fn apply_content_patch(old: &Files, patch: &[u8], max_bytes: u64) -> Result<Files, PackageError> {
    let rest = patch.strip_prefix(CONTENT_MAGIC.as_slice()).ok_or_else(|| invalid("not a content patch"))?;
    let (length, rest) = rest.split_first_chunk::<4>().ok_or_else(|| invalid("truncated header"))?;
    let length = u32::from_le_bytes(*length) as usize;
    let header = rest.get(..length).ok_or_else(|| invalid("truncated header"))?;
    let data = &rest[length..];
    let header: PatchHeader = serde_json::from_slice(header).map_err(|error| invalid(error.to_string()))?;
    let frame = |offset: u64, length: u64| {
        usize::try_from(offset)
            .ok()
            .zip(usize::try_from(length).ok())
            .and_then(|(offset, length)| data.get(offset..offset.checked_add(length)?))
            .ok_or_else(|| invalid("a frame lies outside the patch"))
    };
    let source = |from: &str| old.get(from).ok_or_else(|| invalid(format!("the old version has no `{from}`")));
    let mut files = Files::new();
    let mut total: u64 = 0;
    for file in header.files {
        let (path, content) = match file {
            PatchedFile::Copy { path, from } => {
                let content = source(&from)?.clone();
                (path, content)
            }
            PatchedFile::Patch { path, from, offset, length, size } => {
                check_budget(total, size, max_bytes)?;
                let content = decompress(frame(offset, length)?, source(&from)?, size)?;
                (path, content)
            }
            PatchedFile::Add { path, offset, length, size } => {
                check_budget(total, size, max_bytes)?;
                (path, decompress(frame(offset, length)?, &[], size)?)
            }
        };
        if !is_safe_path(&path) {
            return Err(PackageError::EscapingEntry(path));
        }
        total += content.len() as u64;
        check_budget(total, 0, max_bytes)?;
        if files.insert(path.clone(), content).is_some() {
            return Err(PackageError::DuplicateEntry(path));
        }
    }
    Ok(files)
}

fn check_budget(total: u64, more: u64, max_bytes: u64) -> Result<(), PackageError> {
    if total.saturating_add(more) > max_bytes {
        return Err(PackageError::TooLarge(format!("the patch rebuilds more than {max_bytes} bytes")));
    }
    Ok(())
}

/// A plain binary diff of `new` against `old`.
pub fn create_binary_patch(old: &[u8], new: &[u8]) -> Vec<u8> {
    let mut patch = Vec::new();
    patch.extend_from_slice(BINARY_MAGIC);
    patch.extend_from_slice(&(new.len() as u64).to_le_bytes());
    patch.extend(compress(new, old));
    patch
}

pub fn apply_binary_patch(old: &[u8], patch: &[u8], max_bytes: u64) -> Result<Vec<u8>, PackageError> {
    let rest = patch.strip_prefix(BINARY_MAGIC.as_slice()).ok_or_else(|| invalid("not a binary patch"))?;
    let (size, frame) = rest.split_first_chunk::<8>().ok_or_else(|| invalid("truncated header"))?;
    let size = u64::from_le_bytes(*size);
    check_budget(0, size, max_bytes)?;
    decompress(frame, old, size)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(version: &str) -> Files {
        let library: String = (0..2000).map(|line| format!("function f{line}() {{ return {line}; }}\n")).collect();
        Files::from([
            ("index.html".to_owned(), format!("<html>{version}</html>").into_bytes()),
            ("lib.js".to_owned(), format!("/* {version} */\n{library}").into_bytes()),
            ("logo.png".to_owned(), vec![9; 5000]),
        ])
    }

    #[test]
    fn content_patch_rebuilds_every_file_and_stays_small() {
        let old = sample("1.0.0");
        let mut new = sample("1.0.1");
        let logo = new.remove("logo.png").unwrap();
        new.insert("moved/logo.png".into(), logo);
        new.insert("new.css".into(), b"body { color: red }".to_vec());
        let patch = create_content_patch(&old, &new);
        assert!(patch.len() < 600, "patch of {} bytes", patch.len());
        assert_eq!(apply_content_patch(&old, &patch, u64::MAX).unwrap(), new);
    }

    #[test]
    fn damaged_patches_are_refused() {
        let old = sample("1.0.0");
        let new = sample("1.0.1");
        let patch = create_content_patch(&old, &new);
        for damaged in [&patch[..patch.len() - 3], &patch[..10], b"garbage".as_slice()] {
            assert!(apply_content_patch(&old, damaged, u64::MAX).is_err());
        }
        // Patching a different old version gives wrong bytes or an error, never a panic.
        let other = sample("0.9.0");
        if let Ok(files) = apply_content_patch(&other, &patch, u64::MAX) {
            assert_ne!(files, new);
        }
        assert!(matches!(apply_content_patch(&old, &patch, 100), Err(PackageError::TooLarge(_))));
    }

    #[test]
    fn binary_patch_round_trips() {
        let old: Vec<u8> = (0..200_000u32).flat_map(|value| value.to_le_bytes()).collect();
        let mut new = old.clone();
        new[1000..1010].copy_from_slice(b"0123456789");
        new.extend_from_slice(b"tail");
        let patch = create_binary_patch(&old, &new);
        assert!(patch.len() < 200, "patch of {} bytes", patch.len());
        assert_eq!(apply_binary_patch(&old, &patch, u64::MAX).unwrap(), new);
        assert!(apply_binary_patch(&new, &patch, u64::MAX).map(|bytes| bytes != new).unwrap_or(true));
    }
}
