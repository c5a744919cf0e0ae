//! Approval requests and the workspaces that require them.

use async_trait::async_trait;
use midship_core::approval::{ActorRef, ApprovalDecision, ApprovalRecord, ApprovalStatus, GatedChange};
use midship_core::clock::UnixMillis;
use midship_core::{NewAuditEntry, Page, PageRequest};
use midship_storage::{ApprovalStore, StorageError, StorageResult};

use crate::db::{SqlRow, query, query_scalar};
use crate::{Dialect, SqlStorage, corrupt, database_error, insert_audit, write_error};

const APPROVAL_COLUMNS: &str = "approval_id, tenant_id, app_id, workspace_id, change, payload, summary,
    requested_by_token, requested_by_person, requested_by_name, requested_at, status,
    decided_by_token, decided_by_person, decided_by_name, decided_at, comment, outcome";

fn approval_from_row(row: &impl SqlRow) -> StorageResult<ApprovalRecord> {
    let read = corrupt("approvals");
    let bad = |detail: String| StorageError::Corrupt { table: "approvals", detail };
    let change: String = row.try_get("change").map_err(&read)?;
    let status: String = row.try_get("status").map_err(&read)?;
    let payload: String = row.try_get("payload").map_err(&read)?;
    let decided_by_name: Option<String> = row.try_get("decided_by_name").map_err(&read)?;
    let decided_by = match decided_by_name {
        Some(name) => Some(ActorRef {
            token_id: row.try_get("decided_by_token").map_err(&read)?,
            person_id: row.try_get("decided_by_person").map_err(&read)?,
            name,
        }),
        None => None,
    };
    Ok(ApprovalRecord {
        approval_id: row.try_get("approval_id").map_err(&read)?,
        tenant_id: row.try_get("tenant_id").map_err(&read)?,
        app_id: row.try_get("app_id").map_err(&read)?,
        workspace_id: row.try_get("workspace_id").map_err(&read)?,
        change: GatedChange::parse(&change).ok_or_else(|| bad(format!("change {change}")))?,
        payload: serde_json::from_str(&payload).map_err(|error| bad(format!("payload: {error}")))?,
        summary: row.try_get("summary").map_err(&read)?,
        requested_by: ActorRef {
            token_id: row.try_get("requested_by_token").map_err(&read)?,
            person_id: row.try_get("requested_by_person").map_err(&read)?,
            name: row.try_get("requested_by_name").map_err(&read)?,
        },
        requested_at: row.try_get("requested_at").map_err(&read)?,
        status: ApprovalStatus::parse(&status).ok_or_else(|| bad(format!("status {status}")))?,
        decided_by,
        decided_at: row.try_get("decided_at").map_err(&read)?,
        comment: row.try_get("comment").map_err(&read)?,
        outcome: row.try_get("outcome").map_err(&read)?,
    })
}

#[async_trait]
impl<D: Dialect> ApprovalStore for SqlStorage<D> {
    async fn approvals_required(&self, workspace_id: &str) -> StorageResult<bool> {
        let required: Option<bool> = query_scalar("SELECT required FROM approval_policies WHERE workspace_id = $1")
            .bind(workspace_id)
            .fetch_optional(&self.pool)
            .await
            .map_err(database_error)?;
        Ok(required.unwrap_or(false))
    }

    async fn set_approvals_required(
        &self,
        workspace_id: &str,
        required: bool,
        at: UnixMillis,
        audit: &NewAuditEntry,
    ) -> StorageResult<()> {
        let upsert = query(
            "INSERT INTO approval_policies (workspace_id, required, updated_at) VALUES ($1, $2, $3)
             ON CONFLICT (workspace_id) DO UPDATE SET required = $2, updated_at = $3",
        )
        .bind(workspace_id)
        .bind(required)
        .bind(at);
        self.audited(upsert, audit, write_error("approval policy")).await?;
        Ok(())
    }

    async fn create_approval(&self, approval: &ApprovalRecord, audit: &NewAuditEntry) -> StorageResult<()> {
        let sql = format!(
            "INSERT INTO approvals ({APPROVAL_COLUMNS})
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18)"
        );
        let insert = query(&sql)
            .bind(&approval.approval_id)
            .bind(&approval.tenant_id)
            .bind(&approval.app_id)
            .bind(&approval.workspace_id)
            .bind(approval.change.as_str())
            .bind(approval.payload.to_string())
            .bind(&approval.summary)
            .bind(&approval.requested_by.token_id)
            .bind(&approval.requested_by.person_id)
            .bind(&approval.requested_by.name)
            .bind(approval.requested_at)
            .bind(approval.status.as_str())
            .bind(approval.decided_by.as_ref().and_then(|actor| actor.token_id.clone()))
            .bind(approval.decided_by.as_ref().and_then(|actor| actor.person_id.clone()))
            .bind(approval.decided_by.as_ref().map(|actor| actor.name.clone()))
            .bind(approval.decided_at)
            .bind(&approval.comment)
            .bind(&approval.outcome);
        self.audited(insert, audit, write_error("approval")).await?;
        Ok(())
    }

    async fn get_approval(&self, approval_id: &str) -> StorageResult<Option<ApprovalRecord>> {
        let row = query(&format!("SELECT {APPROVAL_COLUMNS} FROM approvals WHERE approval_id = $1"))
            .bind(approval_id)
            .fetch_optional(&self.pool)
            .await
            .map_err(database_error)?;
        row.as_ref().map(approval_from_row).transpose()
    }

    async fn list_approvals(
        &self,
        workspace_id: &str,
        status: Option<ApprovalStatus>,
        page: &PageRequest,
    ) -> StorageResult<Page<ApprovalRecord>> {
        // Ids sort by creation time, so "older than the cursor" is "id below it".
        let rows = query(&format!(
            "SELECT {APPROVAL_COLUMNS} FROM approvals
             WHERE workspace_id = $1 AND approval_id < $2 AND ($3 = '' OR status = $3)
             ORDER BY approval_id DESC LIMIT $4"
        ))
        .bind(workspace_id)
        .bind(page.after.as_deref().unwrap_or("~"))
        .bind(status.map_or("", ApprovalStatus::as_str))
        .bind(page.fetch_limit())
        .fetch_all(&self.pool)
        .await
        .map_err(database_error)?;
        let approvals = rows.iter().map(approval_from_row).collect::<StorageResult<Vec<_>>>()?;
        Ok(Page::from_rows(approvals, page, |approval| approval.approval_id.clone()))
    }

    async fn decide_approval(
        &self,
        approval_id: &str,
        from: ApprovalStatus,
        decision: &ApprovalDecision,
        audit: Option<&NewAuditEntry>,
    ) -> StorageResult<bool> {
        let mut transaction = self.pool.begin().await.map_err(database_error)?;
        let changed = query(
            "UPDATE approvals SET status = $1, decided_by_token = $2, decided_by_person = $3, decided_by_name = $4,
                 decided_at = $5, comment = $6, outcome = $7
             WHERE approval_id = $8 AND status = $9",
        )
        .bind(decision.status.as_str())
        .bind(&decision.decided_by.token_id)
        .bind(&decision.decided_by.person_id)
        .bind(&decision.decided_by.name)
        .bind(decision.decided_at)
        .bind(&decision.comment)
        .bind(&decision.outcome)
        .bind(approval_id)
        .bind(from.as_str())
        .execute(&mut *transaction)
        .await
        .map_err(database_error)?
        .rows_affected();
        if changed == 0 {
            return Ok(false);
        }
        if let Some(audit) = audit {
            insert_audit(&mut transaction, audit).await?;
        }
        transaction.commit().await.map_err(database_error)?;
        Ok(true)
    }
}
