//! Push: sending, tasks, statistics, templates, channels and the device calls.

pub(crate) mod console;
pub(crate) mod rest;
pub(crate) mod rpc;
pub(crate) mod settings_console;
