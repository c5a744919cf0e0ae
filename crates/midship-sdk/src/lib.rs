//! Midship's Rust client.
//!
//! - [`admin`]: a typed client of the admin REST API, used by the `midship` CLI, by tests and by
//!   any backend that automates Midship.
//!
//! - [`config`]: the device side of remote configuration (typed getters, disk cache, pulls at
//!   cold start and after 30 minutes in the background, change listeners).
//!
//! Gateway RPC signing, sync and push join this crate with the issues that build them.

pub mod admin;
pub mod config;

pub use admin::{AdminClient, SdkError};
