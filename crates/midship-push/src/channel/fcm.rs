//! FCM HTTP v1: a service account's RS256 JWT exchanged for an OAuth2 access token (kept until
//! shortly before it expires), then one `messages:send` per device.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use midship_core::Workspace;
use midship_core::clock::Clock;
use rsa::pkcs8::DecodePrivateKey;
use serde::Deserialize;
use serde_json::{Map, Value, json};

use super::{
    Attempt, CachedToken, ChannelContext, ChannelFactory, ChannelResult, Limits, Outgoing, PushChannel, RateLimiter,
    SendOne, http_client, jwt, retry_after, send_each,
};
use crate::PushError;

pub const DEFAULT_ENDPOINT: &str = "https://fcm.googleapis.com";
pub const SCOPE: &str = "https://www.googleapis.com/auth/firebase.messaging";
/// A token is renewed this long before Google says it expires.
const TOKEN_MARGIN_MS: i64 = 60_000;

/// The fields of a Google service-account key file that FCM needs.
#[derive(Debug, Clone, Deserialize)]
struct ServiceAccount {
    project_id: String,
    client_email: String,
    private_key: String,
    token_uri: String,
}

/// `{"kind": "fcm", "service_account": {the key file's JSON}, "endpoint"?, "ca_certificate"?,
/// "limits"?}`.
#[derive(Debug)]
pub struct FcmFactory;

impl ChannelFactory for FcmFactory {
    fn build(&self, definition: &Value, context: &ChannelContext) -> Result<Arc<dyn PushChannel>, PushError> {
        let invalid = |message: String| PushError::Invalid { field: "service_account", message };
        let account = definition.get("service_account").ok_or_else(|| invalid("is required".into()))?;
        let account: ServiceAccount = match account {
            Value::String(text) => serde_json::from_str(text),
            other => serde_json::from_value(other.clone()),
        }
        .map_err(|error| invalid(format!("not a service-account key: {error}")))?;
        let key = rsa::RsaPrivateKey::from_pkcs8_pem(&account.private_key)
            .map_err(|error| invalid(format!("private_key is not a PKCS#8 RSA key: {error}")))?;
        let endpoint = definition.get("endpoint").and_then(Value::as_str).unwrap_or(DEFAULT_ENDPOINT);
        Ok(Arc::new(FcmChannel {
            endpoint: endpoint.trim_end_matches('/').to_owned(),
            key: rsa::pkcs1v15::SigningKey::new(key),
            account,
            client: http_client(definition, &context.limits, false)?,
            limiter: RateLimiter::new(context.limits.rate_per_second),
            limits: context.limits.clone(),
            clock: context.clock.clone(),
            token: CachedToken::default(),
        }))
    }
}

pub struct FcmChannel {
    endpoint: String,
    account: ServiceAccount,
    key: rsa::pkcs1v15::SigningKey<sha2::Sha256>,
    client: reqwest::Client,
    limits: Limits,
    limiter: RateLimiter,
    clock: Arc<dyn Clock>,
    /// The access token and when it stops being used.
    token: CachedToken,
}

impl std::fmt::Debug for FcmChannel {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter
            .debug_struct("FcmChannel")
            .field("project_id", &self.account.project_id)
            .field("client_email", &self.account.client_email)
            .field("endpoint", &self.endpoint)
            .finish_non_exhaustive()
    }
}

#[derive(Debug, Deserialize)]
struct TokenResponse {
    access_token: String,
    expires_in: i64,
}

/// The v1 `message`: `notification` for visible pushes, `data` (strings only) for the SDK.
pub fn message(outgoing: &Outgoing, device_token: &str, now_ms: i64) -> Value {
    let push = &outgoing.message;
    let mut data = Map::new();
    data.insert("task_id".into(), json!(outgoing.delivery.task_id));
    data.insert("msg_id".into(), json!(outgoing.delivery.msg_id));
    for (key, value) in [("uri", &push.uri), ("style", &push.style), ("classification", &push.classification)] {
        if let Some(value) = value {
            data.insert(key.into(), json!(value));
        }
    }
    if !push.ext.is_empty() {
        data.insert("ext".into(), json!(serde_json::to_string(&push.ext).expect("maps serialize")));
    }
    if push.silent {
        data.insert("title".into(), json!(push.title));
        data.insert("content".into(), json!(push.content));
    }
    let ttl_seconds = ((outgoing.delivery.expires_at - now_ms) / 1000).max(0);
    let mut message = json!({
        "token": device_token,
        "data": data,
        "android": {
            "ttl": format!("{ttl_seconds}s"),
            "priority": if push.silent { "NORMAL" } else { "HIGH" },
            "collapse_key": outgoing.delivery.msg_id,
        },
    });
    if !push.silent {
        let mut notification = json!({ "title": push.title, "body": push.content });
        if let Some(image) = &push.image_url {
            notification["image"] = json!(image);
        }
        message["notification"] = notification;
    }
    json!({ "message": message })
}

impl FcmChannel {
    async fn access_token(&self) -> Result<String, Attempt> {
        let now = self.clock.now_ms();
        self.token.get_or_renew(now, || self.exchange(now)).await
    }

    /// Exchanges a signed assertion for an access token and until when to use it.
    async fn exchange(&self, now: i64) -> Result<(String, i64), Attempt> {
        let assertion = jwt::rs256(
            &json!({ "alg": "RS256", "typ": "JWT" }),
            &json!({
                "iss": self.account.client_email,
                "scope": SCOPE,
                "aud": self.account.token_uri,
                "iat": now / 1000,
                "exp": now / 1000 + 3600,
            }),
            &self.key,
        );
        let form = format!("grant_type=urn%3Aietf%3Aparams%3Aoauth%3Agrant-type%3Ajwt-bearer&assertion={assertion}");
        let response = self
            .client
            .post(&self.account.token_uri)
            .header("content-type", "application/x-www-form-urlencoded")
            .body(form)
            .send()
            .await
            .map_err(|error| Attempt::Retry { error: format!("fcm token: {error}"), after: None })?;
        let status = response.status().as_u16();
        if status != 200 {
            let body = response.text().await.unwrap_or_default();
            let error = format!("fcm token: {status} {}", body.chars().take(200).collect::<String>());
            return Err(if status == 429 || status >= 500 {
                Attempt::Retry { error, after: None }
            } else {
                // A refused key (revoked, malformed, wrong audience) will not get better by retrying.
                Attempt::Done(ChannelResult::Failed { error, token_invalid: false })
            });
        }
        let answer: TokenResponse = response.json().await.map_err(|error| {
            Attempt::Done(ChannelResult::Failed {
                error: format!("fcm token: unreadable answer: {error}"),
                token_invalid: false,
            })
        })?;
        Ok((answer.access_token, now + answer.expires_in * 1000 - TOKEN_MARGIN_MS))
    }
}

#[async_trait]
impl SendOne for FcmChannel {
    async fn send_one(&self, outgoing: &Outgoing) -> Attempt {
        let Some(device_token) = outgoing.delivery.token.as_deref() else {
            return Attempt::Done(ChannelResult::Failed {
                error: "the device has no FCM token".into(),
                token_invalid: false,
            });
        };
        let access_token = match self.access_token().await {
            Ok(token) => token,
            Err(attempt) => return attempt,
        };
        let url = format!("{}/v1/projects/{}/messages:send", self.endpoint, self.account.project_id);
        let body = message(outgoing, device_token, self.clock.now_ms());
        let response = match self.client.post(url).bearer_auth(access_token).json(&body).send().await {
            Ok(response) => response,
            Err(error) => return Attempt::Retry { error: format!("fcm: {error}"), after: None },
        };
        let status = response.status().as_u16();
        let after = retry_after(response.headers());
        if status == 200 {
            return Attempt::Done(ChannelResult::Sent);
        }
        let answer: Value = response.json().await.unwrap_or(Value::Null);
        let error_code = answer["error"]["details"]
            .as_array()
            .into_iter()
            .flatten()
            .find_map(|detail| detail.get("errorCode").and_then(Value::as_str))
            .or_else(|| answer["error"]["status"].as_str())
            .unwrap_or_default()
            .to_owned();
        let error = format!("fcm: {status} {error_code}");
        match (status, error_code.as_str()) {
            (_, "UNREGISTERED") => Attempt::Done(ChannelResult::Failed { error, token_invalid: true }),
            (401, _) => {
                self.token.forget().await;
                Attempt::Retry { error, after: Some(Duration::ZERO) }
            }
            (429, _) | (500..=599, _) => Attempt::Retry { error, after },
            _ => Attempt::Done(ChannelResult::Failed { error, token_invalid: false }),
        }
    }
}

#[async_trait]
impl PushChannel for FcmChannel {
    async fn send(&self, _workspace: &Workspace, batch: &[Outgoing]) -> Vec<ChannelResult> {
        send_each(batch, &self.limits, &self.limiter, self).await
    }

    async fn verify(&self) -> Result<(), String> {
        match self.access_token().await {
            Ok(_) => Ok(()),
            Err(Attempt::Retry { error, .. }) | Err(Attempt::Done(ChannelResult::Failed { error, .. })) => Err(error),
            Err(Attempt::Done(ChannelResult::Sent)) => Ok(()),
        }
    }
}
