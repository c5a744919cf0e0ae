//! Storage traits, one per area, and the records they carry. `midship-storage-sql` implements
//! them once for both backends (`midship-storage-sqlite`, `midship-storage-postgres`). Services
//! hold an `Arc<dyn Storage>` and never know which backend is behind it. Every method that changes data takes the audit entry describing the change and
//! writes both in one transaction, so the log can never disagree with the data.
//!
//! With feature `testsuite`, [`storage_test_suite!`] expands to the one body of tests that every
//! backend must pass.

use async_trait::async_trait;
use midship_core::access::TokenRecord;
use midship_core::clock::UnixMillis;
use midship_core::{App, AppKey, AuditEntry, AuditFilter, NewAuditEntry, Page, PageRequest, Tenant, Workspace};

mod analytics;
mod approval;
mod delivery;
mod experiment;
pub mod group_commit;
mod lease;
mod people;
mod push;
pub mod sealing;
mod sync;
#[cfg(feature = "testsuite")]
pub mod test_suite;

pub use analytics::*;
pub use approval::*;
pub use delivery::*;
pub use experiment::*;
pub use lease::*;
pub use people::*;
pub use push::*;
pub use sync::*;

#[derive(Debug, thiserror::Error)]
pub enum StorageError {
    /// A unique name or id is taken.
    #[error("{entity} already exists")]
    Conflict { entity: &'static str },
    /// The row the change applies to does not exist.
    #[error("{entity} not found")]
    NotFound { entity: &'static str },
    /// The database could not be reached or refused the statement.
    #[error("database error: {0}")]
    Database(String),
    /// The schema could not be brought up to date.
    #[error("migration failed: {0}")]
    Migration(String),
    /// A stored value could not be read back (a bug or a hand-edited row).
    #[error("corrupt row in {table}: {detail}")]
    Corrupt { table: &'static str, detail: String },
    /// A secret stored sealed could not be opened with this node's key-encryption keys.
    #[error("cannot open a secret in {table}: {source}")]
    Sealed { table: &'static str, source: sealing::SealError },
}

pub type StorageResult<T> = Result<T, StorageError>;

/// What first start creates: the installation tenant and its first admin token.
#[derive(Debug, Clone)]
pub struct Bootstrap {
    pub tenant: Tenant,
    pub admin_token: TokenRecord,
    pub audit: NewAuditEntry,
}

#[async_trait]
pub trait TenantStore: Send + Sync {
    /// Creates the installation tenant and admin token unless a tenant exists already.
    /// Returns whether it did, so only one node of a cluster prints a token.
    async fn bootstrap(&self, bootstrap: &Bootstrap) -> StorageResult<bool>;
    async fn create_tenant(&self, tenant: &Tenant, audit: &NewAuditEntry) -> StorageResult<()>;
    async fn get_tenant(&self, tenant_id: &str) -> StorageResult<Option<Tenant>>;
    async fn list_tenants(&self, page: &PageRequest) -> StorageResult<Page<Tenant>>;
}

/// Which apps a list may show: those of one tenant, optionally narrowed to a token's apps.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AppScope {
    pub tenant_id: String,
    pub only_app_ids: Option<Vec<String>>,
}

#[async_trait]
pub trait AppStore: Send + Sync {
    /// Creates the app, its workspaces and its first key together.
    async fn create_app(
        &self,
        app: &App,
        workspaces: &[Workspace],
        first_key: &AppKey,
        audit: &NewAuditEntry,
    ) -> StorageResult<()>;
    async fn get_app(&self, app_id: &str) -> StorageResult<Option<App>>;
    async fn list_apps(&self, scope: &AppScope, page: &PageRequest) -> StorageResult<Page<App>>;

    async fn create_workspace(&self, workspace: &Workspace, audit: &NewAuditEntry) -> StorageResult<()>;
    async fn get_workspace(&self, workspace_id: &str) -> StorageResult<Option<Workspace>>;
    async fn list_workspaces(&self, app_id: &str) -> StorageResult<Vec<Workspace>>;

    /// Adds `new_key` and makes every key of the app without an expiry (or with a later one)
    /// expire at `previous_expire_at`.
    async fn rotate_app_key(
        &self,
        new_key: &AppKey,
        previous_expire_at: UnixMillis,
        audit: &NewAuditEntry,
    ) -> StorageResult<()>;
    /// All keys of the app with their secrets, newest first (the gateway verifies signatures with them).
    async fn list_app_keys(&self, app_id: &str) -> StorageResult<Vec<AppKey>>;
}

#[async_trait]
pub trait TokenStore: Send + Sync {
    async fn create_token(&self, token: &TokenRecord, audit: &NewAuditEntry) -> StorageResult<()>;
    async fn find_token_by_hash(&self, token_hash: &str) -> StorageResult<Option<TokenRecord>>;
    async fn get_token(&self, token_id: &str) -> StorageResult<Option<TokenRecord>>;
    async fn list_tokens(&self, tenant_id: &str, page: &PageRequest) -> StorageResult<Page<TokenRecord>>;
    /// Marks the token revoked; revoking twice keeps the first time.
    async fn revoke_token(&self, token_id: &str, revoked_at: UnixMillis, audit: &NewAuditEntry) -> StorageResult<()>;
}

#[async_trait]
pub trait AuditStore: Send + Sync {
    /// Newest first; the cursor is the `seq` of the last entry seen.
    async fn list_audit(
        &self,
        tenant_id: &str,
        filter: &AuditFilter,
        page: &PageRequest,
    ) -> StorageResult<Page<AuditEntry>>;
}

/// A switch of a workspace's draft configuration, stored as the JSON of its definition.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DraftSwitchRecord {
    pub key: String,
    pub definition: String,
    pub updated_at: UnixMillis,
}

/// A published version of a workspace's configuration: the complete document, never changed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SwitchVersionRecord {
    pub workspace_id: String,
    pub version: i64,
    /// JSON document of every switch at publication.
    pub document: String,
    pub published_at: UnixMillis,
    pub published_by: String,
    pub note: String,
}

/// What publishing does to the draft.
#[derive(Debug, Clone, Copy)]
pub enum DraftAfterPublish<'a> {
    /// The draft was what got published; leave it.
    Keep,
    /// A rollback: the draft becomes the restored version's switches.
    Replace(&'a [DraftSwitchRecord]),
}

#[async_trait]
pub trait SwitchStore: Send + Sync {
    /// Creates or replaces one switch of the draft.
    async fn put_draft_switch(
        &self,
        workspace_id: &str,
        switch: &DraftSwitchRecord,
        audit: &NewAuditEntry,
    ) -> StorageResult<()>;
    /// Removes one switch from the draft; `NotFound` when there is none.
    async fn delete_draft_switch(&self, workspace_id: &str, key: &str, audit: &NewAuditEntry) -> StorageResult<()>;
    /// The draft, ordered by key.
    async fn list_draft_switches(&self, workspace_id: &str) -> StorageResult<Vec<DraftSwitchRecord>>;
    /// Replaces the whole draft (imports).
    async fn replace_draft(
        &self,
        workspace_id: &str,
        switches: &[DraftSwitchRecord],
        audit: &NewAuditEntry,
    ) -> StorageResult<()>;
    /// Stores a new version; `Conflict` when that version number exists (a concurrent publish).
    async fn publish_switch_version(
        &self,
        version: &SwitchVersionRecord,
        draft: DraftAfterPublish<'_>,
        audit: &NewAuditEntry,
    ) -> StorageResult<()>;
    /// One version, or the latest when `version` is `None`.
    async fn get_switch_version(
        &self,
        workspace_id: &str,
        version: Option<i64>,
    ) -> StorageResult<Option<SwitchVersionRecord>>;
    /// Versions newest first, documents included; the cursor is the last version seen.
    async fn list_switch_versions(
        &self,
        workspace_id: &str,
        page: &PageRequest,
    ) -> StorageResult<Page<SwitchVersionRecord>>;
    /// The latest version number of every workspace that has one, so nodes can spot publications
    /// made elsewhere in the cluster.
    async fn latest_switch_versions(&self) -> StorageResult<Vec<(String, i64)>>;
}

/// A backend group of the gateway: its definition (base URL, timeouts, proxy secret) as JSON.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiGroupRecord {
    pub group_id: String,
    pub workspace_id: String,
    pub name: String,
    pub definition: String,
    pub updated_at: UnixMillis,
}

/// A client-callable API of the gateway, by operation type; its definition as JSON, so options
/// can grow without migrations.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiRecord {
    pub api_id: String,
    pub workspace_id: String,
    pub operation_type: String,
    pub group_id: String,
    pub definition: String,
    pub updated_at: UnixMillis,
}

/// A device, recorded when the gateway issues its utdid at first contact.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeviceRecord {
    pub utdid: String,
    pub app_id: String,
    pub workspace_id: String,
    pub platform: String,
    pub model: Option<String>,
    pub os_version: Option<String>,
    pub app_version: Option<String>,
    pub first_seen_at: UnixMillis,
}

/// A workspace's device security policy (defaults when never set: app-secret signatures keep
/// working, no token revoked).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct WorkspaceSecurityRecord {
    pub workspace_id: String,
    /// From this time, calls signed only with the app's secret are refused, but for device
    /// registration.
    pub device_credentials_required_from: Option<UnixMillis>,
    /// Connection tokens issued before this time are refused.
    pub connect_tokens_valid_after: UnixMillis,
    /// `POST /api/client/v1/config/pull` answers without a signature (off unless opted in).
    pub unsigned_config_pull: bool,
    /// Registration needs a platform attestation this verifier accepts; `None`: no attestation.
    pub attestation_verifier_url: Option<String>,
    /// The GrowthBook payload goes out as `encryptedFeatures`.
    pub encrypt_features_payload: bool,
    pub updated_at: UnixMillis,
}

#[async_trait]
pub trait GatewayStore: Send + Sync {
    /// `Conflict` when the workspace has a group of that name.
    async fn create_api_group(&self, group: &ApiGroupRecord, audit: &NewAuditEntry) -> StorageResult<()>;
    /// `NotFound` when there is no such group.
    async fn update_api_group(&self, group: &ApiGroupRecord, audit: &NewAuditEntry) -> StorageResult<()>;
    async fn list_api_groups(&self, workspace_id: &str) -> StorageResult<Vec<ApiGroupRecord>>;
    /// `Conflict` when the workspace has an API of that operation type.
    async fn create_api(&self, api: &ApiRecord, audit: &NewAuditEntry) -> StorageResult<()>;
    /// `NotFound` when there is no such API.
    async fn update_api(&self, api: &ApiRecord, audit: &NewAuditEntry) -> StorageResult<()>;
    /// Ordered by operation type.
    async fn list_apis(&self, workspace_id: &str) -> StorageResult<Vec<ApiRecord>>;
    /// A number that grows with every gateway change anywhere in the cluster, so nodes know when
    /// to rebuild their route tables.
    async fn gateway_revision(&self) -> StorageResult<i64>;
    /// The workspace's body-encryption key of a suite: the stored one, or `candidate` (hex secret
    /// bytes) stored now when there is none. Nodes racing to create it all end with the same key.
    async fn envelope_key(
        &self,
        workspace_id: &str,
        suite: &str,
        candidate: &str,
        now: UnixMillis,
    ) -> StorageResult<String>;
    /// Records a newly issued device; `Conflict` if the utdid exists.
    async fn register_device(&self, device: &DeviceRecord) -> StorageResult<()>;
    /// Marks `device` (recorded now if it is new) as holding a credential since `now`; `false`
    /// when its id was claimed before, or belongs to another workspace.
    async fn claim_device_credential(&self, device: &DeviceRecord, now: UnixMillis) -> StorageResult<bool>;
    /// Whether the device holds a credential, and whether it was revoked.
    async fn device_credential_status(&self, workspace_id: &str, utdid: &str) -> StorageResult<CredentialStatus>;
    /// Revokes the device's credential at `at`; `NotFound` unless it holds one not revoked yet.
    async fn revoke_device_credential(
        &self,
        workspace_id: &str,
        utdid: &str,
        at: UnixMillis,
        audit: &NewAuditEntry,
    ) -> StorageResult<()>;
    /// The workspace's policy; the defaults when it was never set.
    async fn workspace_security(&self, workspace_id: &str) -> StorageResult<WorkspaceSecurityRecord>;
    /// Replaces the workspace's policy; bumps the gateway revision so every node reloads it.
    async fn set_workspace_security(
        &self,
        record: &WorkspaceSecurityRecord,
        audit: &NewAuditEntry,
    ) -> StorageResult<()>;
}

/// Everything a Midship server stores, behind one object.
#[async_trait]
pub trait Storage:
    TenantStore
    + AppStore
    + TokenStore
    + AuditStore
    + SwitchStore
    + GatewayStore
    + SyncStore
    + PushStore
    + DeliveryStore
    + AnalyticsStore
    + LeaseStore
    + PersonStore
    + ApprovalStore
    + ExperimentStore
    + std::fmt::Debug
{
    /// `sqlite` or `postgres`, for logs and `/readyz`.
    fn backend_name(&self) -> &'static str;
    /// Cheap round trip used by readiness checks.
    async fn ping(&self) -> StorageResult<()>;
    /// Waits for in-flight statements and closes the connections.
    async fn close(&self);
    /// Seals every stored secret that is plain or sealed with an older key-encryption key under
    /// the current one. Nodes run it at start; it is safe to run on several at once.
    async fn reseal_secrets(&self) -> StorageResult<ResealReport>;
}

/// Where a device stands with its credential.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CredentialStatus {
    /// Unknown, or recorded before it registered: the app's secret may still speak for it.
    None,
    Issued {
        at: UnixMillis,
    },
    /// Its signatures are refused; the app registers again under a new id.
    Revoked {
        at: UnixMillis,
    },
}

/// What [`Storage::reseal_secrets`] found.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ResealReport {
    /// Secrets already sealed with the current key.
    pub current: u64,
    /// Secrets sealed again now (plain before, or under an older key).
    pub resealed: u64,
}

impl midship_core::Classify for StorageError {
    fn kind(&self) -> midship_core::ErrorKind {
        use midship_core::ErrorKind;
        match self {
            StorageError::Conflict { .. } => ErrorKind::Conflict,
            StorageError::NotFound { .. } => ErrorKind::NotFound,
            StorageError::Database(_) => ErrorKind::Unavailable,
            StorageError::Migration(_) | StorageError::Corrupt { .. } | StorageError::Sealed { .. } => {
                ErrorKind::Internal
            }
        }
    }
}
