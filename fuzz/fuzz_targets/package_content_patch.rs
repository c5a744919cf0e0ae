//! Content patches (`MSPATCH2`): downloaded by devices, applied to the package version they
//! have. Drives `midship_package::apply_content_patch` against a fixed old version, with
//! `midship_fuzz::PATCH_BUDGET`.
//!
//! Invariants: the rebuilt version stays within the budget and has no path escaping its root;
//! nothing is reserved past the budget, whatever sizes and windows the patch states.

#![no_main]

use std::sync::LazyLock;

use libfuzzer_sys::fuzz_target;
use midship_fuzz::PATCH_BUDGET;
use midship_package::archive::is_safe_path;
use midship_package::{Files, apply_content_patch};

static OLD: LazyLock<Files> = LazyLock::new(midship_fuzz::old_files);

fuzz_target!(|data: &[u8]| {
    let Ok(files) = apply_content_patch(&OLD, data, PATCH_BUDGET) else {
        return;
    };
    assert!(files.values().map(|content| content.len() as u64).sum::<u64>() <= PATCH_BUDGET);
    for path in files.keys() {
        assert!(is_safe_path(path), "{path:?}");
    }
});
