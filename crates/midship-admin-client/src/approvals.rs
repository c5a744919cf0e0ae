//! Approvals: the four-eyes rule of a workspace and its requests.

use midship_api::{ApprovalPolicy, ApprovalView, DecisionRequest, List};
use serde::Serialize;

use super::{AdminClient, PageParams, SdkError};

#[derive(Debug, Clone, Serialize)]
struct ApprovalListQuery<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    status: Option<&'a str>,
    #[serde(flatten)]
    page: &'a PageParams,
}

impl AdminClient {
    pub async fn approval_policy(&self, workspace_id: &str) -> Result<ApprovalPolicy, SdkError> {
        self.get(&Self::workspace_path(workspace_id, "approval-policy"), &()).await
    }

    /// Turns the four-eyes rule on or off (admins).
    pub async fn set_approval_policy(&self, workspace_id: &str, required: bool) -> Result<ApprovalPolicy, SdkError> {
        let policy = ApprovalPolicy { approvals_required: required };
        self.put(&Self::workspace_path(workspace_id, "approval-policy"), &policy).await
    }

    /// Requests newest first; `status` such as `pending` keeps only those.
    pub async fn list_approvals(
        &self,
        workspace_id: &str,
        status: Option<&str>,
        page: &PageParams,
    ) -> Result<List<ApprovalView>, SdkError> {
        let query = ApprovalListQuery { status, page };
        self.get(&Self::workspace_path(workspace_id, "approvals"), &query).await
    }

    pub async fn get_approval(&self, workspace_id: &str, approval_id: &str) -> Result<ApprovalView, SdkError> {
        self.get(&Self::workspace_path(workspace_id, &format!("approvals/{}", Self::segment(approval_id))), &()).await
    }

    /// Approves and applies a request (a person's session, not the requester).
    pub async fn approve_request(
        &self,
        workspace_id: &str,
        approval_id: &str,
        comment: &str,
    ) -> Result<ApprovalView, SdkError> {
        self.decide(workspace_id, approval_id, "approve", comment).await
    }

    /// Refuses a request; the requester refusing withdraws it.
    pub async fn refuse_request(
        &self,
        workspace_id: &str,
        approval_id: &str,
        comment: &str,
    ) -> Result<ApprovalView, SdkError> {
        self.decide(workspace_id, approval_id, "refuse", comment).await
    }

    async fn decide(
        &self,
        workspace_id: &str,
        approval_id: &str,
        verb: &str,
        comment: &str,
    ) -> Result<ApprovalView, SdkError> {
        let path = Self::workspace_path(workspace_id, &format!("approvals/{}/{verb}", Self::segment(approval_id)));
        self.post(&path, &DecisionRequest { comment: comment.to_owned() }).await
    }
}
