//! Access: people (console accounts), admin API tokens and the audit log.

pub(crate) mod console;
pub(crate) mod people_console;
pub(crate) mod people_rest;
pub(crate) mod rest;
