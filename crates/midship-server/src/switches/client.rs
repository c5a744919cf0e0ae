//! Endpoints devices and outside SDKs call: the unsigned config pull (the signed one is
//! `midship.config.pull`) and the GrowthBook-compatible features payload, both with the
//! workspace's live experiments.

use axum::Json;
use axum::Router;
use axum::extract::{Path, State};
use axum::routing::{get, post};
use midship_core::Platform;
use midship_core::clock::format_rfc3339;
use midship_experiments::ConfigPull;
use midship_protocol::calls::{ConfigPullRequest, ConfigPullResponse};
use midship_switches::secure_attributes;
use midship_targeting::DeviceContext;
use serde_json::{Value, json};

use crate::AppState;
use crate::error::ApiError;
use crate::extract::ApiJson;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/client/v1/config/pull", post(config_pull))
        .route("/api/features/{client_key}", get(growthbook_features))
}

/// Evaluates every switch of the workspace for the device, from the in-memory snapshot. Unsigned,
/// so only for workspaces that opted in (`unsigned_config_pull`); devices otherwise pull with the
/// signed `midship.config.pull`.
async fn config_pull(
    State(state): State<AppState>,
    ApiJson(request): ApiJson<ConfigPullRequest>,
) -> Result<Json<ConfigPullResponse>, ApiError> {
    let allowed = state.gateway.unsigned_config_pull_allowed(&request.app_id, &request.workspace_id).await?;
    if allowed.is_none() {
        return Err(ApiError::not_found(format!("no workspace {} in app {}", request.workspace_id, request.app_id)));
    }
    if allowed == Some(false) {
        return Err(ApiError::of_kind(
            midship_core::ErrorKind::Forbidden,
            "this workspace takes only signed config pulls (midship.config.pull through /mgw)",
        ));
    }
    let context = DeviceContext {
        device_id: request.device_id,
        user_id: request.user_id,
        platform: request.platform,
        app_version: request.app_version,
        os_version: request.os_version,
        model: request.model,
        city: request.city,
        network: request.network,
        attributes: request.attributes,
    };
    let workspace_id = &request.workspace_id;
    let held = crate::experiments::proven_holdings(&state.server_keys, workspace_id, request.experiments).await?;
    let outcome =
        state.experiments.pull(&request.app_id, workspace_id, &context, &held, request.etag.as_deref()).await?;
    let outcome = crate::experiments::with_proofs(&state.server_keys, workspace_id, outcome).await?;
    Ok(Json(pull_response(outcome)))
}

/// The answer to a config pull, signed or not.
pub(crate) fn pull_response(outcome: ConfigPull) -> ConfigPullResponse {
    match outcome {
        ConfigPull::NotModified { version, etag } => {
            ConfigPullResponse { version, etag, not_modified: true, values: None, experiments: Vec::new() }
        }
        ConfigPull::Values { version, etag, values, experiments } => ConfigPullResponse {
            version,
            etag,
            not_modified: false,
            values: Some(values.into_iter().collect()),
            experiments,
        },
    }
}

/// GrowthBook's SDK payload (`GET /api/features/{client_key}`), so GrowthBook's own SDKs evaluate
/// Midship switches. Whitelists go out once each as saved groups (`savedGroups`, GrowthBook SDK
/// spec 0.7: SDKs from 2024 on read them). The client key is the workspace's SDK key (`{workspace_id}.{tag}`, shown by
/// `GET …/device-security`), with `-PLATFORM` after the workspace id for an app of one platform
/// (switches limited to other platforms are left out). Whitelisted ids go out hashed, and the
/// features encrypted where the workspace asks (docs/switches.md).
async fn growthbook_features(
    State(state): State<AppState>,
    Path(client_key): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let unknown = || {
        ApiError::new(axum::http::StatusCode::NOT_FOUND, midship_api::codes::NOT_FOUND, "unknown client key".to_owned())
    };
    let (scope, tag) = client_key.rsplit_once('.').ok_or_else(unknown)?;
    let (workspace_id, platform) = match scope.split_once('-') {
        Some((workspace_id, platform)) => (workspace_id, Some(platform.parse::<Platform>().map_err(|_| unknown())?)),
        None => (scope, None),
    };
    if !midship_core::ids::looks_like_id(workspace_id)
        || !state.server_keys.sdk_client_key_matches(workspace_id, tag).await?
    {
        return Err(unknown());
    }
    let snapshot = state.switches.snapshot(workspace_id).await?;
    let mut features = match platform {
        Some(platform) => snapshot.features_for_platform(platform.as_str()),
        None => snapshot.features.clone(),
    };
    state.experiments.snapshot(workspace_id).await?.prepend_rules(&mut features, state.control.now_ms());
    let features = secure_attributes::hide_identifiers(&features, workspace_id);
    let (features, saved_groups) = midship_switches::saved_groups::extract_saved_groups(&features);
    let date_updated = snapshot.published_at.map(format_rfc3339);
    if state.gateway.features_payload_encrypted(workspace_id).await? {
        let key = state.server_keys.sdk_decryption_key(workspace_id).await?;
        let seal = |value: &serde_json::Map<String, Value>| {
            midship_switches::encrypted_payload::encrypt(
                &key,
                &serde_json::to_vec(value).expect("JSON values serialize"),
            )
        };
        return Ok(Json(json!({
            "status": 200,
            "encryptedFeatures": seal(&features),
            "encryptedSavedGroups": seal(&saved_groups),
            "dateUpdated": date_updated,
        })));
    }
    Ok(Json(json!({ "status": 200, "features": features, "savedGroups": saved_groups, "dateUpdated": date_updated })))
}
