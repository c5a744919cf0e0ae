//! Approvals ("four eyes"): the one gate every way of making a gated change passes — the admin
//! API and the console alike — and the one place an approved request is applied. In a workspace
//! that requires approvals, a gated change is checked as if it were made now, then recorded as a
//! request; another person approves it and it is applied then, exactly as asked.

pub mod console;
pub mod rest;

use std::future::Future;

use midship_api::{ApprovalView, PushRequest};
use midship_control::approvals::ApprovalRequest;
use midship_core::approval::{ApprovalRecord, GatedChange};
use midship_core::clock::format_rfc3339;
use midship_core::{ErrorKind, Principal};
use midship_delivery::{ReleaseAction, ReleaseDefinition, ReleaseSummary};
use midship_push::{PushKind, TaskSummary};
use midship_switches::{PublishedVersion, SwitchState};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::AppState;
use crate::error::ApiError;

/// A gated change: made now, or waiting for a second person.
#[derive(Debug)]
pub enum Gated<T> {
    Done(T),
    Requested(Box<ApprovalRecord>),
}

/// What a release request keeps to start the release later.
#[derive(Debug, Serialize, Deserialize)]
struct ReleasePayload {
    package_id: String,
    definition: ReleaseDefinition,
}

/// Records a request when the workspace requires approvals (after `prepare` checked the change
/// and described it); `None` when the change may be made now.
async fn request_if_required<Prepare>(
    state: &AppState,
    who: &Principal,
    workspace_id: &str,
    change: GatedChange,
    prepare: Prepare,
) -> Result<Option<ApprovalRecord>, ApiError>
where
    Prepare: Future<Output = Result<(Value, String), ApiError>>,
{
    if !state.control.approvals_required(who, workspace_id).await? {
        return Ok(None);
    }
    let (_, workspace) = state.control.visible_workspace(who, workspace_id).await?;
    let (payload, summary) = prepare.await?;
    let request = ApprovalRequest { change, payload, summary };
    Ok(Some(state.control.request_approval(who, &workspace, request).await?))
}

fn gated<T>(requested: Option<ApprovalRecord>) -> Option<Gated<T>> {
    requested.map(|approval| Gated::Requested(Box::new(approval)))
}

pub async fn publish_config(
    state: &AppState,
    who: &Principal,
    workspace_id: &str,
    note: &str,
) -> Result<Gated<PublishedVersion>, ApiError> {
    let prepare = async {
        let review = state.switches.review_publication(who, workspace_id).await?;
        let changes: Vec<Value> = review
            .changes
            .iter()
            .map(|(key, switch_state)| json!({ "key": key, "state": switch_state.as_str() }))
            .collect();
        let mut named: Vec<String> = review
            .changes
            .iter()
            .take(3)
            .map(|(key, state)| if *state == SwitchState::Deleted { format!("{key} deleted") } else { key.clone() })
            .collect();
        if review.changes.len() > named.len() {
            named.push("…".to_owned());
        }
        let count = review.changes.len();
        let summary =
            format!("publish {count} switch change{}: {}", if count == 1 { "" } else { "s" }, named.join(", "));
        Ok((json!({ "note": note, "draft_fingerprint": review.fingerprint, "changes": changes }), summary))
    };
    let requested = request_if_required(state, who, workspace_id, GatedChange::ConfigPublish, prepare).await?;
    if let Some(requested) = gated(requested) {
        return Ok(requested);
    }
    Ok(Gated::Done(state.switches.publish(who, workspace_id, note).await?))
}

pub async fn rollback_config(
    state: &AppState,
    who: &Principal,
    workspace_id: &str,
    version: i64,
) -> Result<Gated<PublishedVersion>, ApiError> {
    let prepare = async {
        state.switches.has_version(who, workspace_id, version).await?;
        Ok((json!({ "version": version }), format!("roll switches back to version {version}")))
    };
    let requested = request_if_required(state, who, workspace_id, GatedChange::ConfigRollback, prepare).await?;
    if let Some(requested) = gated(requested) {
        return Ok(requested);
    }
    Ok(Gated::Done(state.switches.rollback(who, workspace_id, version).await?))
}

pub async fn create_release(
    state: &AppState,
    who: &Principal,
    workspace_id: &str,
    package_id: &str,
    definition: ReleaseDefinition,
) -> Result<Gated<ReleaseSummary>, ApiError> {
    let prepare = async {
        let package = state.delivery.check_release(who, workspace_id, package_id, &definition).await?;
        let summary = format!(
            "release {} {} ({})",
            package.kind.as_str(),
            package.version,
            serde_json::to_value(&definition.stage)
                .ok()
                .and_then(|stage| stage.get("kind").and_then(Value::as_str).map(str::to_owned))
                .unwrap_or_default()
        );
        let payload = ReleasePayload { package_id: package_id.to_owned(), definition: definition.clone() };
        Ok((serde_json::to_value(payload).expect("release payloads serialize"), summary))
    };
    let requested = request_if_required(state, who, workspace_id, GatedChange::ReleaseStart, prepare).await?;
    if let Some(requested) = gated(requested) {
        return Ok(requested);
    }
    Ok(Gated::Done(state.delivery.create_release(who, workspace_id, package_id, definition).await?))
}

/// A change of a release; only a rollback is gated (pausing and ending stop delivery, which an
/// incident must not wait for).
pub async fn change_release(
    state: &AppState,
    who: &Principal,
    workspace_id: &str,
    release_id: &str,
    action: ReleaseAction,
) -> Result<Gated<ReleaseSummary>, ApiError> {
    if action == ReleaseAction::Rollback {
        let prepare = async {
            let package = state.delivery.check_release_change(who, workspace_id, release_id, action).await?;
            let summary = format!("roll back {} {} (release {release_id})", package.kind.as_str(), package.version);
            Ok((json!({ "release_id": release_id }), summary))
        };
        let requested = request_if_required(state, who, workspace_id, GatedChange::ReleaseRollback, prepare).await?;
        if let Some(requested) = gated(requested) {
            return Ok(requested);
        }
    }
    Ok(Gated::Done(state.delivery.change_release(who, workspace_id, release_id, action).await?))
}

/// A push; only broadcasts are gated (they reach every device at once).
pub async fn send_push(
    state: &AppState,
    who: &Principal,
    workspace_id: &str,
    kind: PushKind,
    request: PushRequest,
) -> Result<Gated<TaskSummary>, ApiError> {
    if kind == PushKind::Broadcast {
        let prepare = async {
            state.push.check_send(who, workspace_id, kind, &request).await?;
            let title = request.message.as_ref().map(|message| message.title.as_str()).unwrap_or_default();
            let summary = format!("broadcast push `{title}`");
            Ok((json!({ "request": request }), summary))
        };
        let requested = request_if_required(state, who, workspace_id, GatedChange::PushBroadcast, prepare).await?;
        if let Some(requested) = gated(requested) {
            return Ok(requested);
        }
    }
    Ok(Gated::Done(state.push.send(who, workspace_id, kind, request).await?))
}

/// Approves a request and applies it as the approver; answers the request with its outcome
/// (`applied`, or `failed` with why: nothing changed then).
pub async fn approve(
    state: &AppState,
    who: &Principal,
    workspace_id: &str,
    approval_id: &str,
    comment: &str,
) -> Result<ApprovalRecord, ApiError> {
    let approval = state.control.approve(who, workspace_id, approval_id, comment).await?;
    let outcome = apply(state, who, &approval).await.map_err(|error| error.message);
    match &outcome {
        Ok(done) => tracing::info!(
            approval_id,
            workspace_id,
            change = approval.change.as_str(),
            done,
            "approved change applied"
        ),
        Err(why) => {
            tracing::warn!(approval_id, workspace_id, change = approval.change.as_str(), why, "approved change failed")
        }
    }
    Ok(state.control.finish_approval(who, approval, outcome).await?)
}

/// Applies an approved request exactly as it was asked; what it did, in words.
async fn apply(state: &AppState, approver: &Principal, approval: &ApprovalRecord) -> Result<String, ApiError> {
    let workspace_id = approval.workspace_id.as_str();
    let payload = &approval.payload;
    let corrupt = || ApiError::of_kind(ErrorKind::Internal, "the stored request cannot be read");
    match approval.change {
        GatedChange::ConfigPublish => {
            let note = payload["note"].as_str().unwrap_or_default();
            let fingerprint = payload["draft_fingerprint"].as_str().ok_or_else(corrupt)?;
            let published = state.switches.publish_reviewed(approver, workspace_id, note, fingerprint).await?;
            Ok(format!("published version {}", published.version))
        }
        GatedChange::ConfigRollback => {
            let version = payload["version"].as_i64().ok_or_else(corrupt)?;
            let published = state.switches.rollback(approver, workspace_id, version).await?;
            Ok(format!("published version {} (the content of version {version})", published.version))
        }
        GatedChange::ReleaseStart => {
            let ReleasePayload { package_id, definition } =
                serde_json::from_value(payload.clone()).map_err(|_| corrupt())?;
            let summary = state.delivery.create_release(approver, workspace_id, &package_id, definition).await?;
            Ok(format!("started release {}", summary.release.release_id))
        }
        GatedChange::ReleaseRollback => {
            let release_id = payload["release_id"].as_str().ok_or_else(corrupt)?;
            state.delivery.change_release(approver, workspace_id, release_id, ReleaseAction::Rollback).await?;
            Ok(format!("rolled back release {release_id}"))
        }
        GatedChange::PushBroadcast => {
            let request: PushRequest = serde_json::from_value(payload["request"].clone()).map_err(|_| corrupt())?;
            let summary = state.push.send(approver, workspace_id, PushKind::Broadcast, request).await?;
            Ok(format!("push task {} to {} devices", summary.task.task_id, summary.totals.targets))
        }
    }
}

pub fn approval_view(approval: &ApprovalRecord, now: i64) -> ApprovalView {
    ApprovalView {
        approval_id: approval.approval_id.clone(),
        workspace_id: approval.workspace_id.clone(),
        change: approval.change.as_str().to_owned(),
        summary: approval.summary.clone(),
        payload: approval.payload.clone(),
        requested_by: approval.requested_by.name.clone(),
        requested_at: format_rfc3339(approval.requested_at),
        status: approval.status_at(now).to_owned(),
        expires_at: format_rfc3339(approval.expires_at()),
        decided_by: approval.decided_by.as_ref().map(|actor| actor.name.clone()),
        decided_at: approval.decided_at.map(format_rfc3339),
        comment: approval.comment.clone(),
        outcome: approval.outcome.clone(),
    }
}
