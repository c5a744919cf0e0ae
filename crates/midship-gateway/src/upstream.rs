//! Calling a backend: the URL from the group and the API's path template, the forwarded headers,
//! the proxy signature, the timeout, and the mapping of failures to result codes.

use std::time::Duration;

use bytes::Bytes;
use serde_json::{Map, Value};

use crate::builtin::CallContext;
use crate::definition::{ApiDefinition, HeaderAction, HeaderRule, HeaderStage};
use crate::model::{Api, ApiGroup};
use crate::result::ResultCode;

/// What the backend answered, or why it did not.
#[derive(Debug)]
pub enum UpstreamOutcome {
    Answered { status: u16, content_type: Option<String>, headers: Vec<(String, String)>, body: Bytes },
    Failed { result: ResultCode, detail: String },
}

/// The top-level fields of a backend call's body, which must be a JSON object.
pub fn body_fields(body: &[u8]) -> Result<Map<String, Value>, String> {
    match serde_json::from_slice::<Value>(body) {
        Ok(Value::Object(fields)) => Ok(fields),
        Ok(_) => Err("the body must be a JSON object".into()),
        Err(error) => Err(format!("the body is not JSON: {error}")),
    }
}

/// Fills `{name}` segments from the body's top-level fields; for methods without a body, the
/// remaining scalar fields become the query string.
pub fn upstream_target(definition: &ApiDefinition, fields: &Map<String, Value>) -> Result<String, String> {
    let mut path = definition.path.clone();
    let parameters = definition.path_parameters();
    for name in &parameters {
        let value = match fields.get(name) {
            Some(Value::String(text)) => text.clone(),
            Some(Value::Number(number)) => number.to_string(),
            Some(Value::Bool(flag)) => flag.to_string(),
            Some(_) => return Err(format!("path parameter `{name}` must be a string, number or boolean")),
            None => return Err(format!("path parameter `{name}` is missing from the body")),
        };
        // A value fills exactly its segment: the backend URL is resolved, so an empty, `.` or
        // `..` one would let a body call another path of the backend.
        if matches!(value.as_str(), "" | "." | "..") {
            return Err(format!("path parameter `{name}` must not be empty, `.` or `..`"));
        }
        let encoded: String = url::form_urlencoded::byte_serialize(value.as_bytes()).collect();
        path = path.replace(&format!("{{{name}}}"), &encoded.replace('+', "%20"));
    }
    if !definition.method.has_body() {
        let mut query = url::form_urlencoded::Serializer::new(String::new());
        let mut any = false;
        for (key, value) in fields.iter().filter(|(key, _)| !parameters.contains(key)) {
            let text = match value {
                Value::String(text) => text.clone(),
                Value::Number(_) | Value::Bool(_) => value.to_string(),
                Value::Null => continue,
                Value::Array(_) | Value::Object(_) => {
                    return Err(format!("field `{key}` must be a scalar for a {} api", definition.method.as_str()));
                }
            };
            query.append_pair(key, &text);
            any = true;
        }
        if any {
            path = format!("{path}?{}", query.finish());
        }
    }
    Ok(path)
}

/// The path of the group's base URL, to sign the full path the backend sees.
fn base_path(base_url: &str) -> String {
    url::Url::parse(base_url).map(|url| url.path().trim_end_matches('/').to_owned()).unwrap_or_default()
}

/// Response headers the gateway sets itself or that describe one hop only.
/// Tells the backend which experiment variation a call serves: `key=variation`.
pub const EXPERIMENT_HEADER: &str = "X-Midship-Experiment";

const NOT_FORWARDED: [&str; 8] =
    ["connection", "content-length", "content-type", "date", "keep-alive", "server", "transfer-encoding", "upgrade"];

/// One backend call: which API, through which group (the API's own or a migration target),
/// signed how, for whom, to which path, with which body.
#[derive(Debug)]
pub struct UpstreamCall<'a> {
    pub api: &'a Api,
    pub group: &'a ApiGroup,
    /// Set for groups that sign with RSA; HMAC with the group's secret otherwise.
    pub signer: Option<&'a midship_signing::proxy::RsaSigner>,
    pub context: &'a CallContext,
    pub path_and_query: &'a str,
    pub body: Bytes,
    pub now_ms: i64,
    /// `key=variation` of the experiment the call is part of, sent as `X-Midship-Experiment`.
    pub experiment: Option<&'a str>,
}

pub async fn call_upstream(http: &reqwest::Client, call: UpstreamCall<'_>) -> UpstreamOutcome {
    let UpstreamCall { api, group, signer, context, path_and_query, body, now_ms, experiment } = call;
    let definition = &api.definition;
    let group = &group.definition;
    let url = format!("{}{path_and_query}", group.base_url);
    let signed_path = format!("{}{path_and_query}", base_path(&group.base_url));
    let method = reqwest::Method::from_bytes(definition.method.as_str().as_bytes()).unwrap_or(reqwest::Method::POST);
    let sent_body = if definition.method.has_body() { body } else { Bytes::new() };
    let signature = match signer {
        Some(signer) => signer.sign(definition.method.as_str(), &signed_path, now_ms, &sent_body),
        None => midship_signing::proxy::sign_hmac(
            group.proxy_secret.as_bytes(),
            definition.method.as_str(),
            &signed_path,
            now_ms,
            &sent_body,
        ),
    };
    let timeout = Duration::from_millis(definition.timeout_ms.unwrap_or(group.timeout_ms));
    let mut request = http
        .request(method, &url)
        .timeout(timeout)
        .header("X-Midship-Proxy-Signature", signature)
        .header("X-Midship-Trace-Id", &context.trace_id)
        .header("X-Midship-Operation-Type", &context.operation_type)
        .header("X-Midship-App-Id", &context.app_id)
        .header("X-Midship-Workspace-Id", &context.workspace_id);
    if let Some((header, principal)) = &context.principal {
        request = request.header(header.as_str(), principal);
    }
    if let Some(experiment) = experiment {
        request = request.header(EXPERIMENT_HEADER, experiment);
    }
    for (name, value) in [
        ("X-Midship-Device-Id", &context.device_id),
        ("X-Midship-User-Id", &context.user_id),
        ("X-Midship-Platform", &context.platform),
        ("X-Midship-App-Version", &context.app_version),
    ] {
        if let Some(value) = value {
            request = request.header(name, value);
        }
    }
    if definition.method.has_body() {
        request = request
            .header("Content-Type", format!("{}; charset={}", definition.content_type, definition.charset))
            .body(sent_body);
    }
    let mut request = match request.build() {
        Ok(request) => request,
        Err(error) => {
            return UpstreamOutcome::Failed {
                result: ResultCode::Unknown,
                detail: format!("cannot build the backend request: {error}"),
            };
        }
    };
    apply_request_rules(request.headers_mut(), &definition.header_rules);
    let response = match http.execute(request).await {
        Ok(response) => response,
        Err(error) if error.is_timeout() => {
            return UpstreamOutcome::Failed {
                result: ResultCode::BackendTimeout,
                detail: format!("backend did not answer within {} ms", timeout.as_millis()),
            };
        }
        Err(error) => {
            return UpstreamOutcome::Failed {
                result: ResultCode::BackendUnreachable,
                detail: format!("backend unreachable: {}", root_cause(&error)),
            };
        }
    };
    let status = response.status().as_u16();
    let content_type =
        response.headers().get(reqwest::header::CONTENT_TYPE).and_then(|value| value.to_str().ok()).map(str::to_owned);
    let headers = response
        .headers()
        .iter()
        .filter(|(name, _)| !NOT_FORWARDED.contains(&name.as_str()))
        .filter_map(|(name, value)| value.to_str().ok().map(|value| (name.as_str().to_owned(), value.to_owned())))
        .collect();
    let body = match response.bytes().await {
        Ok(body) => body,
        Err(error) if error.is_timeout() => {
            return UpstreamOutcome::Failed {
                result: ResultCode::BackendTimeout,
                detail: "backend answer did not complete in time".to_owned(),
            };
        }
        Err(error) => {
            return UpstreamOutcome::Failed {
                result: ResultCode::BackendError,
                detail: format!("backend answer broke off: {}", root_cause(&error)),
            };
        }
    };
    if status >= 500 {
        return UpstreamOutcome::Failed {
            result: ResultCode::BackendError,
            detail: format!("backend answered {status}"),
        };
    }
    UpstreamOutcome::Answered { status, content_type, headers, body }
}

/// Request-stage header rules, after the gateway's own headers (so a rule can remove one).
fn apply_request_rules(headers: &mut reqwest::header::HeaderMap, rules: &[HeaderRule]) {
    for rule in rules.iter().filter(|rule| rule.stage == HeaderStage::Request) {
        let Ok(name) = reqwest::header::HeaderName::from_bytes(rule.name.as_bytes()) else { continue };
        match (rule.action, &rule.value) {
            (HeaderAction::Add, Some(value)) => {
                if let Ok(value) = reqwest::header::HeaderValue::from_str(value) {
                    headers.append(name, value);
                }
            }
            _ => {
                headers.remove(name);
            }
        }
    }
}

/// Response-stage header rules on the headers passed to the client.
pub fn apply_response_rules(headers: &mut Vec<(String, String)>, rules: &[HeaderRule]) {
    for rule in rules.iter().filter(|rule| rule.stage == HeaderStage::Response) {
        match (rule.action, &rule.value) {
            (HeaderAction::Add, Some(value)) => headers.push((rule.name.to_ascii_lowercase(), value.clone())),
            _ => headers.retain(|(name, _)| !name.eq_ignore_ascii_case(&rule.name)),
        }
    }
}

fn root_cause(error: &(dyn std::error::Error + 'static)) -> String {
    let mut cause = error;
    while let Some(source) = cause.source() {
        cause = source;
    }
    cause.to_string()
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn route(method: &str, path: &str) -> ApiDefinition {
        serde_json::from_value(json!({ "method": method, "path": path })).unwrap()
    }

    fn fields(value: serde_json::Value) -> Map<String, Value> {
        value.as_object().unwrap().clone()
    }

    #[test]
    fn path_parameters_come_from_the_body_encoded() {
        let target = upstream_target(
            &route("POST", "/accounts/{accountId}/balance"),
            &fields(json!({ "accountId": "a b/c", "x": 1 })),
        )
        .unwrap();
        assert_eq!(target, "/accounts/a%20b%2Fc/balance");
        let missing = upstream_target(&route("POST", "/accounts/{accountId}"), &fields(json!({}))).unwrap_err();
        assert!(missing.contains("accountId"));
    }

    /// Found by fuzzing (`gateway_body`): `{"id":""}` called `/items/`, and `..` the path above.
    #[test]
    fn path_parameters_cannot_leave_their_segment() {
        for body in [&br#"{"id":""}"#[..], br#"{"id":"."}"#, br#"{"id":".."}"#] {
            let fields = body_fields(body).unwrap();
            let error = upstream_target(&route("DELETE", "/items/{id}"), &fields).unwrap_err();
            assert!(error.contains("`id` must not be empty"), "{error}");
        }
        let fields = body_fields(br#"{"id":"..."}"#).unwrap();
        assert_eq!(upstream_target(&route("DELETE", "/items/{id}"), &fields).unwrap(), "/items/...");
    }

    #[test]
    fn get_apis_send_the_other_fields_as_query() {
        let target = upstream_target(
            &route("GET", "/rates/{currency}"),
            &fields(json!({ "currency": "EUR", "day": "2026-11-22", "n": 3 })),
        )
        .unwrap();
        assert_eq!(target, "/rates/EUR?day=2026-11-22&n=3");
        assert!(upstream_target(&route("GET", "/x"), &fields(json!({ "nested": { "a": 1 } }))).is_err());
    }
}
