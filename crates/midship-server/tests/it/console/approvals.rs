//! Four eyes: in a workspace that requires approvals, a publication, a rollback and a broadcast
//! wait for a second person; the requester, a token or a viewer cannot approve; a draft edited
//! after the request is not published; the audit log names each person.

use midship_admin_client::{AuditParams, SdkError};
use midship_api::{CreateAppRequest, CreateTokenRequest, PushMessageBody, PushRequest};
use reqwest::StatusCode;
use serde_json::json;

use super::browser::Browser;
use crate::TestServer;

async fn app_with_rule(server: &TestServer) -> String {
    let request = CreateAppRequest {
        name: "Bank".into(),
        platforms: vec!["android".into()],
        workspaces: Some(vec!["prod".into()]),
    };
    let created = server.admin().create_app(&request).await.unwrap();
    let workspace_id = created.workspaces[0].workspace_id.clone();
    let policy = server.admin().set_approval_policy(&workspace_id, true).await.unwrap();
    assert!(policy.approvals_required);
    workspace_id
}

fn approval_id_of(response: &reqwest::Response) -> String {
    let location = response.headers()["location"].to_str().unwrap();
    location.strip_prefix("/console/approvals?requested=").expect("sent to the approvals page").to_owned()
}

#[tokio::test]
async fn a_publication_waits_for_another_person_and_applies_what_was_reviewed() {
    let server = TestServer::start().await;
    let workspace_id = app_with_rule(&server).await;
    let mut ana = Browser::person(&server, "ana", "operator").await;
    let mut ben = Browser::person(&server, "ben", "operator").await;
    let mut vic = Browser::person(&server, "vic", "viewer").await;

    ana.page("/console/switches").await;
    ana.post("/console/switches", &[("key", "transfer.limit"), ("value_type", "number"), ("default_value", "500")])
        .await;
    let asked = ana.post("/console/switches/publish", &[("note", "raise the limit")]).await;
    assert_eq!(asked.status(), StatusCode::SEE_OTHER);
    let approval_id = approval_id_of(&asked);
    let page = ana.page(&format!("/console/approvals?requested={approval_id}")).await;
    assert!(page.contains("Sent for approval") && page.contains("publish 1 switch change"), "{page}");
    assert!(page.contains("You asked for this"), "no approve button for the requester: {page}");
    let versions = server.admin().config_versions(&workspace_id, &Default::default()).await.unwrap();
    assert!(versions.items.is_empty(), "nothing published yet");

    let own = ana.post(&format!("/console/approvals/{approval_id}/approve"), &[("comment", "")]).await;
    assert_eq!(own.status(), StatusCode::FORBIDDEN);
    assert!(own.text().await.unwrap().contains("another person than its requester"));
    vic.page("/console/approvals").await;
    let viewer = vic.post(&format!("/console/approvals/{approval_id}/approve"), &[("comment", "")]).await;
    assert_eq!(viewer.status(), StatusCode::FORBIDDEN, "a viewer may not make the change, so may not approve it");
    let by_token = server.admin().approve_request(&workspace_id, &approval_id, "").await.unwrap_err();
    assert!(
        matches!(&by_token, SdkError::Api { status, message, .. } if *status == StatusCode::FORBIDDEN && message.contains("person")),
        "{by_token}"
    );

    let page = ben.page("/console/approvals").await;
    assert!(page.contains("Approve and apply") && page.contains("transfer.limit"), "ben sees what is applied: {page}");
    let approved =
        ben.post(&format!("/console/approvals/{approval_id}/approve"), &[("comment", "limit agreed with risk")]).await;
    assert_eq!(approved.status(), StatusCode::SEE_OTHER);
    let decided = server.admin().get_approval(&workspace_id, &approval_id).await.unwrap();
    assert_eq!(decided.status, "applied");
    assert_eq!(decided.outcome, "published version 1");
    assert_eq!(decided.decided_by.as_deref(), Some("ben"));
    let again = ben.post(&format!("/console/approvals/{approval_id}/approve"), &[("comment", "")]).await;
    assert_eq!(again.status(), StatusCode::CONFLICT, "applied once");
    let versions = server.admin().config_versions(&workspace_id, &Default::default()).await.unwrap();
    assert_eq!(versions.items.len(), 1);
    assert_eq!(versions.items[0].published_by, "ben");

    // A draft edited after the request is not what was reviewed: applying it fails, and
    // nothing is published.
    ana.page("/console/switches").await;
    ana.post("/console/switches", &[("key", "transfer.limit"), ("value_type", "number"), ("default_value", "900")])
        .await;
    let asked = ana.post("/console/switches/publish", &[("note", "")]).await;
    let stale_id = approval_id_of(&asked);
    ana.page("/console/switches").await;
    ana.post("/console/switches", &[("key", "transfer.limit"), ("value_type", "number"), ("default_value", "99999")])
        .await;
    ben.page("/console/approvals").await;
    ben.post(&format!("/console/approvals/{stale_id}/approve"), &[("comment", "")]).await;
    let stale = server.admin().get_approval(&workspace_id, &stale_id).await.unwrap();
    assert_eq!(stale.status, "failed");
    assert!(stale.outcome.contains("draft changed"), "{}", stale.outcome);
    let versions = server.admin().config_versions(&workspace_id, &Default::default()).await.unwrap();
    assert_eq!(versions.items.len(), 1, "nothing more published");

    let audit = server.admin().list_audit(&AuditParams::default()).await.unwrap().items;
    let who_did = |action: &str| {
        audit.iter().filter(|entry| entry.action == action).map(|entry| entry.actor_name.clone()).collect::<Vec<_>>()
    };
    assert_eq!(who_did("approval.request"), ["ana", "ana"]);
    assert_eq!(who_did("approval.approve"), ["ben", "ben"]);
    assert_eq!(who_did("approval.fail"), ["ben"]);
    assert_eq!(who_did("switch.publish"), ["ben"]);
    let approve_entry =
        audit.iter().find(|entry| entry.action == "approval.approve" && entry.target_id == approval_id).unwrap();
    assert_eq!(approve_entry.after.as_ref().unwrap()["requested_by"], "ana", "the entry names both people");
    assert_eq!(approve_entry.after.as_ref().unwrap()["comment"], "limit agreed with risk");
}

#[tokio::test]
async fn api_changes_go_through_the_same_rule() {
    let server = TestServer::start().await;
    let workspace_id = app_with_rule(&server).await;
    let operator = CreateTokenRequest {
        name: "pipeline".into(),
        role: "operator".into(),
        app_ids: None,
        expires_in_seconds: None,
    };
    let pipeline = server.client_with(&server.admin().create_token(&operator).await.unwrap().token);

    pipeline
        .set_switch(&workspace_id, &json!({ "key": "banner", "type": "string", "default_value": "hello" }))
        .await
        .unwrap();
    let pending = pipeline.publish_config(&workspace_id, "").await.unwrap_err();
    let SdkError::PendingApproval(publication) = pending else { panic!("a request, not a version: {pending}") };
    assert_eq!((publication.status.as_str(), publication.requested_by.as_str()), ("pending", "pipeline"));

    let broadcast = PushRequest {
        message: Some(PushMessageBody {
            title: "Sale".into(),
            content: "Everything must go".into(),
            ..Default::default()
        }),
        msg_id: Some("sale-1".into()),
        audience: Some(Default::default()),
        ..PushRequest::default()
    };
    let pending = pipeline.push_send(&workspace_id, "broadcast", &broadcast).await.unwrap_err();
    let SdkError::PendingApproval(push) = pending else { panic!("a request, not a task: {pending}") };
    assert_eq!(push.change, "push.broadcast");
    let invalid = PushRequest { msg_id: None, ..broadcast.clone() };
    let refused = pipeline.push_send(&workspace_id, "broadcast", &invalid).await.unwrap_err();
    assert!(
        matches!(refused, SdkError::Api { status: StatusCode::BAD_REQUEST, .. }),
        "checked before it is asked: {refused}"
    );
    let tasks = pipeline.push_tasks(&workspace_id, 50).await.unwrap();
    assert!(tasks.items.is_empty(), "no broadcast sent");

    let pending = pipeline.list_approvals(&workspace_id, Some("pending"), &Default::default()).await.unwrap();
    assert_eq!(pending.items.len(), 2);
    let mut ben = Browser::person(&server, "ben", "operator").await;
    ben.page("/console/approvals").await;
    ben.post(&format!("/console/approvals/{}/refuse", push.approval_id), &[("comment", "not before Friday")]).await;
    let refused = pipeline.get_approval(&workspace_id, &push.approval_id).await.unwrap();
    assert_eq!((refused.status.as_str(), refused.comment.as_str()), ("refused", "not before Friday"));
    let withdrawn = pipeline.refuse_request(&workspace_id, &publication.approval_id, "").await.unwrap();
    assert_eq!(withdrawn.status, "cancelled", "the requester withdraws its own request");
    assert!(pipeline.push_tasks(&workspace_id, 50).await.unwrap().items.is_empty());

    let lifted = pipeline.set_approval_policy(&workspace_id, false).await.unwrap_err();
    assert!(matches!(lifted, SdkError::Api { status: StatusCode::FORBIDDEN, .. }), "only admins lift the rule");
    server.admin().set_approval_policy(&workspace_id, false).await.unwrap();
    let version = pipeline.publish_config(&workspace_id, "").await.unwrap();
    assert_eq!(version.version, 1, "without the rule, changes apply at once");
}

#[tokio::test]
async fn a_release_starts_and_rolls_back_once_approved_while_a_pause_does_not_wait() {
    let server = TestServer::start().await;
    let workspace_id = app_with_rule(&server).await;
    let admin = server.admin();
    let hotpatch = admin
        .upload_package(
            &workspace_id,
            &[("kind", "hotpatch"), ("platform", "android"), ("version", "1"), ("app_version", "2.0.0")],
            b"patched classes".repeat(50),
        )
        .await
        .unwrap();
    let release = json!({ "package_id": hotpatch.package_id, "stage": { "kind": "whitelist", "whitelist": { "user_ids": ["tester-1"] } } });
    let pending = admin.create_release(&workspace_id, &release).await.unwrap_err();
    let SdkError::PendingApproval(start) = pending else { panic!("a request: {pending}") };
    assert_eq!(start.change, "release.start");
    assert!(start.summary.contains("hotpatch 1"), "{}", start.summary);
    assert!(admin.list_releases(&workspace_id).await.unwrap().items.is_empty(), "not started yet");

    let mut ben = Browser::person(&server, "ben", "operator").await;
    ben.page("/console/approvals").await;
    ben.post(&format!("/console/approvals/{}/approve", start.approval_id), &[("comment", "")]).await;
    let started = admin.get_approval(&workspace_id, &start.approval_id).await.unwrap();
    assert_eq!(started.status, "applied", "{}", started.outcome);
    let releases = admin.list_releases(&workspace_id).await.unwrap().items;
    assert_eq!(releases.len(), 1);
    let release_id = releases[0].release_id.clone();
    assert!(started.outcome.contains(&release_id));

    let paused = admin.change_release(&workspace_id, &release_id, "pause").await.unwrap();
    assert_eq!(paused.status, "paused", "stopping delivery never waits");
    let pending = admin.change_release(&workspace_id, &release_id, "rollback").await.unwrap_err();
    let SdkError::PendingApproval(rollback) = pending else { panic!("a request: {pending}") };
    ben.page("/console/approvals").await;
    ben.post(&format!("/console/approvals/{}/approve", rollback.approval_id), &[("comment", "")]).await;
    let release = admin.show_release(&workspace_id, &release_id).await.unwrap();
    assert_eq!(release.status, "rolled_back");
}
