//! The crate as its callers use it: the gateway, the SDK and a backend, through the public API only.

mod vectors;

use midship_signing::client::{self, SignType, SigningInput};
use midship_signing::envelope::{self, GatewayKey, Suite};
use midship_signing::proxy;
use midship_signing::rand_core::{OsRng, RngCore};

#[test]
fn a_signed_encrypted_call_passes_the_gateway_and_reaches_the_backend() {
    let app_secret = b"3b43251287c3a391e6dc6e0003d225fd43e52035f606a3100b15de4b2755acc0";
    let old_secret = b"secret-in-its-rotation-grace-period";
    let gateway_key = GatewayKey::generate(Suite::Sm2Sm4Gcm, &mut OsRng);

    // The app seals its body to the gateway's published key, then signs the sealed bytes.
    let (encrypt_key, sealed, client_session) = envelope::seal_request(
        Suite::Sm2Sm4Gcm,
        &gateway_key.public_key_base64(),
        br#"{"accountId":"A-42"}"#,
        &mut OsRng,
    )
    .expect("the published key is valid");
    let input = SigningInput {
        method: "POST",
        operation_type: "com.bank.account.balance",
        app_id: "01HV7Z3K9M2Q8RXA",
        workspace_id: "01HV7Z3KA4N6P0WB",
        device_id: "",
        user_id: "",
        timestamp: "1717000000000",
        nonce: "",
        body: &sealed,
    };
    let signature = client::sign(SignType::HmacSm3, app_secret, &input);

    // The gateway checks the signature against every valid key, then opens the body.
    let sign_type = SignType::parse("HMAC-SM3").expect("a known sign type");
    assert_eq!(client::verify(sign_type, &[old_secret, app_secret], &input, &signature), Some(1));
    let suite = Suite::parse("sm2-sm4gcm").expect("a known suite");
    assert_eq!(suite, gateway_key.suite());
    let (body, gateway_session) = envelope::open_request(&gateway_key, &encrypt_key, &sealed).expect("it opens");
    assert_eq!(body, br#"{"accountId":"A-42"}"#);

    // It forwards the plain body with the proxy signature, which the backend verifies.
    let header = proxy::sign_hmac(b"group-proxy-secret", "POST", "/accounts/balance", 1_717_000_000_050, &body);
    proxy::verify_hmac(b"group-proxy-secret", &header, "POST", "/accounts/balance", &body, 1_717_000_000_100, 300_000)
        .expect("the backend accepts the gateway's call");

    // The backend's answer goes back sealed with the same session.
    let mut nonce = [0; envelope::NONCE_LEN];
    OsRng.fill_bytes(&mut nonce);
    let response = envelope::seal_response(&gateway_session, br#"{"balance":"12.00"}"#, nonce);
    assert_eq!(envelope::open_response(&client_session, &response).expect("it opens"), br#"{"balance":"12.00"}"#);
}
