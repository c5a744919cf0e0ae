//! Approvals ("four eyes"): the workspace setting, requests, and decisions. The control plane
//! knows who may ask and who may decide; applying an approved change is the caller's (the server
//! composes the services that own each change).

use midship_core::access::Action;
use midship_core::approval::{ActorRef, ApprovalDecision, ApprovalRecord, ApprovalStatus, GatedChange};
use midship_core::page::{Page, PageRequest};
use midship_core::tenancy::Workspace;
use midship_core::{NewAuditEntry, Principal, ValidationError};
use serde_json::json;

use crate::{ControlError, ControlPlane};

/// The longest comment kept with a decision.
const MAX_COMMENT_CHARS: usize = 500;

/// A gated change as the caller asks for it.
#[derive(Debug, Clone)]
pub struct ApprovalRequest {
    pub change: GatedChange,
    pub payload: serde_json::Value,
    pub summary: String,
}

fn approval_summary(approval: &ApprovalRecord) -> serde_json::Value {
    json!({
        "change": approval.change.as_str(),
        "summary": approval.summary,
        "workspace_id": approval.workspace_id,
        "requested_by": approval.requested_by.name,
        "status": approval.status.as_str(),
    })
}

fn checked_comment(comment: &str) -> Result<String, ControlError> {
    if comment.chars().count() > MAX_COMMENT_CHARS {
        return Err(ValidationError::new("comment", format!("must be at most {MAX_COMMENT_CHARS} characters")).into());
    }
    if comment.chars().any(char::is_control) {
        return Err(ValidationError::new("comment", "must not contain control characters").into());
    }
    Ok(comment.trim().to_owned())
}

impl ControlPlane {
    /// Whether gated changes in the workspace wait for a second person.
    pub async fn approvals_required(&self, who: &Principal, workspace_id: &str) -> Result<bool, ControlError> {
        let (_, workspace) = self.authorized_workspace(who, workspace_id, Action::Read).await?;
        Ok(self.storage.approvals_required(&workspace.workspace_id).await?)
    }

    /// Turns the rule on or off; admins only, so nobody lifts it to skip their own review.
    pub async fn set_approvals_required(
        &self,
        who: &Principal,
        workspace_id: &str,
        required: bool,
    ) -> Result<bool, ControlError> {
        let (app, workspace) = self.authorized_workspace(who, workspace_id, Action::ManageAccess).await?;
        let before = self.storage.approvals_required(&workspace.workspace_id).await?;
        let now = self.now_ms();
        let audit = NewAuditEntry::by(who, now, "workspace.approvals", "workspace", &workspace.workspace_id)
            .in_app(&app.app_id)
            .before(json!({ "approvals_required": before }))
            .after(json!({ "approvals_required": required }));
        self.storage.set_approvals_required(&workspace.workspace_id, required, now, &audit).await?;
        Ok(required)
    }

    /// Records a request for a change the caller may make; the change itself waits.
    pub async fn request_approval(
        &self,
        who: &Principal,
        workspace: &Workspace,
        request: ApprovalRequest,
    ) -> Result<ApprovalRecord, ControlError> {
        who.authorize_app(request.change.action(), &workspace.app_id)?;
        let now = self.now_ms();
        let approval = ApprovalRecord {
            approval_id: self.new_id(),
            tenant_id: who.tenant_id.clone(),
            app_id: workspace.app_id.clone(),
            workspace_id: workspace.workspace_id.clone(),
            change: request.change,
            payload: request.payload,
            summary: request.summary,
            requested_by: ActorRef::of(who),
            requested_at: now,
            status: ApprovalStatus::Pending,
            decided_by: None,
            decided_at: None,
            comment: String::new(),
            outcome: String::new(),
        };
        let audit = NewAuditEntry::by(who, now, "approval.request", "approval", &approval.approval_id)
            .in_app(&workspace.app_id)
            .after(approval_summary(&approval));
        self.storage.create_approval(&approval, &audit).await?;
        Ok(approval)
    }

    pub async fn list_approvals(
        &self,
        who: &Principal,
        workspace_id: &str,
        status: Option<ApprovalStatus>,
        page: &PageRequest,
    ) -> Result<Page<ApprovalRecord>, ControlError> {
        let (_, workspace) = self.authorized_workspace(who, workspace_id, Action::Read).await?;
        Ok(self.storage.list_approvals(&workspace.workspace_id, status, page).await?)
    }

    pub async fn get_approval(
        &self,
        who: &Principal,
        workspace_id: &str,
        approval_id: &str,
    ) -> Result<ApprovalRecord, ControlError> {
        let (_, workspace) = self.authorized_workspace(who, workspace_id, Action::Read).await?;
        let found = if midship_core::ids::looks_like_id(approval_id) {
            self.storage.get_approval(approval_id).await?
        } else {
            None
        };
        found
            .filter(|approval| approval.workspace_id == workspace.workspace_id)
            .ok_or_else(|| ControlError::not_found("approval request", approval_id))
    }

    /// Approves an open request: the caller must be a person, not its requester, allowed to make
    /// the change themself. The request moves to `approved` once, however many approve at
    /// once; the caller applies it and then calls [`Self::finish_approval`].
    pub async fn approve(
        &self,
        who: &Principal,
        workspace_id: &str,
        approval_id: &str,
        comment: &str,
    ) -> Result<ApprovalRecord, ControlError> {
        let approval = self.decidable(who, workspace_id, approval_id).await?;
        if who.person_id().is_none() {
            return Err(ControlError::NotYours("an approval is given by a person signed in, not by an API token"));
        }
        if approval.requested_by.is(who) {
            return Err(ControlError::NotYours("a request is approved by another person than its requester"));
        }
        self.decide(who, approval, ApprovalStatus::Approved, checked_comment(comment)?, "approval.approve").await
    }

    /// Refuses an open request (anyone who could approve it, or its requester, who may withdraw
    /// it: that reads as cancelled).
    pub async fn refuse(
        &self,
        who: &Principal,
        workspace_id: &str,
        approval_id: &str,
        comment: &str,
    ) -> Result<ApprovalRecord, ControlError> {
        let approval = self.decidable(who, workspace_id, approval_id).await?;
        let (status, action) = if approval.requested_by.is(who) {
            (ApprovalStatus::Cancelled, "approval.cancel")
        } else {
            (ApprovalStatus::Refused, "approval.refuse")
        };
        self.decide(who, approval, status, checked_comment(comment)?, action).await
    }

    /// Records what applying an approved request did. A failure is audited (nothing changed);
    /// a success is audited by the change itself.
    pub async fn finish_approval(
        &self,
        who: &Principal,
        mut approval: ApprovalRecord,
        outcome: Result<String, String>,
    ) -> Result<ApprovalRecord, ControlError> {
        let (status, outcome) = match outcome {
            Ok(done) => (ApprovalStatus::Applied, done),
            Err(failure) => (ApprovalStatus::Failed, failure),
        };
        let decision = ApprovalDecision {
            status,
            decided_by: approval.decided_by.clone().unwrap_or_else(|| ActorRef::of(who)),
            decided_at: approval.decided_at.unwrap_or_else(|| self.now_ms()),
            comment: approval.comment.clone(),
            outcome: outcome.clone(),
        };
        approval.status = status;
        approval.outcome = outcome;
        let audit = (status == ApprovalStatus::Failed).then(|| {
            NewAuditEntry::by(who, self.now_ms(), "approval.fail", "approval", &approval.approval_id)
                .in_app(&approval.app_id)
                .after(json!({ "change": approval.change.as_str(), "outcome": approval.outcome }))
        });
        self.storage
            .decide_approval(&approval.approval_id, ApprovalStatus::Approved, &decision, audit.as_ref())
            .await?;
        Ok(approval)
    }

    /// An open request the caller may decide: allowed to operate in the workspace (checked first,
    /// so a viewer learns nothing of ids) and to make the requested change.
    async fn decidable(
        &self,
        who: &Principal,
        workspace_id: &str,
        approval_id: &str,
    ) -> Result<ApprovalRecord, ControlError> {
        self.authorized_workspace(who, workspace_id, Action::Operate).await?;
        let approval = self.get_approval(who, workspace_id, approval_id).await?;
        who.authorize_app(approval.change.action(), &approval.app_id)?;
        let now = self.now_ms();
        if !approval.is_open_at(now) {
            let status = approval.status_at(now);
            return Err(ControlError::Conflict(format!("the request is {status}, no longer open")));
        }
        Ok(approval)
    }

    async fn decide(
        &self,
        who: &Principal,
        mut approval: ApprovalRecord,
        status: ApprovalStatus,
        comment: String,
        action: &str,
    ) -> Result<ApprovalRecord, ControlError> {
        let now = self.now_ms();
        let decision = ApprovalDecision {
            status,
            decided_by: ActorRef::of(who),
            decided_at: now,
            comment: comment.clone(),
            outcome: String::new(),
        };
        let audit = NewAuditEntry::by(who, now, action, "approval", &approval.approval_id)
            .in_app(&approval.app_id)
            .before(approval_summary(&approval))
            .after(json!({
                "change": approval.change.as_str(),
                "summary": approval.summary,
                "requested_by": approval.requested_by.name,
                "status": status.as_str(),
                "comment": comment,
            }));
        let decided = self
            .storage
            .decide_approval(&approval.approval_id, ApprovalStatus::Pending, &decision, Some(&audit))
            .await?;
        if !decided {
            return Err(ControlError::Conflict("the request was decided by someone else meanwhile".into()));
        }
        approval.status = status;
        approval.decided_by = Some(decision.decided_by);
        approval.decided_at = Some(now);
        approval.comment = comment;
        Ok(approval)
    }
}
