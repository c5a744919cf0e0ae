//! Analytics uploads in their JSON form, plain or gzip or zstd compressed, from any device.
//! Drives `midship_analytics::event::decode_batch`; the checks are in
//! `midship_fuzz::check_analytics_batch` (placement in time, limits, stored events read back,
//! crash fingerprints).

#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| midship_fuzz::check_analytics_batch(data));
