//! Data sync: bizType configurations, sending, stream status and connection tokens.

pub(crate) mod console;
pub(crate) mod rest;
pub(crate) mod rpc;
