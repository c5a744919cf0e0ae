//! The control plane: tenancy (tenants, apps, workspaces, keys), access tokens and the audit log.
//! Every operation takes the caller's [`Principal`], checks it, validates input, and stores the
//! change together with its audit entry. No HTTP here: the server maps [`ControlError`] to statuses.

mod access;
pub mod approvals;
mod audit;
mod bootstrap;
mod error;
pub mod jobs;
pub mod people;
mod tenancy;

use std::sync::Arc;

use midship_core::access::TokenRecord;
use midship_core::cache::TtlCache;
use midship_core::people::SignInPolicy;
use midship_core::{App, Clock, Workspace};
use midship_storage::{LeaseClaim, Storage, StorageError};

pub use access::{IssuedToken, NewToken};
pub use audit::AuditQuery;
pub use bootstrap::BootstrapToken;
pub use error::ControlError;
pub use midship_core::Principal;
pub use people::sign_in::StartedSession;
pub use people::{NewPerson, PersonChange, PersonWithPassword, TotpSetup};
pub use tenancy::{AppDetails, CreatedApp, NewApp, RotatedKey};

/// Tunables of the control plane, from the `[admin]` config section.
#[derive(Debug, Clone)]
pub struct ControlSettings {
    /// How long a rotated-out app key keeps verifying signatures.
    pub key_grace_ms: i64,
    /// Console session timeouts and sign-in lockout.
    pub sign_in: SignInPolicy,
    /// Whether people must set up an authenticator app before using the console.
    pub require_second_factor: bool,
    /// The name authenticator apps show beside the account.
    pub issuer: String,
}

impl Default for ControlSettings {
    fn default() -> Self {
        Self {
            key_grace_ms: 24 * 60 * 60 * 1000,
            sign_in: SignInPolicy::default(),
            require_second_factor: true,
            issuer: "Midship".into(),
        }
    }
}

/// How long a node trusts what it read of tokens, apps and workspaces: a revocation on another
/// node of a cluster takes effect within this (on this node, at once).
pub const LOOKUP_TTL_MS: i64 = 2000;
const LOOKUP_CAPACITY: usize = 100_000;

/// What admin calls look up on every request, kept briefly so a busy API (a backend sending
/// sync messages, say) does not read the same rows thousands of times a second.
#[derive(Debug)]
struct Lookups {
    /// Token records by token hash; whether a token is active is still checked on every call.
    tokens: TtlCache<String, TokenRecord>,
    workspaces: TtlCache<String, Workspace>,
    apps: TtlCache<String, App>,
}

#[derive(Debug, Clone)]
pub struct ControlPlane {
    storage: Arc<dyn Storage>,
    clock: Arc<dyn Clock>,
    settings: ControlSettings,
    lookups: Arc<Lookups>,
    /// This process among the cluster's nodes: the holder name of its leases.
    node_id: Arc<str>,
    /// Failed sign-ins per client address, on this node.
    address_failures: Arc<people::sign_in::AddressThrottle>,
}

impl ControlPlane {
    pub fn new(storage: Arc<dyn Storage>, clock: Arc<dyn Clock>, settings: ControlSettings) -> Self {
        let lookups = Lookups {
            tokens: TtlCache::new(LOOKUP_TTL_MS, LOOKUP_CAPACITY),
            workspaces: TtlCache::new(LOOKUP_TTL_MS, LOOKUP_CAPACITY),
            apps: TtlCache::new(LOOKUP_TTL_MS, LOOKUP_CAPACITY),
        };
        let node_id = midship_core::ids::new_id(clock.now_ms(), &mut rand::rng());
        Self {
            storage,
            clock,
            settings,
            lookups: Arc::new(lookups),
            node_id: node_id.into(),
            address_failures: Arc::default(),
        }
    }

    /// This node's id, unique per process.
    pub fn node_id(&self) -> &str {
        &self.node_id
    }

    /// Takes or renews the lease `name` for `ttl_ms`; `false` while another node holds it.
    pub async fn hold_lease(&self, name: &str, ttl_ms: i64) -> Result<bool, StorageError> {
        let now = self.now_ms();
        let claim = LeaseClaim { name, holder: &self.node_id, now, until: now.saturating_add(ttl_ms) };
        self.storage.acquire_lease(&claim).await
    }

    /// Gives up a lease this node holds, so another node may take the work at once.
    pub async fn release_lease(&self, name: &str) {
        if let Err(error) = self.storage.release_lease(name, &self.node_id).await {
            tracing::warn!(%error, lease = name, "cannot release a lease; it lapses on its own");
        }
    }

    /// Forgets every cached token, app and workspace: another node changed one.
    pub fn forget_cached_lookups(&self) {
        self.lookups.tokens.clear();
        self.lookups.workspaces.clear();
        self.lookups.apps.clear();
    }

    pub fn storage(&self) -> &Arc<dyn Storage> {
        &self.storage
    }

    pub fn clock(&self) -> &Arc<dyn Clock> {
        &self.clock
    }

    /// The injected clock's time, for callers that show whether something is still valid.
    pub fn now_ms(&self) -> i64 {
        self.clock.now_ms()
    }

    /// A fresh sortable id (time first, then randomness).
    pub fn new_id(&self) -> String {
        midship_core::ids::new_id(self.now_ms(), &mut rand::rng())
    }
}

#[cfg(test)]
mod tests;
