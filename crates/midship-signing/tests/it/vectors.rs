//! The shared test vectors (`conformance/signing-vectors.json`), which the Kotlin, Python and
//! TypeScript clients' tests read too: every implementation must produce these bytes.

use midship_signing::client::{self, SignType, SigningInput};
use midship_signing::envelope::{self, GatewayKey, Suite};
use midship_signing::{connect_token, device_credential, proxy};
use serde_json::Value;

fn vectors() -> Value {
    let text = include_str!(concat!(env!("CARGO_MANIFEST_DIR"), "/../../conformance/signing-vectors.json"));
    serde_json::from_str(text).expect("the vectors file is JSON")
}

fn text<'a>(value: &'a Value, field: &str) -> &'a str {
    value[field].as_str().unwrap_or_else(|| panic!("{field} is a string in {value}"))
}

#[test]
fn request_signatures_match_the_shared_vectors() {
    let vectors = vectors();
    let cases = vectors["request_signatures"].as_array().unwrap();
    assert!(cases.len() >= 8, "every documented example is a case");
    for case in cases {
        let sign_type = SignType::parse(text(case, "sign_type")).unwrap();
        let input = SigningInput {
            method: text(case, "method"),
            operation_type: text(case, "operation_type"),
            app_id: text(case, "app_id"),
            workspace_id: text(case, "workspace_id"),
            device_id: case["device_id"].as_str().unwrap_or(""),
            user_id: case["user_id"].as_str().unwrap_or(""),
            timestamp: text(case, "ts"),
            nonce: text(case, "nonce"),
            body: text(case, "body").as_bytes(),
        };
        let signing_string = if sign_type.is_device() { input.device_signing_string() } else { input.signing_string() };
        assert_eq!(signing_string, text(case, "signing_string"), "{}", text(case, "name"));
        let signature = client::sign(sign_type, text(case, "key").as_bytes(), &input);
        assert_eq!(signature, text(case, "sign"), "{}", text(case, "name"));
    }
}

#[test]
fn device_credential_connect_token_and_proxy_signature_match_the_shared_vectors() {
    let vectors = vectors();
    let credential = &vectors["device_credential"];
    assert_eq!(
        device_credential::derive(
            text(credential, "device_key").as_bytes(),
            text(credential, "workspace_id"),
            text(credential, "device_id"),
        ),
        text(credential, "credential")
    );

    let token = &vectors["connect_token"];
    let claims: connect_token::ConnectClaims = serde_json::from_str(text(token, "claims_json")).unwrap();
    assert_eq!(connect_token::issue(text(token, "token_key").as_bytes(), &claims), text(token, "token"));

    let signed = &vectors["proxy_signature"];
    let t: i64 = text(signed, "t").parse().unwrap();
    let body = text(signed, "body").as_bytes();
    let (method, path) = (text(signed, "method"), text(signed, "path_and_query"));
    assert_eq!(proxy::string_to_sign(method, path, text(signed, "t"), body), text(signed, "signing_string"));
    let header = proxy::sign_hmac(text(signed, "secret").as_bytes(), method, path, t, body);
    assert_eq!(header, text(signed, "header"));
}

#[test]
fn the_gateway_opens_and_seals_the_shared_envelope_vectors() {
    let vectors = vectors();
    let envelope_vectors = &vectors["envelope"];
    let gateway_secret = hex::decode(text(envelope_vectors, "gateway_secret_scalar")).unwrap();
    for case in envelope_vectors["suites"].as_array().unwrap() {
        let suite = Suite::parse(text(case, "suite")).unwrap();
        let gateway_key = GatewayKey::from_secret_bytes(suite, &gateway_secret).unwrap();
        assert_eq!(gateway_key.public_key_base64(), text(case, "gateway_public_key"));
        let sealed_request = hex::decode(text(case, "sealed_request_hex")).unwrap();
        let (plaintext, session) =
            envelope::open_request(&gateway_key, text(case, "encrypt_key"), &sealed_request).unwrap();
        assert_eq!(plaintext, text(envelope_vectors, "request_body").as_bytes());
        let nonce: [u8; 12] = hex::decode(text(envelope_vectors, "response_nonce")).unwrap().try_into().unwrap();
        let sealed_response =
            envelope::seal_response(&session, text(envelope_vectors, "response_body").as_bytes(), nonce);
        assert_eq!(hex::encode(sealed_response), text(case, "sealed_response_hex"));
    }
}
