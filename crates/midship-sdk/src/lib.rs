//! Midship's device SDK core, in Rust: what an app does with Midship. `midship-mobile` binds it
//! for Kotlin, Swift and Python; the admin API's client is `midship-admin-client`.
//!
//! - [`analytics`]: the analytics logger: an on-disk queue that survives app kills, batches with
//!   stable ids (a retry is counted once), zstd compression, the server's upload policy, sessions
//!   (a new one after 30 minutes in the background) and a panic hook that writes the crash first.
//!
//! - [`config`]: the device side of remote configuration (typed getters, disk cache, pulls at
//!   cold start and after 30 minutes in the background, change listeners).
//!
//! - [`delivery`]: checks for upgrades, H5 and mini program packages and hotpatches; downloads
//!   that resume; signature and hash checks before anything is used; diffs applied with a fall back
//!   to the full package; progress reports.
//!
//! - [`rpc`]: signed calls through the gateway (`POST /mgw`), with retries of failures that did
//!   not reach the backend and the trace id surfaced to the caller.
//!
//! - [`sync`]: data sync over the long connection (`/ws`): handlers per bizType, exactly-once
//!   hand-over with positions kept on disk, reconnects with backoff and jitter, RPCs over the
//!   connection.

pub mod analytics;
pub mod config;
pub mod delivery;
pub mod push;
pub mod rpc;
pub mod sync;

/// Replaces a file through a temporary file, synced, and a rename, so a crash or an app kill
/// leaves the old content or the new, never half of one.
pub(crate) fn replace_file(path: &std::path::Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    let temporary = path.with_extension("tmp");
    let mut file = std::fs::File::create(&temporary)?;
    file.write_all(bytes)?;
    file.sync_all()?;
    std::fs::rename(&temporary, path)
}
