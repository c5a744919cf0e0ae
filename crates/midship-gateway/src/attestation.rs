//! Optional platform attestation at registration (Play Integrity, App Attest, or any other a team
//! uses). The app's secret is public, so a workspace may require that a device prove it is a
//! genuine copy of the app on a genuine device before it gets a credential. Midship does not talk
//! to Google or Apple itself: the workspace names a verifier (its own backend, which holds the
//! platform credentials), and Midship asks it about each registration.
//!
//! 1. The device asks `midship.device.challenge` for a challenge (single use, 5 minutes).
//! 2. It has the platform bind the challenge into an attestation (Play Integrity's `nonce`, App
//!    Attest's client data hash) and calls `midship.device.register` with
//!    `{"attestation": {"kind", "token", "challenge"}}`.
//! 3. Midship checks the challenge is its own, fresh and unused, then POSTs
//!    `{workspace_id, app_id, platform, kind, token, challenge}` to the verifier, which answers
//!    `200 {"verdict": "accept"}` to let the device register; anything else refuses it (1001),
//!    and a verifier that cannot be reached refuses it too (4003, retried by the SDK).

use std::time::Duration;

use midship_core::ErrorKind;
use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::Gateway;
use crate::builtin::{BuiltinError, CallContext};

/// The built-in a device asks for a challenge with, signed with the app's secret.
pub use midship_protocol::builtins::operation::DEVICE_CHALLENGE as CHALLENGE_OPERATION_TYPE;
const CHALLENGE_TTL_MS: i64 = 5 * 60 * 1000;
const MAX_TOKEN_BYTES: usize = 16 * 1024;
const MAX_KIND_CHARS: usize = 32;
const VERIFIER_TIMEOUT: Duration = Duration::from_secs(5);

/// What a device sends to register where attestation is required.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Attestation {
    /// `play_integrity`, `app_attest`, or what the team's verifier understands.
    pub kind: String,
    /// The platform's attestation, as the platform gave it.
    pub token: String,
    /// From `midship.device.challenge`.
    pub challenge: String,
}

#[derive(Debug, Deserialize)]
struct RegistrationBody {
    #[serde(default)]
    attestation: Option<Attestation>,
}

#[derive(Debug, Deserialize)]
struct Verdict {
    verdict: String,
}

fn refused(detail: impl Into<String>) -> BuiltinError {
    BuiltinError { kind: ErrorKind::Forbidden, detail: detail.into() }
}

fn unavailable(detail: &str) -> BuiltinError {
    BuiltinError { kind: ErrorKind::Unavailable, detail: detail.to_owned() }
}

impl Gateway {
    /// `midship.device.challenge`: `{"challenge", "expires_at"}`, where the challenge is
    /// `{32 random hex}.{expiry ms}.{tag}` and the tag is the workspace's proof it made it.
    pub(crate) async fn issue_attestation_challenge(&self, context: &CallContext) -> Result<Vec<u8>, BuiltinError> {
        let expires_at = self.control.now_ms() + CHALLENGE_TTL_MS;
        let payload = format!("{}.{expires_at}", hex::encode(rand::random::<[u8; 16]>()));
        let tag = self
            .server_keys
            .attestation_challenge_tag(&context.workspace_id, &payload)
            .await
            .map_err(|_| unavailable("gateway storage unavailable"))?;
        let answer = json!({ "challenge": format!("{payload}.{tag}"), "expires_at": expires_at });
        Ok(serde_json::to_vec(&answer).expect("JSON values serialize"))
    }

    /// Before a registration in a workspace with a verifier: the body's attestation, its
    /// challenge (ours, fresh, first use) and the verifier's verdict.
    pub(crate) async fn check_attestation(
        &self,
        context: &CallContext,
        verifier_url: &str,
        body: &[u8],
    ) -> Result<(), BuiltinError> {
        let parsed: RegistrationBody = serde_json::from_slice(if body.is_empty() { b"{}" } else { body })
            .map_err(|error| BuiltinError { kind: ErrorKind::Invalid, detail: format!("invalid body: {error}") })?;
        let Some(attestation) = parsed.attestation else {
            return Err(refused(format!(
                "this workspace registers attested devices only: get a challenge with {CHALLENGE_OPERATION_TYPE} and send \"attestation\""
            )));
        };
        if attestation.token.len() > MAX_TOKEN_BYTES || attestation.kind.chars().count() > MAX_KIND_CHARS {
            return Err(refused("attestation token or kind too long"));
        }
        self.check_challenge(&context.workspace_id, &attestation.challenge).await?;
        let request = json!({
            "workspace_id": context.workspace_id,
            "app_id": context.app_id,
            "platform": context.platform,
            "kind": attestation.kind,
            "token": attestation.token,
            "challenge": attestation.challenge,
        });
        let response =
            self.http.post(verifier_url).timeout(VERIFIER_TIMEOUT).json(&request).send().await.map_err(|error| {
                tracing::warn!(%error, workspace_id = %context.workspace_id, "attestation verifier unreachable");
                unavailable("the attestation verifier cannot be reached")
            })?;
        let status = response.status();
        let verdict = response.json::<Verdict>().await.ok().map(|verdict| verdict.verdict);
        if status.is_success() && verdict.as_deref() == Some("accept") {
            return Ok(());
        }
        tracing::info!(workspace_id = %context.workspace_id, status = status.as_u16(), ?verdict, "attestation refused");
        Err(refused("the attestation was refused"))
    }

    async fn check_challenge(&self, workspace_id: &str, challenge: &str) -> Result<(), BuiltinError> {
        let stale = || refused("the attestation challenge is not valid: get a new one");
        let (payload, tag) = challenge.rsplit_once('.').ok_or_else(stale)?;
        let expires_at: i64 = payload.split_once('.').and_then(|(_, at)| at.parse().ok()).ok_or_else(stale)?;
        let expected = self
            .server_keys
            .attestation_challenge_tag(workspace_id, payload)
            .await
            .map_err(|_| unavailable("gateway storage unavailable"))?;
        let matches = crate::credentials::tags_match(&expected, tag);
        let now = self.control.now_ms();
        if !matches || now > expires_at {
            return Err(stale());
        }
        let first_use = self
            .first_use_of_nonce(&format!("attestation:{payload}"), now, expires_at)
            .await
            .map_err(|_| unavailable("replay protection unavailable"))?;
        if !first_use {
            return Err(stale());
        }
        Ok(())
    }
}
