//! People: the operators who sign in to the console, with a role and app scope as tokens have,
//! and their console sessions. Sign-in rules (password, second factor, lockout, timeouts) are
//! here as pure functions of the records and the time.

use serde::{Deserialize, Serialize};

use crate::access::{Actor, Principal, Role};
use crate::clock::UnixMillis;
use crate::validation::ValidationError;

/// A stored person. The password is kept only as an Argon2id hash; the TOTP secret is sealed by
/// the storage layer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PersonRecord {
    pub person_id: String,
    pub tenant_id: String,
    /// Lower case, unique within the tenant: what the person types to sign in.
    pub login: String,
    pub display_name: String,
    pub role: Role,
    /// `None`: every app of the tenant. `Some`: only these apps.
    pub app_ids: Option<Vec<String>>,
    pub password_hash: Option<String>,
    pub password_must_change: bool,
    pub totp: Option<TotpEnrollment>,
    /// `issuer subject` of the person's single sign-on identity.
    pub oidc_subject: Option<String>,
    pub failed_sign_ins: i64,
    pub locked_until: Option<UnixMillis>,
    /// Sessions begun at or before this are over.
    pub sessions_valid_after: UnixMillis,
    pub created_at: UnixMillis,
    pub created_by: Option<String>,
    pub disabled_at: Option<UnixMillis>,
}

/// A person's authenticator app: the shared secret (base32), and whether a first code confirmed it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TotpEnrollment {
    pub secret: String,
    pub enabled_at: Option<UnixMillis>,
    /// The last 30-second step whose code was accepted.
    pub last_step: i64,
}

impl PersonRecord {
    pub fn principal(&self) -> Principal {
        Principal {
            actor: Actor::Person { person_id: self.person_id.clone(), login: self.login.clone() },
            tenant_id: self.tenant_id.clone(),
            role: self.role,
            app_ids: self.app_ids.clone(),
        }
    }

    pub fn is_locked_at(&self, now: UnixMillis) -> bool {
        self.locked_until.is_some_and(|until| now < until)
    }

    /// Whether sign-in needs a code from the person's authenticator app.
    pub fn has_second_factor(&self) -> bool {
        self.totp.as_ref().is_some_and(|totp| totp.enabled_at.is_some())
    }

    /// What proves the person beyond a password, as lists show it.
    pub fn second_factor(&self) -> SecondFactor {
        if self.has_second_factor() {
            SecondFactor::Authenticator
        } else if self.oidc_subject.is_some() {
            SecondFactor::SingleSignOn
        } else {
            SecondFactor::None
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SecondFactor {
    /// A TOTP authenticator app.
    Authenticator,
    /// The identity provider's own checks.
    SingleSignOn,
    None,
}

impl SecondFactor {
    /// The API's word for it.
    pub fn as_str(self) -> &'static str {
        match self {
            SecondFactor::Authenticator => "authenticator",
            SecondFactor::SingleSignOn => "single_sign_on",
            SecondFactor::None => "none",
        }
    }

    /// The console's words for it.
    pub fn label(self) -> &'static str {
        match self {
            SecondFactor::Authenticator => "authenticator app",
            SecondFactor::SingleSignOn => "single sign-on",
            SecondFactor::None => "none",
        }
    }
}

/// Checks and normalizes a login: 1 to 120 ASCII letters, digits and `. _ @ + -`, compared
/// without case.
pub fn normalize_login(login: &str) -> Result<String, ValidationError> {
    let login = login.to_ascii_lowercase();
    let allowed = |character: char| character.is_ascii_alphanumeric() || "._@+-".contains(character);
    if login.is_empty() || login.chars().count() > 120 || !login.chars().all(allowed) {
        return Err(ValidationError::new(
            "login",
            "must be 1 to 120 letters, digits or . _ @ + - (an email address works)",
        ));
    }
    Ok(login)
}

/// How long console sessions last and how sign-in failures are slowed down.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SignInPolicy {
    /// A session unused this long is over.
    pub idle_timeout_ms: i64,
    /// A session is over this long after sign-in, however busy.
    pub absolute_timeout_ms: i64,
    /// Failed sign-ins in a row before the account is locked.
    pub failures_before_lock: i64,
    /// The first lock's length; each further failure while locked doubles it, up to an hour.
    pub first_lock_ms: i64,
    /// How long someone has to type the second factor after the password.
    pub second_factor_window_ms: i64,
}

impl Default for SignInPolicy {
    fn default() -> Self {
        Self {
            idle_timeout_ms: 30 * 60 * 1000,
            absolute_timeout_ms: 12 * 60 * 60 * 1000,
            failures_before_lock: 5,
            first_lock_ms: 60 * 1000,
            second_factor_window_ms: 5 * 60 * 1000,
        }
    }
}

impl SignInPolicy {
    /// Until when an account stays locked after its `failures`-th failure in a row, if at all.
    pub fn lock_after(&self, failures: i64, now: UnixMillis) -> Option<UnixMillis> {
        let beyond = failures - self.failures_before_lock;
        if beyond < 0 {
            return None;
        }
        let lock_ms = self.first_lock_ms.saturating_mul(1_i64 << beyond.min(16)).min(60 * 60 * 1000);
        Some(now + lock_ms)
    }
}

/// How far a console session has got.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SessionStage {
    /// The password was right; the second factor is still owed.
    Password,
    /// Signed in.
    Full,
}

impl SessionStage {
    pub fn as_str(self) -> &'static str {
        match self {
            SessionStage::Password => "password",
            SessionStage::Full => "full",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        [SessionStage::Password, SessionStage::Full].into_iter().find(|stage| stage.as_str() == text)
    }
}

/// A console session. The cookie holds a random secret; only its hash is stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConsoleSessionRecord {
    pub session_hash: String,
    pub person_id: String,
    pub tenant_id: String,
    pub stage: SessionStage,
    pub created_at: UnixMillis,
    pub last_seen_at: UnixMillis,
    /// The absolute end (or, at stage `Password`, the end of the second-factor window).
    pub expires_at: UnixMillis,
    pub revoked_at: Option<UnixMillis>,
    /// Where the sign-in came from, for the person's list of sessions.
    pub address: String,
}

/// A command-line sign-in waiting for its person (the device authorization flow of RFC 8628):
/// the CLI holds a secret whose hash is `code_hash` and shows `user_code`; a person signed in to
/// the console confirms that code, and a session whose hash is `code_hash` begins, so the CLI's
/// secret becomes its bearer token without ever being stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeviceLoginRecord {
    /// What the person types or confirms: eight letters, `BCDF-GHJK`.
    pub user_code: String,
    pub code_hash: String,
    /// What the CLI says it is ("midship CLI on build-7"), shown to the person confirming.
    pub client_name: String,
    pub address: String,
    pub created_at: UnixMillis,
    pub expires_at: UnixMillis,
    pub status: DeviceLoginStatus,
    pub person_id: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeviceLoginStatus {
    Pending,
    Approved,
    Denied,
}

impl DeviceLoginStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            DeviceLoginStatus::Pending => "pending",
            DeviceLoginStatus::Approved => "approved",
            DeviceLoginStatus::Denied => "denied",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        [DeviceLoginStatus::Pending, DeviceLoginStatus::Approved, DeviceLoginStatus::Denied]
            .into_iter()
            .find(|status| status.as_str() == text)
    }
}

/// Why a session cookie no longer signs anyone in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SessionEnd {
    SignedOut,
    Idle,
    Expired,
    /// Signed out everywhere, or the password changed, after the session began.
    Superseded,
    PersonDisabled,
}

impl ConsoleSessionRecord {
    /// Whether the session still holds at `now` for this person.
    pub fn check(&self, person: &PersonRecord, policy: &SignInPolicy, now: UnixMillis) -> Result<(), SessionEnd> {
        if self.revoked_at.is_some() {
            return Err(SessionEnd::SignedOut);
        }
        if person.disabled_at.is_some() {
            return Err(SessionEnd::PersonDisabled);
        }
        if self.created_at <= person.sessions_valid_after {
            return Err(SessionEnd::Superseded);
        }
        if now >= self.expires_at {
            return Err(SessionEnd::Expired);
        }
        if now - self.last_seen_at >= policy.idle_timeout_ms {
            return Err(SessionEnd::Idle);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn person() -> PersonRecord {
        PersonRecord {
            person_id: "P".into(),
            tenant_id: "T".into(),
            login: "ana".into(),
            display_name: "Ana".into(),
            role: Role::Operator,
            app_ids: None,
            password_hash: None,
            password_must_change: false,
            totp: None,
            oidc_subject: None,
            failed_sign_ins: 0,
            locked_until: None,
            sessions_valid_after: 0,
            created_at: 0,
            created_by: None,
            disabled_at: None,
        }
    }

    fn session(created_at: i64) -> ConsoleSessionRecord {
        ConsoleSessionRecord {
            session_hash: "H".into(),
            person_id: "P".into(),
            tenant_id: "T".into(),
            stage: SessionStage::Full,
            created_at,
            last_seen_at: created_at,
            expires_at: created_at + SignInPolicy::default().absolute_timeout_ms,
            revoked_at: None,
            address: "127.0.0.1".into(),
        }
    }

    #[test]
    fn logins_are_compared_without_case() {
        assert_eq!(normalize_login("Ana.Lima@Bank.example").unwrap(), "ana.lima@bank.example");
        assert!(normalize_login(" ana").is_err(), "the console trims what people type; the API takes it exact");
        assert!(normalize_login("").is_err());
        assert!(normalize_login("ana lima").is_err());
        assert!(normalize_login(&"a".repeat(121)).is_err());
    }

    #[test]
    fn sessions_end_idle_absolute_and_when_superseded() {
        let policy = SignInPolicy::default();
        let start = 1_000_000;
        assert_eq!(session(start).check(&person(), &policy, start + 1000), Ok(()));
        assert_eq!(session(start).check(&person(), &policy, start + policy.idle_timeout_ms), Err(SessionEnd::Idle));
        let busy = ConsoleSessionRecord { last_seen_at: start + policy.absolute_timeout_ms - 1, ..session(start) };
        assert_eq!(busy.check(&person(), &policy, start + policy.absolute_timeout_ms), Err(SessionEnd::Expired));
        let signed_out_everywhere = PersonRecord { sessions_valid_after: start, ..person() };
        assert_eq!(session(start).check(&signed_out_everywhere, &policy, start + 2), Err(SessionEnd::Superseded));
        let disabled = PersonRecord { disabled_at: Some(start), ..person() };
        assert_eq!(session(start).check(&disabled, &policy, start + 2), Err(SessionEnd::PersonDisabled));
    }

    #[test]
    fn locks_grow_with_failures_up_to_an_hour() {
        let policy = SignInPolicy::default();
        assert_eq!(policy.lock_after(4, 0), None);
        assert_eq!(policy.lock_after(5, 0), Some(60_000));
        assert_eq!(policy.lock_after(6, 0), Some(120_000));
        assert_eq!(policy.lock_after(60, 0), Some(3_600_000));
    }
}
