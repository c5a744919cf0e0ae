//! The control plane: tenancy (tenants, apps, workspaces, keys), access tokens and the audit log.
//! Every operation takes the caller's [`Principal`], checks it, validates input, and stores the
//! change together with its audit entry. No HTTP here: the server maps [`ControlError`] to statuses.

mod access;
mod audit;
mod bootstrap;
mod error;
mod tenancy;

use std::sync::Arc;

use midship_core::Clock;
use midship_storage::Storage;

pub use access::{IssuedToken, NewToken};
pub use audit::AuditQuery;
pub use bootstrap::BootstrapToken;
pub use error::ControlError;
pub use midship_core::Principal;
pub use tenancy::{AppDetails, CreatedApp, NewApp, RotatedKey};

/// Tunables of the control plane, from the `[admin]` config section.
#[derive(Debug, Clone)]
pub struct ControlSettings {
    /// How long a rotated-out app key keeps verifying signatures.
    pub key_grace_ms: i64,
}

impl Default for ControlSettings {
    fn default() -> Self {
        Self { key_grace_ms: 24 * 60 * 60 * 1000 }
    }
}

#[derive(Debug, Clone)]
pub struct ControlPlane {
    storage: Arc<dyn Storage>,
    clock: Arc<dyn Clock>,
    settings: ControlSettings,
}

impl ControlPlane {
    pub fn new(storage: Arc<dyn Storage>, clock: Arc<dyn Clock>, settings: ControlSettings) -> Self {
        Self { storage, clock, settings }
    }

    pub fn storage(&self) -> &Arc<dyn Storage> {
        &self.storage
    }

    /// The injected clock's time, for callers that show whether something is still valid.
    pub fn now_ms(&self) -> i64 {
        self.clock.now_ms()
    }

    fn new_id(&self) -> String {
        midship_core::ids::new_id(self.now_ms(), &mut rand::rng())
    }
}

#[cfg(test)]
mod tests;
