//! The in-memory route tables the pipeline reads: per workspace, the app it belongs to and its
//! APIs with their groups; and per app, its signing keys. Loaded on first use, dropped on local
//! changes, and dropped wholesale when another node's change moves the gateway revision.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};

use midship_core::AppKey;

use crate::model::{Api, ApiGroup};

/// One API ready to call: its definition and its group.
#[derive(Debug)]
pub struct Route {
    pub api: Api,
    pub group: ApiGroup,
    /// The group a share of calls moves to, when the API migrates traffic.
    pub migration_group: Option<ApiGroup>,
    /// The authorizer API and its group, when the API has one.
    pub authorizer: Option<(Api, ApiGroup)>,
}

#[derive(Debug)]
pub struct RouteTable {
    pub app_id: String,
    /// The workspace's device security policy, reloaded with the routes.
    pub security: midship_storage::WorkspaceSecurityRecord,
    pub routes: HashMap<String, Route>,
    /// RSA proxy signers of the groups that sign with RSA, parsed once.
    pub rsa_signers: HashMap<String, Arc<midship_signing::proxy::RsaSigner>>,
    /// Every group by name, for experiments that send a variation's calls to another backend.
    pub groups: HashMap<String, ApiGroup>,
}

#[derive(Debug, Default)]
pub struct RouteCache {
    tables: RwLock<HashMap<String, Arc<RouteTable>>>,
    revision: RwLock<Option<i64>>,
}

impl RouteCache {
    pub fn get(&self, workspace_id: &str) -> Option<Arc<RouteTable>> {
        self.tables.read().unwrap_or_else(|poisoned| poisoned.into_inner()).get(workspace_id).cloned()
    }

    pub fn insert(&self, workspace_id: &str, table: Arc<RouteTable>) {
        self.tables.write().unwrap_or_else(|poisoned| poisoned.into_inner()).insert(workspace_id.to_owned(), table);
    }

    pub fn invalidate(&self, workspace_id: &str) {
        self.tables.write().unwrap_or_else(|poisoned| poisoned.into_inner()).remove(workspace_id);
    }

    /// Drops every table when the cluster-wide revision moved; returns whether it did.
    pub fn observe_revision(&self, revision: i64) -> bool {
        let mut known = self.revision.write().unwrap_or_else(|poisoned| poisoned.into_inner());
        let changed = known.is_some_and(|known| known != revision);
        *known = Some(revision);
        if changed {
            self.tables.write().unwrap_or_else(|poisoned| poisoned.into_inner()).clear();
        }
        changed
    }
}

/// Signing keys per app, kept `ttl_ms` so a rotation elsewhere is seen within that time. A
/// signature that fails against cached keys may reload them (at most once a second per app), so
/// a freshly rotated key works at once without letting bad signatures hammer the database.
#[derive(Debug)]
pub struct KeyCache {
    ttl_ms: i64,
    keys: RwLock<HashMap<String, LoadedKeys>>,
}

/// When an app's keys were loaded, and the keys.
type LoadedKeys = (i64, Arc<Vec<AppKey>>);

/// Least time between two reloads of one app's keys forced by a failed signature.
pub const FORCED_RELOAD_INTERVAL_MS: i64 = 1000;

impl KeyCache {
    pub fn new(ttl_ms: i64) -> Self {
        Self { ttl_ms, keys: RwLock::default() }
    }

    pub fn clear(&self) {
        self.keys.write().unwrap_or_else(|poisoned| poisoned.into_inner()).clear();
    }

    pub fn get(&self, app_id: &str, now_ms: i64) -> Option<Arc<Vec<AppKey>>> {
        let keys = self.keys.read().unwrap_or_else(|poisoned| poisoned.into_inner());
        keys.get(app_id).filter(|(loaded_at, _)| now_ms - loaded_at < self.ttl_ms).map(|(_, keys)| keys.clone())
    }

    /// Whether the app's keys were loaded long enough ago that a failed signature may reload them.
    pub fn may_force_reload(&self, app_id: &str, now_ms: i64) -> bool {
        let keys = self.keys.read().unwrap_or_else(|poisoned| poisoned.into_inner());
        keys.get(app_id).is_none_or(|(loaded_at, _)| now_ms - loaded_at >= FORCED_RELOAD_INTERVAL_MS)
    }

    pub fn forget(&self, app_id: &str) {
        self.keys.write().unwrap_or_else(|poisoned| poisoned.into_inner()).remove(app_id);
    }

    pub fn insert(&self, app_id: &str, now_ms: i64, keys: Arc<Vec<AppKey>>) {
        self.keys.write().unwrap_or_else(|poisoned| poisoned.into_inner()).insert(app_id.to_owned(), (now_ms, keys));
    }
}
