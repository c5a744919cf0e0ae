//! The suite's delivery tests.

use std::sync::Arc;

use super::{T0, audit, bootstrapped, create_app};
use crate::{
    DeliveryEventKind, DeliveryEventRecord, PackageKind, PackageRecord, PatchRecord, ReleaseRecord, ReleaseStatus,
    SigningKeyRecord, Storage, StorageError,
};

const WORKSPACE: &str = "APP0000000000001W1";

fn package(package_id: &str, version: &str, at: i64) -> PackageRecord {
    PackageRecord {
        package_id: package_id.into(),
        workspace_id: WORKSPACE.into(),
        kind: PackageKind::H5,
        app_id: "12345678".into(),
        version: version.into(),
        blob_sha256: Some(format!("{package_id}-sha")),
        size: 1000,
        details: "{}".into(),
        manifest: "{\"files\":[]}".into(),
        signature: "c2ln".into(),
        created_at: at,
    }
}

fn release(release_id: &str, package_id: &str, at: i64) -> ReleaseRecord {
    ReleaseRecord {
        release_id: release_id.into(),
        workspace_id: WORKSPACE.into(),
        package_id: package_id.into(),
        definition: "{}".into(),
        status: ReleaseStatus::Active,
        created_at: at,
        updated_at: at,
    }
}

fn event(release_id: &str, device_id: &str, kind: DeliveryEventKind) -> DeliveryEventRecord {
    DeliveryEventRecord { release_id: release_id.into(), device_id: device_id.into(), kind, at: T0, detail: None }
}

pub async fn delivery_packages_patches_and_releases_are_stored(storage: Arc<dyn Storage>) {
    bootstrapped(&storage).await;
    create_app(&storage, "APP0000000000001", "One", T0).await;
    storage.insert_delivery_package(&package("PKG1", "1.0.0", T0), &audit("package.upload", "PKG1", T0)).await.unwrap();
    storage
        .insert_delivery_package(&package("PKG2", "1.0.1", T0 + 1), &audit("package.upload", "PKG2", T0))
        .await
        .unwrap();
    let again =
        storage.insert_delivery_package(&package("PKG3", "1.0.1", T0 + 2), &audit("package.upload", "PKG3", T0)).await;
    assert!(matches!(again, Err(StorageError::Conflict { .. })), "{again:?}");
    let packages = storage.list_delivery_packages(WORKSPACE).await.unwrap();
    assert_eq!(packages.iter().map(|package| package.package_id.as_str()).collect::<Vec<_>>(), ["PKG1", "PKG2"]);
    assert_eq!(storage.get_delivery_package("PKG2").await.unwrap(), Some(package("PKG2", "1.0.1", T0 + 1)));
    assert_eq!(storage.get_delivery_package("PKG9").await.unwrap(), None);

    let mut patch = PatchRecord {
        from_package_id: "PKG1".into(),
        to_package_id: "PKG2".into(),
        blob_sha256: "patch-sha".into(),
        size: 17,
        created_at: T0,
    };
    storage.put_delivery_patch(&patch).await.unwrap();
    patch.size = 16;
    storage.put_delivery_patch(&patch).await.unwrap();
    assert_eq!(storage.list_delivery_patches(WORKSPACE).await.unwrap(), vec![patch]);

    assert_eq!(storage.delivery_revision(WORKSPACE).await.unwrap(), 0);
    storage.create_delivery_release(&release("REL1", "PKG1", T0), &audit("release.create", "REL1", T0)).await.unwrap();
    storage
        .create_delivery_release(&release("REL2", "PKG2", T0 + 5), &audit("release.create", "REL2", T0))
        .await
        .unwrap();
    let mut paused = release("REL1", "PKG1", T0);
    paused.status = ReleaseStatus::Paused;
    paused.definition = "{\"stage\":1}".into();
    paused.updated_at = T0 + 9;
    storage.update_delivery_release(&paused, &audit("release.pause", "REL1", T0 + 9)).await.unwrap();
    assert_eq!(storage.get_delivery_release("REL1").await.unwrap(), Some(paused));
    assert_eq!(storage.delivery_revision(WORKSPACE).await.unwrap(), T0 + 9);
    let listed = storage.list_delivery_releases(WORKSPACE).await.unwrap();
    assert_eq!(listed.iter().map(|release| release.release_id.as_str()).collect::<Vec<_>>(), ["REL2", "REL1"]);
    let unknown =
        storage.update_delivery_release(&release("REL9", "PKG1", T0), &audit("release.end", "REL9", T0)).await;
    assert!(matches!(unknown, Err(StorageError::NotFound { .. })), "{unknown:?}");
}

pub async fn delivery_events_count_each_device_once(storage: Arc<dyn Storage>) {
    bootstrapped(&storage).await;
    create_app(&storage, "APP0000000000001", "One", T0).await;
    storage.insert_delivery_package(&package("PKG1", "1.0.0", T0), &audit("package.upload", "PKG1", T0)).await.unwrap();
    storage.create_delivery_release(&release("REL1", "PKG1", T0), &audit("release.create", "REL1", T0)).await.unwrap();
    let mut events: Vec<_> =
        (0..1500).map(|index| event("REL1", &format!("dev-{index}"), DeliveryEventKind::Checked)).collect();
    events.push(event("REL1", "dev-1", DeliveryEventKind::Offered));
    events.push(event("REL1", "dev-2", DeliveryEventKind::Offered));
    storage.record_delivery_events(&events).await.unwrap();
    storage.record_delivery_events(&events[..10]).await.unwrap();
    let mut failed = event("REL1", "dev-1", DeliveryEventKind::Failed);
    failed.detail = Some("sha256 mismatch".into());
    storage.record_delivery_events(&[failed]).await.unwrap();
    let stats = storage.delivery_stats("REL1").await.unwrap();
    assert_eq!(
        stats,
        vec![(DeliveryEventKind::Checked, 1500), (DeliveryEventKind::Failed, 1), (DeliveryEventKind::Offered, 2)]
    );
    let mut offered = storage.offered_devices("REL1").await.unwrap();
    offered.sort();
    assert_eq!(offered, ["dev-1", "dev-2"]);
    assert_eq!(storage.delivery_stats("REL9").await.unwrap(), vec![]);
}

pub async fn delivery_signing_keys_are_created_once(storage: Arc<dyn Storage>) {
    bootstrapped(&storage).await;
    create_app(&storage, "APP0000000000001", "One", T0).await;
    let key = |generation: i64, secret: &str| SigningKeyRecord {
        workspace_id: WORKSPACE.into(),
        generation,
        algorithm: "ed25519".into(),
        secret: secret.into(),
        public_key: format!("{secret}-public"),
        created_at: T0 + generation,
        retired_at: None,
    };
    let revision = storage.delivery_revision(WORKSPACE).await.unwrap();
    assert_eq!(storage.delivery_signing_keys(&key(1, "first")).await.unwrap(), [key(1, "first")]);
    assert_eq!(storage.delivery_signing_keys(&key(1, "second")).await.unwrap(), [key(1, "first")]);
    assert!(storage.delivery_revision(WORKSPACE).await.unwrap() > revision, "a new key changes the offers");

    // Rotation adds a generation; the same generation twice is a conflict.
    let rotate = audit("delivery.signing_key.rotate", WORKSPACE, T0);
    storage.add_delivery_signing_key(&key(2, "rotated"), &rotate).await.unwrap();
    let racing = storage.add_delivery_signing_key(&key(2, "racing"), &rotate).await;
    assert!(matches!(racing, Err(StorageError::Conflict { .. })), "{racing:?}");
    assert_eq!(storage.delivery_signing_keys(&key(1, "third")).await.unwrap(), [key(1, "first"), key(2, "rotated")]);

    // Retiring is once; the revision moves so every node signs offers again.
    let retire = audit("delivery.signing_key.retire", WORKSPACE, T0 + 10);
    storage.retire_delivery_signing_key(WORKSPACE, 1, T0 + 10, &retire).await.unwrap();
    for generation in [1, 7] {
        let again = storage.retire_delivery_signing_key(WORKSPACE, generation, T0 + 10, &retire).await;
        assert!(matches!(again, Err(StorageError::NotFound { .. })), "{again:?}");
    }
    let keys = storage.delivery_signing_keys(&key(1, "fourth")).await.unwrap();
    assert_eq!(keys[0].retired_at, Some(T0 + 10));
    assert_eq!(keys[1].retired_at, None);
    assert_eq!(storage.delivery_revision(WORKSPACE).await.unwrap(), T0 + 10);
}
