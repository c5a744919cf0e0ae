//! Zip archives read whole into memory, refusing what could hurt the reader: entries escaping
//! the root, symbolic links, duplicates, and more bytes or entries than the limits allow (zip
//! bombs are stopped while inflating, not trusted from the declared sizes).

use std::io::{Cursor, Read, Write};

use crate::{Files, PackageError};

#[derive(Debug, Clone, Copy)]
pub struct ArchiveLimits {
    pub max_entries: usize,
    /// Sum of the unpacked sizes.
    pub max_unpacked_bytes: u64,
}

impl Default for ArchiveLimits {
    fn default() -> Self {
        Self { max_entries: 20_000, max_unpacked_bytes: 512 * 1024 * 1024 }
    }
}

/// An entry's declared size is only a claim: at most this much is reserved on its word, the rest
/// grows with the bytes actually inflated.
const MAX_RESERVED_BYTES: u64 = 1024 * 1024;

/// A relative `/`-separated path with no `..`, `.`, empty, absolute or drive-letter parts.
pub fn is_safe_path(path: &str) -> bool {
    !path.is_empty()
        && !path.starts_with('/')
        && !path.contains('\\')
        && !path.contains('\0')
        && !path.split('/').any(|part| part.is_empty() || part == "." || part == ".." || part.contains(':'))
}

/// Every file of the archive (directories are implied by the paths).
pub fn read_zip(bytes: &[u8], limits: ArchiveLimits) -> Result<Files, PackageError> {
    let corrupt = |error: zip::result::ZipError| PackageError::Corrupt(error.to_string());
    let mut archive = zip::ZipArchive::new(Cursor::new(bytes)).map_err(corrupt)?;
    // The reader indexes entries by name and keeps only the last of equal names, so a second
    // copy would pass unseen below; which copy a device unpacks is then up to its zip reader.
    if archive.has_duplicate_names() {
        return Err(PackageError::DuplicateNames);
    }
    if archive.len() > limits.max_entries {
        return Err(PackageError::TooLarge(format!("{} entries, at most {}", archive.len(), limits.max_entries)));
    }
    let mut files = Files::new();
    let mut unpacked: u64 = 0;
    for index in 0..archive.len() {
        let mut entry = archive.by_index(index).map_err(corrupt)?;
        let name = entry.name().map_err(corrupt)?.into_owned();
        if entry.is_symlink() {
            return Err(PackageError::SymbolicLink(name));
        }
        let path = name.strip_suffix('/').unwrap_or(&name);
        if !is_safe_path(path) {
            return Err(PackageError::EscapingEntry(name));
        }
        if entry.is_dir() {
            continue;
        }
        let remaining = limits.max_unpacked_bytes - unpacked;
        let mut content = Vec::with_capacity(entry.size().min(remaining).min(MAX_RESERVED_BYTES) as usize);
        (&mut entry)
            .take(remaining + 1)
            .read_to_end(&mut content)
            .map_err(|error| PackageError::Corrupt(format!("entry `{name}`: {error}")))?;
        unpacked += content.len() as u64;
        if unpacked > limits.max_unpacked_bytes {
            return Err(PackageError::TooLarge(format!("more than {} bytes unpacked", limits.max_unpacked_bytes)));
        }
        if files.insert(path.to_owned(), content).is_some() {
            return Err(PackageError::DuplicateEntry(name));
        }
    }
    Ok(files)
}

/// A deflated zip of `files`, with fixed timestamps so equal files give equal archives.
pub fn write_zip(files: &Files) -> Vec<u8> {
    let mut writer = zip::ZipWriter::new(Cursor::new(Vec::new()));
    let options = zip::write::SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Deflated)
        .last_modified_time(zip::DateTime::default());
    for (path, content) in files {
        writer.start_file(path.as_str(), options).expect("writing to memory");
        writer.write_all(content).expect("writing to memory");
    }
    writer.finish().expect("writing to memory").into_inner()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn zip_with(names: &[&str]) -> Vec<u8> {
        let mut writer = zip::ZipWriter::new(Cursor::new(Vec::new()));
        for name in names {
            writer.start_file(*name, zip::write::SimpleFileOptions::default()).unwrap();
            writer.write_all(b"x").unwrap();
        }
        writer.finish().unwrap().into_inner()
    }

    #[test]
    fn round_trips_files() {
        let files = Files::from([("a/b.js".to_owned(), b"hello".to_vec()), ("index.html".to_owned(), vec![7; 10_000])]);
        assert_eq!(read_zip(&write_zip(&files), ArchiveLimits::default()).unwrap(), files);
    }

    #[test]
    fn refuses_two_entries_of_one_name() {
        // The writer refuses equal names, so rename the second entry in the written bytes.
        let mut bytes = zip_with(&["a.js", "b.js"]);
        for index in 0..bytes.len() - 3 {
            if &bytes[index..index + 4] == b"b.js" {
                bytes[index] = b'a';
            }
        }
        let error = read_zip(&bytes, ArchiveLimits::default()).unwrap_err();
        assert!(matches!(error, PackageError::DuplicateNames), "{error}");
    }

    #[test]
    fn refuses_entries_escaping_the_root() {
        for name in ["../evil.js", "a/../../evil.js", "/etc/passwd", "a\\..\\b", "C:/x", "a//b"] {
            let error = read_zip(&zip_with(&[name]), ArchiveLimits::default()).unwrap_err();
            assert!(matches!(error, PackageError::EscapingEntry(_)), "{name}: {error}");
        }
    }

    /// Found by fuzzing (`package_zip`): an entry's declared size was reserved whole, up to the
    /// unpacked limit, before a byte was inflated, and kept with the file.
    #[test]
    fn declared_sizes_are_not_reserved_on_trust() {
        let mut zip = write_zip(&Files::from([("a.txt".to_owned(), b"hello".to_vec())]));
        // The uncompressed size of the central directory entry, 24 bytes after its signature.
        let central = zip.windows(4).position(|window| window == b"PK\x01\x02").unwrap();
        zip[central + 24..central + 28].copy_from_slice(&0x4000_0000u32.to_le_bytes());
        let files = read_zip(&zip, ArchiveLimits::default()).unwrap();
        assert_eq!(files["a.txt"], b"hello");
        assert!(files["a.txt"].capacity() as u64 <= MAX_RESERVED_BYTES, "{}", files["a.txt"].capacity());
    }

    #[test]
    fn refuses_bombs_and_garbage() {
        let files = Files::from([("big.txt".to_owned(), vec![0; 1_000_000])]);
        let limits = ArchiveLimits { max_entries: 10, max_unpacked_bytes: 100_000 };
        assert!(matches!(read_zip(&write_zip(&files), limits), Err(PackageError::TooLarge(_))));
        assert!(matches!(read_zip(b"not a zip", ArchiveLimits::default()), Err(PackageError::Corrupt(_))));
        let many = zip_with(&["a", "b", "c"]);
        let limits = ArchiveLimits { max_entries: 2, max_unpacked_bytes: 100 };
        assert!(matches!(read_zip(&many, limits), Err(PackageError::TooLarge(_))));
    }
}
