//! The service and sessions over a real SQLite store, with a manual clock.

use std::collections::BTreeMap;
use std::sync::Arc;

use midship_control::{ControlPlane, ControlSettings, NewApp};
use midship_core::{ManualClock, Principal};
use serde_json::json;

use crate::{
    DeviceIdentity, DeviceSession, Kick, SendRequest, SendResult, SessionError, SessionEvent, SyncConfig, SyncError,
    SyncMessage, SyncService, SyncSettings, VersionRange,
};

const T0: i64 = 1_795_313_234_000;

struct Fixture {
    service: SyncService,
    clock: Arc<ManualClock>,
    admin: Principal,
    workspace_id: String,
    _directory: tempfile::TempDir,
}

async fn fixture_with(settings: SyncSettings) -> Fixture {
    let directory = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", directory.path().join("sync.db").display());
    let storage = Arc::new(midship_storage_sqlite::open_throwaway(&url).await.unwrap());
    let clock = Arc::new(ManualClock::new(T0));
    let control = ControlPlane::new(storage, clock.clone(), ControlSettings::default());
    let issued = control.bootstrap(|_| Ok(())).await.unwrap().unwrap();
    let admin = control.authenticate(&issued.token).await.unwrap();
    let created = control.create_app(&admin, NewApp { name: "chat".into(), ..NewApp::default() }).await.unwrap();
    let workspace_id = created.workspaces[0].workspace_id.clone();
    let service = SyncService::new(control, settings);
    Fixture { service, clock, admin, workspace_id, _directory: directory }
}

async fn fixture() -> Fixture {
    fixture_with(SyncSettings::default()).await
}

impl Fixture {
    async fn configure(&self, config: serde_json::Value) {
        let config: SyncConfig = serde_json::from_value(config).unwrap();
        self.service.put_config(&self.admin, &self.workspace_id, config).await.unwrap();
    }

    async fn send(&self, request: SendRequest) -> Result<crate::SendOutcome, SyncError> {
        self.service.send(&self.admin, &self.workspace_id, request).await
    }

    async fn chat(&self, to: &str, id: &str) -> Option<i64> {
        self.send(message("CHAT-MSG", to, id)).await.unwrap().seq
    }

    fn device(&self, device_id: &str, user_id: Option<&str>) -> DeviceIdentity {
        DeviceIdentity {
            app_id: "APP".into(),
            workspace_id: self.workspace_id.clone(),
            device_id: device_id.into(),
            user_id: user_id.map(str::to_owned),
            platform: Some("ios".into()),
            app_version: Some("3.1.0".into()),
            ..DeviceIdentity::default()
        }
    }

    async fn connect(&self, identity: DeviceIdentity) -> (DeviceSession, Vec<Arc<SyncMessage>>) {
        let mut session = self.service.connect(identity, true).unwrap();
        let backlog = session.start(&BTreeMap::new()).await.unwrap();
        (session, backlog)
    }
}

fn message(biz_type: &str, to: &str, id: &str) -> SendRequest {
    SendRequest {
        biz_type: biz_type.into(),
        link_token: to.into(),
        payload: format!("payload {id}"),
        third_msg_id: id.into(),
        ..SendRequest::default()
    }
}

fn seqs(messages: &[Arc<SyncMessage>]) -> Vec<i64> {
    messages.iter().map(|message| message.seq).collect()
}

/// The next routed message, fed through the session.
async fn live(session: &mut DeviceSession) -> Vec<Arc<SyncMessage>> {
    match session.next_event().await {
        SessionEvent::Message(message) => session.on_message(message).await.unwrap(),
        SessionEvent::Kicked(kick) => panic!("kicked: {kick:?}"),
        SessionEvent::CatchUp => session.catch_up().await.unwrap(),
    }
}

#[tokio::test]
async fn backlog_then_live_messages_in_order_and_acks_are_kept() {
    let fixture = fixture().await;
    fixture.configure(json!({ "biz_type": "CHAT-MSG" })).await;
    assert_eq!(fixture.chat("alice", "m-1").await, Some(1));
    assert_eq!(fixture.chat("alice", "m-2").await, Some(2));
    let repeat = fixture.send(message("CHAT-MSG", "alice", "m-2")).await.unwrap();
    assert_eq!((repeat.result, repeat.seq), (SendResult::Duplicated, Some(2)));

    let (mut phone, backlog) = fixture.connect(fixture.device("PHONE", Some("alice"))).await;
    assert_eq!(seqs(&backlog), [1, 2]);
    assert_eq!(backlog[0].payload, "payload m-1");
    fixture.chat("alice", "m-3").await;
    assert_eq!(seqs(&live(&mut phone).await), [3]);
    assert!(phone.ack("CHAT-MSG", 2).await.unwrap().is_empty());
    drop(phone);

    let (_phone, backlog) = fixture.connect(fixture.device("PHONE", Some("alice"))).await;
    assert_eq!(seqs(&backlog), [3], "only what was not acknowledged comes again");
    let status = fixture.service.status(&fixture.admin, &fixture.workspace_id, "CHAT-MSG", "alice", Some("PHONE"));
    let status = status.await.unwrap();
    assert_eq!((status.last_seq, status.acked_seq, status.online), (3, Some(2), true));
    let (_tablet, backlog) = fixture.connect(fixture.device("TABLET", Some("alice"))).await;
    assert_eq!(seqs(&backlog), [1, 2, 3], "each device has its own position");
}

#[tokio::test]
async fn the_position_the_app_states_wins_over_the_stored_ack() {
    let fixture = fixture().await;
    fixture.configure(json!({ "biz_type": "CHAT-MSG" })).await;
    for id in ["a", "b", "c"] {
        fixture.chat("alice", id).await;
    }
    let mut session = fixture.service.connect(fixture.device("PHONE", Some("alice")), true).unwrap();
    let backlog = session.start(&BTreeMap::from([("CHAT-MSG".to_owned(), 2)])).await.unwrap();
    assert_eq!(seqs(&backlog), [3]);
    fixture.service.flush_acks().await;
    let status = fixture.service.status(&fixture.admin, &fixture.workspace_id, "CHAT-MSG", "alice", Some("PHONE"));
    assert_eq!(status.await.unwrap().acked_seq, Some(2), "the stated position is recorded");
}

#[tokio::test]
async fn at_most_a_window_is_unacknowledged() {
    let fixture = fixture_with(SyncSettings { window: 2, ..SyncSettings::default() }).await;
    fixture.configure(json!({ "biz_type": "CHAT-MSG", "target": "device" })).await;
    for index in 1..=5 {
        fixture.chat("PHONE", &format!("m-{index}")).await;
    }
    let (mut phone, backlog) = fixture.connect(fixture.device("PHONE", None)).await;
    assert_eq!(seqs(&backlog), [1, 2]);
    assert_eq!(seqs(&phone.ack("CHAT-MSG", 1).await.unwrap()), [3]);
    fixture.chat("PHONE", "m-6").await;
    assert!(live(&mut phone).await.is_empty(), "the window is full");
    assert_eq!(seqs(&phone.ack("CHAT-MSG", 3).await.unwrap()), [4, 5]);
    assert_eq!(seqs(&phone.ack("CHAT-MSG", 5).await.unwrap()), [6]);
    let violation = phone.ack("CHAT-MSG", 9).await.unwrap_err();
    assert!(matches!(violation, SessionError::ProtocolViolation(_)), "{violation}");
    assert!(matches!(phone.ack("NOPE", 1).await, Err(SessionError::ProtocolViolation(_))));
}

#[tokio::test]
async fn messages_reach_only_the_devices_they_are_for() {
    let fixture = fixture().await;
    fixture.configure(json!({ "biz_type": "CHAT-MSG" })).await;
    let for_ios_3 = SendRequest {
        os_type: Some("ios".into()),
        app_version_range: Some(VersionRange { min: Some("3.0.0".into()), max: Some("3.9.9".into()) }),
        ..message("CHAT-MSG", "alice", "ios-3")
    };
    fixture.send(for_ios_3).await.unwrap();
    fixture.chat("alice", "everyone").await;
    let android = DeviceIdentity { platform: Some("android".into()), ..fixture.device("DROID", Some("alice")) };
    let (mut droid, backlog) = fixture.connect(android).await;
    assert_eq!(seqs(&backlog), [2]);
    assert!(droid.ack("CHAT-MSG", 2).await.is_ok(), "acks past a message filtered out");
    let old_ios = DeviceIdentity { app_version: Some("2.9".into()), ..fixture.device("OLD", Some("alice")) };
    assert_eq!(seqs(&fixture.connect(old_ios).await.1), [2]);
    assert_eq!(seqs(&fixture.connect(fixture.device("IPHONE", Some("alice"))).await.1), [1, 2]);

    let bad = SendRequest { os_type: Some("symbian".into()), ..message("CHAT-MSG", "alice", "x") };
    assert!(matches!(fixture.send(bad).await, Err(SyncError::InvalidSend { field: "os_type", .. })));
}

#[tokio::test]
async fn global_messages_wait_for_the_foreground() {
    let fixture = fixture().await;
    fixture.configure(json!({ "biz_type": "NOTICE", "scope": "global" })).await;
    fixture.send(message("NOTICE", "", "n-1")).await.unwrap();
    let mut background = fixture.service.connect(fixture.device("SLEEPY", None), false).unwrap();
    assert!(background.start(&BTreeMap::new()).await.unwrap().is_empty());
    let (mut awake, backlog) = fixture.connect(fixture.device("AWAKE", None)).await;
    assert_eq!(seqs(&backlog), [1]);
    fixture.send(message("NOTICE", "", "n-2")).await.unwrap();
    assert_eq!(seqs(&live(&mut awake).await), [2]);
    assert!(live(&mut background).await.is_empty());
    assert_eq!(seqs(&background.set_foreground(true).await.unwrap()), [1, 2]);
    let targeted = fixture.send(message("NOTICE", "alice", "n-3")).await;
    assert!(matches!(targeted, Err(SyncError::InvalidSend { field: "link_token", .. })));
}

#[tokio::test]
async fn latest_device_only_reaches_the_newest_connection() {
    let fixture = fixture().await;
    fixture.configure(json!({ "biz_type": "ORDER", "delivery": "latest_device" })).await;
    let (mut old, _) = fixture.connect(fixture.device("OLD", Some("alice"))).await;
    let (mut new, _) = fixture.connect(fixture.device("NEW", Some("alice"))).await;
    fixture.send(message("ORDER", "alice", "o-1")).await.unwrap();
    assert_eq!(seqs(&live(&mut new).await), [1]);
    drop(new);
    fixture.send(message("ORDER", "alice", "o-2")).await.unwrap();
    assert_eq!(seqs(&live(&mut old).await), [1, 2], "once the newer device left, the older is the latest");
}

#[tokio::test]
async fn non_persistent_messages_reach_only_online_devices() {
    let fixture = fixture().await;
    fixture.configure(json!({ "biz_type": "TYPING", "persistent": false })).await;
    let offline = fixture.send(message("TYPING", "alice", "t-1")).await.unwrap();
    assert_eq!((offline.result, offline.seq), (SendResult::Success, None));
    let (mut phone, backlog) = fixture.connect(fixture.device("PHONE", Some("alice"))).await;
    assert!(backlog.is_empty(), "nothing was kept");
    fixture.send(message("TYPING", "alice", "t-2")).await.unwrap();
    let delivered = live(&mut phone).await;
    assert_eq!((delivered[0].seq, delivered[0].third_msg_id.as_str()), (0, "t-2"));

    fixture.configure(json!({ "biz_type": "CHAT-MSG" })).await;
    let checked = SendRequest { online_check: true, ..message("CHAT-MSG", "bob", "c-1") };
    assert_eq!(fixture.send(checked.clone()).await.unwrap().result, SendResult::TargetOffline);
    let status = fixture.service.status(&fixture.admin, &fixture.workspace_id, "CHAT-MSG", "bob", None).await;
    assert_eq!(status.unwrap().last_seq, 0, "an offline target's message is not stored");
    let to_alice = SendRequest { link_token: "alice".into(), ..checked };
    assert_eq!(fixture.send(to_alice).await.unwrap().seq, Some(1));
}

#[tokio::test]
async fn validity_windows_schedule_and_expire_messages() {
    let fixture = fixture().await;
    fixture.configure(json!({ "biz_type": "PROMO", "target": "device" })).await;
    let later = SendRequest { valid_from: Some(T0 + 60_000), ..message("PROMO", "PHONE", "p-1") };
    let scheduled = fixture.send(later.clone()).await.unwrap();
    assert!(scheduled.scheduled && scheduled.seq.is_none());
    assert_eq!(fixture.send(later).await.unwrap().result, SendResult::Duplicated);
    let brief = SendRequest { valid_until: Some(T0 + 1000), ..message("PROMO", "PHONE", "p-2") };
    assert_eq!(fixture.send(brief).await.unwrap().seq, Some(1));

    let (mut phone, backlog) = fixture.connect(fixture.device("PHONE", None)).await;
    assert_eq!(seqs(&backlog), [1]);
    fixture.clock.advance_ms(60_000);
    let done = fixture.service.run_maintenance().await.unwrap();
    assert_eq!((done.released, done.purged.messages), (1, 1));
    let delivered = live(&mut phone).await;
    assert_eq!((delivered[0].seq, delivered[0].third_msg_id.as_str()), (2, "p-1"));

    let past = SendRequest { valid_until: Some(T0), ..message("PROMO", "PHONE", "p-3") };
    assert!(matches!(fixture.send(past).await, Err(SyncError::InvalidSend { field: "valid_until", .. })));
}

#[tokio::test]
async fn repush_newest_keeps_only_the_newest_backlog() {
    let fixture = fixture().await;
    fixture.configure(json!({ "biz_type": "PRICE", "target": "device", "repush": { "newest": 2 } })).await;
    for index in 1..=5 {
        fixture.send(message("PRICE", "PHONE", &format!("p-{index}"))).await.unwrap();
    }
    assert_eq!(seqs(&fixture.connect(fixture.device("PHONE", None)).await.1), [4, 5]);
}

#[tokio::test]
async fn verified_users_only_needs_a_vouched_user() {
    let fixture = fixture().await;
    fixture.configure(json!({ "biz_type": "BANK-MSG", "verified_users_only": true })).await;
    fixture.send(message("BANK-MSG", "alice", "b-1")).await.unwrap();
    assert!(fixture.connect(fixture.device("CLAIMS", Some("alice"))).await.1.is_empty());
    let vouched = DeviceIdentity { user_verified: true, ..fixture.device("VOUCHED", Some("alice")) };
    assert_eq!(seqs(&fixture.connect(vouched).await.1), [1]);
}

#[tokio::test]
async fn a_second_connection_of_a_device_replaces_the_first_and_capacity_is_bounded() {
    let fixture = fixture_with(SyncSettings { max_connections: 2, ..SyncSettings::default() }).await;
    let (mut first, _) = fixture.connect(fixture.device("PHONE", None)).await;
    let (_second, _) = fixture.connect(fixture.device("PHONE", None)).await;
    assert!(matches!(first.next_event().await, SessionEvent::Kicked(Kick::Replaced)));
    let _other = fixture.connect(fixture.device("OTHER", None)).await;
    let refused = fixture.service.connect(fixture.device("THIRD", None), true);
    assert!(matches!(refused, Err(SyncError::AtCapacity(2))));
}

#[tokio::test]
async fn configurations_are_validated_and_audited() {
    let fixture = fixture().await;
    let bad: SyncConfig =
        serde_json::from_value(json!({ "biz_type": "X", "scope": "global", "delivery": "latest_device" })).unwrap();
    let error = fixture.service.put_config(&fixture.admin, &fixture.workspace_id, bad).await.unwrap_err();
    assert!(matches!(error, SyncError::InvalidConfig(ref invalid) if invalid.field == "delivery"), "{error}");
    fixture.configure(json!({ "biz_type": "CHAT-MSG" })).await;
    fixture.service.delete_config(&fixture.admin, &fixture.workspace_id, "CHAT-MSG").await.unwrap();
    let unknown = fixture.send(message("CHAT-MSG", "alice", "m")).await.unwrap_err();
    assert!(matches!(unknown, SyncError::UnknownBizType(_)));
}
