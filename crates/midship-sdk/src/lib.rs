//! Midship's Rust client.
//!
//! - [`admin`]: a typed client of the admin REST API, used by the `midship` CLI, by tests and by
//!   any backend that automates Midship.
//!
//! The device SDK core (gateway RPC signing, config pull, sync, push) joins this crate with the
//! issues that build those services.

pub mod admin;

pub use admin::{AdminClient, SdkError};
