//! Delivery: packages, releases, the device's check and report, and package downloads.

pub(crate) mod console;
pub(crate) mod rest;
pub(crate) mod rpc;
