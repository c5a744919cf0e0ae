//! Diffs between two versions of a package.
//!
//! A **content patch** goes file by file: a file whose bytes an old file already has is copied
//! (by hash, so renames cost nothing); every other file's bytes go, in path order, into one zstd
//! frame compressed against the whole old version (its files concatenated in path order: zstd's
//! patch-from), so a changed file is coded as its differences from whatever old bytes match
//! best, and many small changed files share one frame instead of paying a frame each. Files not
//! named are gone. Layout: `MSPATCH2`, the compressed header's length (u32 little-endian), the
//! header (zstd-compressed JSON), then the frame.
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

const CONTENT_MAGIC: &[u8; 8] = b"MSPATCH2";
const BINARY_MAGIC: &[u8; 8] = b"MSBDIFF1";
/// zstd's highest level: patches are made once and downloaded many times.
const LEVEL: i32 = 19;
/// The largest window, 2 GiB, what the encoder may choose for large binaries.
const MAX_WINDOW_LOG: u32 = 31;
/// A compressed header may inflate to at most this.
const MAX_HEADER_BYTES: u64 = 64 << 20;

#[derive(Debug, Serialize, Deserialize)]
struct PatchHeader {
    files: Vec<PatchedFile>,
}

/// One file of the new version: copied from an old file, or the next `size` bytes of the frame.
#[derive(Debug, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case")]
enum PatchedFile {
    Copy {
        path: String,
        /// Absent when the old file has the same path.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        from: Option<String>,
    },
    Data {
        path: String,
        size: u64,
    },
}

/// The old version as one reference: its files concatenated in path order.
fn reference_of(old: &Files) -> Vec<u8> {
    let mut reference = Vec::with_capacity(old.values().map(Vec::len).sum());
    for content in old.values() {
        reference.extend_from_slice(content);
    }
    reference
}

fn invalid(reason: impl Into<String>) -> PackageError {
    PackageError::InvalidPatch(reason.into())
}

/// The smallest window holding the reference and the new content, as patch-from needs. Decoders
/// allow no more than this for the size a patch states, so a frame cannot make them reserve a
/// window (up to 2 GiB) larger than the content it rebuilds.
fn window_log(reference: usize, content: u64) -> u32 {
    let needed = (reference as u64).saturating_add(content).max(1 << 10);
    (64 - (needed - 1).leading_zeros()).clamp(10, MAX_WINDOW_LOG)
}

fn compress(content: &[u8], reference: &[u8]) -> Vec<u8> {
    let mut encoder =
        zstd::stream::write::Encoder::with_ref_prefix(Vec::new(), LEVEL, reference).expect("zstd accepts the level");
    encoder.window_log(window_log(reference.len(), content.len() as u64)).expect("the window log is in range");
    encoder.long_distance_matching(reference.len() + content.len() > 8 << 20).expect("a known parameter");
    encoder.set_pledged_src_size(Some(content.len() as u64)).expect("before any data");
    encoder.write_all(content).expect("writing to memory");
    encoder.finish().expect("writing to memory")
}

/// A frame of unknown size, refused past `limit` bytes.
fn decompress_bounded(frame: &[u8], reference: &[u8], limit: u64) -> Result<Vec<u8>, PackageError> {
    let mut decoder = zstd::stream::read::Decoder::with_ref_prefix(frame, reference)
        .map_err(|error| invalid(format!("zstd: {error}")))?;
    decoder.window_log_max(window_log(reference.len(), limit)).map_err(|error| invalid(format!("zstd: {error}")))?;
    let mut content = Vec::new();
    decoder.take(limit + 1).read_to_end(&mut content).map_err(|error| invalid(format!("zstd: {error}")))?;
    if content.len() as u64 > limit {
        return Err(PackageError::TooLarge(format!("more than {limit} bytes")));
    }
    Ok(content)
}

fn decompress(frame: &[u8], reference: &[u8], size: u64) -> Result<Vec<u8>, PackageError> {
    let mut decoder = zstd::stream::read::Decoder::with_ref_prefix(frame, reference)
        .map_err(|error| invalid(format!("zstd: {error}")))?;
    decoder.window_log_max(window_log(reference.len(), size)).map_err(|error| invalid(format!("zstd: {error}")))?;
    let mut content = Vec::with_capacity(size.min(1 << 30) as usize);
    decoder
        .take(size.saturating_add(1))
        .read_to_end(&mut content)
        .map_err(|error| invalid(format!("zstd: {error}")))?;
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
        match old_by_hash.get(&sha256_hex(content)) {
            Some(from) => {
                let from = (*from != path).then(|| (*from).to_owned());
                header.files.push(PatchedFile::Copy { path: path.clone(), from });
            }
            None => {
                header.files.push(PatchedFile::Data { path: path.clone(), size: content.len() as u64 });
                data.extend_from_slice(content);
            }
        }
    }
    let header = compress(&serde_json::to_vec(&header).expect("headers serialize"), &[]);
    let frame = if data.is_empty() { Vec::new() } else { compress(&data, &reference_of(old)) };
    let mut patch = Vec::with_capacity(12 + header.len() + frame.len());
    patch.extend_from_slice(CONTENT_MAGIC);
    patch.extend_from_slice(&(header.len() as u32).to_le_bytes());
    patch.extend_from_slice(&header);
    patch.extend_from_slice(&frame);
    patch
}

/// The new version's files, rebuilt from `old` and `patch`; `max_bytes` bounds their total size.
pub fn apply_content_patch(old: &Files, patch: &[u8], max_bytes: u64) -> Result<Files, PackageError> {
    let rest = patch.strip_prefix(CONTENT_MAGIC.as_slice()).ok_or_else(|| invalid("not a content patch"))?;
    let (length, rest) = rest.split_first_chunk::<4>().ok_or_else(|| invalid("truncated header"))?;
    let length = u32::from_le_bytes(*length) as usize;
    let header = rest.get(..length).ok_or_else(|| invalid("truncated header"))?;
    let frame = &rest[length..];
    let header = decompress_bounded(header, &[], MAX_HEADER_BYTES)?;
    let header: PatchHeader = serde_json::from_slice(&header).map_err(|error| invalid(error.to_string()))?;
    let data_size = header.files.iter().try_fold(0u64, |total, file| match file {
        PatchedFile::Data { size, .. } => total.checked_add(*size).ok_or_else(|| invalid("sizes overflow")),
        PatchedFile::Copy { .. } => Ok(total),
    })?;
    check_budget(0, data_size, max_bytes)?;
    let data = if data_size == 0 { Vec::new() } else { decompress(frame, &reference_of(old), data_size)? };
    let mut files = Files::new();
    let mut offset = 0usize;
    let mut total: u64 = 0;
    for file in header.files {
        let (path, content) = match file {
            PatchedFile::Copy { path, from } => {
                let from = from.as_deref().unwrap_or(&path);
                let content = old.get(from).ok_or_else(|| invalid(format!("the old version has no `{from}`")))?.clone();
                (path, content)
            }
            PatchedFile::Data { path, size } => {
                let end = offset + size as usize;
                let content = data[offset..end].to_vec();
                offset = end;
                (path, content)
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
        assert!(patch.len() < 400, "patch of {} bytes", patch.len());
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

    /// Found by fuzzing (`package_binary_patch`, `package_content_patch`): a frame's window was
    /// trusted up to 2 GiB (128 MiB for the header), and reserved before any content was read.
    #[test]
    fn windows_larger_than_the_stated_content_are_refused() {
        // 2117 bytes stated, a frame asking for a 240 MiB window.
        let binary = hex::decode("4d53424449464631450800000000000028b52ffd008f7805").unwrap();
        let error = apply_binary_patch(&[0; 2048], &binary, u64::MAX).unwrap_err();
        assert!(error.to_string().contains("too much memory"), "{error}");
        // A header frame asking for a 128 MiB window, past the header limit.
        let content = hex::decode("4d535041544348320900000028b52ffd0088010000").unwrap();
        let error = apply_content_patch(&sample("1.0.0"), &content, u64::MAX).unwrap_err();
        assert!(error.to_string().contains("too much memory"), "{error}");
        // A stated size of u64::MAX (with no budget) is refused, not an overflow.
        let mut huge = binary.clone();
        huge[8..16].copy_from_slice(&u64::MAX.to_le_bytes());
        assert!(apply_binary_patch(&[0; 2048], &huge, u64::MAX).is_err());
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
