//! What the fuzz targets and the seed generator (`examples/seeds.rs`) share: the fixed inputs a
//! target needs besides the fuzzed bytes (keys, old package versions, API definitions), so seeds
//! are made against exactly what the targets decode with.

use midship_analytics::event::Uploader;
use midship_gateway::ApiDefinition;
use midship_package::{ArchiveLimits, Files};
use midship_signing::envelope::{GatewayKey, Suite};

/// The server's clock in the analytics targets.
pub const NOW_MS: i64 = 1_795_313_234_000;

/// The device long connection's frame limit in the protocol targets: about the server's default
/// (its 1 MiB body limit and some room for the frame around it).
pub const MAX_FRAME_BYTES: usize = 1024 * 1024 + 4096;

/// The app secret connection tokens are signed with.
pub const TOKEN_SECRET: &[u8] = b"3b43251287c3a391e6dc6e0003d225fd43e52035f606a3100b15de4b2755acc0";

/// Limits of the zip target: the server's and the SDK's defaults. No input of a few KB inflates
/// anywhere near them, so whatever is allocated past what it inflates was taken on trust.
pub fn archive_limits() -> ArchiveLimits {
    ArchiveLimits::default()
}

/// What a patch may rebuild in the patch targets. Patches are bounded by their caller's budget
/// (the SDK's unpacked limit, the signed package size), and a decoder may reserve up to it for
/// what a patch states; a budget well under `scripts/fuzz`'s allocation limit makes anything
/// reserved past the budget show.
pub const PATCH_BUDGET: u64 = 16 * 1024 * 1024;

/// The headers' defaults for analytics events.
/// The fuzzers' exposure check: the proof `ok` passes, anything else is refused.
fn proof_is_ok(_experiment: &str, _unit: &str, _variation: &str, proof: &str) -> bool {
    proof == "ok"
}

pub fn uploader() -> Uploader<'static> {
    Uploader {
        device_id: "DEVICE-1",
        user_id: Some("alice"),
        app_version: Some("1.2.0"),
        exposure_proof: Some(&proof_is_ok),
    }
}

/// The version a content patch is applied to.
pub fn old_files() -> Files {
    let library: String = (0..40).map(|line| format!("function f{line}() {{ return {line}; }}\n")).collect();
    Files::from([
        ("index.html".to_owned(), b"<html>1.0.0</html>".to_vec()),
        ("js/lib.js".to_owned(), library.into_bytes()),
        ("logo.png".to_owned(), vec![9; 300]),
    ])
}

/// The file a binary patch is applied to.
pub fn old_binary() -> Vec<u8> {
    (0..512u32).flat_map(|value| value.to_le_bytes()).collect()
}

/// The gateway's key pair for `suite`, fixed so crashes reproduce.
pub fn gateway_key(suite: Suite) -> GatewayKey {
    let secret = [0x5au8; 32];
    GatewayKey::from_secret_bytes(suite, &secret).expect("a valid scalar for both curves")
}

/// Backend APIs a body is checked against: path parameters, declared parameters, and a method
/// whose fields become the query string.
pub fn api_definitions() -> Vec<ApiDefinition> {
    let definitions = [
        serde_json::json!({
            "method": "POST",
            "path": "/accounts/{accountId}/balance",
            "parameters": [
                { "name": "accountId", "type": "string", "required": true },
                { "name": "amount", "type": "number" },
                { "name": "tags", "type": "array" },
            ],
        }),
        serde_json::json!({
            "method": "GET",
            "path": "/rates/{currency}/{day}",
            "parameters": [{ "name": "live", "type": "boolean" }, { "name": "filter", "type": "object" }],
        }),
        serde_json::json!({ "method": "DELETE", "path": "/items/{id}" }),
    ];
    definitions
        .into_iter()
        .map(|definition| serde_json::from_value(definition).expect("the fixed definitions are valid"))
        .collect()
}

/// A deterministic stand-in for OS randomness (ephemeral keys and nonces of sealed bodies in the
/// envelope target): a counter run through SplitMix64.
#[derive(Debug)]
pub struct CounterRng(pub u64);

impl midship_signing::rand_core::RngCore for CounterRng {
    fn next_u32(&mut self) -> u32 {
        self.next_u64() as u32
    }

    fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    fn fill_bytes(&mut self, dest: &mut [u8]) {
        for chunk in dest.chunks_mut(8) {
            chunk.copy_from_slice(&self.next_u64().to_le_bytes()[..chunk.len()]);
        }
    }

    fn try_fill_bytes(&mut self, dest: &mut [u8]) -> Result<(), midship_signing::rand_core::Error> {
        self.fill_bytes(dest);
        Ok(())
    }
}

impl midship_signing::rand_core::CryptoRng for CounterRng {}

/// What every decoded analytics batch must satisfy, whichever form it came in: never more events
/// than allowed, each placed within the window around the receive time, stored payloads that
/// read back as the same events, and a crash group for every failure.
pub fn check_analytics_batch(body: &[u8]) {
    use midship_analytics::event::{self, MAX_BATCH_EVENTS, MAX_EVENT_AGE_MS, MAX_FUTURE_SKEW_MS};
    use midship_analytics::fingerprint;

    let Ok(batch) = event::decode_batch(body, &uploader(), NOW_MS) else {
        return;
    };
    let total = batch.events.len() + batch.rejected.len();
    assert!(total <= MAX_BATCH_EVENTS);
    assert!(batch.rejected.windows(2).all(|pair| pair[0].index < pair[1].index));
    assert!(batch.rejected.iter().all(|rejected| rejected.index < total));
    for kept in &batch.events {
        assert!((NOW_MS - MAX_EVENT_AGE_MS..=NOW_MS + MAX_FUTURE_SKEW_MS).contains(&kept.time), "{kept:?}");
        assert!(kept.client_time.is_none() || kept.time == NOW_MS, "{kept:?}");
        if let Some((kind, failure)) = kept.payload.failure() {
            assert_eq!(fingerprint::fingerprint(kind, failure).len(), 32);
            let _ = fingerprint::title(failure);
        }
    }
    let stored = event::encode_stored(&batch.events);
    let read_back = event::decode_stored(&stored).expect("stored events read back");
    assert!(event::same_events(&batch.events, &read_back), "{:?} != {read_back:?}", batch.events);
}
