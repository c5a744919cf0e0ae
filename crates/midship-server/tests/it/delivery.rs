//! Delivery end to end: packages uploaded and released through the admin API, devices checking
//! through the gateway with the SDK's delivery client, which downloads, verifies and applies.

use std::time::Duration;

use midship_api::{CreateAppRequest, ReleaseView};
use midship_package::{ArchiveLimits, Files, write_zip};
use midship_protocol::calls::{DeliveryCheckRequest, DeliveryCheckResponse, InstalledPackages};
use midship_sdk::delivery::{DeliveryClient, DeliverySettings};
use midship_sdk::rpc::{DeviceIdentity, RpcClient, RpcSettings};
use serde_json::{Value, json};

use crate::TestServer;

const H5_APP: &str = "20000001";

struct Fixture {
    server: TestServer,
    app_id: String,
    workspace: String,
    secret: String,
    public_keys: Vec<String>,
    downloads: tempfile::TempDir,
}

async fn fixture() -> Fixture {
    let server = TestServer::start().await;
    let request = CreateAppRequest { name: "wallet".into(), platforms: vec![], workspaces: None };
    let created = server.admin().create_app(&request).await.unwrap();
    let workspace = created.workspaces[0].workspace_id.clone();
    let public_key = server.admin().delivery_signing_key(&workspace).await.unwrap().public_key;
    Fixture {
        server,
        app_id: created.app.app_id,
        workspace,
        secret: created.secret,
        public_keys: vec![public_key],
        downloads: tempfile::tempdir().unwrap(),
    }
}

/// An H5 package like a real one: a manifest, a page, a large script that changes a little
/// between versions, an image that does not, and a file that comes and goes.
fn h5_files(version: &str) -> Files {
    let script: String = (0..4000)
        .map(|line| format!("export function handler{line}(event) {{ return event.value * {line}; }}\n"))
        .collect();
    let mut files = Files::from([
        (
            "manifest.json".to_owned(),
            json!({
                "app_id": H5_APP, "version": version, "vhost": "https://20000001.h5app.example.com",
                "main_url": "/www/index.html", "install_mode": "wifi_only", "fallback_url": "https://m.example.com/wallet/",
            })
            .to_string()
            .into_bytes(),
        ),
        ("www/index.html".to_owned(), format!("<html><body data-version=\"{version}\"></body></html>").into_bytes()),
        ("www/app.js".to_owned(), format!("const VERSION = \"{version}\";\n{script}").into_bytes()),
        ("www/logo.png".to_owned(), (0..20_000u32).map(|value| (value * 7919 % 251) as u8).collect()),
    ]);
    if version == "1.0.0" {
        files.insert("www/legacy.js".into(), b"window.legacy = true;".to_vec());
    } else {
        files.insert("www/feature.js".into(), format!("window.feature = '{version}';").into_bytes());
    }
    files
}

impl Fixture {
    fn device(&self, device_id: &str, user_id: Option<&str>, platform: &str, app_version: &str) -> DeliveryClient {
        self.device_trusting(device_id, user_id, platform, app_version, self.public_keys.clone())
    }

    /// A device whose app ships `public_keys`.
    fn device_trusting(
        &self,
        device_id: &str,
        user_id: Option<&str>,
        platform: &str,
        app_version: &str,
        public_keys: Vec<String>,
    ) -> DeliveryClient {
        let mut settings = RpcSettings::new(&self.server.base_url, &self.app_id, &self.workspace, &self.secret);
        settings.retry_backoff = Duration::from_millis(5);
        let identity = DeviceIdentity {
            device_id: Some(device_id.into()),
            user_id: user_id.map(str::to_owned),
            platform: Some(platform.into()),
            app_version: Some(app_version.into()),
            ..DeviceIdentity::default()
        };
        let rpc = RpcClient::new(settings, identity).unwrap();
        let settings = DeliverySettings {
            public_keys,
            download_dir: self.downloads.path().join(device_id),
            limits: ArchiveLimits::default(),
        };
        DeliveryClient::new(rpc, settings).unwrap()
    }

    async fn upload_h5(&self, version: &str) -> midship_api::PackageView {
        self.server
            .admin()
            .upload_package(&self.workspace, &[("kind", "h5")], write_zip(&h5_files(version)))
            .await
            .unwrap()
    }

    async fn release(&self, definition: Value) -> ReleaseView {
        self.server.admin().create_release(&self.workspace, &definition).await.unwrap()
    }

    /// Waits until the release's statistics satisfy `done` (checks record progress on their own).
    async fn stats_when(&self, release_id: &str, done: impl Fn(&ReleaseView) -> bool) -> ReleaseView {
        let read = || async { self.server.admin().show_release(&self.workspace, release_id).await.unwrap() };
        midship_testkit::eventually("the release's statistics", read, done).await
    }
}

fn with_h5(version: &str) -> DeliveryCheckRequest {
    DeliveryCheckRequest {
        installed: InstalledPackages {
            h5: [(H5_APP.to_owned(), version.to_owned())].into(),
            ..InstalledPackages::default()
        },
        ..DeliveryCheckRequest::default()
    }
}

#[tokio::test]
async fn a_whitelisted_device_rebuilds_the_new_version_from_a_diff_and_an_official_release_reaches_everyone() {
    let fixture = fixture().await;
    let first = fixture.upload_h5("1.0.0").await;
    let second = fixture.upload_h5("1.1.0").await;
    assert_eq!(first.files, 5);
    let patch = &second.patches[0];
    assert_eq!(patch.from_version, "1.0.0");
    assert!(patch.ratio < 0.05, "a content diff is a small part of the package: {patch:?} of {}", second.size);

    let gray = fixture
        .release(json!({ "package_id": second.package_id, "stage": { "kind": "whitelist", "whitelist": { "user_ids": ["alice"] } } }))
        .await;
    assert_eq!(gray.status, "active");

    // Alice is on the whitelist: she gets 1.1.0 with a diff from the 1.0.0 she has.
    let alice = fixture.device("device-alice", Some("alice"), "android", "3.0.0");
    let answer = alice.check(&with_h5("1.0.0")).await.unwrap();
    let offer = answer.h5.first().expect("alice is offered the gray version").clone();
    assert_eq!((offer.version.as_str(), offer.details["install_mode"].as_str()), ("1.1.0", Some("wifi_only")));
    assert_eq!(offer.patch.as_ref().map(|patch| patch.from_version.as_str()), Some("1.0.0"));
    let installed = alice.install_zip(&offer, Some(&h5_files("1.0.0"))).await.unwrap();
    assert!(installed.from_patch, "the diff was used");
    assert_eq!(installed.files.as_ref(), Some(&h5_files("1.1.0")), "every file rebuilt byte for byte");
    assert_eq!(installed.manifest.files.len(), 5);

    // Bob is not: nothing for him.
    let bob = fixture.device("device-bob", Some("bob"), "ios", "3.0.0");
    assert_eq!(bob.check(&with_h5("1.0.0")).await.unwrap(), DeliveryCheckResponse::default());

    // A device whose files do not match 1.0.0 (a damaged install) falls back to the full package.
    let carol = fixture.device("device-carol", Some("alice"), "android", "3.0.0");
    let offer = carol.check(&with_h5("1.0.0")).await.unwrap().h5[0].clone();
    let mut damaged = h5_files("1.0.0");
    damaged.insert("www/app.js".into(), b"tampered".to_vec());
    let installed = carol.install_zip(&offer, Some(&damaged)).await.unwrap();
    assert!(!installed.from_patch);
    assert_eq!(installed.files, Some(h5_files("1.1.0")));

    let stats = fixture.stats_when(&gray.release_id, |release| release.stats["offered"] == 2).await;
    assert_eq!(stats.stats["checked"], 2, "{:?}", stats.stats);
    assert_eq!(stats.stats["downloaded"], 2);
    assert_eq!(stats.stats["installed"], 2);
    assert_eq!(stats.stats["failed"], 0);

    // The official release of the same package replaces the gray one and reaches Bob, and a
    // device with nothing installed downloads the full package.
    let official = fixture.release(json!({ "package_id": second.package_id, "stage": { "kind": "official" } })).await;
    let releases = fixture.server.admin().list_releases(&fixture.workspace).await.unwrap().items;
    assert_eq!(releases.iter().map(|release| release.status.as_str()).collect::<Vec<_>>(), ["active", "ended"]);
    let offer = bob.check(&with_h5("1.0.0")).await.unwrap().h5[0].clone();
    assert_eq!(offer.release_id, official.release_id);
    let fresh = fixture.device("device-dave", None, "harmony", "3.0.0");
    let offer = fresh.check(&DeliveryCheckRequest::default()).await.unwrap().h5[0].clone();
    assert!(offer.patch.is_none());
    let installed = fresh.install_zip(&offer, None).await.unwrap();
    assert_eq!(installed.files, Some(h5_files("1.1.0")));
    // Up to date: nothing more.
    assert_eq!(bob.check(&with_h5("1.1.0")).await.unwrap(), DeliveryCheckResponse::default());
}

#[tokio::test]
async fn hotpatches_roll_back_at_the_next_check_and_upgrades_carry_their_mode() {
    let fixture = fixture().await;
    let admin = fixture.server.admin();
    let patch_file = b"hotpatch-1 classes".repeat(100);
    let hotpatch = admin
        .upload_package(
            &fixture.workspace,
            &[("kind", "hotpatch"), ("platform", "android"), ("version", "1"), ("app_version", "2.0.0")],
            patch_file.clone(),
        )
        .await
        .unwrap();
    let release = fixture.release(json!({ "package_id": hotpatch.package_id, "stage": { "kind": "official" } })).await;

    let device = fixture.device("device-1", None, "android", "2.0.0");
    let offer =
        device.check(&DeliveryCheckRequest::default()).await.unwrap().hotpatch.expect("the hotpatch is offered");
    let installed = device.install_binary(&offer, None).await.unwrap();
    assert_eq!(installed.binary, Some(patch_file));
    let other_version = fixture.device("device-2", None, "android", "2.0.1");
    assert!(other_version.check(&DeliveryCheckRequest::default()).await.unwrap().hotpatch.is_none());

    // A second hotpatch for the same app version while the first is live is refused.
    let second = admin
        .upload_package(
            &fixture.workspace,
            &[("kind", "hotpatch"), ("platform", "android"), ("version", "2"), ("app_version", "2.0.0")],
            b"hotpatch-2".to_vec(),
        )
        .await
        .unwrap();
    let refused = admin
        .create_release(
            &fixture.workspace,
            &json!({ "package_id": second.package_id, "stage": { "kind": "official" } }),
        )
        .await
        .unwrap_err();
    assert_eq!(refused.code(), Some("conflict"), "{refused}");

    let rolled_back = admin.change_release(&fixture.workspace, &release.release_id, "rollback").await.unwrap();
    assert_eq!(rolled_back.status, "rolled_back");
    let with_patch = DeliveryCheckRequest {
        installed: InstalledPackages { hotpatch: Some("1".into()), ..InstalledPackages::default() },
        ..DeliveryCheckRequest::default()
    };
    let answer = device.check(&with_patch).await.unwrap();
    assert!(answer.hotpatch.is_none());
    assert_eq!(answer.hotpatch_rollback.as_deref(), Some("1"), "the next check removes the patch");
    let again = admin.change_release(&fixture.workspace, &release.release_id, "resume").await.unwrap_err();
    assert_eq!(again.code(), Some("conflict"));

    // Upgrades: an installer for android 2.1.0, reminded once every 48 hours.
    let installer = write_zip(&Files::from([("classes.dex".to_owned(), b"dex 2.1.0".repeat(500))]));
    let upgrade = admin
        .upload_package(
            &fixture.workspace,
            &[
                ("kind", "upgrade"),
                ("platform", "android"),
                ("version", "2.1.0"),
                ("build", "210"),
                ("notes", "faster"),
            ],
            installer.clone(),
        )
        .await
        .unwrap();
    fixture
        .release(json!({
            "package_id": upgrade.package_id, "stage": { "kind": "official" }, "mode": "remind_once",
            "remind_interval_hours": 48, "rules": { "os_version": { "in_range": { "min": "10" } } },
        }))
        .await;
    let on_android_12 = DeliveryCheckRequest { os_version: Some("12".into()), ..DeliveryCheckRequest::default() };
    let offer = device.check(&on_android_12).await.unwrap().upgrade.expect("an upgrade from 2.0.0");
    assert_eq!((offer.mode.as_deref(), offer.remind_interval_hours), (Some("remind_once"), Some(48)));
    assert_eq!(offer.details["notes"], "faster");
    assert_eq!(device.install_binary(&offer, None).await.unwrap().binary, Some(installer));
    let on_android_9 = DeliveryCheckRequest { os_version: Some("9".into()), ..DeliveryCheckRequest::default() };
    assert!(device.check(&on_android_9).await.unwrap().upgrade.is_none(), "the OS rule leaves it out");
    let current = fixture.device("device-3", None, "android", "2.1.0");
    assert!(current.check(&on_android_12).await.unwrap().upgrade.is_none(), "no update for 2.1.0");
    let ios = fixture.device("device-4", None, "ios", "2.0.0");
    assert!(ios.check(&on_android_12).await.unwrap().upgrade.is_none(), "the installer is for android");
}

#[tokio::test]
async fn bad_uploads_and_releases_are_refused_with_the_reason() {
    let fixture = fixture().await;
    let admin = fixture.server.admin();
    let upload = |query: Vec<(&'static str, &'static str)>, body: Vec<u8>| {
        let admin = admin.clone();
        let workspace = fixture.workspace.clone();
        async move { admin.upload_package(&workspace, &query, body).await.unwrap_err() }
    };
    let mut escaping = h5_files("1.0.0");
    escaping.insert("../../etc/cron.d/evil".into(), b"* * * * * root sh".to_vec());
    let refused = upload(vec![("kind", "h5")], write_zip(&escaping)).await;
    assert_eq!(refused.code(), Some("invalid_request"));
    assert!(refused.to_string().contains("escapes the package root"), "{refused}");
    // Two entries named manifest.json: which one a device unpacks would be up to its zip reader.
    let mut twice = h5_files("1.0.0");
    twice.insert("Manifest.json".into(), b"{\"version\": \"6.6.6\"}".to_vec());
    let mut duplicated = write_zip(&twice);
    for index in 0..duplicated.len() - 13 {
        if &duplicated[index..index + 13] == b"Manifest.json" {
            duplicated[index] = b'm';
        }
    }
    let refused = upload(vec![("kind", "h5")], duplicated).await;
    assert_eq!(refused.code(), Some("invalid_request"));
    assert!(refused.to_string().contains("more than once"), "{refused}");
    let refused = upload(vec![("kind", "h5"), ("version", "9.9.9")], write_zip(&h5_files("1.0.0"))).await;
    assert!(refused.to_string().contains("manifest.json says 1.0.0"), "{refused}");
    let refused = upload(vec![("kind", "h5")], b"PK\x03\x04 truncated".to_vec()).await;
    assert!(refused.to_string().contains("not a valid zip"), "{refused}");
    let refused = upload(vec![("kind", "firmware")], vec![1]).await;
    assert!(refused.to_string().contains("kind"), "{refused}");
    assert!(admin.list_packages(&fixture.workspace).await.unwrap().items.is_empty(), "nothing refused was stored");

    let package = fixture.upload_h5("1.0.0").await;
    let again = upload(vec![("kind", "h5")], write_zip(&h5_files("1.0.0"))).await;
    assert_eq!(again.code(), Some("conflict"));

    let release = |definition: Value| {
        let admin = admin.clone();
        let workspace = fixture.workspace.clone();
        async move { admin.create_release(&workspace, &definition).await.unwrap_err() }
    };
    let refused =
        release(json!({ "package_id": package.package_id, "stage": { "kind": "official" }, "mode": "force" })).await;
    assert!(refused.to_string().contains("upgrades only"), "{refused}");
    let refused =
        release(json!({ "package_id": package.package_id, "stage": { "kind": "time_window", "end_at": 1 } })).await;
    assert!(refused.to_string().contains("future"), "{refused}");
    let refused = release(json!({ "package_id": "NOSUCHPACKAGE", "stage": { "kind": "official" } })).await;
    assert_eq!(refused.code(), Some("not_found"));
    let refused = release(json!({ "package_id": package.package_id, "stage": { "kind": "everyone" } })).await;
    assert_eq!(refused.code(), Some("invalid_request"));
    assert!(admin.list_releases(&fixture.workspace).await.unwrap().items.is_empty());

    // A device report for an unknown release is refused through the gateway (3002).
    let device = fixture.device("device-1", None, "android", "1.0.0");
    let error = device.report("NOSUCHRELEASE", "installed", None).await.unwrap_err();
    assert!(error.to_string().contains("3002"), "{error}");
}

#[tokio::test]
async fn downloads_serve_ranges_and_resume() {
    let fixture = fixture().await;
    let package = fixture.upload_h5("1.0.0").await;
    let sha256 = package.sha256.clone().unwrap();
    let url = fixture.server.url(&format!("/delivery/blobs/{sha256}"));
    let full = fixture.server.http.get(&url).send().await.unwrap();
    assert_eq!(full.status(), 200);
    assert_eq!(full.headers()["accept-ranges"], "bytes");
    let full = full.bytes().await.unwrap();
    assert_eq!(full.len() as i64, package.size);
    let part = fixture.server.http.get(&url).header("Range", "bytes=10-19").send().await.unwrap();
    assert_eq!(part.status(), 206);
    assert_eq!(part.headers()["content-range"], format!("bytes 10-19/{}", full.len()).as_str());
    assert_eq!(part.bytes().await.unwrap(), full.slice(10..20));
    let beyond = fixture.server.http.get(&url).header("Range", format!("bytes={}-", full.len())).send().await.unwrap();
    assert_eq!(beyond.status(), 416);
    let missing = fixture
        .server
        .http
        .get(fixture.server.url(&format!("/delivery/blobs/{}", "0".repeat(64))))
        .send()
        .await
        .unwrap();
    assert_eq!(missing.status(), 404);
    let traversal =
        fixture.server.http.get(fixture.server.url("/delivery/blobs/..%2F..%2Fmidship.db")).send().await.unwrap();
    assert_eq!(traversal.status(), 404);

    // An interrupted download resumes from what was kept.
    let device = fixture.device("device-1", None, "android", "1.0.0");
    let kept = fixture.downloads.path().join("device-1");
    std::fs::create_dir_all(&kept).unwrap();
    std::fs::write(kept.join(format!("{sha256}.part")), &full[..full.len() / 2]).unwrap();
    assert_eq!(device.download(&format!("/delivery/blobs/{sha256}"), &sha256).await.unwrap(), full.to_vec());
    assert!(!kept.join(format!("{sha256}.part")).exists());
}

#[tokio::test]
async fn online_devices_hear_of_release_changes_over_the_long_connection() {
    use midship_protocol::Codec;
    use midship_sdk::sync::SyncClient;
    use tokio::sync::mpsc;

    let fixture = crate::sync::fixture().await;
    let client = SyncClient::new(fixture.settings("device-online", None, Codec::Json)).unwrap();
    let (sender, mut announcements) = mpsc::unbounded_channel();
    client.register("midship.delivery", move |message| {
        let sender = sender.clone();
        async move {
            let _ = sender.send(message);
        }
    });
    crate::sync::start_connected(&client).await;

    let admin = fixture.server.admin();
    let package =
        admin.upload_package(&fixture.workspace, &[("kind", "h5")], write_zip(&h5_files("1.0.0"))).await.unwrap();
    let release = admin
        .create_release(
            &fixture.workspace,
            &json!({ "package_id": package.package_id, "stage": { "kind": "official" } }),
        )
        .await
        .unwrap();
    let announcement = tokio::time::timeout(Duration::from_secs(10), announcements.recv()).await.unwrap().unwrap();
    let payload: Value = serde_json::from_str(&announcement.payload).unwrap();
    assert_eq!(payload["release_id"], release.release_id.as_str());
    assert_eq!((payload["status"].as_str(), payload["app_id"].as_str()), (Some("active"), Some(H5_APP)));
    admin.change_release(&fixture.workspace, &release.release_id, "pause").await.unwrap();
    let announcement = tokio::time::timeout(Duration::from_secs(10), announcements.recv()).await.unwrap().unwrap();
    assert!(announcement.payload.contains("\"paused\""), "{}", announcement.payload);
    client.stop();
}

#[tokio::test]
async fn a_rotated_signing_key_keeps_old_and_new_apps_verifying_until_the_old_key_is_retired() {
    let fixture = fixture().await;
    let admin = fixture.server.admin();
    let first_key = fixture.public_keys[0].clone();
    let first = fixture.upload_h5("1.0.0").await;
    fixture.release(json!({ "package_id": first.package_id, "stage": { "kind": "official" } })).await;

    let keys = admin.rotate_signing_key(&fixture.workspace).await.unwrap().items;
    assert_eq!(keys.iter().map(|key| (key.generation, key.signs_uploads)).collect::<Vec<_>>(), [(1, false), (2, true)]);
    let second_key = keys[1].public_key.clone();
    assert_eq!(admin.delivery_signing_key(&fixture.workspace).await.unwrap().public_key, second_key);
    let second = fixture.upload_h5("1.1.0").await;
    fixture.release(json!({ "package_id": second.package_id, "stage": { "kind": "official" } })).await;

    // An app from before the rotation (old key only) and one built after it (new key only) both
    // verify the package uploaded after the rotation.
    let old_app = fixture.device_trusting("device-old", None, "android", "3.0.0", vec![first_key.clone()]);
    let new_app = fixture.device_trusting("device-new", None, "android", "3.0.0", vec![second_key.clone()]);
    let offer = old_app.check(&with_h5("1.0.0")).await.unwrap().h5[0].clone();
    assert_eq!(offer.signatures.iter().map(|signature| signature.key).collect::<Vec<_>>(), [1, 2]);
    assert_eq!(offer.signatures[0].signature, offer.signature, "the plain signature is the oldest key's");
    assert_eq!(old_app.install_zip(&offer, Some(&h5_files("1.0.0"))).await.unwrap().files, Some(h5_files("1.1.0")));
    assert_eq!(new_app.install_zip(&offer, None).await.unwrap().files, Some(h5_files("1.1.0")));

    // Retired, the old key no longer vouches for offers; the newest cannot be retired.
    let refused = admin.retire_signing_key(&fixture.workspace, 2).await.unwrap_err();
    assert!(refused.to_string().contains("newest"), "{refused}");
    let keys = admin.retire_signing_key(&fixture.workspace, 1).await.unwrap().items;
    assert!(keys[0].retired_at.is_some() && keys[1].retired_at.is_none());
    let offer = new_app.check(&with_h5("1.0.0")).await.unwrap().h5[0].clone();
    assert_eq!(offer.signatures.iter().map(|signature| signature.key).collect::<Vec<_>>(), [2]);
    assert!(new_app.verify(&offer).is_ok());
    let error = old_app.verify(&offer).unwrap_err();
    assert!(error.to_string().contains("signature"), "{error}");
    let audit = admin.list_audit(&Default::default()).await.unwrap().items;
    let actions: Vec<&str> = audit.iter().map(|entry| entry.action.as_str()).collect();
    assert!(actions.contains(&"delivery.signing_key.rotate") && actions.contains(&"delivery.signing_key.retire"));
}

#[tokio::test]
async fn an_upload_reports_its_progress_up_to_the_whole_file() {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicU64, Ordering};

    let fixture = fixture().await;
    let patch: Vec<u8> = (0..700_000u32).map(|value| (value.wrapping_mul(2_654_435_761) >> 13) as u8).collect();
    let size = patch.len() as u64;
    let reported = Arc::new(AtomicU64::new(0));
    let seen = reported.clone();
    let package = fixture
        .server
        .admin()
        .upload_package_reporting(
            &fixture.workspace,
            &[("kind", "hotpatch"), ("platform", "android"), ("version", "1"), ("app_version", "2.0.0")],
            patch,
            move |sent| {
                assert!(sent > seen.load(Ordering::SeqCst), "progress only moves forward");
                seen.store(sent, Ordering::SeqCst);
            },
        )
        .await
        .unwrap();
    assert_eq!(reported.load(Ordering::SeqCst), size, "in several steps of 256 KiB, up to the whole file");
    assert_eq!(package.size, size as i64);
}
