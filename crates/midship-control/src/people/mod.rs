//! People: accounts for the humans who operate apps, managed by admins as tokens are (same roles,
//! same app scopes, same "only hand out what you hold" rule), and their own account settings.
//! Signing in is in [`sign_in`].

pub mod device;
pub mod oidc;
pub mod password;
pub mod sign_in;
pub mod totp;

use std::str::FromStr;

use midship_core::access::{Action, Role};
use midship_core::page::{Page, PageRequest};
use midship_core::people::{PersonRecord, TotpEnrollment, normalize_login};
use midship_core::{NewAuditEntry, Principal, ValidationError, validation};
use serde_json::json;

use crate::access::normalize_app_ids;
use crate::{ControlError, ControlPlane};

/// What an admin gives to create someone's account.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewPerson {
    pub login: String,
    pub display_name: String,
    pub role: String,
    pub app_ids: Option<Vec<String>>,
}

/// A created account, or one whose password was reset: the temporary password is shown once,
/// and must be changed at the next sign-in.
#[derive(Debug, Clone)]
pub struct PersonWithPassword {
    pub person: PersonRecord,
    pub temporary_password: String,
}

/// An admin's change to someone's account; `None` leaves a field as it is.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PersonChange {
    pub display_name: Option<String>,
    pub role: Option<String>,
    /// `Some(None)`: every app of the tenant.
    pub app_ids: Option<Option<Vec<String>>>,
    pub disabled: Option<bool>,
}

/// A started authenticator enrollment: what the person's app needs, shown once.
#[derive(Debug, Clone)]
pub struct TotpSetup {
    pub secret: String,
    pub provisioning_uri: String,
}

/// The audit summary of a person; never the password hash nor the TOTP secret.
fn person_summary(person: &PersonRecord) -> serde_json::Value {
    json!({
        "login": person.login,
        "display_name": person.display_name,
        "role": person.role.as_str(),
        "app_ids": person.app_ids,
        "second_factor": person.has_second_factor(),
        "disabled_at": person.disabled_at,
    })
}

impl ControlPlane {
    pub async fn create_person(&self, who: &Principal, request: NewPerson) -> Result<PersonWithPassword, ControlError> {
        let login = normalize_login(&request.login)?;
        let display_name = validation::display_name("display_name", &request.display_name)?;
        let role = Role::from_str(&request.role)?;
        let app_ids = normalize_app_ids(request.app_ids)?;
        who.authorize_token_grant(app_ids.as_deref())?;
        for app_id in app_ids.iter().flatten() {
            self.visible_app(who, app_id).await?;
        }
        let temporary_password = password::temporary();
        let now = self.now_ms();
        let person = PersonRecord {
            person_id: self.new_id(),
            tenant_id: who.tenant_id.clone(),
            login,
            display_name,
            role,
            app_ids,
            password_hash: Some(password::hash(&temporary_password)),
            password_must_change: true,
            totp: None,
            oidc_subject: None,
            failed_sign_ins: 0,
            locked_until: None,
            sessions_valid_after: 0,
            created_at: now,
            created_by: Some(who.actor_id().to_owned()),
            disabled_at: None,
        };
        let audit =
            NewAuditEntry::by(who, now, "person.create", "person", &person.person_id).after(person_summary(&person));
        self.storage.create_person(&person, &audit).await.map_err(|error| match ControlError::from(error) {
            ControlError::Conflict(_) => ControlError::Conflict(format!("login {} is taken", person.login)),
            other => other,
        })?;
        Ok(PersonWithPassword { person, temporary_password })
    }

    pub async fn list_people(&self, who: &Principal, page: &PageRequest) -> Result<Page<PersonRecord>, ControlError> {
        who.authorize(Action::ManageAccess)?;
        let mut people = self.storage.list_people(&who.tenant_id, page).await?;
        people.items.retain(|person| within_scope(who, person));
        Ok(people)
    }

    /// A person of the caller's tenant and scope (admins), or the caller themself.
    pub async fn get_person(&self, who: &Principal, person_id: &str) -> Result<PersonRecord, ControlError> {
        let oneself = who.person_id() == Some(person_id);
        if !oneself {
            who.authorize(Action::ManageAccess)?;
        }
        self.storage
            .get_person(person_id)
            .await?
            .filter(|person| person.tenant_id == who.tenant_id && (oneself || within_scope(who, person)))
            .ok_or_else(|| ControlError::not_found("person", person_id))
    }

    /// An admin's change: name, role, app scope, disabled. Disabling ends every session at once.
    pub async fn update_person(
        &self,
        who: &Principal,
        person_id: &str,
        change: PersonChange,
    ) -> Result<PersonRecord, ControlError> {
        let before = self.managed_person(who, person_id).await?;
        let mut after = before.clone();
        if let Some(display_name) = change.display_name {
            after.display_name = validation::display_name("display_name", &display_name)?;
        }
        if let Some(role) = change.role {
            after.role = Role::from_str(&role)?;
        }
        if let Some(app_ids) = change.app_ids {
            after.app_ids = normalize_app_ids(app_ids)?;
            who.authorize_token_grant(after.app_ids.as_deref())?;
            for app_id in after.app_ids.iter().flatten() {
                self.visible_app(who, app_id).await?;
            }
        }
        let now = self.now_ms();
        if let Some(disabled) = change.disabled {
            if disabled && who.person_id() == Some(person_id) {
                return Err(ValidationError::new("disabled", "you cannot disable your own account").into());
            }
            after.disabled_at = if disabled { Some(before.disabled_at.unwrap_or(now)) } else { None };
        }
        let audit = NewAuditEntry::by(who, now, "person.update", "person", person_id)
            .before(person_summary(&before))
            .after(person_summary(&after));
        self.storage.update_person(&after, &audit).await?;
        Ok(after)
    }

    /// Gives the person a new temporary password (to be changed at the next sign-in), removes
    /// their authenticator app and their single sign-on link, and ends their sessions: what
    /// helpdesk does for a lost phone or a changed identity.
    pub async fn reset_person_credentials(
        &self,
        who: &Principal,
        person_id: &str,
    ) -> Result<PersonWithPassword, ControlError> {
        let before = self.managed_person(who, person_id).await?;
        let temporary_password = password::temporary();
        let now = self.now_ms();
        let after = PersonRecord {
            password_hash: Some(password::hash(&temporary_password)),
            password_must_change: true,
            totp: None,
            oidc_subject: None,
            sessions_valid_after: now,
            ..before.clone()
        };
        let audit = NewAuditEntry::by(who, now, "person.reset_credentials", "person", person_id)
            .before(person_summary(&before))
            .after(person_summary(&after));
        self.storage.update_person(&after, &audit).await?;
        self.storage.clear_sign_in_failures(person_id).await?;
        Ok(PersonWithPassword { person: after, temporary_password })
    }

    /// Ends every session of the person: the caller's own, or (admins) someone else's.
    pub async fn sign_out_everywhere(&self, who: &Principal, person_id: &str) -> Result<(), ControlError> {
        let before = self.get_person(who, person_id).await?;
        let now = self.now_ms();
        let after = PersonRecord { sessions_valid_after: now, ..before };
        let audit = NewAuditEntry::by(who, now, "person.sign_out_everywhere", "person", person_id);
        self.storage.update_person(&after, &audit).await?;
        Ok(())
    }

    /// The signed-in person changes their password (the current one proves it is them).
    /// Their other sessions end; the caller signs in again.
    pub async fn change_own_password(
        &self,
        who: &Principal,
        current_password: &str,
        new_password: &str,
    ) -> Result<PersonRecord, ControlError> {
        let person = self.own_person(who).await?;
        let current_ok =
            person.password_hash.as_deref().is_some_and(|stored| password::verify(current_password, stored));
        if !current_ok {
            return Err(ValidationError::new("current_password", "is not your current password").into());
        }
        password::check_strength(new_password, &person.login)?;
        if new_password == current_password {
            return Err(ValidationError::new("new_password", "must differ from the current one").into());
        }
        let now = self.now_ms();
        let after = PersonRecord {
            password_hash: Some(password::hash(new_password)),
            password_must_change: false,
            sessions_valid_after: now,
            ..person
        };
        let audit = NewAuditEntry::by(who, now, "person.change_password", "person", &after.person_id);
        self.storage.update_person(&after, &audit).await?;
        Ok(after)
    }

    /// Starts (or restarts) enrolling an authenticator app; it counts once a first code confirms it.
    pub async fn begin_totp_enrollment(&self, who: &Principal) -> Result<TotpSetup, ControlError> {
        let person = self.own_person(who).await?;
        if person.has_second_factor() {
            return Err(ControlError::Conflict(
                "an authenticator app is already set up; an admin resets it if the phone is lost".into(),
            ));
        }
        let secret = totp::new_secret(&mut rand::rng());
        let provisioning_uri = totp::provisioning_uri(&self.settings.issuer, &person.login, &secret);
        let after = PersonRecord {
            totp: Some(TotpEnrollment { secret: secret.clone(), enabled_at: None, last_step: 0 }),
            ..person
        };
        let audit = NewAuditEntry::by(who, self.now_ms(), "person.totp_begin", "person", &after.person_id);
        self.storage.update_person(&after, &audit).await?;
        Ok(TotpSetup { secret, provisioning_uri })
    }

    /// Confirms the enrollment with a code from the app; from then on sign-in asks for one.
    pub async fn confirm_totp_enrollment(&self, who: &Principal, code: &str) -> Result<PersonRecord, ControlError> {
        let person = self.own_person(who).await?;
        let Some(enrollment) = person.totp.clone().filter(|totp| totp.enabled_at.is_none()) else {
            return Err(ControlError::Conflict("no authenticator enrollment is waiting for a code".into()));
        };
        let now = self.now_ms();
        let step = totp::matching_step(&enrollment.secret, code, now).ok_or_else(|| {
            ValidationError::new("code", "does not match; check the phone's time and try the next code")
        })?;
        if !self.storage.use_totp_step(&person.person_id, step).await? {
            return Err(ValidationError::new("code", "was used already; wait for the next one").into());
        }
        let after = PersonRecord {
            totp: Some(TotpEnrollment { enabled_at: Some(now), last_step: step, ..enrollment }),
            ..person
        };
        let audit =
            NewAuditEntry::by(who, now, "person.totp_enable", "person", &after.person_id).after(person_summary(&after));
        self.storage.update_person(&after, &audit).await?;
        Ok(after)
    }

    async fn own_person(&self, who: &Principal) -> Result<PersonRecord, ControlError> {
        let person_id =
            who.person_id().ok_or_else(|| ValidationError::new("caller", "is an API token, not a person signed in"))?;
        self.get_person(who, person_id).await
    }

    /// A person an admin may change: in the tenant, inside the admin's scope.
    async fn managed_person(&self, who: &Principal, person_id: &str) -> Result<PersonRecord, ControlError> {
        who.authorize(Action::ManageAccess)?;
        let person = self.get_person(who, person_id).await?;
        who.authorize_token_grant(person.app_ids.as_deref())?;
        Ok(person)
    }
}

fn within_scope(who: &Principal, person: &PersonRecord) -> bool {
    crate::access::scope_within(who, person.app_ids.as_ref())
}
