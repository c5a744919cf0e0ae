//! A workspace's package signing keys: generation 1 made at first use, one more per rotation.
//! The newest signs uploads; every key not retired signs each offered manifest, so an app that
//! pinned an older key keeps verifying new packages, and an app that pinned the newest verifies
//! packages uploaded before the rotation. Keys are read from storage when a snapshot is built
//! or a package uploaded (rare), never per check.

use std::sync::Arc;

use midship_core::NewAuditEntry;
use midship_core::access::{Action, Principal};
use midship_package::ManifestSigner;
use midship_protocol::calls::ManifestSignature;
use midship_storage::{SigningKeyRecord, StorageError};
use serde_json::json;

use crate::service::DeliveryService;
use crate::{DeliveryError, invalid};

/// One generation of the key, ready to sign.
#[derive(Debug)]
pub struct SigningKey {
    pub generation: i64,
    pub public_key: String,
    pub created_at: i64,
    pub retired_at: Option<i64>,
    signer: ManifestSigner,
}

impl SigningKey {
    pub fn sign(&self, manifest: &midship_package::PackageManifest) -> midship_package::SignedManifest {
        self.signer.sign(manifest)
    }
}

/// Every generation of a workspace's key, oldest first.
#[derive(Debug)]
pub struct WorkspaceKeys {
    keys: Vec<SigningKey>,
}

/// What an offer carries: the signature by the oldest key still published (what apps from before
/// any rotation verify) and one signature per published key.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct OfferSignatures {
    pub signature: String,
    pub signatures: Vec<ManifestSignature>,
}

impl WorkspaceKeys {
    fn from_records(records: Vec<SigningKeyRecord>) -> Result<Self, DeliveryError> {
        let keys = records
            .into_iter()
            .map(|record| {
                let signer = ManifestSigner::from_secret(&record.secret).map_err(|error| StorageError::Corrupt {
                    table: "delivery_signing_keys",
                    detail: error.to_string(),
                })?;
                Ok(SigningKey {
                    generation: record.generation,
                    public_key: record.public_key,
                    created_at: record.created_at,
                    retired_at: record.retired_at,
                    signer,
                })
            })
            .collect::<Result<Vec<_>, DeliveryError>>()?;
        if keys.is_empty() {
            return Err(StorageError::Corrupt { table: "delivery_signing_keys", detail: "no key stored".into() }.into());
        }
        Ok(Self { keys })
    }

    pub fn all(&self) -> &[SigningKey] {
        &self.keys
    }

    /// The key that signs uploads.
    pub fn newest(&self) -> &SigningKey {
        self.keys.last().expect("a workspace has at least one key")
    }

    fn published(&self) -> impl Iterator<Item = &SigningKey> {
        self.keys.iter().filter(|key| key.retired_at.is_none())
    }

    /// Signs a stored manifest text with every published key.
    pub fn sign_offer(&self, manifest: &str) -> OfferSignatures {
        let signatures: Vec<ManifestSignature> = self
            .published()
            .map(|key| ManifestSignature {
                key: key.generation,
                public_key: key.public_key.clone(),
                signature: key.signer.sign_text(manifest),
            })
            .collect();
        let signature = signatures.first().map(|first| first.signature.clone()).unwrap_or_default();
        OfferSignatures { signature, signatures }
    }
}

/// A fresh key of `generation`, to store.
fn new_key(workspace_id: &str, generation: i64, now: i64) -> SigningKeyRecord {
    let signer = ManifestSigner::generate();
    SigningKeyRecord {
        workspace_id: workspace_id.to_owned(),
        generation,
        algorithm: midship_package::signing::ALGORITHM.to_owned(),
        secret: signer.secret(),
        public_key: signer.public_key(),
        created_at: now,
        retired_at: None,
    }
}

impl DeliveryService {
    /// The workspace's keys, generation 1 created on first use.
    pub(crate) async fn signing_keys(&self, workspace_id: &str) -> Result<Arc<WorkspaceKeys>, DeliveryError> {
        let first = new_key(workspace_id, 1, self.control().now_ms());
        let records = self.control().storage().delivery_signing_keys(&first).await?;
        Ok(Arc::new(WorkspaceKeys::from_records(records)?))
    }

    /// Every generation of the workspace's key, for `GET …/delivery/signing-keys`.
    pub async fn list_signing_keys(
        &self,
        who: &Principal,
        workspace_id: &str,
    ) -> Result<Arc<WorkspaceKeys>, DeliveryError> {
        self.control().authorized_workspace(who, workspace_id, Action::Read).await?;
        self.signing_keys(workspace_id).await
    }

    /// Makes a new generation the one that signs uploads. Older keys keep signing offers until
    /// they are retired.
    pub async fn rotate_signing_key(
        &self,
        who: &Principal,
        workspace_id: &str,
    ) -> Result<Arc<WorkspaceKeys>, DeliveryError> {
        let (app, _) = self.control().authorized_workspace(who, workspace_id, Action::ManageApps).await?;
        let keys = self.signing_keys(workspace_id).await?;
        let now = self.control().now_ms();
        let record = new_key(workspace_id, keys.newest().generation + 1, now);
        let audit = NewAuditEntry::by(who, now, "delivery.signing_key.rotate", "workspace", workspace_id)
            .in_app(&app.app_id)
            .after(json!({ "generation": record.generation, "public_key": record.public_key }));
        match self.control().storage().add_delivery_signing_key(&record, &audit).await {
            Err(StorageError::Conflict { .. }) => {
                return Err(DeliveryError::Conflict("the signing key was rotated at the same time; try again".into()));
            }
            other => other?,
        }
        self.forget_snapshot(workspace_id);
        self.signing_keys(workspace_id).await
    }

    /// Stops a generation from signing offers; the newest cannot be retired.
    pub async fn retire_signing_key(
        &self,
        who: &Principal,
        workspace_id: &str,
        generation: i64,
    ) -> Result<Arc<WorkspaceKeys>, DeliveryError> {
        let (app, _) = self.control().authorized_workspace(who, workspace_id, Action::ManageApps).await?;
        let keys = self.signing_keys(workspace_id).await?;
        let Some(key) = keys.all().iter().find(|key| key.generation == generation) else {
            return Err(DeliveryError::UnknownSigningKey(generation));
        };
        if generation == keys.newest().generation {
            return Err(invalid("generation", "the newest key signs uploads: rotate before retiring it"));
        }
        if key.retired_at.is_some() {
            return Err(DeliveryError::Conflict(format!("signing key generation {generation} is retired already")));
        }
        let now = self.control().now_ms();
        let audit = NewAuditEntry::by(who, now, "delivery.signing_key.retire", "workspace", workspace_id)
            .in_app(&app.app_id)
            .after(json!({ "generation": generation, "public_key": key.public_key }));
        match self.control().storage().retire_delivery_signing_key(workspace_id, generation, now, &audit).await {
            Err(StorageError::NotFound { .. }) => {
                return Err(DeliveryError::Conflict(format!("signing key generation {generation} is retired already")));
            }
            other => other?,
        }
        self.forget_snapshot(workspace_id);
        self.signing_keys(workspace_id).await
    }
}
