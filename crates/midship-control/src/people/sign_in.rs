//! Signing in to the console: password, then the authenticator code when the person has one,
//! then a session whose secret only the browser's cookie holds.
//!
//! Failures are slowed twice: per account (stored, so every node counts them, and the account
//! locks for a growing time) and per client address (on each node, which is enough to stop one
//! address trying many accounts without letting an attacker lock everyone out).

use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;

use midship_core::people::{ConsoleSessionRecord, PersonRecord, SessionStage, normalize_login};
use midship_core::secrets::{SESSION_PREFIX, hash_api_token, new_session_secret};
use midship_core::{NewAuditEntry, Principal};
use serde_json::json;

use super::{password, totp};
use crate::{ControlError, ControlPlane};

const WRONG_CREDENTIALS: &str = "wrong login or password";
const WRONG_CODE: &str = "wrong or already used code";
/// Failed sign-ins one address may make in [`ADDRESS_WINDOW_MS`].
pub const ADDRESS_FAILURE_LIMIT: usize = 20;
const ADDRESS_WINDOW_MS: i64 = 10 * 60 * 1000;
/// Addresses remembered at most; the oldest windows go first.
const ADDRESS_CAPACITY: usize = 50_000;
/// A session's last use is written at most this often.
const TOUCH_EVERY_MS: i64 = 60 * 1000;

/// A session begun: `secret` goes into the cookie and nowhere else.
#[derive(Debug, Clone)]
pub struct StartedSession {
    pub secret: String,
    pub stage: SessionStage,
    pub expires_at: i64,
}

/// Someone signed in, as a page sees them.
#[derive(Debug, Clone)]
pub struct SignedIn {
    pub principal: Principal,
    pub person: PersonRecord,
    pub session: ConsoleSessionRecord,
}

impl SignedIn {
    /// What the person must do before anything else: change a temporary password, set up an
    /// authenticator app where the installation requires one.
    pub fn owes(&self, plane: &ControlPlane) -> Option<Owed> {
        if self.person.password_must_change {
            Some(Owed::NewPassword)
        } else if plane.settings.require_second_factor
            && !self.person.has_second_factor()
            && self.person.oidc_subject.is_none()
        {
            Some(Owed::SecondFactor)
        } else {
            None
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Owed {
    NewPassword,
    SecondFactor,
}

/// Recent failed sign-ins per address.
#[derive(Debug, Default)]
pub struct AddressThrottle {
    failures: Mutex<HashMap<String, VecDeque<i64>>>,
}

impl AddressThrottle {
    /// How long the address must wait, if it is over its limit.
    fn wait_ms(&self, address: &str, now: i64) -> Option<i64> {
        let mut failures = self.failures.lock().expect("throttle lock");
        let recent = failures.get_mut(address)?;
        while recent.front().is_some_and(|at| now - at >= ADDRESS_WINDOW_MS) {
            recent.pop_front();
        }
        (recent.len() >= ADDRESS_FAILURE_LIMIT)
            .then(|| recent.front().map_or(0, |oldest| oldest + ADDRESS_WINDOW_MS - now))
    }

    fn record(&self, address: &str, now: i64) {
        let mut failures = self.failures.lock().expect("throttle lock");
        if failures.len() >= ADDRESS_CAPACITY && !failures.contains_key(address) {
            failures.retain(|_, recent| recent.back().is_some_and(|last| now - last < ADDRESS_WINDOW_MS));
            if failures.len() >= ADDRESS_CAPACITY {
                failures.clear();
            }
        }
        let recent = failures.entry(address.to_owned()).or_default();
        recent.push_back(now);
        if recent.len() > ADDRESS_FAILURE_LIMIT {
            recent.pop_front();
        }
    }
}

async fn verify_password(password: String, stored: String) -> bool {
    // Argon2 takes tens of milliseconds of CPU on purpose: off the async workers.
    tokio::task::spawn_blocking(move || password::verify(&password, &stored)).await.unwrap_or(false)
}

impl ControlPlane {
    /// The first step: login and password. Answers a full session, or one that still owes the
    /// authenticator code.
    pub async fn sign_in_with_password(
        &self,
        login: &str,
        password: &str,
        address: &str,
    ) -> Result<StartedSession, ControlError> {
        let now = self.now_ms();
        if let Some(retry_after_ms) = self.address_failures.wait_ms(address, now) {
            return Err(ControlError::TooManyAttempts { retry_after_ms });
        }
        // People type spaces around their login; the API takes it exact.
        let person = match normalize_login(login.trim()) {
            Ok(login) => self.storage.find_person_by_login(&login).await?,
            Err(_) => None,
        };
        let Some(person) = person.filter(|person| person.disabled_at.is_none()) else {
            // As slow as a wrong password, so timing does not tell which logins exist.
            verify_password(password.to_owned(), password::decoy_hash().to_owned()).await;
            self.address_failures.record(address, now);
            return Err(ControlError::SignInRefused(WRONG_CREDENTIALS));
        };
        if let Some(until) = person.locked_until.filter(|until| now < *until) {
            return Err(ControlError::TooManyAttempts { retry_after_ms: until - now });
        }
        let stored = person.password_hash.clone().unwrap_or_else(|| password::decoy_hash().to_owned());
        if !verify_password(password.to_owned(), stored).await || person.password_hash.is_none() {
            self.address_failures.record(address, now);
            self.count_failure(&person, now).await?;
            return Err(ControlError::SignInRefused(WRONG_CREDENTIALS));
        }
        self.storage.clear_sign_in_failures(&person.person_id).await?;
        if person.has_second_factor() {
            self.start_session(&person, SessionStage::Password, address, now).await
        } else {
            self.start_session(&person, SessionStage::Full, address, now).await
        }
    }

    /// The second step: the authenticator code, on the session the password step began. The
    /// full session gets a new secret, so a cookie planted before sign-in never becomes one.
    pub async fn sign_in_with_code(
        &self,
        pending_secret: &str,
        code: &str,
        address: &str,
    ) -> Result<StartedSession, ControlError> {
        let now = self.now_ms();
        let session = self
            .session_by_secret(pending_secret)
            .await?
            .filter(|session| session.stage == SessionStage::Password)
            .ok_or(ControlError::SignInRefused("the sign-in has expired; start again"))?;
        let person = self.storage.get_person(&session.person_id).await?.ok_or(ControlError::Unauthenticated)?;
        if session.check(&person, &self.settings.sign_in, now).is_err() {
            return Err(ControlError::SignInRefused("the sign-in has expired; start again"));
        }
        if let Some(until) = person.locked_until.filter(|until| now < *until) {
            return Err(ControlError::TooManyAttempts { retry_after_ms: until - now });
        }
        let step = person.totp.as_ref().and_then(|totp| totp::matching_step(&totp.secret, code, now));
        let accepted = match step {
            Some(step) => self.storage.use_totp_step(&person.person_id, step).await?,
            None => false,
        };
        if !accepted {
            self.address_failures.record(address, now);
            self.count_failure(&person, now).await?;
            return Err(ControlError::SignInRefused(WRONG_CODE));
        }
        self.storage.clear_sign_in_failures(&person.person_id).await?;
        self.storage.revoke_session(&session.session_hash, now, None).await?;
        self.start_session(&person, SessionStage::Full, address, now).await
    }

    /// The person behind a session cookie, if the session is fully signed in and still holds.
    pub async fn authenticate_session(&self, secret: &str) -> Result<SignedIn, ControlError> {
        let now = self.now_ms();
        let session = self
            .session_by_secret(secret)
            .await?
            .filter(|session| session.stage == SessionStage::Full)
            .ok_or(ControlError::Unauthenticated)?;
        let person = self.storage.get_person(&session.person_id).await?.ok_or(ControlError::Unauthenticated)?;
        if person.tenant_id != session.tenant_id || session.check(&person, &self.settings.sign_in, now).is_err() {
            return Err(ControlError::Unauthenticated);
        }
        if now - session.last_seen_at >= TOUCH_EVERY_MS {
            self.storage.touch_session(&session.session_hash, now).await?;
        }
        Ok(SignedIn { principal: person.principal(), person, session })
    }

    /// Ends the session of this cookie (a stale or unknown one is already over).
    pub async fn sign_out(&self, secret: &str) -> Result<(), ControlError> {
        let Some(session) = self.session_by_secret(secret).await? else {
            return Ok(());
        };
        let now = self.now_ms();
        let audit = match self.storage.get_person(&session.person_id).await? {
            Some(person) if session.stage == SessionStage::Full => {
                Some(NewAuditEntry::by(&person.principal(), now, "person.sign_out", "person", &person.person_id))
            }
            _ => None,
        };
        self.storage.revoke_session(&session.session_hash, now, audit.as_ref()).await?;
        Ok(())
    }

    /// The person's sessions that still hold, for their account page.
    pub async fn open_sessions(&self, signed_in: &SignedIn) -> Result<Vec<ConsoleSessionRecord>, ControlError> {
        let now = self.now_ms();
        let mut sessions = self.storage.list_open_sessions(&signed_in.person.person_id, now).await?;
        sessions.retain(|session| {
            session.stage == SessionStage::Full && session.check(&signed_in.person, &self.settings.sign_in, now).is_ok()
        });
        Ok(sessions)
    }

    async fn session_by_secret(&self, secret: &str) -> Result<Option<ConsoleSessionRecord>, ControlError> {
        if !secret.starts_with(SESSION_PREFIX) || secret.len() > 128 {
            return Ok(None);
        }
        Ok(self.storage.get_session(&hash_api_token(secret)).await?)
    }

    pub(super) async fn start_session(
        &self,
        person: &PersonRecord,
        stage: SessionStage,
        address: &str,
        now: i64,
    ) -> Result<StartedSession, ControlError> {
        let policy = &self.settings.sign_in;
        let secret = new_session_secret(&mut rand::rng());
        let expires_at = match stage {
            SessionStage::Password => now + policy.second_factor_window_ms,
            SessionStage::Full => now + policy.absolute_timeout_ms,
        };
        let session = ConsoleSessionRecord {
            session_hash: hash_api_token(&secret),
            person_id: person.person_id.clone(),
            tenant_id: person.tenant_id.clone(),
            stage,
            created_at: now,
            last_seen_at: now,
            expires_at,
            revoked_at: None,
            address: midship_core::ids::echo(address),
        };
        let audit = (stage == SessionStage::Full).then(|| {
            NewAuditEntry::by(&person.principal(), now, "person.sign_in", "person", &person.person_id).after(json!({
                "address": session.address,
                "second_factor": person.has_second_factor(),
                "single_sign_on": person.oidc_subject.is_some(),
            }))
        });
        self.storage.create_session(&session, audit.as_ref()).await?;
        Ok(StartedSession { secret, stage, expires_at })
    }

    async fn count_failure(&self, person: &PersonRecord, now: i64) -> Result<(), ControlError> {
        let lock_audit = NewAuditEntry::by(&person.principal(), now, "person.lock", "person", &person.person_id);
        let (failures, locked_until) =
            self.storage.record_sign_in_failure(&person.person_id, &self.settings.sign_in, now, &lock_audit).await?;
        tracing::info!(person_id = %person.person_id, failures, locked_until, "console sign-in failed");
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_address_waits_once_over_its_limit_until_the_window_passes() {
        let throttle = AddressThrottle::default();
        for index in 0..ADDRESS_FAILURE_LIMIT as i64 {
            assert_eq!(throttle.wait_ms("192.0.2.1", 1000 + index), None);
            throttle.record("192.0.2.1", 1000 + index);
        }
        assert_eq!(throttle.wait_ms("192.0.2.1", 2000), Some(1000 + ADDRESS_WINDOW_MS - 2000));
        assert_eq!(throttle.wait_ms("192.0.2.2", 2000), None, "per address");
        assert_eq!(throttle.wait_ms("192.0.2.1", 1000 + ADDRESS_WINDOW_MS), None, "the oldest failure aged out");
    }
}
