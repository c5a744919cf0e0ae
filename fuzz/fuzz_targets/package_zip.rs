//! Zip packages: uploaded by the console (server) and downloaded by devices (SDK). Drives
//! `midship_package::read_zip` with the default limits.
//!
//! Invariants: a zip that opens has no entry escaping its root and stays within the limits; its
//! files written back into a zip read back the same.

#![no_main]

use libfuzzer_sys::fuzz_target;
use midship_package::archive::is_safe_path;
use midship_package::{read_zip, write_zip};

fuzz_target!(|data: &[u8]| {
    let limits = midship_fuzz::archive_limits();
    let Ok(files) = read_zip(data, limits) else {
        return;
    };
    assert!(files.len() <= limits.max_entries);
    assert!(files.values().map(|content| content.len() as u64).sum::<u64>() <= limits.max_unpacked_bytes);
    for path in files.keys() {
        assert!(is_safe_path(path), "{path:?}");
    }
    assert_eq!(read_zip(&write_zip(&files), limits).expect("a written zip reads back"), files);
});
