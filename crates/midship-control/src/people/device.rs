//! Signing in the command line as a person (the device authorization flow of RFC 8628): the CLI
//! asks for a code pair, shows the short user code, and waits; the person, signed in to the
//! console, confirms that code; the CLI's secret then is a session of theirs, used as its bearer
//! token (same role, scope, timeouts and sign-out as their console session).

use midship_core::people::{ConsoleSessionRecord, DeviceLoginRecord, DeviceLoginStatus, SessionStage};
use midship_core::secrets::{hash_api_token, new_session_secret};
use midship_core::{NewAuditEntry, Principal, validation};
use rand::Rng;
use serde_json::json;

use crate::{ControlError, ControlPlane};

/// How long a user code waits for its person.
pub const DEVICE_LOGIN_MS: i64 = 10 * 60 * 1000;
/// Letters that cannot be mistaken for one another or spell much: 20^8 codes.
const USER_CODE_ALPHABET: &[u8] = b"BCDFGHJKLMNPQRSTVWXZ";

/// A command-line sign-in begun: the CLI keeps `device_code` secret and shows `user_code`.
#[derive(Debug, Clone)]
pub struct StartedDeviceLogin {
    pub device_code: String,
    pub user_code: String,
    pub expires_at: i64,
}

/// Where a command-line sign-in stands, as the CLI polls it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeviceLoginState {
    Pending,
    Approved,
    Denied,
    Expired,
}

impl DeviceLoginState {
    pub fn as_str(self) -> &'static str {
        match self {
            DeviceLoginState::Pending => "pending",
            DeviceLoginState::Approved => "approved",
            DeviceLoginState::Denied => "denied",
            DeviceLoginState::Expired => "expired",
        }
    }
}

fn new_user_code(rng: &mut impl Rng) -> String {
    let letter =
        |rng: &mut dyn rand::RngCore| char::from(USER_CODE_ALPHABET[rng.random_range(0..USER_CODE_ALPHABET.len())]);
    let first: String = (0..4).map(|_| letter(rng)).collect();
    let second: String = (0..4).map(|_| letter(rng)).collect();
    format!("{first}-{second}")
}

/// A user code as people type it: any case, with or without the dash or spaces.
pub fn normalize_user_code(typed: &str) -> String {
    let letters: String = typed.chars().filter(char::is_ascii_alphabetic).map(|c| c.to_ascii_uppercase()).collect();
    if letters.len() == 8 { format!("{}-{}", &letters[..4], &letters[4..]) } else { letters }
}

impl ControlPlane {
    pub async fn start_device_login(
        &self,
        client_name: &str,
        address: &str,
    ) -> Result<StartedDeviceLogin, ControlError> {
        let client_name = validation::display_name("client_name", client_name)?;
        let now = self.now_ms();
        let device_code = new_session_secret(&mut rand::rng());
        for _ in 0..5 {
            let user_code = new_user_code(&mut rand::rng());
            let login = DeviceLoginRecord {
                user_code: user_code.clone(),
                code_hash: hash_api_token(&device_code),
                client_name: client_name.clone(),
                address: midship_core::ids::echo(address),
                created_at: now,
                expires_at: now + DEVICE_LOGIN_MS,
                status: DeviceLoginStatus::Pending,
                person_id: None,
            };
            match self.storage.create_device_login(&login, now).await {
                Ok(()) => return Ok(StartedDeviceLogin { device_code, user_code, expires_at: login.expires_at }),
                Err(midship_storage::StorageError::Conflict { .. }) => continue,
                Err(error) => return Err(error.into()),
            }
        }
        Err(ControlError::Conflict("no free user code; try again".into()))
    }

    /// What the CLI's poll learns; an unknown code reads as expired.
    pub async fn device_login_state(&self, device_code: &str) -> Result<DeviceLoginState, ControlError> {
        let login = self.storage.find_device_login_by_hash(&hash_api_token(device_code)).await?;
        let Some(login) = login else { return Ok(DeviceLoginState::Expired) };
        Ok(match login.status {
            DeviceLoginStatus::Approved => DeviceLoginState::Approved,
            DeviceLoginStatus::Denied => DeviceLoginState::Denied,
            DeviceLoginStatus::Pending if self.now_ms() >= login.expires_at => DeviceLoginState::Expired,
            DeviceLoginStatus::Pending => DeviceLoginState::Pending,
        })
    }

    /// The sign-in a person is about to confirm: pending and not expired, else "not found".
    pub async fn pending_device_login(&self, user_code: &str) -> Result<DeviceLoginRecord, ControlError> {
        let user_code = normalize_user_code(user_code);
        let now = self.now_ms();
        self.storage
            .get_device_login(&user_code)
            .await?
            .filter(|login| login.status == DeviceLoginStatus::Pending && now < login.expires_at)
            .ok_or_else(|| ControlError::not_found("sign-in code", &user_code))
    }

    /// The signed-in person confirms the code: the CLI's secret becomes a session of theirs.
    pub async fn approve_device_login(
        &self,
        who: &Principal,
        user_code: &str,
    ) -> Result<DeviceLoginRecord, ControlError> {
        let person_id =
            who.person_id().ok_or(ControlError::NotYours("a command line signs in as a person, not as a token"))?;
        let login = self.pending_device_login(user_code).await?;
        let now = self.now_ms();
        let session = ConsoleSessionRecord {
            session_hash: login.code_hash.clone(),
            person_id: person_id.to_owned(),
            tenant_id: who.tenant_id.clone(),
            stage: SessionStage::Full,
            created_at: now,
            last_seen_at: now,
            expires_at: now + self.settings.sign_in.absolute_timeout_ms,
            revoked_at: None,
            address: login.address.clone(),
        };
        let audit = NewAuditEntry::by(who, now, "person.cli_sign_in", "person", person_id)
            .after(json!({ "client": login.client_name, "address": login.address }));
        if !self.storage.approve_device_login(&login.user_code, &session, &audit).await? {
            return Err(ControlError::Conflict("this code was confirmed or refused meanwhile".into()));
        }
        Ok(login)
    }

    pub async fn deny_device_login(&self, user_code: &str) -> Result<(), ControlError> {
        let login = self.pending_device_login(user_code).await?;
        self.storage.deny_device_login(&login.user_code).await?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn user_codes_are_eight_unambiguous_letters_typed_any_way() {
        let code = new_user_code(&mut rand::rng());
        assert_eq!(code.len(), 9);
        assert!(code.chars().filter(|c| *c != '-').all(|c| USER_CODE_ALPHABET.contains(&(c as u8))));
        assert_eq!(normalize_user_code(" bcdf ghjk "), "BCDF-GHJK");
        assert_eq!(normalize_user_code("BCDF-GHJK"), "BCDF-GHJK");
        assert_eq!(normalize_user_code("bcd"), "BCD");
    }
}
