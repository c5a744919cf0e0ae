//! People and their console sessions.

use async_trait::async_trait;
use midship_core::clock::UnixMillis;
use midship_core::people::{ConsoleSessionRecord, DeviceLoginRecord, PersonRecord, SignInPolicy};
use midship_core::{NewAuditEntry, Page, PageRequest};

use crate::StorageResult;

#[async_trait]
pub trait PersonStore: Send + Sync {
    /// `Conflict` when the login (or single sign-on identity) is taken: logins are unique in the
    /// installation, so signing in needs no tenant.
    async fn create_person(&self, person: &PersonRecord, audit: &NewAuditEntry) -> StorageResult<()>;
    async fn get_person(&self, person_id: &str) -> StorageResult<Option<PersonRecord>>;
    async fn find_person_by_login(&self, login: &str) -> StorageResult<Option<PersonRecord>>;
    /// Ordered by login; the cursor is the last login seen.
    async fn list_people(&self, tenant_id: &str, page: &PageRequest) -> StorageResult<Page<PersonRecord>>;
    /// Stores every field of the person but the sign-in counters (`failed_sign_ins`,
    /// `locked_until`, `totp_last_step`), which only the methods below change.
    async fn update_person(&self, person: &PersonRecord, audit: &NewAuditEntry) -> StorageResult<()>;

    /// Counts one more failed sign-in and, when the policy says so, locks the account, in one
    /// transaction; `lock_audit` is written only when it locks. Returns the new count and lock.
    async fn record_sign_in_failure(
        &self,
        person_id: &str,
        policy: &SignInPolicy,
        now: UnixMillis,
        lock_audit: &NewAuditEntry,
    ) -> StorageResult<(i64, Option<UnixMillis>)>;
    /// Starts the failure count again after a successful sign-in.
    async fn clear_sign_in_failures(&self, person_id: &str) -> StorageResult<()>;
    /// Records that the TOTP code of `step` was used; `false` when that step (or a later one)
    /// was used already, so a code is accepted once across every node.
    async fn use_totp_step(&self, person_id: &str, step: i64) -> StorageResult<bool>;

    async fn create_session(&self, session: &ConsoleSessionRecord, audit: Option<&NewAuditEntry>) -> StorageResult<()>;
    async fn get_session(&self, session_hash: &str) -> StorageResult<Option<ConsoleSessionRecord>>;
    /// Moves `last_seen_at` forward (never back).
    async fn touch_session(&self, session_hash: &str, seen_at: UnixMillis) -> StorageResult<()>;
    /// Ends the session; ending it twice keeps the first time.
    async fn revoke_session(
        &self,
        session_hash: &str,
        revoked_at: UnixMillis,
        audit: Option<&NewAuditEntry>,
    ) -> StorageResult<()>;
    /// The person's sessions still open at `now`, newest first.
    async fn list_open_sessions(&self, person_id: &str, now: UnixMillis) -> StorageResult<Vec<ConsoleSessionRecord>>;

    /// Stores a command-line sign-in, removing those expired before `now`. `Conflict` when the
    /// user code is taken (the caller draws another).
    async fn create_device_login(&self, login: &DeviceLoginRecord, now: UnixMillis) -> StorageResult<()>;
    async fn get_device_login(&self, user_code: &str) -> StorageResult<Option<DeviceLoginRecord>>;
    async fn find_device_login_by_hash(&self, code_hash: &str) -> StorageResult<Option<DeviceLoginRecord>>;
    /// Moves a pending sign-in to approved by `session`'s person and begins `session` (whose hash
    /// is the sign-in's), with the audit entry, in one transaction; `false` when it was no longer
    /// pending.
    async fn approve_device_login(
        &self,
        user_code: &str,
        session: &ConsoleSessionRecord,
        audit: &NewAuditEntry,
    ) -> StorageResult<bool>;
    /// Moves a pending sign-in to denied; `false` when it was no longer pending.
    async fn deny_device_login(&self, user_code: &str) -> StorageResult<bool>;
}
