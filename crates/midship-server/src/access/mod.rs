//! Access: admin API tokens and the audit log.

pub(crate) mod console;
pub(crate) mod rest;
