//! Apps: tenants, apps, their workspaces and signing keys.

pub(crate) mod console;
pub(crate) mod rest;
