//! The service over a real SQLite store with a manual clock: the vendor plug-in point, resuming
//! an interrupted dispatch, a failing channel beside working ones, and scheduled runs.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use midship_api::{PushAudience, PushMessageBody, PushRequest, PushSchedule, PushTarget};
use midship_control::{ControlPlane, ControlSettings, NewApp};
use midship_core::access::Role;
use midship_core::{Classify, ErrorKind, ManualClock, Principal, Workspace};
use midship_storage::{PushStatsRow, PushStatsScope, SyncStream, SyncTargetKind};
use midship_sync::{PUSH_BIZ_TYPE, SyncService, SyncSettings};
use serde_json::{Value, json};
use tokio::sync::Semaphore;

use crate::channel::{ChannelContext, ChannelFactory, ChannelResult, Outgoing, PushChannel};
use crate::{DeviceReport, PushError, PushKind, PushService};

const T0: i64 = 1_795_313_234_000;

/// A vendor channel as a plug-in would add one: it records what it sends, fails for tokens
/// starting with `bad`, and takes a permit per batch so a test can stop it mid-dispatch.
#[derive(Debug)]
struct Vendor {
    sent: Arc<Mutex<Vec<String>>>,
    permits: Arc<Semaphore>,
}

#[async_trait]
impl PushChannel for Vendor {
    async fn send(&self, _workspace: &Workspace, batch: &[Outgoing]) -> Vec<ChannelResult> {
        self.permits.acquire().await.expect("open").forget();
        batch
            .iter()
            .map(|outgoing| {
                let token = outgoing.delivery.token.clone().unwrap_or_default();
                if token.starts_with("bad") {
                    return ChannelResult::Failed { error: "vendor: 400 invalid token".into(), token_invalid: true };
                }
                self.sent.lock().unwrap().push(outgoing.delivery.device_id.clone());
                ChannelResult::Sent
            })
            .collect()
    }
}

struct VendorFactory {
    sent: Arc<Mutex<Vec<String>>>,
    permits: Arc<Semaphore>,
}

impl ChannelFactory for VendorFactory {
    fn build(&self, definition: &Value, _context: &ChannelContext) -> Result<Arc<dyn PushChannel>, PushError> {
        if definition.get("app_secret").and_then(Value::as_str).is_none() {
            return Err(PushError::Invalid { field: "app_secret", message: "is required".into() });
        }
        Ok(Arc::new(Vendor { sent: self.sent.clone(), permits: self.permits.clone() }))
    }
}

struct Fixture {
    push: PushService,
    sync: SyncService,
    control: ControlPlane,
    clock: Arc<ManualClock>,
    admin: Principal,
    workspace_id: String,
    sent: Arc<Mutex<Vec<String>>>,
    permits: Arc<Semaphore>,
    _directory: tempfile::TempDir,
}

async fn fixture() -> Fixture {
    let directory = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", directory.path().join("push.db").display());
    let storage = Arc::new(midship_storage_sqlite::open_throwaway(&url).await.unwrap());
    let clock = Arc::new(ManualClock::new(T0));
    let control = ControlPlane::new(storage, clock.clone(), ControlSettings::default());
    let issued = control.bootstrap(|_| Ok(())).await.unwrap().unwrap();
    let admin = control.authenticate(&issued.token).await.unwrap();
    let created = control.create_app(&admin, NewApp { name: "bank".into(), ..NewApp::default() }).await.unwrap();
    let workspace_id = created.workspaces[0].workspace_id.clone();
    let sync = SyncService::new(control.clone(), SyncSettings::default());
    let push = PushService::new(control.clone(), sync.clone());
    let sent = Arc::new(Mutex::new(Vec::new()));
    let permits = Arc::new(Semaphore::new(1000));
    push.register_channel_kind("huawei", Arc::new(VendorFactory { sent: sent.clone(), permits: permits.clone() }));
    let fixture = Fixture { push, sync, control, clock, admin, workspace_id, sent, permits, _directory: directory };
    fixture
        .push
        .put_channel(&fixture.admin, &fixture.workspace_id, "huawei", json!({ "kind": "huawei", "app_secret": "s" }))
        .await
        .unwrap();
    fixture
}

impl Fixture {
    async fn report(&self, device_id: &str, channel: Option<&str>, token: Option<&str>) {
        let report = DeviceReport {
            workspace_id: self.workspace_id.clone(),
            device_id: device_id.into(),
            platform: "harmony".into(),
            channel: channel.map(Into::into),
            token: token.map(Into::into),
        };
        self.push.report(report).await.unwrap();
    }

    async fn broadcast(&self, msg_id: &str) -> String {
        let request = PushRequest {
            message: Some(PushMessageBody {
                title: "Notice".into(),
                content: "hello".into(),
                ..PushMessageBody::default()
            }),
            msg_id: Some(msg_id.into()),
            audience: Some(PushAudience::default()),
            ..PushRequest::default()
        };
        self.push.send(&self.admin, &self.workspace_id, PushKind::Broadcast, request).await.unwrap().task.task_id
    }

    async fn stats(&self, task_id: &str) -> Vec<PushStatsRow> {
        self.push.stats(&self.admin, &self.workspace_id, PushStatsScope::Task(task_id.into())).await.unwrap()
    }

    /// Messages in a device's own-channel stream.
    async fn stream_len(&self, device_id: &str) -> usize {
        let stream = SyncStream {
            workspace_id: self.workspace_id.clone(),
            biz_type: PUSH_BIZ_TYPE.into(),
            target_kind: SyncTargetKind::Device,
            target_id: device_id.into(),
        };
        self.control.storage().sync_messages_after(&stream, 0, 100).await.unwrap().len()
    }
}

#[tokio::test]
async fn an_interrupted_broadcast_resumes_without_sending_twice() {
    let fixture = fixture().await;
    // More devices than one dispatcher step takes, half on the vendor channel, half on the own one.
    for index in 0..2500 {
        let device = format!("dev-{index:05}");
        if index % 2 == 0 {
            fixture.report(&device, Some("huawei"), Some(&format!("tok-{index}"))).await;
        } else {
            fixture.report(&device, None, None).await;
        }
    }
    // The vendor channel takes one batch, then blocks: the "crash" comes while it waits.
    let available = fixture.permits.available_permits();
    fixture.permits.forget_permits(available - 1);
    let task_id = fixture.broadcast("notice-1").await;
    let interrupted = tokio::spawn({
        let push = fixture.push.clone();
        async move { push.run_pending().await }
    });
    // Wait until the first step is recorded; the second then waits on the vendor channel.
    let sent = |stats: Vec<PushStatsRow>| stats.iter().map(|row| row.sent).sum::<i64>();
    midship_testkit::eventually(
        "the first step is recorded",
        || async { sent(fixture.stats(&task_id).await) },
        |sent| *sent >= 2000,
    )
    .await;
    interrupted.abort();
    let _ = interrupted.await;
    assert_eq!(sent(fixture.stats(&task_id).await), 2000, "the first step was recorded; the second never finished");

    // A new dispatcher (a restarted node) finishes the task.
    fixture.permits.add_permits(100);
    assert_eq!(fixture.push.run_pending().await.unwrap(), 1);
    let stats = fixture.stats(&task_id).await;
    assert_eq!(
        stats.iter().map(|row| (row.channel.as_str(), row.targets, row.sent)).collect::<Vec<_>>(),
        [("huawei", 1250, 1250), ("own", 1250, 1250)]
    );
    let mut counts: HashMap<String, usize> = HashMap::new();
    for device in fixture.sent.lock().unwrap().iter() {
        *counts.entry(device.clone()).or_default() += 1;
    }
    assert_eq!(counts.len(), 1250);
    assert!(counts.values().all(|count| *count == 1), "no vendor device got it twice");
    for index in [1, 1999, 2001, 2499] {
        assert_eq!(fixture.stream_len(&format!("dev-{index:05}")).await, 1, "own-channel devices hold one message");
    }
    assert_eq!(fixture.push.run_pending().await.unwrap(), 0, "nothing left to do");
}

#[tokio::test]
async fn a_failing_channel_does_not_stop_the_others_and_invalid_tokens_are_retired() {
    let fixture = fixture().await;
    fixture.report("good", Some("huawei"), Some("tok-good")).await;
    fixture.report("bad", Some("huawei"), Some("bad-token")).await;
    fixture.report("plain", None, None).await;
    // A channel name the workspace has no settings for falls back to the own channel.
    fixture.report("unset", Some("xiaomi"), Some("tok-x")).await;
    let task_id = fixture.broadcast("n-1").await;
    fixture.push.run_pending().await.unwrap();
    let stats = fixture.stats(&task_id).await;
    let summary: Vec<(&str, i64, i64, i64)> =
        stats.iter().map(|row| (row.channel.as_str(), row.targets, row.sent, row.failed)).collect();
    assert_eq!(summary, [("huawei", 2, 1, 1), ("own", 2, 2, 0)]);
    let bad = fixture.control.storage().get_push_device(&fixture.workspace_id, "bad").await.unwrap().unwrap();
    assert_eq!(bad.token_retired_at, Some(T0));

    // Its next message goes over the own channel.
    let again = fixture.broadcast("n-2").await;
    fixture.push.run_pending().await.unwrap();
    let channels: Vec<(String, i64)> =
        fixture.stats(&again).await.into_iter().map(|row| (row.channel, row.targets)).collect();
    assert_eq!(channels, [("huawei".to_owned(), 1), ("own".to_owned(), 3)]);

    // Channel settings are checked by the channel's own factory before they are stored.
    let refused =
        fixture.push.put_channel(&fixture.admin, &fixture.workspace_id, "huawei", json!({ "kind": "huawei" })).await;
    assert!(matches!(refused, Err(PushError::Invalid { field: "app_secret", .. })));
    let unknown =
        fixture.push.put_channel(&fixture.admin, &fixture.workspace_id, "oppo", json!({ "kind": "oppo" })).await;
    assert!(matches!(unknown, Err(PushError::Invalid { field: "kind", .. })));
}

#[tokio::test]
async fn a_daily_push_runs_once_per_day_until_cancelled() {
    let fixture = fixture().await;
    fixture.report("watch", None, None).await;
    let request = PushRequest {
        targets: vec![PushTarget {
            kind: "device".into(),
            id: "watch".into(),
            msg_id: "d".into(),
            ..PushTarget::default()
        }],
        message: Some(PushMessageBody {
            title: "Steps".into(),
            content: "daily summary".into(),
            ..PushMessageBody::default()
        }),
        schedule: Some(PushSchedule {
            at: T0 + 3_600_000,
            repeat: Some("daily".into()),
            until: Some(T0 + 3 * 86_400_000),
        }),
        ..PushRequest::default()
    };
    let task = fixture.push.send(&fixture.admin, &fixture.workspace_id, PushKind::Simple, request).await.unwrap();
    let parent = task.task.task_id.clone();
    assert_eq!(fixture.push.run_pending().await.unwrap(), 0, "not due yet");
    assert_eq!(fixture.stream_len("watch").await, 0);
    for day in 0..3 {
        fixture.clock.advance_ms(if day == 0 { 3_600_000 } else { 86_400_000 });
        assert_eq!(fixture.push.run_pending().await.unwrap(), 1, "day {day}");
        assert_eq!(fixture.push.run_pending().await.unwrap(), 0, "once per occurrence");
    }
    assert_eq!(fixture.stream_len("watch").await, 3);
    let summary = fixture.push.task(&fixture.admin, &fixture.workspace_id, &parent).await.unwrap();
    assert_eq!(
        (summary.task.status.as_str(), summary.task.runs, summary.totals.targets),
        ("done", 3, 3),
        "ended after until"
    );

    let weekly = PushRequest {
        schedule: Some(PushSchedule { at: T0 + 10 * 86_400_000, repeat: Some("weekly".into()), until: None }),
        ..PushRequest {
            targets: vec![PushTarget {
                kind: "device".into(),
                id: "watch".into(),
                msg_id: "w".into(),
                ..PushTarget::default()
            }],
            message: Some(PushMessageBody {
                title: "Week".into(),
                content: "summary".into(),
                ..PushMessageBody::default()
            }),
            ..PushRequest::default()
        }
    };
    let weekly = fixture.push.send(&fixture.admin, &fixture.workspace_id, PushKind::Simple, weekly).await.unwrap();
    fixture.push.cancel(&fixture.admin, &fixture.workspace_id, &weekly.task.task_id).await.unwrap();
    fixture.clock.advance_ms(30 * 86_400_000);
    assert_eq!(fixture.push.run_pending().await.unwrap(), 0, "a cancelled task never runs");
    let _ = &fixture.sync;
}

/// A binding routes a user's pushes to a device, so only a developer (a backend's token) sets it.
#[tokio::test]
async fn operators_cannot_bind_devices_to_users() {
    let fixture = fixture().await;
    fixture.report("phone", None, None).await;
    let operator = Principal { role: Role::Operator, ..fixture.admin.clone() };
    let developer = Principal { role: Role::Developer, ..fixture.admin.clone() };
    let bound_user = || async {
        let device = fixture.control.storage().get_push_device(&fixture.workspace_id, "phone").await.unwrap();
        device.and_then(|device| device.user_id)
    };

    for user_id in [Some("mallory"), None] {
        let refused = fixture.push.bind_by_backend(&operator, &fixture.workspace_id, "phone", user_id).await;
        assert_eq!(refused.unwrap_err().kind(), ErrorKind::Forbidden);
    }
    assert_eq!(bound_user().await, None, "nothing was bound");

    fixture.push.bind_by_backend(&developer, &fixture.workspace_id, "phone", Some("alice")).await.unwrap();
    assert_eq!(bound_user().await.as_deref(), Some("alice"));
    let refused = fixture.push.bind_by_backend(&operator, &fixture.workspace_id, "phone", None).await;
    assert_eq!(refused.unwrap_err().kind(), ErrorKind::Forbidden);
    assert_eq!(bound_user().await.as_deref(), Some("alice"), "an operator cannot unbind either");
}
