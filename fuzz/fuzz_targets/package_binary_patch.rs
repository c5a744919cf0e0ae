//! Binary patches (`MSBDIFF1`, for apk and ipa): downloaded by devices, applied to the file they
//! have. Drives `midship_package::apply_binary_patch` against a fixed old file, with
//! `midship_fuzz::PATCH_BUDGET` (the SDK passes the signed package size).
//!
//! Invariants: the result has exactly the size the patch states, within the budget; nothing is
//! reserved past the budget, whatever sizes and windows the patch states.

#![no_main]

use std::sync::LazyLock;

use libfuzzer_sys::fuzz_target;
use midship_fuzz::PATCH_BUDGET;
use midship_package::apply_binary_patch;

static OLD: LazyLock<Vec<u8>> = LazyLock::new(midship_fuzz::old_binary);

fuzz_target!(|data: &[u8]| {
    let Ok(new) = apply_binary_patch(&OLD, data, PATCH_BUDGET) else {
        return;
    };
    assert!(new.len() as u64 <= PATCH_BUDGET);
    let stated = data.get(8..16).map(|size| u64::from_le_bytes(size.try_into().expect("8 bytes")));
    assert_eq!(Some(new.len() as u64), stated);
});
