//! Device credentials: the secret a device gets when it registers, so that later calls prove
//! which device makes them, not only which app (the app's secret is in every copy of the app).
//!
//! A credential is derived, not stored: the lower-case hex HMAC-SHA256, keyed with the
//! workspace's device key (a server-only secret that never leaves Midship), of
//!
//! ```text
//! midship-device-credential\n{workspace_id}\n{device_id}
//! ```
//!
//! The device uses the 64 hex characters as ASCII key bytes, as it does the app's secret. Only a
//! holder of the device key can compute one, so a verifier needs no per-device row, and nothing
//! an attacker reads from an app binary lets them act as a device that registered.

use hmac::{Hmac, Mac};
use sha2::Sha256;

const DOMAIN: &[u8] = b"midship-device-credential\n";

/// The credential of `device_id` in `workspace_id` under `device_key`.
pub fn derive(device_key: &[u8], workspace_id: &str, device_id: &str) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(device_key).expect("HMAC takes keys of any length");
    mac.update(DOMAIN);
    mac.update(workspace_id.as_bytes());
    mac.update(b"\n");
    mac.update(device_id.as_bytes());
    hex::encode(mac.finalize().into_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_the_documented_example() {
        let device_key = b"6a1f0c9e8d7b6a5f4e3d2c1b0a99887766554433221100ffeeddccbbaa998877";
        assert_eq!(
            derive(device_key, "01HV7Z3KA4N6P0WB", "01HV7Z3KB8C2D4E6"),
            "4f1f8691c7fc2f95132e0d5273b4f2b57693df96bb72cd36f30ed2dcabdef818"
        );
        assert_ne!(
            derive(device_key, "01HV7Z3KA4N6P0WB", "01HV7Z3KB8C2D4E7"),
            derive(device_key, "01HV7Z3KA4N6P0WB", "01HV7Z3KB8C2D4E6")
        );
        assert_ne!(
            derive(device_key, "01HV7Z3KA4N6P0WC", "01HV7Z3KB8C2D4E6"),
            derive(device_key, "01HV7Z3KA4N6P0WB", "01HV7Z3KB8C2D4E6")
        );
    }
}
