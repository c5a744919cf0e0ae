//! APNs over HTTP/2 with token authentication (an ES256 JWT signed with the team's `.p8` key).

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use midship_core::Workspace;
use midship_core::clock::Clock;
use p256::ecdsa::SigningKey;
use p256::pkcs8::DecodePrivateKey;
use serde_json::{Map, Value, json};

use super::{
    Attempt, CachedToken, ChannelContext, ChannelFactory, ChannelResult, Limits, Outgoing, PushChannel, RateLimiter,
    SendOne, http_client, jwt, required, retry_after, send_each,
};
use crate::PushError;
use crate::message::MAX_PAYLOAD_BYTES;

pub const DEFAULT_ENDPOINT: &str = "https://api.push.apple.com";
/// Apple takes a provider token for an hour and refuses new ones more often than every 20
/// minutes; one is used for 50.
const TOKEN_REUSE_MS: i64 = 50 * 60 * 1000;
const MAX_COLLAPSE_ID_BYTES: usize = 64;

/// `{"kind": "apns", "team_id", "key_id", "private_key": ".p8 PEM", "topic": "bundle id",
/// "endpoint"?, "ca_certificate"?, "limits"?}`.
#[derive(Debug)]
pub struct ApnsFactory;

impl ChannelFactory for ApnsFactory {
    fn build(&self, definition: &Value, context: &ChannelContext) -> Result<Arc<dyn PushChannel>, PushError> {
        let key = SigningKey::from_pkcs8_pem(required(definition, "private_key")?).map_err(|error| {
            PushError::Invalid { field: "private_key", message: format!("not a PKCS#8 P-256 key (.p8): {error}") }
        })?;
        let endpoint = definition.get("endpoint").and_then(Value::as_str).unwrap_or(DEFAULT_ENDPOINT);
        Ok(Arc::new(ApnsChannel {
            team_id: required(definition, "team_id")?.to_owned(),
            key_id: required(definition, "key_id")?.to_owned(),
            topic: required(definition, "topic")?.to_owned(),
            endpoint: endpoint.trim_end_matches('/').to_owned(),
            key,
            client: http_client(definition, &context.limits, true)?,
            limiter: RateLimiter::new(context.limits.rate_per_second),
            limits: context.limits.clone(),
            clock: context.clock.clone(),
            token: CachedToken::default(),
        }))
    }
}

pub struct ApnsChannel {
    team_id: String,
    key_id: String,
    topic: String,
    endpoint: String,
    key: SigningKey,
    client: reqwest::Client,
    limits: Limits,
    limiter: RateLimiter,
    clock: Arc<dyn Clock>,
    token: CachedToken,
}

impl std::fmt::Debug for ApnsChannel {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter
            .debug_struct("ApnsChannel")
            .field("team_id", &self.team_id)
            .field("key_id", &self.key_id)
            .field("topic", &self.topic)
            .field("endpoint", &self.endpoint)
            .finish_non_exhaustive()
    }
}

/// The APNs JSON payload: `aps` for the system, `midship` for the SDK.
pub fn payload(outgoing: &Outgoing) -> Value {
    let message = &outgoing.message;
    let aps = if message.silent {
        json!({ "content-available": 1 })
    } else {
        let mut aps = json!({ "alert": { "title": message.title, "body": message.content }, "sound": "default" });
        if message.image_url.is_some() {
            aps["mutable-content"] = json!(1);
        }
        if let Some(classification) = &message.classification {
            aps["thread-id"] = json!(classification);
        }
        aps
    };
    let mut midship = Map::new();
    midship.insert("task_id".into(), json!(outgoing.delivery.task_id));
    midship.insert("msg_id".into(), json!(outgoing.delivery.msg_id));
    for (key, value) in [("uri", &message.uri), ("image_url", &message.image_url), ("style", &message.style)] {
        if let Some(value) = value {
            midship.insert(key.into(), json!(value));
        }
    }
    if !message.ext.is_empty() {
        midship.insert("ext".into(), json!(message.ext));
    }
    json!({ "aps": aps, "midship": midship })
}

impl ApnsChannel {
    async fn provider_token(&self) -> String {
        let now = self.clock.now_ms();
        let made = self.token.get_or_renew(now, || async {
            let value = jwt::es256(
                &json!({ "alg": "ES256", "kid": self.key_id }),
                &json!({ "iss": self.team_id, "iat": now / 1000 }),
                &self.key,
            );
            Ok::<_, std::convert::Infallible>((value, now + TOKEN_REUSE_MS))
        });
        made.await.unwrap_or_else(|never| match never {})
    }
}

#[async_trait]
impl SendOne for ApnsChannel {
    async fn send_one(&self, outgoing: &Outgoing) -> Attempt {
        let Some(device_token) = outgoing.delivery.token.as_deref() else {
            return Attempt::Done(ChannelResult::Failed {
                error: "the device has no APNs token".into(),
                token_invalid: false,
            });
        };
        let body = payload(outgoing).to_string();
        if body.len() > MAX_PAYLOAD_BYTES {
            return Attempt::Done(ChannelResult::Failed {
                error: format!("payload of {} bytes exceeds APNs' {MAX_PAYLOAD_BYTES}", body.len()),
                token_invalid: false,
            });
        }
        let silent = outgoing.message.silent;
        let mut request = self
            .client
            .post(format!("{}/3/device/{device_token}", self.endpoint))
            .header("authorization", format!("bearer {}", self.provider_token().await))
            .header("apns-topic", &self.topic)
            .header("apns-push-type", if silent { "background" } else { "alert" })
            .header("apns-priority", if silent { "5" } else { "10" })
            .header("apns-expiration", (outgoing.delivery.expires_at / 1000).to_string())
            .header("content-type", "application/json")
            .body(body);
        if outgoing.delivery.msg_id.len() <= MAX_COLLAPSE_ID_BYTES {
            request = request.header("apns-collapse-id", &outgoing.delivery.msg_id);
        }
        let response = match request.send().await {
            Ok(response) => response,
            Err(error) => return Attempt::Retry { error: format!("apns: {error}"), after: None },
        };
        let status = response.status().as_u16();
        let after = retry_after(response.headers());
        if status == 200 {
            return Attempt::Done(ChannelResult::Sent);
        }
        let reason = response
            .json::<Value>()
            .await
            .ok()
            .and_then(|body| body.get("reason").and_then(Value::as_str).map(str::to_owned))
            .unwrap_or_default();
        let error = format!("apns: {status} {reason}");
        match (status, reason.as_str()) {
            (410, _) | (400, "BadDeviceToken" | "DeviceTokenNotForTopic") => {
                Attempt::Done(ChannelResult::Failed { error, token_invalid: true })
            }
            (403, "ExpiredProviderToken" | "InvalidProviderToken") => {
                self.token.forget().await;
                Attempt::Retry { error, after: Some(Duration::ZERO) }
            }
            (429, _) | (500..=599, _) => Attempt::Retry { error, after },
            _ => Attempt::Done(ChannelResult::Failed { error, token_invalid: false }),
        }
    }
}

#[async_trait]
impl PushChannel for ApnsChannel {
    async fn send(&self, _workspace: &Workspace, batch: &[Outgoing]) -> Vec<ChannelResult> {
        send_each(batch, &self.limits, &self.limiter, self).await
    }
}
