//! Sealed request bodies (`Encrypt-Suite`, `Encrypt-Key`): the gateway opens what any client sent.
//! Drives `midship_signing::envelope::open_request`. The first byte picks the suite (bit 0) and
//! whether the rest is also sealed and opened (bit 1, off mostly: two key agreements more), the
//! second the length of the `Encrypt-Key` text that follows; the rest is the sealed body.
//!
//! Invariants: never a panic; a body sealed to the gateway's key opens to what was sealed, and
//! its response opens on the client side.

#![no_main]

use std::sync::LazyLock;

use libfuzzer_sys::fuzz_target;
use midship_fuzz::CounterRng;
use midship_signing::envelope::{self, GatewayKey, NONCE_LEN, Suite};

static KEYS: LazyLock<Vec<GatewayKey>> = LazyLock::new(|| Suite::ALL.map(midship_fuzz::gateway_key).to_vec());

fuzz_target!(|data: &[u8]| {
    let [flags, key_len, rest @ ..] = data else {
        return;
    };
    let gateway = &KEYS[usize::from(flags & 1)];
    let (key, sealed) = rest.split_at(usize::from(*key_len).min(rest.len()));
    let key = String::from_utf8_lossy(key);
    if let Ok((plain, session)) = envelope::open_request(gateway, &key, sealed) {
        let response = envelope::seal_response(&session, &plain, [1; NONCE_LEN]);
        assert!(envelope::open_response(&session, &response).is_ok());
    }
    if flags & 2 == 0 {
        return;
    }

    // The same bytes as a plaintext, sealed the way a client does, must open unchanged.
    let mut rng = CounterRng(u64::from(*flags));
    let (client_key, sealed, client_session) =
        envelope::seal_request(gateway.suite(), &gateway.public_key_base64(), rest, &mut rng)
            .expect("the gateway's own public key is valid");
    let (opened, session) = envelope::open_request(gateway, &client_key, &sealed).expect("a sealed body opens");
    assert_eq!(opened, rest);
    let response = envelope::seal_response(&session, rest, [2; NONCE_LEN]);
    assert_eq!(envelope::open_response(&client_session, &response).expect("the response opens"), rest);
});
