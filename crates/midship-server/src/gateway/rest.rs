//! `/api/v1/workspaces/{workspace_id}/api-groups` and `/apis`: what the gateway routes.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use midship_api::{
    ApiGroupView, ApiPolicies, ApiStatsView, ApiView, CreateApiGroupRequest, CreateApiRequest, DeviceCredentialRevoked,
    DeviceSecurityRequest, DeviceSecurityView, EnvelopeKeyView, ErrorBody, List,
};
use midship_core::clock::format_rfc3339;
use midship_gateway::{
    Api, ApiDefinition, ApiGroup, ApiStatus, DeviceSecurityChange, HttpMethod, NewApi, NewApiGroup, ProxySignature,
};
use midship_storage::WorkspaceSecurityRecord;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::AppState;
use crate::error::ApiError;
use crate::extract::{ApiJson, Caller};

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_groups, create_group))
        .routes(routes!(list_apis, create_api))
        .routes(routes!(show_api, update_api))
        .routes(routes!(open_api))
        .routes(routes!(close_api))
        .routes(routes!(envelope_keys))
        .routes(routes!(api_stats))
        .routes(routes!(show_device_security, change_device_security))
        .routes(routes!(revoke_device_credential))
}

pub fn group_view(group: ApiGroup, show_secret: bool) -> ApiGroupView {
    let rsa_public_key = group.rsa_public_key();
    ApiGroupView {
        proxy_signature: match group.definition.proxy_signature {
            ProxySignature::Hmac => "hmac".to_owned(),
            ProxySignature::Rsa => "rsa".to_owned(),
        },
        rsa_public_key,
        group_id: group.group_id,
        workspace_id: group.workspace_id,
        name: group.name,
        base_url: group.definition.base_url,
        timeout_ms: group.definition.timeout_ms,
        proxy_secret: show_secret.then_some(group.definition.proxy_secret),
        updated_at: format_rfc3339(group.updated_at),
    }
}

pub fn api_view(api: Api) -> ApiView {
    let definition = api.definition;
    ApiView {
        api_id: api.api_id,
        workspace_id: api.workspace_id,
        operation_type: api.operation_type,
        group_id: api.group_id,
        method: definition.method.as_str().to_owned(),
        path: definition.path,
        parameters: (!definition.parameters.is_empty()).then(|| to_json(&definition.parameters)),
        timeout_ms: definition.timeout_ms,
        content_type: definition.content_type,
        charset: definition.charset,
        need_sign: definition.need_sign,
        need_encrypt: definition.need_encrypt,
        status: match definition.status {
            ApiStatus::Open => "open".to_owned(),
            ApiStatus::Closed => "closed".to_owned(),
        },
        rate_limit_per_second: definition.rate_limit_per_second,
        policies: ApiPolicies {
            header_rules: (!definition.header_rules.is_empty()).then(|| to_json(&definition.header_rules)),
            mock: definition.mock.as_ref().map(to_json),
            migration: definition.migration.as_ref().map(to_json),
            circuit_breaker: definition.circuit_breaker.as_ref().map(to_json),
            cache: definition.cache.as_ref().map(to_json),
            authorizer: definition.authorizer.as_ref().map(to_json),
            rate_limited_response: definition.rate_limited_response.as_ref().map(to_json),
        },
        description: definition.description,
        updated_at: format_rfc3339(api.updated_at),
    }
}

fn to_json(value: &impl serde::Serialize) -> serde_json::Value {
    serde_json::to_value(value).expect("policies serialize")
}

/// Reads one policy object, naming it in the error.
fn policy<T: serde::de::DeserializeOwned>(
    name: &str,
    value: &Option<serde_json::Value>,
) -> Result<Option<T>, ApiError> {
    value
        .clone()
        .filter(|value| !value.is_null())
        .map(serde_json::from_value)
        .transpose()
        .map_err(|error| ApiError::invalid(format!("invalid {name}: {error}")))
}

/// The definition a create request describes, with the gateway's defaults for what it leaves out.
pub fn api_definition(request: &CreateApiRequest) -> Result<ApiDefinition, ApiError> {
    let method = HttpMethod::parse(&request.method).ok_or_else(|| {
        ApiError::invalid(format!("invalid method: `{}` (expected GET, POST, PUT, PATCH or DELETE)", request.method))
    })?;
    Ok(ApiDefinition {
        method,
        path: request.path.clone(),
        parameters: policy("parameters", &request.parameters)?.unwrap_or_default(),
        timeout_ms: request.timeout_ms,
        content_type: request.content_type.clone().unwrap_or_else(|| "application/json".to_owned()),
        charset: request.charset.clone().unwrap_or_else(|| "utf-8".to_owned()),
        need_sign: request.need_sign.unwrap_or(true),
        need_encrypt: request.need_encrypt.unwrap_or(false),
        status: ApiStatus::Open,
        rate_limit_per_second: request.rate_limit_per_second,
        description: request.description.clone().unwrap_or_default(),
        header_rules: policy("header_rules", &request.header_rules)?.unwrap_or_default(),
        mock: policy("mock", &request.mock)?,
        migration: policy("migration", &request.migration)?,
        circuit_breaker: policy("circuit_breaker", &request.circuit_breaker)?,
        cache: policy("cache", &request.cache)?,
        authorizer: policy("authorizer", &request.authorizer)?,
        rate_limited_response: policy("rate_limited_response", &request.rate_limited_response)?,
    })
}

#[utoipa::path(get, path = "/api/v1/workspaces/{workspace_id}/api-groups", tag = "gateway",
    params(("workspace_id" = String, Path)),
    responses((status = 200, body = List<ApiGroupView>), (status = 404, body = ErrorBody)))]
async fn list_groups(
    State(state): State<AppState>,
    Caller(who): Caller,
    Path(workspace_id): Path<String>,
) -> Result<Json<List<ApiGroupView>>, ApiError> {
    let groups = state.gateway.list_groups(&who, &workspace_id).await?;
    Ok(Json(List { items: groups.into_iter().map(|group| group_view(group, false)).collect(), next_cursor: None }))
}

/// Registers a backend; the response carries the proxy-signature secret, shown only here.
#[utoipa::path(post, path = "/api/v1/workspaces/{workspace_id}/api-groups", tag = "gateway",
    params(("workspace_id" = String, Path)), request_body = CreateApiGroupRequest,
    responses((status = 201, body = ApiGroupView), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody),
              (status = 409, body = ErrorBody)))]
async fn create_group(
    State(state): State<AppState>,
    Caller(who): Caller,
    Path(workspace_id): Path<String>,
    ApiJson(request): ApiJson<CreateApiGroupRequest>,
) -> Result<(StatusCode, Json<ApiGroupView>), ApiError> {
    let proxy_signature = match request.proxy_signature.as_deref().unwrap_or("hmac") {
        "hmac" => ProxySignature::Hmac,
        "rsa" => ProxySignature::Rsa,
        other => return Err(ApiError::invalid(format!("invalid proxy_signature: `{other}` (expected hmac or rsa)"))),
    };
    let new_group = NewApiGroup {
        name: request.name,
        base_url: request.base_url,
        timeout_ms: request.timeout_ms,
        proxy_signature,
        rsa_private_key: request.rsa_private_key,
    };
    let group = state.gateway.create_group(&who, &workspace_id, new_group).await?;
    Ok((StatusCode::CREATED, Json(group_view(group, true))))
}

#[utoipa::path(get, path = "/api/v1/workspaces/{workspace_id}/apis", tag = "gateway",
    params(("workspace_id" = String, Path)),
    responses((status = 200, body = List<ApiView>), (status = 404, body = ErrorBody)))]
async fn list_apis(
    State(state): State<AppState>,
    Caller(who): Caller,
    Path(workspace_id): Path<String>,
) -> Result<Json<List<ApiView>>, ApiError> {
    let apis = state.gateway.list_apis(&who, &workspace_id).await?;
    Ok(Json(List { items: apis.into_iter().map(api_view).collect(), next_cursor: None }))
}

/// Registers a client-callable API by operation type, routed to a group.
#[utoipa::path(post, path = "/api/v1/workspaces/{workspace_id}/apis", tag = "gateway",
    params(("workspace_id" = String, Path)), request_body = CreateApiRequest,
    responses((status = 201, body = ApiView), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody),
              (status = 409, body = ErrorBody)))]
async fn create_api(
    State(state): State<AppState>,
    Caller(who): Caller,
    Path(workspace_id): Path<String>,
    ApiJson(request): ApiJson<CreateApiRequest>,
) -> Result<(StatusCode, Json<ApiView>), ApiError> {
    let definition = api_definition(&request)?;
    let new_api = NewApi { operation_type: request.operation_type, group: request.group, definition };
    let api = state.gateway.create_api(&who, &workspace_id, new_api).await?;
    Ok((StatusCode::CREATED, Json(api_view(api))))
}

#[utoipa::path(get, path = "/api/v1/workspaces/{workspace_id}/apis/{operation_type}", tag = "gateway",
    params(("workspace_id" = String, Path), ("operation_type" = String, Path)),
    responses((status = 200, body = ApiView), (status = 404, body = ErrorBody)))]
async fn show_api(
    State(state): State<AppState>,
    Caller(who): Caller,
    Path((workspace_id, operation_type)): Path<(String, String)>,
) -> Result<Json<ApiView>, ApiError> {
    Ok(Json(api_view(state.gateway.get_api(&who, &workspace_id, &operation_type).await?)))
}

/// Replaces an API's definition: its group, method, path, parameters and policies, in the body
/// `POST …/apis` takes (`operation_type` must be this one's). Whether it is open stays as it was.
#[utoipa::path(put, path = "/api/v1/workspaces/{workspace_id}/apis/{operation_type}", tag = "gateway",
    params(("workspace_id" = String, Path), ("operation_type" = String, Path)), request_body = CreateApiRequest,
    responses((status = 200, body = ApiView), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody)))]
async fn update_api(
    State(state): State<AppState>,
    Caller(who): Caller,
    Path((workspace_id, operation_type)): Path<(String, String)>,
    ApiJson(request): ApiJson<CreateApiRequest>,
) -> Result<Json<ApiView>, ApiError> {
    if request.operation_type != operation_type {
        return Err(ApiError::invalid("invalid operation_type: the body names another API than the path"));
    }
    let definition = api_definition(&request)?;
    let update = NewApi { operation_type: request.operation_type, group: request.group, definition };
    Ok(Json(api_view(state.gateway.update_api(&who, &workspace_id, update).await?)))
}

/// Opens a closed API.
#[utoipa::path(post, path = "/api/v1/workspaces/{workspace_id}/apis/{operation_type}/open", tag = "gateway",
    params(("workspace_id" = String, Path), ("operation_type" = String, Path)),
    responses((status = 200, body = ApiView), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn open_api(
    State(state): State<AppState>,
    Caller(who): Caller,
    Path((workspace_id, operation_type)): Path<(String, String)>,
) -> Result<Json<ApiView>, ApiError> {
    Ok(Json(api_view(state.gateway.set_api_status(&who, &workspace_id, &operation_type, ApiStatus::Open).await?)))
}

/// Closes an API: calls answer 3000 and never reach the backend.
#[utoipa::path(post, path = "/api/v1/workspaces/{workspace_id}/apis/{operation_type}/close", tag = "gateway",
    params(("workspace_id" = String, Path), ("operation_type" = String, Path)),
    responses((status = 200, body = ApiView), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn close_api(
    State(state): State<AppState>,
    Caller(who): Caller,
    Path((workspace_id, operation_type)): Path<(String, String)>,
) -> Result<Json<ApiView>, ApiError> {
    Ok(Json(api_view(state.gateway.set_api_status(&who, &workspace_id, &operation_type, ApiStatus::Closed).await?)))
}

/// The workspace's public keys for body encryption (`Encrypt-Suite`, docs/protocol-signing.md),
/// one per accepted suite; created on first request.
#[utoipa::path(get, path = "/api/v1/workspaces/{workspace_id}/gateway-keys", tag = "gateway",
    params(("workspace_id" = String, Path)),
    responses((status = 200, body = List<EnvelopeKeyView>), (status = 404, body = ErrorBody)))]
async fn envelope_keys(
    State(state): State<AppState>,
    Caller(who): Caller,
    Path(workspace_id): Path<String>,
) -> Result<Json<List<EnvelopeKeyView>>, ApiError> {
    let keys = state.gateway.envelope_public_keys(&who, &workspace_id).await?;
    let items = keys
        .into_iter()
        .map(|(suite, public_key)| EnvelopeKeyView { suite: suite.as_str().to_owned(), public_key })
        .collect();
    Ok(Json(List { items, next_cursor: None }))
}

/// Calls by result code and latency percentiles per API, on the node that answers (since it
/// started); Prometheus' `midship_gateway_calls_total` has them across the cluster.
#[utoipa::path(get, path = "/api/v1/workspaces/{workspace_id}/api-stats", tag = "gateway",
    params(("workspace_id" = String, Path)),
    responses((status = 200, body = List<ApiStatsView>), (status = 404, body = ErrorBody)))]
async fn api_stats(
    State(state): State<AppState>,
    Caller(who): Caller,
    Path(workspace_id): Path<String>,
) -> Result<Json<List<ApiStatsView>>, ApiError> {
    let stats = state.gateway.api_stats(&who, &workspace_id).await?;
    let items = stats
        .into_iter()
        .map(|api| ApiStatsView {
            operation_type: api.operation_type,
            calls: api.calls,
            by_result: api.by_result.into_iter().map(|(code, calls)| (code.to_string(), calls)).collect(),
            p50_ms: api.p50_ms,
            p95_ms: api.p95_ms,
            p99_ms: api.p99_ms,
        })
        .collect();
    Ok(Json(List { items, next_cursor: None }))
}

/// The policy with the keys outside SDKs need, derived from the workspace's server-only keys.
async fn device_security_view(
    state: &AppState,
    record: WorkspaceSecurityRecord,
) -> Result<DeviceSecurityView, ApiError> {
    use base64::Engine;
    let sdk_client_key = state.server_keys.sdk_client_key(&record.workspace_id).await?;
    let sdk_decryption_key = match record.encrypt_features_payload {
        true => {
            let key = state.server_keys.sdk_decryption_key(&record.workspace_id).await?;
            Some(base64::engine::general_purpose::STANDARD.encode(key))
        }
        false => None,
    };
    Ok(DeviceSecurityView {
        sdk_client_key,
        sdk_decryption_key,
        encrypt_features_payload: record.encrypt_features_payload,
        device_credentials_required_from: record.device_credentials_required_from.map(format_rfc3339),
        connect_tokens_valid_after: (record.connect_tokens_valid_after > 0)
            .then(|| format_rfc3339(record.connect_tokens_valid_after)),
        unsigned_config_pull: record.unsigned_config_pull,
        attestation_verifier_url: record.attestation_verifier_url,
    })
}

/// The workspace's device security policy: from when only device credentials are accepted, and
/// since when connection tokens are valid (docs/security.md).
#[utoipa::path(get, path = "/api/v1/workspaces/{workspace_id}/device-security", tag = "gateway",
    params(("workspace_id" = String, Path)),
    responses((status = 200, body = DeviceSecurityView), (status = 404, body = ErrorBody)))]
async fn show_device_security(
    State(state): State<AppState>,
    Caller(who): Caller,
    Path(workspace_id): Path<String>,
) -> Result<Json<DeviceSecurityView>, ApiError> {
    let record = state.gateway.device_security(&who, &workspace_id).await?;
    Ok(Json(device_security_view(&state, record).await?))
}

/// Sets the day from which app-secret signatures are refused (devices must have registered by
/// then), and revokes connection tokens.
#[utoipa::path(put, path = "/api/v1/workspaces/{workspace_id}/device-security", tag = "gateway",
    params(("workspace_id" = String, Path)), request_body = DeviceSecurityRequest,
    responses((status = 200, body = DeviceSecurityView), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn change_device_security(
    State(state): State<AppState>,
    Caller(who): Caller,
    Path(workspace_id): Path<String>,
    ApiJson(request): ApiJson<DeviceSecurityRequest>,
) -> Result<Json<DeviceSecurityView>, ApiError> {
    let required_from = match request.device_credentials_required_from.as_deref() {
        None => None,
        Some(day) => {
            let day = midship_analytics::rollup::parse_day(day)
                .ok_or_else(|| ApiError::invalid("device_credentials_required_from: must be a day, YYYY-MM-DD"))?;
            Some(i64::from(day) * midship_analytics::rollup::DAY_MS)
        }
    };
    let verifier = request.attestation_verifier_url;
    if let Some(url) = &verifier {
        let parsed = url::Url::parse(url).ok().filter(|parsed| matches!(parsed.scheme(), "http" | "https"));
        if parsed.is_none() || url.len() > 2048 {
            return Err(ApiError::invalid("attestation_verifier_url: must be an http or https URL"));
        }
    }
    let change = DeviceSecurityChange {
        device_credentials_required_from: required_from,
        revoke_connect_tokens: request.revoke_connect_tokens,
        unsigned_config_pull: request.unsigned_config_pull,
        attestation_verifier_url: verifier,
        encrypt_features_payload: request.encrypt_features_payload,
    };
    let record = state.gateway.set_device_security(&who, &workspace_id, change).await?;
    Ok(Json(device_security_view(&state, record).await?))
}

/// Revokes a device's credential (a lost or stolen phone): its calls and hellos are refused with
/// 7018 (at once on the node that answers, within 30 s on the others), its long connection on
/// this node is closed, and its id is never registered again (the app registers anew).
#[utoipa::path(post, path = "/api/v1/workspaces/{workspace_id}/devices/{device_id}/revoke-credential", tag = "gateway",
    params(("workspace_id" = String, Path), ("device_id" = String, Path)),
    responses((status = 200, body = DeviceCredentialRevoked), (status = 404, body = ErrorBody)))]
async fn revoke_device_credential(
    State(state): State<AppState>,
    Caller(who): Caller,
    Path((workspace_id, device_id)): Path<(String, String)>,
) -> Result<Json<DeviceCredentialRevoked>, ApiError> {
    let revoked_at = state.gateway.revoke_device_credential(&who, &workspace_id, &device_id).await?;
    let connection_closed = state.sync.kick_device(&workspace_id, &device_id, midship_sync::Kick::Revoked).await;
    Ok(Json(DeviceCredentialRevoked { device_id, revoked_at: format_rfc3339(revoked_at), connection_closed }))
}
