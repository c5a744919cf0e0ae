//! Analytics: log batches, upload policies, alert rules and their history, symbol files and
//! diagnosis log requests and files.

use async_trait::async_trait;
use midship_core::NewAuditEntry;
use midship_storage::{
    AlertEventRecord, AlertRuleRecord, AnalyticsBatchRecord, AnalyticsPolicyRecord, AnalyticsStore, LogFileRecord,
    LogRequestRecord, StorageResult, StoredAnalyticsBatch, SymbolFileRecord,
};

use crate::db::{SqlRow, query, query_scalar};
use crate::{Dialect, SqlStorage, corrupt, database_error, write_error};

fn batch_from_row(row: &impl SqlRow) -> Result<StoredAnalyticsBatch, sqlx::Error> {
    Ok(StoredAnalyticsBatch {
        seq: row.try_get(0)?,
        batch: AnalyticsBatchRecord {
            workspace_id: row.try_get(1)?,
            device_id: row.try_get(2)?,
            batch_id: row.try_get(3)?,
            received_at: row.try_get(4)?,
            event_count: row.try_get(5)?,
            payload: row.try_get(6)?,
        },
    })
}

fn rule_from_row(row: &impl SqlRow) -> Result<AlertRuleRecord, sqlx::Error> {
    Ok(AlertRuleRecord {
        rule_id: row.try_get(0)?,
        workspace_id: row.try_get(1)?,
        definition: row.try_get(2)?,
        created_at: row.try_get(3)?,
        updated_at: row.try_get(4)?,
    })
}

fn alert_event_from_row(row: &impl SqlRow) -> Result<AlertEventRecord, sqlx::Error> {
    Ok(AlertEventRecord {
        seq: row.try_get(0)?,
        rule_id: row.try_get(1)?,
        workspace_id: row.try_get(2)?,
        state: row.try_get(3)?,
        value: row.try_get(4)?,
        at: row.try_get(5)?,
        delivered: row.try_get(6)?,
        attempts: row.try_get(7)?,
        detail: row.try_get(8)?,
    })
}

const LOG_FILE_COLUMNS: &str = "file_id, request_id, workspace_id, device_id, user_id, file_name, size, uploaded_at";

fn log_file_from_row(row: &impl SqlRow, with_content: bool) -> Result<LogFileRecord, sqlx::Error> {
    Ok(LogFileRecord {
        file_id: row.try_get(0)?,
        request_id: row.try_get(1)?,
        workspace_id: row.try_get(2)?,
        device_id: row.try_get(3)?,
        user_id: row.try_get(4)?,
        file_name: row.try_get(5)?,
        size: row.try_get(6)?,
        uploaded_at: row.try_get(7)?,
        content: if with_content { row.try_get(8)? } else { Vec::new() },
    })
}

#[async_trait]
impl<D: Dialect> AnalyticsStore for SqlStorage<D> {
    async fn append_analytics_batches(&self, batches: &[AnalyticsBatchRecord]) -> StorageResult<Vec<Option<i64>>> {
        let mut transaction = self.pool.begin().await.map_err(database_error)?;
        let mut sequences = Vec::with_capacity(batches.len());
        for batch in batches {
            let seq: Option<i64> = query_scalar(
                "INSERT INTO analytics_batches (workspace_id, device_id, batch_id, received_at, event_count, payload)
                 VALUES ($1, $2, $3, $4, $5, $6)
                 ON CONFLICT (workspace_id, device_id, batch_id) DO NOTHING
                 RETURNING seq",
            )
            .bind(&batch.workspace_id)
            .bind(&batch.device_id)
            .bind(&batch.batch_id)
            .bind(batch.received_at)
            .bind(batch.event_count)
            .bind(&batch.payload)
            .fetch_optional(&mut *transaction)
            .await
            .map_err(write_error("analytics batch"))?;
            sequences.push(seq);
        }
        transaction.commit().await.map_err(database_error)?;
        Ok(sequences)
    }

    async fn analytics_batches_after(&self, after_seq: i64, limit: u32) -> StorageResult<Vec<StoredAnalyticsBatch>> {
        let rows = query(
            "SELECT seq, workspace_id, device_id, batch_id, received_at, event_count, payload
             FROM analytics_batches WHERE seq > $1 ORDER BY seq LIMIT $2",
        )
        .bind(after_seq)
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await
        .map_err(database_error)?;
        rows.iter().map(batch_from_row).collect::<Result<_, _>>().map_err(corrupt("analytics_batches"))
    }

    async fn get_analytics_batch(
        &self,
        workspace_id: &str,
        device_id: &str,
        batch_id: &str,
    ) -> StorageResult<Option<StoredAnalyticsBatch>> {
        let row = query(
            "SELECT seq, workspace_id, device_id, batch_id, received_at, event_count, payload
             FROM analytics_batches WHERE workspace_id = $1 AND device_id = $2 AND batch_id = $3",
        )
        .bind(workspace_id)
        .bind(device_id)
        .bind(batch_id)
        .fetch_optional(&self.pool)
        .await
        .map_err(database_error)?;
        row.as_ref().map(batch_from_row).transpose().map_err(corrupt("analytics_batches"))
    }

    async fn get_analytics_policy(&self, workspace_id: &str) -> StorageResult<Option<AnalyticsPolicyRecord>> {
        let row = query("SELECT workspace_id, policy, updated_at FROM analytics_policies WHERE workspace_id = $1")
            .bind(workspace_id)
            .fetch_optional(&self.pool)
            .await
            .map_err(database_error)?;
        row.map(|row| -> Result<AnalyticsPolicyRecord, sqlx::Error> {
            Ok(AnalyticsPolicyRecord {
                workspace_id: row.try_get(0)?,
                policy: row.try_get(1)?,
                updated_at: row.try_get(2)?,
            })
        })
        .transpose()
        .map_err(corrupt("analytics_policies"))
    }

    async fn put_analytics_policy(&self, policy: &AnalyticsPolicyRecord, audit: &NewAuditEntry) -> StorageResult<()> {
        let change = query(
            "INSERT INTO analytics_policies (workspace_id, policy, updated_at) VALUES ($1, $2, $3)
             ON CONFLICT (workspace_id) DO UPDATE SET policy = excluded.policy, updated_at = excluded.updated_at",
        )
        .bind(&policy.workspace_id)
        .bind(&policy.policy)
        .bind(policy.updated_at);
        self.audited(change, audit, write_error("analytics policy")).await?;
        Ok(())
    }

    async fn put_alert_rule(&self, rule: &AlertRuleRecord, audit: &NewAuditEntry) -> StorageResult<()> {
        let change = query(
            "INSERT INTO analytics_alert_rules (rule_id, workspace_id, definition, created_at, updated_at)
             VALUES ($1, $2, $3, $4, $5)
             ON CONFLICT (rule_id) DO UPDATE SET definition = excluded.definition, updated_at = excluded.updated_at",
        )
        .bind(&rule.rule_id)
        .bind(&rule.workspace_id)
        .bind(&rule.definition)
        .bind(rule.created_at)
        .bind(rule.updated_at);
        self.audited(change, audit, write_error("alert rule")).await?;
        Ok(())
    }

    async fn delete_alert_rule(&self, rule_id: &str, audit: &NewAuditEntry) -> StorageResult<bool> {
        let change = query("DELETE FROM analytics_alert_rules WHERE rule_id = $1").bind(rule_id);
        Ok(self.audited(change, audit, database_error).await? > 0)
    }

    async fn list_alert_rules(&self, workspace_id: Option<&str>) -> StorageResult<Vec<AlertRuleRecord>> {
        let rows = query(
            "SELECT rule_id, workspace_id, definition, created_at, updated_at FROM analytics_alert_rules
             WHERE $1 IS NULL OR workspace_id = $1 ORDER BY created_at, rule_id",
        )
        .bind(workspace_id)
        .fetch_all(&self.pool)
        .await
        .map_err(database_error)?;
        rows.iter().map(rule_from_row).collect::<Result<_, _>>().map_err(corrupt("analytics_alert_rules"))
    }

    async fn insert_alert_event(&self, event: &AlertEventRecord) -> StorageResult<i64> {
        query_scalar(
            "INSERT INTO analytics_alert_events (rule_id, workspace_id, state, value, at, delivered, attempts, detail)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING seq",
        )
        .bind(&event.rule_id)
        .bind(&event.workspace_id)
        .bind(&event.state)
        .bind(event.value)
        .bind(event.at)
        .bind(event.delivered)
        .bind(event.attempts)
        .bind(&event.detail)
        .fetch_one(&self.pool)
        .await
        .map_err(database_error)
    }

    async fn list_alert_events(&self, workspace_id: &str, limit: u32) -> StorageResult<Vec<AlertEventRecord>> {
        let rows = query(
            "SELECT seq, rule_id, workspace_id, state, value, at, delivered, attempts, detail
             FROM analytics_alert_events WHERE workspace_id = $1 ORDER BY seq DESC LIMIT $2",
        )
        .bind(workspace_id)
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await
        .map_err(database_error)?;
        rows.iter().map(alert_event_from_row).collect::<Result<_, _>>().map_err(corrupt("analytics_alert_events"))
    }

    async fn put_symbol_file(&self, file: &SymbolFileRecord, audit: &NewAuditEntry) -> StorageResult<()> {
        let change = query(
            "INSERT INTO analytics_symbol_files (workspace_id, app_version, kind, content, uploaded_at)
             VALUES ($1, $2, $3, $4, $5)
             ON CONFLICT (workspace_id, app_version, kind) DO UPDATE
             SET content = excluded.content, uploaded_at = excluded.uploaded_at",
        )
        .bind(&file.workspace_id)
        .bind(&file.app_version)
        .bind(&file.kind)
        .bind(&file.content)
        .bind(file.uploaded_at);
        self.audited(change, audit, write_error("symbol file")).await?;
        Ok(())
    }

    async fn list_symbol_files(&self, workspace_id: Option<&str>) -> StorageResult<Vec<SymbolFileRecord>> {
        let rows = query(
            "SELECT workspace_id, app_version, kind, content, uploaded_at FROM analytics_symbol_files
             WHERE $1 IS NULL OR workspace_id = $1 ORDER BY workspace_id, app_version, kind",
        )
        .bind(workspace_id)
        .fetch_all(&self.pool)
        .await
        .map_err(database_error)?;
        rows.iter()
            .map(|row| -> Result<SymbolFileRecord, sqlx::Error> {
                Ok(SymbolFileRecord {
                    workspace_id: row.try_get(0)?,
                    app_version: row.try_get(1)?,
                    kind: row.try_get(2)?,
                    content: row.try_get(3)?,
                    uploaded_at: row.try_get(4)?,
                })
            })
            .collect::<Result<_, _>>()
            .map_err(corrupt("analytics_symbol_files"))
    }

    async fn insert_log_request(&self, request: &LogRequestRecord, audit: &NewAuditEntry) -> StorageResult<()> {
        let change = query(
            "INSERT INTO analytics_log_requests (request_id, workspace_id, device_id, user_id, created_at)
             VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(&request.request_id)
        .bind(&request.workspace_id)
        .bind(&request.device_id)
        .bind(&request.user_id)
        .bind(request.created_at);
        self.audited(change, audit, write_error("log request")).await?;
        Ok(())
    }

    async fn get_log_request(&self, request_id: &str) -> StorageResult<Option<LogRequestRecord>> {
        let row = query(
            "SELECT request_id, workspace_id, device_id, user_id, created_at FROM analytics_log_requests
             WHERE request_id = $1",
        )
        .bind(request_id)
        .fetch_optional(&self.pool)
        .await
        .map_err(database_error)?;
        row.map(|row| -> Result<LogRequestRecord, sqlx::Error> {
            Ok(LogRequestRecord {
                request_id: row.try_get(0)?,
                workspace_id: row.try_get(1)?,
                device_id: row.try_get(2)?,
                user_id: row.try_get(3)?,
                created_at: row.try_get(4)?,
            })
        })
        .transpose()
        .map_err(corrupt("analytics_log_requests"))
    }

    async fn insert_log_file(&self, file: &LogFileRecord) -> StorageResult<()> {
        query(&format!(
            "INSERT INTO analytics_log_files ({LOG_FILE_COLUMNS}, content) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)"
        ))
        .bind(&file.file_id)
        .bind(&file.request_id)
        .bind(&file.workspace_id)
        .bind(&file.device_id)
        .bind(&file.user_id)
        .bind(&file.file_name)
        .bind(file.size)
        .bind(file.uploaded_at)
        .bind(&file.content)
        .execute(&self.pool)
        .await
        .map_err(write_error("log file"))?;
        Ok(())
    }

    async fn list_log_files(
        &self,
        workspace_id: &str,
        from: i64,
        to: i64,
        with_content: bool,
    ) -> StorageResult<Vec<LogFileRecord>> {
        let content = if with_content { ", content" } else { "" };
        let rows = query(&format!(
            "SELECT {LOG_FILE_COLUMNS}{content} FROM analytics_log_files
             WHERE workspace_id = $1 AND uploaded_at >= $2 AND uploaded_at < $3
             ORDER BY uploaded_at DESC, file_id DESC"
        ))
        .bind(workspace_id)
        .bind(from)
        .bind(to)
        .fetch_all(&self.pool)
        .await
        .map_err(database_error)?;
        rows.iter()
            .map(|row| log_file_from_row(row, with_content))
            .collect::<Result<_, _>>()
            .map_err(corrupt("analytics_log_files"))
    }

    async fn get_log_file(&self, file_id: &str) -> StorageResult<Option<LogFileRecord>> {
        let row = query(&format!("SELECT {LOG_FILE_COLUMNS}, content FROM analytics_log_files WHERE file_id = $1"))
            .bind(file_id)
            .fetch_optional(&self.pool)
            .await
            .map_err(database_error)?;
        row.as_ref().map(|row| log_file_from_row(row, true)).transpose().map_err(corrupt("analytics_log_files"))
    }
}
