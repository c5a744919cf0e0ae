//! The suite's test of secrets at rest: sealed under the key-encryption key, unreadable without
//! it, and resealed when the key is rotated.

use std::sync::Arc;

use midship_core::people::{PersonRecord, TotpEnrollment};

use super::{Harness, T0, audit, bootstrapped, create_app, person};
use crate::sealing::{KeyEncryptionKey, SealError, SecretKeyring};
use crate::{PushDefinitionKind, PushDefinitionRecord, ResealReport, SigningKeyRecord, Storage, StorageError};

const APP: &str = "APP0000000000001";
const WORKSPACE: &str = "APP0000000000001W1";
const CHANNEL: &str = r#"{"kind":"fcm","service_account":"-----BEGIN PRIVATE KEY-----"}"#;

fn keyring(current: &str, open_only: &[&str]) -> Arc<SecretKeyring> {
    let key = |text: &str| KeyEncryptionKey::parse(text).expect("a generated key parses");
    Arc::new(SecretKeyring::new(key(current), open_only.iter().map(|text| key(text)).collect()))
}

/// Every kind of stored secret, read back in plain.
async fn read_secrets(storage: &Arc<dyn Storage>) -> Result<Vec<String>, StorageError> {
    let mut secrets: Vec<String> = storage.list_app_keys(APP).await?.into_iter().map(|key| key.secret).collect();
    secrets.push(storage.envelope_key(WORKSPACE, "sm2", "another candidate", T0).await?);
    let signing_key = SigningKeyRecord {
        workspace_id: WORKSPACE.into(),
        generation: 1,
        algorithm: "ed25519".into(),
        secret: "another signing secret".into(),
        public_key: "another public key".into(),
        created_at: T0,
        retired_at: None,
    };
    secrets.extend(storage.delivery_signing_keys(&signing_key).await?.into_iter().map(|key| key.secret));
    let channels = storage.list_push_definitions(WORKSPACE, PushDefinitionKind::Channel).await?;
    secrets.extend(channels.into_iter().map(|channel| channel.definition));
    let person = storage.get_person("PERSON0000000001").await?;
    secrets.extend(person.and_then(|person| person.totp).map(|totp| totp.secret));
    Ok(secrets)
}

pub async fn secrets_are_sealed_and_resealed_under_a_new_key(harness: &Harness) {
    let old_key = KeyEncryptionKey::generate_text();
    let new_key = KeyEncryptionKey::generate_text();
    let storage = (harness.reopen)(keyring(&old_key, &[])).await.expect("open with the old key");
    bootstrapped(&storage).await;
    create_app(&storage, APP, "One", T0).await;
    storage.envelope_key(WORKSPACE, "sm2", "envelope secret", T0).await.unwrap();
    let signing_key = SigningKeyRecord {
        workspace_id: WORKSPACE.into(),
        generation: 1,
        algorithm: "ed25519".into(),
        secret: "signing secret".into(),
        public_key: "signing public key".into(),
        created_at: T0,
        retired_at: None,
    };
    storage.delivery_signing_keys(&signing_key).await.unwrap();
    let channel = PushDefinitionRecord {
        workspace_id: WORKSPACE.into(),
        kind: PushDefinitionKind::Channel,
        name: "fcm".into(),
        definition: CHANNEL.into(),
        updated_at: T0,
    };
    storage.put_push_definition(&channel, &audit("push.channel.set", "fcm", T0)).await.unwrap();
    let totp = TotpEnrollment { secret: "JBSWY3DPEHPK3PXP".into(), enabled_at: None, last_step: 0 };
    let enrolled = PersonRecord { totp: Some(totp), ..person("PERSON0000000001", "ana") };
    storage.create_person(&enrolled, &audit("person.create", "PERSON0000000001", T0)).await.unwrap();
    // Someone without an authenticator app has nothing to seal.
    storage
        .create_person(&person("PERSON0000000002", "bo"), &audit("person.create", "PERSON0000000002", T0))
        .await
        .unwrap();
    let plain = read_secrets(&storage).await.unwrap();
    assert_eq!(
        plain[1..],
        ["envelope secret".to_owned(), "signing secret".into(), CHANNEL.into(), "JBSWY3DPEHPK3PXP".into()]
    );
    let report = storage.reseal_secrets().await.unwrap();
    assert_eq!(report, ResealReport { current: 5, resealed: 0 }, "every secret was sealed on its way in");

    // A node with only the new key cannot read what the old one sealed, and says which key it lacks.
    let without_old = (harness.reopen)(keyring(&new_key, &[])).await.unwrap();
    let old_key_id = KeyEncryptionKey::parse(&old_key).unwrap().id().to_owned();
    match read_secrets(&without_old).await {
        Err(StorageError::Sealed { source: SealError::UnknownKey { key_id }, .. }) => assert_eq!(key_id, old_key_id),
        other => panic!("expected an unknown key, got {other:?}"),
    }
    assert!(matches!(without_old.reseal_secrets().await, Err(StorageError::Sealed { .. })));

    // Rotation: the new key current, the old one only opening; resealing moves every secret over.
    let rotated = (harness.reopen)(keyring(&new_key, &[&old_key])).await.unwrap();
    assert_eq!(rotated.reseal_secrets().await.unwrap(), ResealReport { current: 0, resealed: 5 });
    assert_eq!(rotated.reseal_secrets().await.unwrap(), ResealReport { current: 5, resealed: 0 });
    assert_eq!(read_secrets(&without_old).await.unwrap(), plain, "the old key is no longer needed");
    for store in [storage, without_old, rotated] {
        store.close().await;
    }
}
