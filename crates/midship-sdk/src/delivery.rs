//! The device side of delivery: `midship.delivery.check`, downloads that resume where they
//! stopped, the signed manifest verified before anything is used, diffs applied file by file
//! and every rebuilt file checked against the manifest, with the full package as the fall back
//! whenever a diff fails. Progress goes back through `midship.delivery.report`.

use std::path::PathBuf;
use std::sync::Arc;

use midship_package::{
    ArchiveLimits, Files, PackageError, PackageManifest, SignedManifest, apply_binary_patch, apply_content_patch,
    read_zip, sha256_hex, verify_manifest,
};
use midship_protocol::builtins::operation;
use midship_protocol::calls::{DeliveryCheckRequest, DeliveryCheckResponse, PackageOffer};
use serde_json::{Value, json};
use tokio::io::AsyncWriteExt;

use crate::rpc::{RpcClient, RpcError};

#[derive(Debug, Clone)]
pub struct DeliverySettings {
    /// The workspace's manifest keys (`GET …/delivery/signing-keys`, or `midship package key`),
    /// shipped inside the app: the current one, and after a rotation the new one too. An offer
    /// is trusted when one of its signatures verifies with one of them.
    pub public_keys: Vec<String>,
    /// Where partial downloads are kept so they resume.
    pub download_dir: PathBuf,
    pub limits: ArchiveLimits,
}

#[derive(Debug, thiserror::Error)]
pub enum DeliveryClientError {
    #[error(transparent)]
    Rpc(#[from] RpcError),
    #[error("the server refused the call: {memo} (result {result})")]
    Refused { result: u16, memo: String },
    #[error("unexpected answer: {0}")]
    Answer(String),
    #[error("download failed: {0}")]
    Download(String),
    #[error("cannot keep the download: {0}")]
    Io(#[from] std::io::Error),
    #[error(transparent)]
    Package(#[from] PackageError),
}

/// A package ready to use: files checked against the signed manifest (zips), or the checked
/// binary (upgrades, hotpatches).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Installed {
    pub manifest: PackageManifest,
    pub files: Option<Files>,
    pub binary: Option<Vec<u8>>,
    /// Whether the diff was used (false: the full package was downloaded).
    pub from_patch: bool,
}

#[derive(Debug)]
pub struct DeliveryClient {
    rpc: Arc<RpcClient>,
    settings: DeliverySettings,
    http: reqwest::Client,
}

impl DeliveryClient {
    pub fn new(rpc: Arc<RpcClient>, settings: DeliverySettings) -> Result<Self, DeliveryClientError> {
        let http = reqwest::Client::builder().build().map_err(RpcError::from)?;
        Ok(Self { rpc, settings, http })
    }

    async fn call(&self, operation_type: &str, body: &Value) -> Result<Vec<u8>, DeliveryClientError> {
        let reply = self.rpc.rpc(operation_type, body).await?;
        if !reply.is_success() {
            return Err(DeliveryClientError::Refused { result: reply.result, memo: reply.memo });
        }
        Ok(reply.body)
    }

    /// What this device should get, given what it has.
    pub async fn check(&self, request: &DeliveryCheckRequest) -> Result<DeliveryCheckResponse, DeliveryClientError> {
        let body = serde_json::to_value(request).expect("requests serialize");
        let answer = self.call(operation::DELIVERY_CHECK, &body).await?;
        serde_json::from_slice(&answer).map_err(|error| DeliveryClientError::Answer(error.to_string()))
    }

    /// Tells the server how far the device got with a release (`downloaded`, `installed`,
    /// `failed`).
    pub async fn report(&self, release_id: &str, event: &str, detail: Option<&str>) -> Result<(), DeliveryClientError> {
        let mut body = json!({ "release_id": release_id, "event": event });
        if let Some(detail) = detail {
            body["detail"] = json!(detail.chars().take(500).collect::<String>());
        }
        self.call(operation::DELIVERY_REPORT, &body).await.map(|_| ())
    }

    /// The offer's manifest, once one of its signatures verifies with one of the app's keys.
    pub fn verify(&self, offer: &PackageOffer) -> Result<PackageManifest, DeliveryClientError> {
        let manifest = verify_with_any(&self.settings.public_keys, offer)?;
        if manifest.kind != offer.kind || manifest.app_id != offer.app_id || manifest.version != offer.version {
            return Err(PackageError::BadSignature("the signed manifest is for another package".into()).into());
        }
        Ok(manifest)
    }

    /// Downloads `url` (relative to the server, or absolute) whose sha256 is `sha256`, resuming a
    /// partial download kept from an earlier attempt.
    pub async fn download(&self, url: &str, sha256: &str) -> Result<Vec<u8>, DeliveryClientError> {
        if sha256.len() != 64 || !sha256.bytes().all(|byte| byte.is_ascii_hexdigit()) {
            return Err(DeliveryClientError::Download("the offer names no sha256".into()));
        }
        let url = if url.starts_with('/') { format!("{}{url}", self.rpc.server_url()) } else { url.to_owned() };
        tokio::fs::create_dir_all(&self.settings.download_dir).await?;
        let partial = self.settings.download_dir.join(format!("{sha256}.part"));
        let mut have = tokio::fs::read(&partial).await.unwrap_or_default();
        let mut request = self.http.get(&url);
        if !have.is_empty() {
            request = request.header("Range", format!("bytes={}-", have.len()));
        }
        let response = request.send().await.map_err(|error| DeliveryClientError::Download(error.to_string()))?;
        let status = response.status().as_u16();
        let mut file = match status {
            206 => tokio::fs::OpenOptions::new().append(true).open(&partial).await?,
            200 => {
                have.clear();
                tokio::fs::File::create(&partial).await?
            }
            416 => {
                // What we kept is the whole file (or garbage): start again next time.
                tokio::fs::remove_file(&partial).await.ok();
                return Err(DeliveryClientError::Download("the kept part does not fit the file".into()));
            }
            other => return Err(DeliveryClientError::Download(format!("HTTP {other}"))),
        };
        let mut response = response;
        while let Some(chunk) =
            response.chunk().await.map_err(|error| DeliveryClientError::Download(error.to_string()))?
        {
            file.write_all(&chunk).await?;
            have.extend_from_slice(&chunk);
        }
        file.flush().await?;
        drop(file);
        tokio::fs::remove_file(&partial).await.ok();
        if sha256_hex(&have) != sha256 {
            return Err(DeliveryClientError::Download("the download's sha256 differs from the offer's".into()));
        }
        Ok(have)
    }

    /// Gets an H5 or mini program package: the diff from `current` when offered (every rebuilt
    /// file checked against the signed manifest), else — or when anything about the diff fails —
    /// the full package. Reports `downloaded` and `installed`, or `failed`.
    pub async fn install_zip(
        &self,
        offer: &PackageOffer,
        current: Option<&Files>,
    ) -> Result<Installed, DeliveryClientError> {
        let outcome = self.fetch_zip(offer, current).await;
        self.report_outcome(offer, &outcome).await;
        outcome
    }

    async fn fetch_zip(&self, offer: &PackageOffer, current: Option<&Files>) -> Result<Installed, DeliveryClientError> {
        let manifest = self.verify(offer)?;
        let budget = self.settings.limits.max_unpacked_bytes;
        if let (Some(patch), Some(current)) = (&offer.patch, current) {
            let rebuilt = async {
                let bytes = self.download(&patch.url, &patch.sha256).await?;
                let files = apply_content_patch(current, &bytes, budget)?;
                manifest.check_files(&files)?;
                Ok::<_, DeliveryClientError>(files)
            };
            match rebuilt.await {
                Ok(files) => return Ok(Installed { manifest, files: Some(files), binary: None, from_patch: true }),
                Err(error) => {
                    tracing::warn!(%error, release_id = %offer.release_id, "diff failed, downloading the full package")
                }
            }
        }
        let url = offer.url.as_deref().ok_or_else(|| DeliveryClientError::Answer("the offer has no URL".into()))?;
        let bytes = self.download(url, &manifest.package_sha256).await?;
        manifest.check_package(&bytes)?;
        let files = read_zip(&bytes, self.settings.limits)?;
        manifest.check_files(&files)?;
        Ok(Installed { manifest, files: Some(files), binary: None, from_patch: false })
    }

    /// Gets an installer or hotpatch: the binary diff from `current` when offered, else the full
    /// file; either way checked against the signed manifest's sha256.
    pub async fn install_binary(
        &self,
        offer: &PackageOffer,
        current: Option<&[u8]>,
    ) -> Result<Installed, DeliveryClientError> {
        let outcome = self.fetch_binary(offer, current).await;
        self.report_outcome(offer, &outcome).await;
        outcome
    }

    async fn fetch_binary(
        &self,
        offer: &PackageOffer,
        current: Option<&[u8]>,
    ) -> Result<Installed, DeliveryClientError> {
        let manifest = self.verify(offer)?;
        if let (Some(patch), Some(current)) = (&offer.patch, current) {
            let rebuilt = async {
                let bytes = self.download(&patch.url, &patch.sha256).await?;
                let binary = apply_binary_patch(current, &bytes, manifest.package_size)?;
                manifest.check_package(&binary)?;
                Ok::<_, DeliveryClientError>(binary)
            };
            match rebuilt.await {
                Ok(binary) => return Ok(Installed { manifest, files: None, binary: Some(binary), from_patch: true }),
                Err(error) => {
                    tracing::warn!(%error, release_id = %offer.release_id, "diff failed, downloading the full package")
                }
            }
        }
        let url = offer
            .url
            .as_deref()
            .ok_or_else(|| DeliveryClientError::Answer("the offer has no URL (a store upgrade)".into()))?;
        let binary = self.download(url, &manifest.package_sha256).await?;
        manifest.check_package(&binary)?;
        Ok(Installed { manifest, files: None, binary: Some(binary), from_patch: false })
    }

    async fn report_outcome(&self, offer: &PackageOffer, outcome: &Result<Installed, DeliveryClientError>) {
        let reports: Vec<(&str, Option<String>)> = match outcome {
            Ok(_) => vec![("downloaded", None), ("installed", None)],
            Err(error) => vec![("failed", Some(error.to_string()))],
        };
        for (event, detail) in reports {
            if let Err(error) = self.report(&offer.release_id, event, detail.as_deref()).await {
                tracing::warn!(%error, event, "cannot report delivery progress");
            }
        }
    }
}

/// The manifest, if any of the offer's signatures verifies with any of `public_keys`.
fn verify_with_any(public_keys: &[String], offer: &PackageOffer) -> Result<PackageManifest, PackageError> {
    let signatures = std::iter::once(&offer.signature).chain(offer.signatures.iter().map(|entry| &entry.signature));
    let mut last_error = PackageError::BadSignature("the app has no manifest key".into());
    for public_key in public_keys {
        for signature in signatures.clone() {
            let signed = SignedManifest {
                manifest: offer.manifest.clone(),
                algorithm: offer.algorithm.clone(),
                signature: signature.clone(),
            };
            match verify_manifest(public_key, &signed) {
                Ok(manifest) => return Ok(manifest),
                Err(error) => last_error = error,
            }
        }
    }
    Err(last_error)
}
