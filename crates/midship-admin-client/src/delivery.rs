//! Delivery: packages and releases.

use std::time::Duration;

use midship_api::{List, PackageView, ReleaseView, SigningKeyView};
use reqwest::Method;

use super::{AdminClient, SdkError};

impl AdminClient {
    /// Uploads a package (`query`: kind, platform, version, app_id, build, notes, app_version,
    /// store_url, as `midship_delivery::UploadRequest` reads them); `body` is the file.
    pub async fn upload_package(
        &self,
        workspace_id: &str,
        query: &[(&str, &str)],
        body: Vec<u8>,
    ) -> Result<PackageView, SdkError> {
        self.upload_package_reporting(workspace_id, query, body, |_| ()).await
    }

    /// [`Self::upload_package`], calling `sent` with the bytes sent so far as the body goes out
    /// (for a progress bar).
    pub async fn upload_package_reporting(
        &self,
        workspace_id: &str,
        query: &[(&str, &str)],
        body: Vec<u8>,
        sent: impl Fn(u64) + Send + Sync + 'static,
    ) -> Result<PackageView, SdkError> {
        const CHUNK: usize = 256 * 1024;
        let total = body.len() as u64;
        let body = bytes::Bytes::from(body);
        let chunks: Vec<bytes::Bytes> =
            (0..body.len()).step_by(CHUNK).map(|start| body.slice(start..(start + CHUNK).min(body.len()))).collect();
        let mut so_far = 0u64;
        let stream = futures_util::stream::iter(chunks.into_iter().map(move |chunk| {
            so_far += chunk.len() as u64;
            sent(so_far);
            Ok::<_, std::io::Error>(chunk)
        }));
        let request = self
            .request(Method::POST, &Self::workspace_path(workspace_id, "delivery/packages"))?
            .query(query)
            .header(reqwest::header::CONTENT_TYPE, "application/octet-stream")
            .header(reqwest::header::CONTENT_LENGTH, total)
            .timeout(Duration::from_secs(600))
            .body(reqwest::Body::wrap_stream(stream));
        self.send(request).await
    }

    pub async fn list_packages(&self, workspace_id: &str) -> Result<List<PackageView>, SdkError> {
        self.get(&Self::workspace_path(workspace_id, "delivery/packages"), &()).await
    }

    pub async fn delivery_signing_key(&self, workspace_id: &str) -> Result<SigningKeyView, SdkError> {
        self.get(&Self::workspace_path(workspace_id, "delivery/signing-key"), &()).await
    }

    /// Every generation of the workspace's manifest key, oldest first.
    pub async fn list_signing_keys(&self, workspace_id: &str) -> Result<List<SigningKeyView>, SdkError> {
        self.get(&Self::workspace_path(workspace_id, "delivery/signing-keys"), &()).await
    }

    /// A new generation signs uploads; older ones keep signing offers until retired.
    pub async fn rotate_signing_key(&self, workspace_id: &str) -> Result<List<SigningKeyView>, SdkError> {
        self.post(&Self::workspace_path(workspace_id, "delivery/signing-keys"), &serde_json::json!({})).await
    }

    /// Devices are no longer given the generation's signatures.
    pub async fn retire_signing_key(
        &self,
        workspace_id: &str,
        generation: i64,
    ) -> Result<List<SigningKeyView>, SdkError> {
        let path = Self::workspace_path(workspace_id, &format!("delivery/signing-keys/{generation}/retire"));
        self.post(&path, &serde_json::json!({})).await
    }

    /// Creates a release: `definition` is `{"package_id", "stage", "rules", "mode", …}`.
    pub async fn create_release(
        &self,
        workspace_id: &str,
        definition: &serde_json::Value,
    ) -> Result<ReleaseView, SdkError> {
        self.post(&Self::workspace_path(workspace_id, "delivery/releases"), definition).await
    }

    pub async fn list_releases(&self, workspace_id: &str) -> Result<List<ReleaseView>, SdkError> {
        self.get(&Self::workspace_path(workspace_id, "delivery/releases"), &()).await
    }

    pub async fn show_release(&self, workspace_id: &str, release_id: &str) -> Result<ReleaseView, SdkError> {
        self.get(&Self::workspace_path(workspace_id, &format!("delivery/releases/{}", Self::segment(release_id))), &())
            .await
    }

    /// `action`: pause, resume, end or rollback.
    pub async fn change_release(
        &self,
        workspace_id: &str,
        release_id: &str,
        action: &str,
    ) -> Result<ReleaseView, SdkError> {
        let path = Self::workspace_path(
            workspace_id,
            &format!("delivery/releases/{}/{}", Self::segment(release_id), Self::segment(action)),
        );
        self.post(&path, &serde_json::json!({})).await
    }
}
