//! Remote configuration: switches and their versions, the device's config pull and the
//! GrowthBook-compatible features payload.

pub(crate) mod client;
pub(crate) mod console;
pub(crate) mod rest;
pub(crate) mod rpc;
