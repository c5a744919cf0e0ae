//! Analytics: reports, policy, alerts, symbol files, diagnosis logs and the device uploads.

pub(crate) mod alerts_console;
pub(crate) mod console;
pub(crate) mod detail_console;
pub(crate) mod rest;
pub(crate) mod rpc;
