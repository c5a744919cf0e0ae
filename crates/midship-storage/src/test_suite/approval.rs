//! The suite's approval tests: a policy per workspace, requests listed newest first by status,
//! and a decision taken once.

use std::sync::Arc;

use midship_core::approval::{ActorRef, ApprovalDecision, ApprovalRecord, ApprovalStatus, GatedChange};
use midship_core::tenancy::DEFAULT_TENANT_ID;
use midship_core::{AuditFilter, PageRequest};
use serde_json::json;

use super::{T0, audit, bootstrapped, create_app};
use crate::Storage;

const WORKSPACE: &str = "APP0000000000001W1";

fn request(approval_id: &str, change: GatedChange, requested_at: i64) -> ApprovalRecord {
    ApprovalRecord {
        approval_id: approval_id.into(),
        tenant_id: DEFAULT_TENANT_ID.into(),
        app_id: "APP0000000000001".into(),
        workspace_id: WORKSPACE.into(),
        change,
        payload: json!({ "note": "weekly", "draft_fingerprint": "ab12" }),
        summary: "publish 2 changed switches".into(),
        requested_by: ActorRef { token_id: None, person_id: Some("PERSON0000000001".into()), name: "ana".into() },
        requested_at,
        status: ApprovalStatus::Pending,
        decided_by: None,
        decided_at: None,
        comment: String::new(),
        outcome: String::new(),
    }
}

pub async fn approvals_are_required_per_workspace_and_decided_once(storage: Arc<dyn Storage>) {
    bootstrapped(&storage).await;
    create_app(&storage, "APP0000000000001", "One", T0).await;
    assert!(!storage.approvals_required(WORKSPACE).await.unwrap(), "off until set");
    storage.set_approvals_required(WORKSPACE, true, T0, &audit("workspace.approvals", WORKSPACE, T0)).await.unwrap();
    assert!(storage.approvals_required(WORKSPACE).await.unwrap());
    storage
        .set_approvals_required(WORKSPACE, false, T0 + 1, &audit("workspace.approvals", WORKSPACE, T0))
        .await
        .unwrap();
    assert!(!storage.approvals_required(WORKSPACE).await.unwrap(), "set again, not added twice");

    let first = request("APPROVAL00000001", GatedChange::ConfigPublish, T0);
    let second = request("APPROVAL00000002", GatedChange::PushBroadcast, T0 + 1);
    let third = request("APPROVAL00000003", GatedChange::ReleaseRollback, T0 + 2);
    for approval in [&first, &second, &third] {
        storage.create_approval(approval, &audit("approval.request", &approval.approval_id, T0)).await.unwrap();
    }
    assert_eq!(storage.get_approval("APPROVAL00000001").await.unwrap(), Some(first.clone()), "reads back whole");
    assert_eq!(storage.get_approval("APPROVAL00000009").await.unwrap(), None);

    let bo = ActorRef { token_id: None, person_id: Some("PERSON0000000002".into()), name: "bo".into() };
    let approve = ApprovalDecision {
        status: ApprovalStatus::Approved,
        decided_by: bo.clone(),
        decided_at: T0 + 10,
        comment: "looks right".into(),
        outcome: String::new(),
    };
    let approved = storage
        .decide_approval(
            "APPROVAL00000001",
            ApprovalStatus::Pending,
            &approve,
            Some(&audit("approval.approve", "A1", T0)),
        )
        .await
        .unwrap();
    assert!(approved);
    let again = storage
        .decide_approval(
            "APPROVAL00000001",
            ApprovalStatus::Pending,
            &approve,
            Some(&audit("approval.approve", "A1", T0)),
        )
        .await
        .unwrap();
    assert!(!again, "a request leaves pending once");
    let applied =
        ApprovalDecision { status: ApprovalStatus::Applied, outcome: "published version 4".into(), ..approve };
    assert!(storage.decide_approval("APPROVAL00000001", ApprovalStatus::Approved, &applied, None).await.unwrap());
    let stored = storage.get_approval("APPROVAL00000001").await.unwrap().unwrap();
    assert_eq!(stored.status, ApprovalStatus::Applied);
    assert_eq!(stored.decided_by, Some(bo));
    assert_eq!(stored.decided_at, Some(T0 + 10));
    assert_eq!((stored.comment.as_str(), stored.outcome.as_str()), ("looks right", "published version 4"));

    let all = storage.list_approvals(WORKSPACE, None, &PageRequest::new(Some(2), None)).await.unwrap();
    let ids: Vec<_> = all.items.iter().map(|approval| approval.approval_id.as_str()).collect();
    assert_eq!(ids, ["APPROVAL00000003", "APPROVAL00000002"], "newest first");
    let rest =
        storage.list_approvals(WORKSPACE, None, &PageRequest::new(Some(2), all.next_cursor.clone())).await.unwrap();
    assert_eq!(rest.items.len(), 1);
    assert_eq!(rest.next_cursor, None);
    let pending = storage
        .list_approvals(WORKSPACE, Some(ApprovalStatus::Pending), &PageRequest::new(Some(10), None))
        .await
        .unwrap();
    assert_eq!(pending.items.len(), 2, "the applied one is not pending");
    let other = storage.list_approvals("APP0000000000001W9", None, &PageRequest::new(Some(10), None)).await.unwrap();
    assert!(other.items.is_empty());

    let log = storage
        .list_audit(DEFAULT_TENANT_ID, &AuditFilter::default(), &PageRequest::new(Some(100), None))
        .await
        .unwrap();
    let approvals = log.items.iter().filter(|entry| entry.entry.action.starts_with("approval.")).count();
    assert_eq!(approvals, 4, "three requests and one approval; the refused repeat and the outcome write none");
}
