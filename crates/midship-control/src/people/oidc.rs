//! Single sign-on: signing in a person whom the organisation's OpenID provider vouched for. The
//! server runs the protocol (authorization code with PKCE, the ID token's signature and claims);
//! this is the account rule. A person is found by the login the provider names; the first such
//! sign-in links the account to the provider's subject, and from then on only that subject signs
//! in as them. A linked account signs in only through the provider: its password is removed.

use midship_core::NewAuditEntry;
use midship_core::people::{PersonRecord, SessionStage, normalize_login};
use serde_json::json;

use super::sign_in::StartedSession;
use crate::{ControlError, ControlPlane};

const NOT_A_PERSON: &str = "your single sign-on account has no Midship account: ask an admin to add your login";

/// What a verified ID token says about who signed in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifiedIdentity {
    /// The provider's issuer URL, as its ID tokens carry it.
    pub issuer: String,
    /// The provider's stable id of the person (`sub`).
    pub subject: String,
    /// The claim naming their Midship login (`preferred_username`, or a verified `email`).
    pub login: String,
}

impl VerifiedIdentity {
    /// How the person's record keeps the link: issuer and subject, so two providers' subjects
    /// never collide.
    pub fn link(&self) -> String {
        format!("{} {}", self.issuer, self.subject)
    }
}

impl ControlPlane {
    /// Signs in the person an identity provider vouched for; the provider did the second factor.
    pub async fn sign_in_with_identity(
        &self,
        identity: &VerifiedIdentity,
        address: &str,
    ) -> Result<StartedSession, ControlError> {
        let refused = || ControlError::SignInRefused(NOT_A_PERSON);
        let login = normalize_login(identity.login.trim()).map_err(|_| refused())?;
        let person = self.storage.find_person_by_login(&login).await?;
        let person = person.filter(|person| person.disabled_at.is_none()).ok_or_else(refused)?;
        let link = identity.link();
        let person = match &person.oidc_subject {
            Some(linked) if *linked == link => person,
            Some(_) => {
                tracing::warn!(person_id = %person.person_id, "single sign-on by another subject than the one linked");
                return Err(ControlError::SignInRefused(
                    "this login is linked to another single sign-on account: ask an admin to reset it",
                ));
            }
            None => self.link_identity(person, link).await?,
        };
        self.storage.clear_sign_in_failures(&person.person_id).await?;
        self.start_session(&person, SessionStage::Full, address, self.now_ms()).await
    }

    async fn link_identity(&self, person: PersonRecord, link: String) -> Result<PersonRecord, ControlError> {
        let mut linked = person.clone();
        linked.oidc_subject = Some(link);
        linked.password_hash = None;
        linked.password_must_change = false;
        let audit =
            NewAuditEntry::by(&person.principal(), self.now_ms(), "person.sso_link", "person", &person.person_id)
                .after(json!({ "login": person.login, "single_sign_on": true, "password": "removed" }));
        self.storage.update_person(&linked, &audit).await.map_err(|error| match ControlError::from(error) {
            ControlError::Conflict(_) => ControlError::SignInRefused(
                "this single sign-on account is linked to another login: ask an admin to reset it",
            ),
            other => other,
        })?;
        Ok(linked)
    }
}
