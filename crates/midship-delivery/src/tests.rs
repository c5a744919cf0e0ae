//! The service over a real SQLite store with a manual clock: capped and time-window stages,
//! client version ranges, mini programs, and a cap that survives a restart.

use std::sync::Arc;

use bytes::Bytes;
use midship_control::{ControlPlane, ControlSettings, NewApp};
use midship_core::{ManualClock, Principal};
use midship_package::{Files, write_zip};
use midship_protocol::calls::InstalledPackages;
use midship_storage::Storage;
use midship_sync::{SyncService, SyncSettings};
use midship_targeting::DeviceContext;
use serde_json::{Value, json};

use crate::{DeliveryService, DeliverySettings, LocalBlobStore, UploadRequest};

const T0: i64 = 1_795_313_234_000;
const HOUR: i64 = 3_600_000;

struct Fixture {
    storage: Arc<dyn Storage>,
    control: ControlPlane,
    clock: Arc<ManualClock>,
    admin: Principal,
    workspace_id: String,
    directory: tempfile::TempDir,
    delivery: DeliveryService,
}

fn service(control: &ControlPlane, directory: &std::path::Path) -> DeliveryService {
    let sync = SyncService::new(control.clone(), SyncSettings::default());
    let blobs = Arc::new(LocalBlobStore::new(directory.join("packages")));
    DeliveryService::new(control.clone(), sync, blobs, DeliverySettings::default())
}

async fn fixture() -> Fixture {
    let directory = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", directory.path().join("midship.db").display());
    let storage: Arc<dyn Storage> = Arc::new(midship_storage_sqlite::open_throwaway(&url).await.unwrap());
    let clock = Arc::new(ManualClock::new(T0));
    let control = ControlPlane::new(storage.clone(), clock.clone(), ControlSettings::default());
    let issued = control.bootstrap(|_| Ok(())).await.unwrap().unwrap();
    let admin = control.authenticate(&issued.token).await.unwrap();
    let created = control.create_app(&admin, NewApp { name: "transit".into(), ..NewApp::default() }).await.unwrap();
    let workspace_id = created.workspaces[0].workspace_id.clone();
    let delivery = service(&control, directory.path());
    Fixture { storage, control, clock, admin, workspace_id, directory, delivery }
}

fn zip(app_id: &str, version: &str, client_version: Option<Value>) -> Bytes {
    let mut manifest =
        json!({ "app_id": app_id, "version": version, "vhost": "https://h5.example.com", "main_url": "index.html" });
    if let Some(range) = client_version {
        manifest["client_version"] = range;
    }
    let files = Files::from([
        ("manifest.json".to_owned(), manifest.to_string().into_bytes()),
        ("index.html".to_owned(), format!("<html>{version}</html>").into_bytes()),
    ]);
    Bytes::from(write_zip(&files))
}

fn device(device_id: &str, app_version: &str) -> DeviceContext {
    DeviceContext {
        device_id: Some(device_id.into()),
        platform: Some("android".into()),
        app_version: Some(app_version.into()),
        ..DeviceContext::default()
    }
}

impl Fixture {
    async fn upload(&self, kind: &str, bytes: Bytes) -> String {
        let request = UploadRequest { kind: kind.into(), ..UploadRequest::default() };
        self.delivery.upload(&self.admin, &self.workspace_id, request, bytes).await.unwrap().package.package_id
    }

    async fn release(&self, package_id: &str, definition: Value) -> String {
        let definition = serde_json::from_value(definition).unwrap();
        let summary =
            self.delivery.create_release(&self.admin, &self.workspace_id, package_id, definition).await.unwrap();
        summary.release.release_id
    }

    async fn offered_h5(&self, service: &DeliveryService, device: &DeviceContext) -> Vec<String> {
        let answer = service.check(&self.workspace_id, device, &InstalledPackages::default()).await.unwrap();
        answer
            .h5
            .iter()
            .chain(&answer.mini_programs)
            .map(|offer| format!("{}@{}", offer.app_id, offer.version))
            .collect()
    }
}

#[tokio::test]
async fn a_capped_release_reaches_only_its_first_devices_even_after_a_restart() {
    let fixture = fixture().await;
    let package = fixture.upload("h5", zip("10000001", "1.0.0", None)).await;
    let release = fixture.release(&package, json!({ "stage": { "kind": "capped", "max_devices": 2 } })).await;
    for device_id in ["a", "b"] {
        assert_eq!(fixture.offered_h5(&fixture.delivery, &device(device_id, "1.0.0")).await, ["10000001@1.0.0"]);
    }
    assert!(fixture.offered_h5(&fixture.delivery, &device("c", "1.0.0")).await.is_empty(), "the cap is full");
    assert_eq!(fixture.offered_h5(&fixture.delivery, &device("a", "1.0.0")).await.len(), 1, "a keeps its offer");
    fixture.delivery.flush_progress().await.unwrap();

    // A new node (or a restart) rebuilds the cap from the recorded offers.
    let restarted = service(&fixture.control, fixture.directory.path());
    assert!(fixture.offered_h5(&restarted, &device("d", "1.0.0")).await.is_empty());
    assert_eq!(fixture.offered_h5(&restarted, &device("b", "1.0.0")).await.len(), 1);
    restarted.flush_progress().await.unwrap();
    let stats = fixture.delivery.release(&fixture.admin, &fixture.workspace_id, &release).await.unwrap().stats;
    assert_eq!((stats["checked"], stats["offered"]), (4, 2), "{stats:?}");
}

#[tokio::test]
async fn time_windows_client_ranges_and_mini_programs() {
    let fixture = fixture().await;
    let ranged = fixture.upload("h5", zip("10000002", "3.0.0", Some(json!({ "min": "2.0.0", "max": "2.9" })))).await;
    fixture
        .release(&ranged, json!({ "stage": { "kind": "time_window", "start_at": T0 + HOUR, "end_at": T0 + 2 * HOUR } }))
        .await;
    let mini = fixture.upload("mini_program", zip("2000000000000001", "1.2.0", None)).await;
    fixture
        .release(&mini, json!({ "stage": { "kind": "official" }, "rules": { "cities": { "exclude": ["Lyon"] } } }))
        .await;

    let inside = device("a", "2.5.0");
    assert_eq!(
        fixture.offered_h5(&fixture.delivery, &inside).await,
        ["2000000000000001@1.2.0"],
        "the window has not opened"
    );
    fixture.clock.advance_ms(HOUR);
    assert_eq!(fixture.offered_h5(&fixture.delivery, &inside).await, ["10000002@3.0.0", "2000000000000001@1.2.0"]);
    assert_eq!(fixture.offered_h5(&fixture.delivery, &device("b", "3.0.0")).await.len(), 1, "outside the client range");
    let in_lyon = DeviceContext { city: Some("Lyon".into()), ..device("c", "2.5.0") };
    assert_eq!(fixture.offered_h5(&fixture.delivery, &in_lyon).await, ["10000002@3.0.0"]);
    fixture.clock.advance_ms(HOUR);
    assert_eq!(fixture.offered_h5(&fixture.delivery, &inside).await.len(), 1, "the window has closed");

    // Mini program ids have 16 digits.
    let request = UploadRequest { kind: "mini_program".into(), ..UploadRequest::default() };
    let refused =
        fixture.delivery.upload(&fixture.admin, &fixture.workspace_id, request, zip("10000003", "1.0.0", None)).await;
    assert!(refused.unwrap_err().to_string().contains("16 digits"));
    assert!(fixture.storage.list_delivery_packages(&fixture.workspace_id).await.unwrap().len() == 2);
}

#[tokio::test]
async fn a_workspace_with_a_key_but_no_release_is_not_rebuilt_on_every_refresh() {
    let fixture = fixture().await;
    let delivery = &fixture.delivery;
    delivery.list_signing_keys(&fixture.admin, &fixture.workspace_id).await.unwrap();
    let nothing = delivery.check(&fixture.workspace_id, &device("d1", "1.0.0"), &InstalledPackages::default()).await;
    assert_eq!(nothing.unwrap(), midship_protocol::calls::DeliveryCheckResponse::default());
    assert_eq!(delivery.refresh_changed().await.unwrap(), 0, "the empty snapshot keeps the key's revision");
    delivery.rotate_signing_key(&fixture.admin, &fixture.workspace_id).await.unwrap();
    delivery.check(&fixture.workspace_id, &device("d1", "1.0.0"), &InstalledPackages::default()).await.unwrap();
    let keys = delivery.list_signing_keys(&fixture.admin, &fixture.workspace_id).await.unwrap();
    assert_eq!(keys.all().len(), 2);
    assert_eq!(delivery.refresh_changed().await.unwrap(), 0);
}
