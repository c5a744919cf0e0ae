//! Midship's Rust client.
//!
//! - [`admin`]: a typed client of the admin REST API, used by the `midship` CLI, by tests and by
//!   any backend that automates Midship.
//!
//! - [`config`]: the device side of remote configuration (typed getters, disk cache, pulls at
//!   cold start and after 30 minutes in the background, change listeners).
//!
//! - [`rpc`]: signed calls through the gateway (`POST /mgw`), with retries of failures that did
//!   not reach the backend and the trace id surfaced to the caller.
//!
//! Sync and push join this crate with the issues that build them.

pub mod admin;
pub mod config;
pub mod rpc;

pub use admin::{AdminClient, SdkError};
