//! `/api/v1/workspaces/{workspace_id}/delivery/*`: packages (upload, list), release tasks
//! (create, list, show, pause, resume, end, rollback) with their statistics, the signing keys
//! (list, rotate, retire);
//! and `GET /delivery/blobs/{sha256}`, where devices download packages and diffs (with ranges,
//! so an interrupted download resumes).

use axum::Json;
use axum::body::{Body, Bytes};
use axum::extract::{DefaultBodyLimit, Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::middleware::from_fn_with_state;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use midship_api::{ApprovalView, ErrorBody, List, PackageView, PatchView, ReleaseView, SigningKeyView, codes};
use midship_core::clock::format_rfc3339;
use midship_delivery::service::PackageSummary;
use midship_delivery::signing_keys::{SigningKey, WorkspaceKeys};
use midship_delivery::{
    DeliveryError, ReleaseAction, ReleaseDefinition, ReleaseSummary, Stage, UpgradeMode, UploadRequest,
};
use midship_targeting::rules::Rule;
use serde_json::Value;
use utoipa_axum::router::{OpenApiRouter, UtoipaMethodRouterExt};
use utoipa_axum::routes;

use crate::AppState;
use crate::approvals::rest::APPROVAL_REQUESTED;
use crate::approvals::{self, Gated};
use crate::error::ApiError;
use crate::extract::{ApiJson, ApiQuery, Caller, refuse_announced_over};

pub fn routes(max_package_bytes: usize) -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(
            routes!(upload_package)
                .layer(DefaultBodyLimit::max(max_package_bytes))
                .layer(from_fn_with_state(max_package_bytes, refuse_announced_over)),
        )
        .routes(routes!(list_packages))
        .routes(routes!(signing_key))
        .routes(routes!(list_signing_keys, rotate_signing_key))
        .routes(routes!(retire_signing_key))
        .routes(routes!(create_release, list_releases))
        .routes(routes!(show_release))
        .routes(routes!(change_release))
}

/// The download route for devices (no admin token: blobs are named by their hash and signed).
pub fn blob_router() -> axum::Router<AppState> {
    axum::Router::new().route("/delivery/blobs/{sha256}", get(download_blob))
}

pub fn package_view(summary: PackageSummary) -> PackageView {
    let package = summary.package;
    let full = package.size.max(1) as f64;
    let files = serde_json::from_str::<Value>(&package.manifest)
        .ok()
        .and_then(|manifest| manifest.get("files").and_then(Value::as_array).map(Vec::len))
        .unwrap_or(0);
    PackageView {
        package_id: package.package_id,
        kind: package.kind.as_str().to_owned(),
        app_id: package.app_id,
        version: package.version,
        sha256: package.blob_sha256,
        size: package.size,
        files,
        details: serde_json::from_str(&package.details).unwrap_or(Value::Null),
        created_at: format_rfc3339(package.created_at),
        patches: summary
            .patches
            .into_iter()
            .map(|(from_version, patch)| PatchView { from_version, size: patch.size, ratio: patch.size as f64 / full })
            .collect(),
    }
}

pub fn release_view(summary: ReleaseSummary) -> ReleaseView {
    ReleaseView {
        release_id: summary.release.release_id,
        package_id: summary.package.package_id,
        kind: summary.package.kind.as_str().to_owned(),
        app_id: summary.package.app_id,
        version: summary.package.version,
        status: summary.release.status.as_str().to_owned(),
        definition: serde_json::to_value(&summary.definition).expect("definitions serialize"),
        created_at: format_rfc3339(summary.release.created_at),
        updated_at: format_rfc3339(summary.release.updated_at),
        stats: summary.stats,
    }
}

/// Uploads a package; the body is the file itself (an H5 or mini program zip with
/// `manifest.json` at its root, an apk/ipa/hap, a hotpatch file, or nothing for an upgrade
/// given as `store_url`). It is checked, stored by sha256, signed with the workspace's key, and
/// diffed against the latest earlier versions.
#[utoipa::path(post, path = "/api/v1/workspaces/{workspace_id}/delivery/packages", tag = "delivery",
    params(("workspace_id" = String, Path), ("kind" = String, Query, pattern = "^(upgrade|h5|mini_program|hotpatch)$"),
        ("platform" = Option<String>, Query), ("version" = Option<String>, Query), ("app_id" = Option<String>, Query),
        ("build" = Option<i64>, Query), ("notes" = Option<String>, Query), ("app_version" = Option<String>, Query),
        ("store_url" = Option<String>, Query)),
    request_body(content = Vec<u8>, content_type = "application/octet-stream"),
    responses((status = 201, body = PackageView), (status = 400, body = ErrorBody), (status = 409, body = ErrorBody),
        (status = 413, body = ErrorBody)))]
async fn upload_package(
    State(state): State<AppState>,
    Caller(who): Caller,
    Path(workspace_id): Path<String>,
    ApiQuery(request): ApiQuery<UploadRequest>,
    body: Bytes,
) -> Result<(StatusCode, Json<PackageView>), ApiError> {
    let summary = state.delivery.upload(&who, &workspace_id, request, body).await?;
    Ok((StatusCode::CREATED, Json(package_view(summary))))
}

/// Every package of the workspace, oldest first, with the diffs made towards each.
#[utoipa::path(get, path = "/api/v1/workspaces/{workspace_id}/delivery/packages", tag = "delivery",
    params(("workspace_id" = String, Path)),
    responses((status = 200, body = List<PackageView>), (status = 404, body = ErrorBody)))]
async fn list_packages(
    State(state): State<AppState>,
    Caller(who): Caller,
    Path(workspace_id): Path<String>,
) -> Result<Json<List<PackageView>>, ApiError> {
    let packages = state.delivery.packages(&who, &workspace_id).await?;
    Ok(Json(List { items: packages.into_iter().map(package_view).collect(), next_cursor: None }))
}

/// The public key (Ed25519, base64) that signs this workspace's new uploads.
#[utoipa::path(get, path = "/api/v1/workspaces/{workspace_id}/delivery/signing-key", tag = "delivery",
    params(("workspace_id" = String, Path)),
    responses((status = 200, body = SigningKeyView), (status = 404, body = ErrorBody)))]
async fn signing_key(
    State(state): State<AppState>,
    Caller(who): Caller,
    Path(workspace_id): Path<String>,
) -> Result<Json<SigningKeyView>, ApiError> {
    let keys = state.delivery.list_signing_keys(&who, &workspace_id).await?;
    Ok(Json(signing_key_view(keys.newest(), keys.newest().generation)))
}

/// Every generation of the workspace's manifest key, oldest first: apps ship the public keys
/// not retired.
#[utoipa::path(get, path = "/api/v1/workspaces/{workspace_id}/delivery/signing-keys", tag = "delivery",
    params(("workspace_id" = String, Path)),
    responses((status = 200, body = List<SigningKeyView>), (status = 404, body = ErrorBody)))]
async fn list_signing_keys(
    State(state): State<AppState>,
    Caller(who): Caller,
    Path(workspace_id): Path<String>,
) -> Result<Json<List<SigningKeyView>>, ApiError> {
    let keys = state.delivery.list_signing_keys(&who, &workspace_id).await?;
    Ok(Json(signing_key_list(&keys)))
}

/// Rotates the manifest key: a new generation signs uploads from now on; older ones keep signing
/// what devices are offered until retired. Answers every generation.
#[utoipa::path(post, path = "/api/v1/workspaces/{workspace_id}/delivery/signing-keys", tag = "delivery",
    params(("workspace_id" = String, Path)),
    responses((status = 201, body = List<SigningKeyView>), (status = 404, body = ErrorBody),
        (status = 409, body = ErrorBody)))]
async fn rotate_signing_key(
    State(state): State<AppState>,
    Caller(who): Caller,
    Path(workspace_id): Path<String>,
) -> Result<(StatusCode, Json<List<SigningKeyView>>), ApiError> {
    let keys = state.delivery.rotate_signing_key(&who, &workspace_id).await?;
    Ok((StatusCode::CREATED, Json(signing_key_list(&keys))))
}

/// Retires a generation: devices are no longer given its signatures. The newest cannot be
/// retired. Answers every generation.
#[utoipa::path(post, path = "/api/v1/workspaces/{workspace_id}/delivery/signing-keys/{generation}/retire",
    tag = "delivery", params(("workspace_id" = String, Path),
        ("generation" = String, Path, pattern = "^[1-9][0-9]{0,17}$", description = "a key generation: 1, 2, …")),
    responses((status = 200, body = List<SigningKeyView>), (status = 400, body = ErrorBody),
        (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
async fn retire_signing_key(
    State(state): State<AppState>,
    Caller(who): Caller,
    Path((workspace_id, generation)): Path<(String, String)>,
) -> Result<Json<List<SigningKeyView>>, ApiError> {
    let digits_only = generation.bytes().all(|byte| byte.is_ascii_digit()) && !generation.starts_with('0');
    let Some(generation) = generation.parse::<i64>().ok().filter(|_| digits_only) else {
        let message = "a key generation is a whole number from 1".to_owned();
        return Err(DeliveryError::Invalid { field: "generation".into(), message }.into());
    };
    let keys = state.delivery.retire_signing_key(&who, &workspace_id, generation).await?;
    Ok(Json(signing_key_list(&keys)))
}

fn signing_key_list(keys: &WorkspaceKeys) -> List<SigningKeyView> {
    let newest = keys.newest().generation;
    List { items: keys.all().iter().map(|key| signing_key_view(key, newest)).collect(), next_cursor: None }
}

fn signing_key_view(key: &SigningKey, newest_generation: i64) -> SigningKeyView {
    SigningKeyView {
        algorithm: midship_package::signing::ALGORITHM.to_owned(),
        public_key: key.public_key.clone(),
        generation: key.generation,
        signs_uploads: key.generation == newest_generation,
        created_at: format_rfc3339(key.created_at),
        retired_at: key.retired_at.map(format_rfc3339),
    }
}

/// The body of a new release: its package, and the release definition's fields.
#[derive(Debug, serde::Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
struct ReleaseRequest {
    package_id: String,
    stage: Stage,
    #[serde(default)]
    rules: Rule,
    /// Upgrades only (and required for them).
    #[serde(default)]
    mode: Option<UpgradeMode>,
    /// Upgrades reminded once: hours before asking again (default 72).
    #[serde(default)]
    remind_interval_hours: Option<u32>,
    #[serde(default)]
    note: String,
}

/// Releases a package: `{"package_id", "stage": {"kind": "whitelist" | "time_window" | "capped" |
/// "official", …}, "rules": {…}, "mode": "remind_once" | "remind_always" | "force" (upgrades),
/// "remind_interval_hours", "note"}` (see docs/delivery.md). Earlier releases of the package end.
#[utoipa::path(post, path = "/api/v1/workspaces/{workspace_id}/delivery/releases", tag = "delivery",
    params(("workspace_id" = String, Path)), request_body = ReleaseRequest,
    responses((status = 201, body = ReleaseView), (status = 202, description = APPROVAL_REQUESTED, body = ApprovalView),
        (status = 400, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
async fn create_release(
    State(state): State<AppState>,
    Caller(who): Caller,
    Path(workspace_id): Path<String>,
    ApiJson(request): ApiJson<ReleaseRequest>,
) -> Result<Response, ApiError> {
    let ReleaseRequest { package_id, stage, rules, mode, remind_interval_hours, note } = request;
    let definition = ReleaseDefinition { stage, rules, mode, remind_interval_hours, note };
    match approvals::create_release(&state, &who, &workspace_id, &package_id, definition).await? {
        Gated::Done(summary) => Ok((StatusCode::CREATED, Json(release_view(summary))).into_response()),
        Gated::Requested(approval) => Ok(approvals::rest::requested(&state, &approval)),
    }
}

/// Every release of the workspace, newest first, with devices per step.
#[utoipa::path(get, path = "/api/v1/workspaces/{workspace_id}/delivery/releases", tag = "delivery",
    params(("workspace_id" = String, Path)),
    responses((status = 200, body = List<ReleaseView>), (status = 404, body = ErrorBody)))]
async fn list_releases(
    State(state): State<AppState>,
    Caller(who): Caller,
    Path(workspace_id): Path<String>,
) -> Result<Json<List<ReleaseView>>, ApiError> {
    let releases = state.delivery.releases(&who, &workspace_id).await?;
    Ok(Json(List { items: releases.into_iter().map(release_view).collect(), next_cursor: None }))
}

/// One release with its statistics: devices that checked, were offered, downloaded, installed
/// and failed.
#[utoipa::path(get, path = "/api/v1/workspaces/{workspace_id}/delivery/releases/{release_id}", tag = "delivery",
    params(("workspace_id" = String, Path), ("release_id" = String, Path)),
    responses((status = 200, body = ReleaseView), (status = 404, body = ErrorBody)))]
async fn show_release(
    State(state): State<AppState>,
    Caller(who): Caller,
    Path((workspace_id, release_id)): Path<(String, String)>,
) -> Result<Json<ReleaseView>, ApiError> {
    Ok(Json(release_view(state.delivery.release(&who, &workspace_id, &release_id).await?)))
}

/// `pause`, `resume`, `end`, or `rollback` (hotpatches: devices remove the patch at their next
/// check).
#[utoipa::path(post, path = "/api/v1/workspaces/{workspace_id}/delivery/releases/{release_id}/{action}", tag = "delivery",
    params(("workspace_id" = String, Path), ("release_id" = String, Path), ("action" = String, Path, pattern = "^(pause|resume|end|rollback)$")),
    responses((status = 200, body = ReleaseView), (status = 202, description = APPROVAL_REQUESTED, body = ApprovalView),
        (status = 400, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
async fn change_release(
    State(state): State<AppState>,
    Caller(who): Caller,
    Path((workspace_id, release_id, action)): Path<(String, String, String)>,
) -> Result<Response, ApiError> {
    let action = ReleaseAction::parse(&action)
        .ok_or_else(|| ApiError::invalid("invalid action: must be pause, resume, end or rollback"))?;
    match approvals::change_release(&state, &who, &workspace_id, &release_id, action).await? {
        Gated::Done(summary) => Ok(Json(release_view(summary)).into_response()),
        Gated::Requested(approval) => Ok(approvals::rest::requested(&state, &approval)),
    }
}

/// A single `bytes=` range of a blob of `size` bytes: `Ok(None)` for no (or an ignored multi-)
/// range, `Err(())` when unsatisfiable.
fn requested_range(headers: &HeaderMap, size: u64) -> Result<Option<(u64, u64)>, ()> {
    let Some(value) = headers.get(header::RANGE).and_then(|value| value.to_str().ok()) else { return Ok(None) };
    let Some(spec) = value.trim().strip_prefix("bytes=") else { return Ok(None) };
    if spec.contains(',') {
        return Ok(None);
    }
    let (start, end) = spec.split_once('-').ok_or(())?;
    let (start, end) = match (start.trim(), end.trim()) {
        ("", suffix) => {
            let suffix: u64 = suffix.parse().map_err(|_| ())?;
            if suffix == 0 {
                return Err(());
            }
            (size.saturating_sub(suffix), size.saturating_sub(1))
        }
        (start, "") => (start.parse().map_err(|_| ())?, size.saturating_sub(1)),
        (start, end) => {
            let end: u64 = end.parse().map_err(|_| ())?;
            (start.parse().map_err(|_| ())?, end.min(size.saturating_sub(1)))
        }
    };
    if start >= size || start > end {
        return Err(());
    }
    Ok(Some((start, end)))
}

async fn download_blob(
    State(state): State<AppState>,
    Path(sha256): Path<String>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let blobs = state.delivery.blobs();
    let not_found = || ApiError::new(StatusCode::NOT_FOUND, codes::NOT_FOUND, "no such package");
    let size = match blobs.size(&sha256).await {
        Ok(Some(size)) => size,
        Ok(None) | Err(midship_delivery::BlobError::BadName(_)) => return Err(not_found()),
        Err(error) => return Err(midship_delivery::DeliveryError::from(error).into()),
    };
    if let Some(location) =
        state.settings.delivery.redirect_downloads_for.and_then(|valid_for| blobs.download_url(&sha256, valid_for))
    {
        // The object store answers ranges itself; a resumed download follows the redirect again.
        let mut response = StatusCode::TEMPORARY_REDIRECT.into_response();
        let location = HeaderValue::from_str(&location).expect("pre-signed URLs are ASCII");
        response.headers_mut().insert(header::LOCATION, location);
        response.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        return Ok(response);
    }
    let range = match requested_range(&headers, size) {
        Ok(range) => range,
        Err(()) => {
            let mut response =
                ApiError::new(StatusCode::RANGE_NOT_SATISFIABLE, codes::INVALID_REQUEST, "range not satisfiable")
                    .into_response();
            response.headers_mut().insert(
                header::CONTENT_RANGE,
                HeaderValue::from_str(&format!("bytes */{size}")).expect("ASCII header"),
            );
            return Ok(response);
        }
    };
    let (status, start, length) = match range {
        Some((start, end)) => (StatusCode::PARTIAL_CONTENT, start, end - start + 1),
        None => (StatusCode::OK, 0, size),
    };
    let reader = blobs.open(&sha256, start, length).await.map_err(midship_delivery::DeliveryError::from)?;
    let mut response = Response::new(Body::from_stream(tokio_util::io::ReaderStream::new(reader)));
    *response.status_mut() = status;
    let response_headers = response.headers_mut();
    response_headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("application/octet-stream"));
    response_headers.insert(header::ACCEPT_RANGES, HeaderValue::from_static("bytes"));
    response_headers.insert(header::CONTENT_LENGTH, HeaderValue::from(length));
    response_headers.insert(header::ETAG, HeaderValue::from_str(&format!("\"{sha256}\"")).expect("hex is ASCII"));
    response_headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("public, max-age=31536000, immutable"));
    if status == StatusCode::PARTIAL_CONTENT {
        response_headers.insert(
            header::CONTENT_RANGE,
            HeaderValue::from_str(&format!("bytes {start}-{}/{size}", start + length - 1)).expect("ASCII header"),
        );
    }
    Ok(response)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn range(value: &str, size: u64) -> Result<Option<(u64, u64)>, ()> {
        let mut headers = HeaderMap::new();
        headers.insert(header::RANGE, HeaderValue::from_str(value).unwrap());
        requested_range(&headers, size)
    }

    #[test]
    fn ranges_are_read_as_rfc_9110_says() {
        assert_eq!(range("bytes=0-99", 1000), Ok(Some((0, 99))));
        assert_eq!(range("bytes=500-", 1000), Ok(Some((500, 999))));
        assert_eq!(range("bytes=-100", 1000), Ok(Some((900, 999))));
        assert_eq!(range("bytes=900-5000", 1000), Ok(Some((900, 999))));
        assert_eq!(range("bytes=0-1,5-6", 1000), Ok(None));
        assert_eq!(range("bytes=1000-", 1000), Err(()));
        assert_eq!(range("bytes=5-2", 1000), Err(()));
        assert_eq!(range("bytes=x-", 1000), Err(()));
        assert_eq!(range("items=0-1", 1000), Ok(None));
    }
}
