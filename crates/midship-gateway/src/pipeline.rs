//! The pipeline every client RPC passes: identify app and workspace, verify timestamp, signature
//! and nonce, authorise, rate-limit, route to a built-in service or a backend.

use std::sync::Arc;

use bytes::Bytes;
use midship_signing::client::{SignType, SigningInput};
use midship_signing::envelope::{SessionKey, Suite};
use midship_storage::DeviceRecord;
use serde_json::{Map, Value};

use crate::builtin::{BuiltinError, CallContext};
use crate::credentials::REGISTER_OPERATION_TYPE;
use crate::definition::{ApiStatus, BUILTIN_PREFIX};
use crate::definition::{Authorizer, CannedResponse, ResponseCache};
use crate::model::{Api, ApiGroup};
use crate::policies::{BreakerDecision, CachedAnswer, in_share};
use crate::request::{RpcRequest, RpcResponse};
use crate::result::ResultCode;
use crate::routes::{Route, RouteTable};
use crate::upstream::{
    UpstreamCall, UpstreamOutcome, apply_response_rules, body_fields, call_upstream, upstream_target,
};
use crate::{Gateway, GatewayError};

/// Where a call goes once its operation type is known.
enum Target<'a> {
    /// `midship.device.register`, which the gateway answers itself.
    Registration,
    /// `midship.device.challenge`, the same.
    Challenge,
    Builtin(&'a Arc<dyn crate::builtin::BuiltinService>),
    Backend(&'a Route),
}

/// Nonces are remembered for the timestamp window; a longer one is no more unique.
const MAX_NONCE_BYTES: usize = 128;

fn non_empty(value: &Option<String>) -> Option<&str> {
    value.as_deref().map(str::trim).filter(|text| !text.is_empty())
}

impl Gateway {
    /// Runs one call through the pipeline. Never fails: every outcome is a result code.
    pub async fn handle(&self, request: RpcRequest) -> RpcResponse {
        let started = std::time::Instant::now();
        let trace_id = midship_core::ids::new_id(self.control.now_ms(), &mut rand::rng());
        let mut routed = false;
        let mut response = match self.route_and_call(&request, &trace_id, &mut routed).await {
            Ok(response) => response,
            Err(failure) => failure,
        };
        // Only operation types that exist become labels and log fields: clients send anything.
        response.operation_type = match non_empty(&request.headers.operation_type) {
            Some(operation_type) if routed => operation_type.to_owned(),
            _ => "unknown".to_owned(),
        };
        if routed && let Some(workspace_id) = non_empty(&request.headers.workspace_id) {
            let micros = started.elapsed().as_micros() as u64;
            self.stats.record(workspace_id, &response.operation_type, response.result.code(), micros);
        }
        response.app_id = non_empty(&request.headers.app_id).map(str::to_owned);
        response.workspace_id = non_empty(&request.headers.workspace_id).map(str::to_owned);
        response
    }

    async fn route_and_call(
        &self,
        request: &RpcRequest,
        trace_id: &str,
        routed: &mut bool,
    ) -> Result<RpcResponse, RpcResponse> {
        let fail = |result: ResultCode, detail: Option<String>| RpcResponse::failure(result, trace_id, detail);
        let headers = &request.headers;
        let operation_type = non_empty(&headers.operation_type)
            .ok_or_else(|| fail(ResultCode::UnknownOperation, Some("Operation-Type header missing".into())))?;
        let (Some(app_id), Some(workspace_id)) = (non_empty(&headers.app_id), non_empty(&headers.workspace_id)) else {
            return Err(fail(
                ResultCode::SigningFieldsMissing,
                Some("AppId and WorkspaceId headers are required".into()),
            ));
        };
        headers.check_identity().map_err(|detail| fail(ResultCode::MalformedRequest, Some(detail)))?;
        let table = match self.route_table(workspace_id).await {
            Ok(Some(table)) if table.app_id == app_id => table,
            Ok(_) => {
                return Err(fail(ResultCode::NoKey, Some(format!("no app {app_id} with workspace {workspace_id}"))));
            }
            Err(error) => {
                tracing::error!(%error, "cannot load the route table");
                return Err(fail(ResultCode::Unknown, Some("gateway storage unavailable".into())));
            }
        };
        let target = if operation_type == REGISTER_OPERATION_TYPE {
            Some(Target::Registration)
        } else if operation_type == crate::attestation::CHALLENGE_OPERATION_TYPE {
            Some(Target::Challenge)
        } else if operation_type.starts_with(BUILTIN_PREFIX) {
            self.builtins.get(operation_type).map(Target::Builtin)
        } else {
            table
                .routes
                .get(operation_type)
                .filter(|route| route.api.definition.status == ApiStatus::Open)
                .map(Target::Backend)
        };
        let target = target.ok_or_else(|| {
            fail(ResultCode::UnknownOperation, Some(format!("unknown or closed operation type {operation_type}")))
        })?;
        *routed = true;
        let need_sign = match &target {
            Target::Registration | Target::Challenge | Target::Builtin(_) => true,
            Target::Backend(route) => route.api.definition.need_sign,
        };
        if need_sign {
            self.verify_signature(request, operation_type, app_id, workspace_id, &table.security)
                .await
                .map_err(|(result, detail)| fail(result, Some(detail)))?;
        }
        let need_encrypt = matches!(&target, Target::Backend(route) if route.api.definition.need_encrypt);
        let (body, session) = self
            .open_body(request, workspace_id, need_encrypt)
            .await
            .map_err(|detail| fail(ResultCode::DecryptionFailed, Some(detail)))?;
        if body.is_empty() {
            return Err(fail(
                ResultCode::EmptyRequest,
                Some("empty body: send {} for a call without parameters".into()),
            ));
        }
        let now = self.control.now_ms();
        let mut limits = Vec::with_capacity(3);
        let api_limit = match &target {
            Target::Backend(route) => route.api.definition.rate_limit_per_second,
            Target::Registration | Target::Challenge | Target::Builtin(_) => None,
        };
        if let Some(per_second) = api_limit {
            limits.push((format!("api:{workspace_id}:{operation_type}"), per_second));
        }
        if let Some(per_second) = self.settings.default_api_rate_limit {
            limits.push((format!("default:{workspace_id}:{operation_type}"), per_second));
        }
        if let Some(per_second) = self.settings.app_rate_limit {
            limits.push((format!("app:{app_id}"), per_second));
        }
        let nodes = self.cluster.as_ref().map_or(1, |cluster| cluster.live_nodes());
        if !self.limiter.try_acquire(&limits, nodes, now) {
            let mut refusal = fail(ResultCode::RateLimited, None);
            if let Target::Backend(route) = &target
                && let Some(custom) = &route.api.definition.rate_limited_response
            {
                refusal.status = custom.status;
                refusal.content_type = Some(custom.content_type.clone());
                refusal.body = Bytes::from(custom.body.clone());
            }
            return Err(refusal);
        }
        let mut issued_device_id = match non_empty(&headers.device_id) {
            Some(_) => None,
            None => Some(self.issue_device(app_id, workspace_id, headers).await),
        };
        let context = CallContext {
            app_id: app_id.to_owned(),
            workspace_id: workspace_id.to_owned(),
            operation_type: operation_type.to_owned(),
            device_id: non_empty(&headers.device_id).map(str::to_owned).or_else(|| issued_device_id.clone()),
            device_id_issued: issued_device_id.is_some(),
            user_id: non_empty(&headers.user_id).map(str::to_owned),
            platform: non_empty(&headers.platform).map(str::to_owned),
            app_version: non_empty(&headers.app_version).map(str::to_owned),
            trace_id: trace_id.to_owned(),
            principal: None,
        };
        let answer_builtin = |answer: Result<Vec<u8>, BuiltinError>| match answer {
            Ok(body) => success(trace_id, 200, Some("application/json".into()), Bytes::from(body)),
            Err(BuiltinError { kind, detail }) if kind.describes_to_caller() => {
                fail(crate::result_for_kind(kind), Some(detail))
            }
            Err(BuiltinError { kind, detail }) => {
                tracing::error!(operation_type, detail, "built-in service failed");
                fail(crate::result_for_kind(kind), Some(kind.withheld_message().to_owned()))
            }
        };
        let mut response = match target {
            Target::Registration => {
                let answer = self.register_device_credential(&context, &table.security, &body).await.map(
                    |(registration, newly_issued)| {
                        issued_device_id = newly_issued.or(issued_device_id.take());
                        serde_json::to_vec(&registration).expect("registrations serialize")
                    },
                );
                answer_builtin(answer)
            }
            Target::Challenge => answer_builtin(self.issue_attestation_challenge(&context).await),
            Target::Builtin(service) => answer_builtin(service.call(&context, &body).await),
            Target::Backend(route) => {
                let fields = body_fields(&body).map_err(|detail| fail(ResultCode::MalformedRequest, Some(detail)))?;
                route
                    .api
                    .definition
                    .check_parameters(&fields)
                    .map_err(|detail| fail(ResultCode::MalformedRequest, Some(detail)))?;
                let path = upstream_target(&route.api.definition, &fields)
                    .map_err(|detail| fail(ResultCode::MalformedRequest, Some(detail)))?;
                self.call_backend(
                    &table,
                    route,
                    &context,
                    &request.other_headers,
                    &fields,
                    &path,
                    body.clone(),
                    trace_id,
                )
                .await
            }
        };
        response.issued_device_id = issued_device_id;
        if let Some(session) = session
            && response.result.is_success()
        {
            let mut nonce = [0u8; midship_signing::envelope::NONCE_LEN];
            rand::RngCore::fill_bytes(&mut rand::rng(), &mut nonce);
            response.body = Bytes::from(midship_signing::envelope::seal_response(&session, &response.body, nonce));
            response.sealed_with = Some(session.suite().as_str());
        }
        Ok(response)
    }

    /// The API's policies around the backend call: mock, cache, circuit breaker, traffic
    /// migration, then header rules on the answer.
    #[allow(clippy::too_many_arguments)]
    async fn call_backend(
        &self,
        table: &RouteTable,
        route: &Route,
        context: &CallContext,
        request_headers: &[(String, String)],
        fields: &Map<String, Value>,
        path: &str,
        body: Bytes,
        trace_id: &str,
    ) -> RpcResponse {
        let definition = &route.api.definition;
        let policy_key = format!("{}:{}", route.api.workspace_id, route.api.operation_type);
        let mut context = context.clone();
        if let Some(authorizer) = &definition.authorizer {
            match self.authorize(table, route, authorizer, &context, request_headers, trace_id).await {
                Ok(principal) => context.principal = Some((authorizer.principal_header.clone(), principal)),
                Err(refusal) => return refusal,
            }
        }
        let context = &context;
        // A live experiment on this API: its variation may send the call to another group, and
        // the backend is told which variation it serves.
        let assignment = match &self.experiments {
            Some(experiments) => experiments.assign(context).await,
            None => None,
        };
        let canned = |canned: &CannedResponse, memo: &str| {
            let mut response =
                success(trace_id, canned.status, Some(canned.content_type.clone()), Bytes::from(canned.body.clone()));
            response.memo = memo.to_owned();
            response
        };
        if let Some(mock) = &definition.mock
            && in_share(mock.percentage)
        {
            return canned(&mock.response, "mock response");
        }
        let cache_key = definition.cache.as_ref().map(|cache| {
            let key = response_cache_key(&policy_key, cache, fields, request_headers);
            match &assignment {
                // Variations never share cached answers.
                Some(assignment) => format!("{key}|{}={}", assignment.experiment, assignment.variation),
                None => key,
            }
        });
        let started_ms = self.control.now_ms();
        if let Some(key) = &cache_key
            && let Some(cached) = self.answers.get(key, started_ms)
        {
            let mut response = success(trace_id, cached.status, cached.content_type, cached.body);
            response.memo = "cached response".to_owned();
            return response;
        }
        if let Some(breaker) = &definition.circuit_breaker
            && self.breakers.before_call(&policy_key, started_ms) == BreakerDecision::Reject
        {
            return match &breaker.fallback {
                Some(fallback) => canned(fallback, "circuit open, fallback response"),
                None => RpcResponse::failure(ResultCode::BackendError, trace_id, Some("circuit open".to_owned())),
            };
        }
        let experiment_group = assignment.as_ref().and_then(|assignment| assignment.group.as_ref());
        let group = match (experiment_group, &route.migration_group, &definition.migration) {
            // An experiment's variation decides the backend; migration applies to the others.
            (Some(name), _, _) => table.groups.get(name).unwrap_or(&route.group),
            (None, Some(new_group), Some(migration)) if assignment.is_none() && in_share(migration.percentage) => {
                new_group
            }
            _ => &route.group,
        };
        let clock = std::time::Instant::now();
        let signer = table.rsa_signers.get(&group.group_id).map(Arc::as_ref);
        let experiment_header =
            assignment.as_ref().map(|assignment| format!("{}={}", assignment.experiment, assignment.variation));
        let call = UpstreamCall {
            api: &route.api,
            group,
            signer,
            context,
            path_and_query: path,
            body,
            now_ms: started_ms,
            experiment: experiment_header.as_deref(),
        };
        let outcome = call_upstream(&self.http, call).await;
        let elapsed_ms = clock.elapsed().as_millis() as u64;
        if let Some(breaker) = &definition.circuit_breaker {
            let failed = matches!(outcome, UpstreamOutcome::Failed { .. });
            self.breakers.after_call(&policy_key, breaker, self.control.now_ms(), failed, elapsed_ms);
        }
        match outcome {
            UpstreamOutcome::Answered { status, content_type, mut headers, body } => {
                let backend_opted_out = headers.iter().any(|(name, value)| {
                    (name == "pragma" && value.eq_ignore_ascii_case("no-cache"))
                        || (name == "cache-control" && value.to_ascii_lowercase().contains("no-store"))
                });
                if let (Some(key), Some(cache)) = (cache_key, &definition.cache)
                    && !backend_opted_out
                    && (200..300).contains(&status)
                    && body.len() <= MAX_CACHED_BODY_BYTES
                {
                    let expires_ms = started_ms + i64::from(cache.ttl_seconds) * 1000;
                    let answer =
                        CachedAnswer { status, content_type: content_type.clone(), body: body.clone(), expires_ms };
                    self.answers.put(key, answer, started_ms);
                }
                apply_response_rules(&mut headers, &definition.header_rules);
                let mut response = success(trace_id, status, content_type, body);
                response.headers = headers;
                response
            }
            UpstreamOutcome::Failed { result, detail } => RpcResponse::failure(result, trace_id, Some(detail)),
        }
    }

    /// Asks the authorizer API whether this caller may call; the principal on success, the
    /// refusal (2000, 1005) otherwise. Allowed principals may be cached by credentials.
    async fn authorize(
        &self,
        table: &RouteTable,
        route: &Route,
        authorizer: &Authorizer,
        context: &CallContext,
        request_headers: &[(String, String)],
        trace_id: &str,
    ) -> Result<String, RpcResponse> {
        let refuse = |result: ResultCode, detail: String| RpcResponse::failure(result, trace_id, Some(detail));
        let Some((authorizer_api, authorizer_group)) = &route.authorizer else {
            return Err(refuse(
                ResultCode::NotAuthorized,
                format!("authorizer api {} is not registered", authorizer.operation_type),
            ));
        };
        let credentials: Map<String, Value> = authorizer
            .credential_headers
            .iter()
            .filter_map(|name| {
                request_headers
                    .iter()
                    .find(|(candidate, _)| candidate.eq_ignore_ascii_case(name))
                    .map(|(_, value)| (name.to_ascii_lowercase(), Value::String(value.clone())))
            })
            .collect();
        let now = self.control.now_ms();
        let cache_key = format!(
            "authorizer:{}:{}:{}",
            route.api.workspace_id,
            authorizer.operation_type,
            Value::Object(credentials.clone())
        );
        if authorizer.cache_seconds > 0
            && let Some(cached) = self.answers.get(&cache_key, now)
        {
            return Ok(String::from_utf8_lossy(&cached.body).into_owned());
        }
        let question = serde_json::json!({
            "operation_type": context.operation_type,
            "app_id": context.app_id,
            "workspace_id": context.workspace_id,
            "device_id": context.device_id,
            "user_id": context.user_id,
            "credentials": credentials,
        });
        let body = Bytes::from(serde_json::to_vec(&question).expect("JSON values serialize"));
        let path = authorizer_api.definition.path.clone();
        let mut authorizer_context = context.clone();
        authorizer_context.operation_type = authorizer_api.operation_type.clone();
        let signer = table.rsa_signers.get(&authorizer_group.group_id).map(Arc::as_ref);
        let call = UpstreamCall {
            api: authorizer_api,
            group: authorizer_group,
            signer,
            context: &authorizer_context,
            path_and_query: &path,
            body,
            now_ms: now,
            experiment: None,
        };
        match call_upstream(&self.http, call).await {
            UpstreamOutcome::Answered { status, body, .. } if (200..300).contains(&status) => {
                let principal = serde_json::from_slice::<Value>(&body)
                    .ok()
                    .and_then(|answer| answer.get("principal").and_then(Value::as_str).map(str::to_owned))
                    .filter(|principal| {
                        !principal.is_empty() && principal.bytes().all(|byte| byte == b' ' || byte.is_ascii_graphic())
                    });
                let Some(principal) = principal else {
                    return Err(refuse(
                        ResultCode::NotAuthorized,
                        "the authorizer answered no usable principal".to_owned(),
                    ));
                };
                if authorizer.cache_seconds > 0 {
                    let expires_ms = now + i64::from(authorizer.cache_seconds) * 1000;
                    let answer =
                        CachedAnswer { status, content_type: None, body: Bytes::from(principal.clone()), expires_ms };
                    self.answers.put(cache_key, answer, now);
                }
                Ok(principal)
            }
            UpstreamOutcome::Answered { status: 401, .. } => {
                Err(refuse(ResultCode::LoginRequired, "the authorizer asks for a login".to_owned()))
            }
            UpstreamOutcome::Answered { status, .. } => {
                Err(refuse(ResultCode::NotAuthorized, format!("the authorizer refused the call ({status})")))
            }
            UpstreamOutcome::Failed { detail, .. } => {
                Err(refuse(ResultCode::NotAuthorized, format!("the authorizer did not answer: {detail}")))
            }
        }
    }

    /// The plain body: the request's own, or opened with the workspace's key when it came sealed.
    /// The signature covers the sealed bytes, so forged calls are refused before any decryption.
    async fn open_body(
        &self,
        request: &RpcRequest,
        workspace_id: &str,
        need_encrypt: bool,
    ) -> Result<(Bytes, Option<SessionKey>), String> {
        let headers = &request.headers;
        let (Some(suite), Some(client_key)) = (non_empty(&headers.encrypt_suite), non_empty(&headers.encrypt_key))
        else {
            if need_encrypt {
                return Err("this api accepts only encrypted bodies (Encrypt-Suite and Encrypt-Key)".to_owned());
            }
            return Ok((request.body.clone(), None));
        };
        let suite = Suite::parse(suite)
            .filter(|suite| self.settings.accepted_suites.contains(suite))
            .ok_or_else(|| format!("Encrypt-Suite {suite} is not accepted"))?;
        let key = self.envelope_key(workspace_id, suite).await.map_err(|error| {
            tracing::error!(%error, "cannot load the envelope key");
            "gateway storage unavailable".to_owned()
        })?;
        let (plain, session) = midship_signing::envelope::open_request(&key, client_key, &request.body)
            .map_err(|error| format!("cannot open the body: {error}"))?;
        Ok((Bytes::from(plain), Some(session)))
    }

    /// Checks timestamp, nonce and signature, in that order of cost, and spends the nonce only
    /// for a correctly signed request. An app-secret signature is checked against every key still
    /// valid (rotations do not break devices), and then only accepted where the workspace and the
    /// device still allow one; a device signature against the device's credential.
    pub(crate) async fn verify_signature(
        &self,
        request: &RpcRequest,
        operation_type: &str,
        app_id: &str,
        workspace_id: &str,
        security: &midship_storage::WorkspaceSecurityRecord,
    ) -> Result<(), (ResultCode, String)> {
        let headers = &request.headers;
        let Some(signature) = non_empty(&headers.sign) else {
            return Err((ResultCode::SignatureMissing, "Sign header missing".into()));
        };
        let Some(timestamp) = non_empty(&headers.timestamp) else {
            return Err((ResultCode::TimestampMissing, "Ts header missing".into()));
        };
        let sign_type = match non_empty(&headers.sign_type) {
            None => SignType::HmacSha256,
            Some(text) => SignType::parse(text)
                .ok_or_else(|| (ResultCode::SigningFieldsMissing, format!("unknown Sign-Type {text}")))?,
        };
        let Ok(timestamp_ms) = timestamp.parse::<i64>() else {
            return Err((ResultCode::SigningFieldsMissing, "Ts must be milliseconds since the epoch".into()));
        };
        // Without a nonce, a captured call could be replayed for the whole window.
        let Some(nonce) = non_empty(&headers.nonce).filter(|nonce| nonce.len() <= MAX_NONCE_BYTES) else {
            return Err((
                ResultCode::SigningFieldsMissing,
                format!("Nonce header missing or over {MAX_NONCE_BYTES} bytes"),
            ));
        };
        let now = self.control.now_ms();
        if (now - timestamp_ms).abs() > self.settings.timestamp_window_ms {
            return Err((
                ResultCode::TimestampOutsideWindow,
                format!("Ts is {} ms away from the server's clock", now - timestamp_ms),
            ));
        }
        let storage_failure = |error: GatewayError| {
            tracing::error!(%error, "cannot load signing keys");
            (ResultCode::Unknown, "gateway storage unavailable".to_owned())
        };
        let device_id = non_empty(&headers.device_id).unwrap_or("");
        let input = SigningInput {
            method: &request.method,
            operation_type,
            app_id,
            workspace_id,
            device_id,
            user_id: non_empty(&headers.user_id).unwrap_or(""),
            timestamp,
            nonce,
            body: &request.body,
        };
        if sign_type.is_device() {
            if device_id.is_empty() {
                return Err((ResultCode::SigningFieldsMissing, "a device signature needs Device-Id".into()));
            }
            let credential =
                self.server_keys.device_credential(workspace_id, device_id).await.map_err(storage_failure)?;
            if midship_signing::client::verify(sign_type, &[credential.as_bytes()], &input, signature).is_none() {
                return Err((ResultCode::BadSignature, "signature does not match the device credential".into()));
            }
            self.check_device_not_revoked(workspace_id, device_id).await?;
        } else {
            self.check_with_app_secrets(app_id, |secrets| {
                if secrets.is_empty() {
                    return Err((ResultCode::NoKey, format!("app {app_id} has no valid key")));
                }
                match midship_signing::client::verify(sign_type, secrets, &input, signature) {
                    Some(_) => Ok(()),
                    None => Err((ResultCode::BadSignature, "signature does not match".to_owned())),
                }
            })
            .await
            .map_err(storage_failure)??;
            self.check_app_secret_allowed(operation_type, workspace_id, device_id, security).await?;
        }
        let expires_at = timestamp_ms + self.settings.timestamp_window_ms;
        if !self.first_use_of_nonce(&format!("{app_id}:{nonce}"), now, expires_at).await? {
            return Err((ResultCode::ReplayedNonce, "nonce already used".into()));
        }
        Ok(())
    }

    /// Whether no node has seen `nonce` before: this node's cache first, then the cluster's.
    pub(crate) async fn first_use_of_nonce(
        &self,
        nonce: &str,
        now: i64,
        expires_at: i64,
    ) -> Result<bool, (ResultCode, String)> {
        if !self.nonces.first_use(nonce, now, expires_at) {
            return Ok(false);
        }
        let Some(shared) = &self.cluster else { return Ok(true) };
        shared.first_use(nonce).await.map_err(|error| {
            tracing::warn!(%error, "the cluster's nonce record is unreachable; request refused");
            (ResultCode::BackendUnreachable, "replay protection unavailable".to_owned())
        })
    }

    /// The workspace's routes, from memory; `None` when the workspace does not exist.
    pub(crate) async fn route_table(&self, workspace_id: &str) -> Result<Option<Arc<RouteTable>>, GatewayError> {
        if let Some(table) = self.routes.get(workspace_id) {
            return Ok(Some(table));
        }
        if !midship_core::ids::looks_like_id(workspace_id) {
            return Ok(None);
        }
        let storage = self.control.storage();
        let Some(workspace) = storage.get_workspace(workspace_id).await? else {
            return Ok(None);
        };
        let groups: Vec<ApiGroup> = storage
            .list_api_groups(workspace_id)
            .await?
            .into_iter()
            .map(ApiGroup::from_record)
            .collect::<Result<_, _>>()?;
        let apis: Vec<Api> =
            storage.list_apis(workspace_id).await?.into_iter().map(Api::from_record).collect::<Result<_, _>>()?;
        let group_of = |api: &Api| groups.iter().find(|group| group.group_id == api.group_id).cloned();
        let mut routes = std::collections::HashMap::new();
        for api in &apis {
            let Some(group) = group_of(api) else { continue };
            let migration_group = api.definition.migration.as_ref().and_then(|migration| {
                groups
                    .iter()
                    .find(|candidate| candidate.group_id == migration.group || candidate.name == migration.group)
                    .cloned()
            });
            let authorizer = api.definition.authorizer.as_ref().and_then(|authorizer| {
                let authorizer_api =
                    apis.iter().find(|candidate| candidate.operation_type == authorizer.operation_type)?;
                Some((authorizer_api.clone(), group_of(authorizer_api)?))
            });
            routes.insert(api.operation_type.clone(), Route { api: api.clone(), group, migration_group, authorizer });
        }
        let rsa_signers = groups
            .iter()
            .filter_map(|group| {
                let pem = group.definition.rsa_private_key.as_deref()?;
                let signer = midship_signing::proxy::RsaSigner::from_pkcs8_pem(pem).ok()?;
                Some((group.group_id.clone(), Arc::new(signer)))
            })
            .collect();
        let security = storage.workspace_security(workspace_id).await?;
        let groups = groups.into_iter().map(|group| (group.name.clone(), group)).collect();
        let table = Arc::new(RouteTable { app_id: workspace.app_id, security, routes, rsa_signers, groups });
        self.routes.insert(workspace_id, table.clone());
        Ok(Some(table))
    }

    /// Runs `check` with the secrets of the app's keys valid now. A key rotated a moment ago
    /// may not be in the cache yet, so a failed check reloads the keys once and runs again.
    pub(crate) async fn check_with_app_secrets<T, E>(
        &self,
        app_id: &str,
        check: impl Fn(&[&[u8]]) -> Result<T, E>,
    ) -> Result<Result<T, E>, GatewayError> {
        let now = self.control.now_ms();
        let check_keys = |keys: &[midship_core::AppKey]| {
            let secrets: Vec<&[u8]> =
                keys.iter().filter(|key| key.is_valid_at(now)).map(|key| key.secret.as_bytes()).collect();
            check(&secrets)
        };
        let (keys, fresh) = self.app_keys(app_id).await?;
        let verdict = check_keys(&keys);
        if verdict.is_err() && !fresh && self.keys.may_force_reload(app_id, now) {
            return Ok(check_keys(&self.reload_app_keys(app_id).await?));
        }
        Ok(verdict)
    }

    /// The app's keys from the cache, or loaded (then `true`: there is nothing fresher to try).
    pub(crate) async fn app_keys(&self, app_id: &str) -> Result<(Arc<Vec<midship_core::AppKey>>, bool), GatewayError> {
        if let Some(keys) = self.keys.get(app_id, self.control.now_ms()) {
            return Ok((keys, false));
        }
        Ok((self.reload_app_keys(app_id).await?, true))
    }

    pub(crate) async fn reload_app_keys(&self, app_id: &str) -> Result<Arc<Vec<midship_core::AppKey>>, GatewayError> {
        let keys = Arc::new(self.control.storage().list_app_keys(app_id).await?);
        self.keys.insert(app_id, self.control.now_ms(), keys.clone());
        Ok(keys)
    }

    /// First contact: a new utdid, recorded with what the device said about itself. A failure to
    /// record is logged; the call goes on (the device keeps the id and is recorded next time).
    pub(crate) async fn issue_device(
        &self,
        app_id: &str,
        workspace_id: &str,
        headers: &crate::request::RpcHeaders,
    ) -> String {
        let now = self.control.now_ms();
        let utdid = midship_core::ids::new_id(now, &mut rand::rng());
        let device = DeviceRecord {
            utdid: utdid.clone(),
            app_id: app_id.to_owned(),
            workspace_id: workspace_id.to_owned(),
            platform: non_empty(&headers.platform).unwrap_or("unknown").to_owned(),
            model: None,
            os_version: None,
            app_version: non_empty(&headers.app_version).map(str::to_owned),
            first_seen_at: now,
        };
        if let Err(error) = self.control.storage().register_device(&device).await {
            tracing::warn!(%error, utdid, "cannot record a new device");
        }
        utdid
    }

    /// Drops route tables when another node changed the gateway; called periodically.
    pub async fn refresh_changed(&self) -> Result<bool, GatewayError> {
        let revision = self.control.storage().gateway_revision().await?;
        Ok(self.routes.observe_revision(revision))
    }

    /// Forgets cached app keys and device credential states: another node changed some (a key
    /// rotation, a revoked device), so the next call reads them again.
    pub fn forget_cached_lookups(&self) {
        self.keys.clear();
        self.credentialed.clear();
    }
}

/// Larger answers are not cached, so the cache's memory stays bounded (entries × this).
const MAX_CACHED_BODY_BYTES: usize = 256 * 1024;

/// The cache key: the API, then the chosen body fields, headers and cookies, each named so that
/// different values can never run together into the same key.
fn response_cache_key(
    policy_key: &str,
    cache: &ResponseCache,
    fields: &Map<String, Value>,
    request_headers: &[(String, String)],
) -> String {
    let header = |name: &str| {
        request_headers
            .iter()
            .find(|(candidate, _)| candidate.eq_ignore_ascii_case(name))
            .map(|(_, value)| value.as_str())
    };
    let cookies: Vec<(&str, &str)> = header("cookie")
        .map(|cookie| cookie.split(';').filter_map(|pair| pair.trim().split_once('=')).collect())
        .unwrap_or_default();
    let parts = serde_json::json!({
        "api": policy_key,
        "fields": cache.key_fields.iter().map(|name| fields.get(name).cloned().unwrap_or(Value::Null)).collect::<Vec<_>>(),
        "headers": cache.key_headers.iter().map(|name| header(name)).collect::<Vec<_>>(),
        "cookies": cache.key_cookies.iter().map(|name| cookies.iter().find(|(key, _)| key == name).map(|(_, value)| *value)).collect::<Vec<_>>(),
    });
    parts.to_string()
}

fn success(trace_id: &str, status: u16, content_type: Option<String>, body: Bytes) -> RpcResponse {
    RpcResponse {
        result: ResultCode::Success,
        memo: ResultCode::Success.memo().to_owned(),
        tips: String::new(),
        trace_id: trace_id.to_owned(),
        status,
        content_type,
        body,
        issued_device_id: None,
        sealed_with: None,
        headers: Vec::new(),
        operation_type: String::new(),
        app_id: None,
        workspace_id: None,
    }
}
