//! Push: devices, definitions, tasks and deliveries.

use std::collections::BTreeMap;

use async_trait::async_trait;
use midship_core::NewAuditEntry;
use midship_core::clock::UnixMillis;
use midship_storage::{
    BroadcastAudience, DeliveryFilter, DeliveryOutcome, DeliveryUpdate, PushDefinitionKind, PushDefinitionRecord,
    PushDeliveryRecord, PushDeviceRecord, PushEvent, PushEventKind, PushReport, PushStatsRow, PushStatsScope,
    PushStore, PushTaskRecord, PushTaskStatus, StorageError, StorageResult,
};
use sqlx::Transaction;

use crate::db::{QueryBuilder, SqlDatabase, SqlRow, query};
use crate::secrets::PUSH_CHANNEL_DEFINITION;
use crate::{Dialect, SqlStorage, corrupt, database_error, insert_audit, write_error};

const DEVICE_COLUMNS: &str =
    "workspace_id, device_id, platform, channel, token, token_retired_at, user_id, bound_at, reported_at";
const TASK_COLUMNS: &str =
    "task_id, workspace_id, parent_task_id, kind, definition, status, created_at, next_run_at, runs";
const DELIVERY_COLUMNS: &str = "task_id, workspace_id, device_id, user_id, platform, channel, token, msg_id, target_values, \
     created_at, expires_at, sent_at, failed_at, error, delivered_at, opened_at, ignored_at, revoked_at";
/// Deliveries per insert statement (11 parameters each, under SQLite's and PostgreSQL's limits).
const DELIVERY_CHUNK: usize = 1000;

fn device_from_row(row: &impl SqlRow) -> Result<PushDeviceRecord, sqlx::Error> {
    Ok(PushDeviceRecord {
        workspace_id: row.try_get(0)?,
        device_id: row.try_get(1)?,
        platform: row.try_get(2)?,
        channel: row.try_get(3)?,
        token: row.try_get(4)?,
        token_retired_at: row.try_get(5)?,
        user_id: row.try_get(6)?,
        bound_at: row.try_get(7)?,
        reported_at: row.try_get(8)?,
    })
}

fn task_from_row(row: &impl SqlRow) -> Result<PushTaskRecord, sqlx::Error> {
    Ok(PushTaskRecord {
        task_id: row.try_get(0)?,
        workspace_id: row.try_get(1)?,
        parent_task_id: row.try_get(2)?,
        kind: row.try_get(3)?,
        definition: row.try_get(4)?,
        status: {
            let status: String = row.try_get(5)?;
            PushTaskStatus::parse(&status)
                .ok_or_else(|| sqlx::Error::Decode(format!("unknown push task status {status}").into()))?
        },
        created_at: row.try_get(6)?,
        next_run_at: row.try_get(7)?,
        runs: row.try_get(8)?,
    })
}

fn delivery_from_row(row: &impl SqlRow) -> Result<PushDeliveryRecord, sqlx::Error> {
    Ok(PushDeliveryRecord {
        task_id: row.try_get(0)?,
        workspace_id: row.try_get(1)?,
        device_id: row.try_get(2)?,
        user_id: row.try_get(3)?,
        platform: row.try_get(4)?,
        channel: row.try_get(5)?,
        token: row.try_get(6)?,
        msg_id: row.try_get(7)?,
        values: row.try_get(8)?,
        created_at: row.try_get(9)?,
        expires_at: row.try_get(10)?,
        sent_at: row.try_get(11)?,
        failed_at: row.try_get(12)?,
        error: row.try_get(13)?,
        delivered_at: row.try_get(14)?,
        opened_at: row.try_get(15)?,
        ignored_at: row.try_get(16)?,
        revoked_at: row.try_get(17)?,
    })
}

fn definition_from_row(row: &impl SqlRow, kind: PushDefinitionKind) -> Result<PushDefinitionRecord, sqlx::Error> {
    Ok(PushDefinitionRecord {
        workspace_id: row.try_get(0)?,
        kind,
        name: row.try_get(1)?,
        definition: row.try_get(2)?,
        updated_at: row.try_get(3)?,
    })
}

async fn insert_task<Db: SqlDatabase>(
    transaction: &mut Transaction<'_, Db>,
    task: &PushTaskRecord,
) -> StorageResult<()> {
    query(&format!("INSERT INTO push_tasks ({TASK_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)"))
        .bind(&task.task_id)
        .bind(&task.workspace_id)
        .bind(&task.parent_task_id)
        .bind(&task.kind)
        .bind(&task.definition)
        .bind(task.status.as_str())
        .bind(task.created_at)
        .bind(task.next_run_at)
        .bind(task.runs)
        .execute(&mut **transaction)
        .await
        .map_err(write_error("push task"))?;
    Ok(())
}

/// Moves a scheduled task on after one of its runs started.
async fn advance_task<Db: SqlDatabase>(
    transaction: &mut Transaction<'_, Db>,
    task: &PushTaskRecord,
) -> StorageResult<()> {
    query("UPDATE push_tasks SET status = $2, next_run_at = $3, runs = $4 WHERE task_id = $1")
        .bind(&task.task_id)
        .bind(task.status.as_str())
        .bind(task.next_run_at)
        .bind(task.runs)
        .execute(&mut **transaction)
        .await
        .map_err(database_error)?;
    Ok(())
}

async fn insert_deliveries<Db: SqlDatabase>(
    transaction: &mut Transaction<'_, Db>,
    deliveries: &[PushDeliveryRecord],
) -> StorageResult<()> {
    for chunk in deliveries.chunks(DELIVERY_CHUNK) {
        let mut query = QueryBuilder::new(
            "INSERT INTO push_deliveries (task_id, workspace_id, device_id, user_id, platform, channel, token, msg_id, \
             target_values, created_at, expires_at) ",
        );
        query.push_values(chunk, |mut row, delivery| {
            row.push_bind(&delivery.task_id)
                .push_bind(&delivery.workspace_id)
                .push_bind(&delivery.device_id)
                .push_bind(&delivery.user_id)
                .push_bind(&delivery.platform)
                .push_bind(&delivery.channel)
                .push_bind(&delivery.token)
                .push_bind(&delivery.msg_id)
                .push_bind(&delivery.values)
                .push_bind(delivery.created_at)
                .push_bind(delivery.expires_at);
        });
        query.build().execute(&mut **transaction).await.map_err(write_error("push delivery"))?;
    }
    Ok(())
}

fn event_column(kind: PushEventKind) -> &'static str {
    match kind {
        PushEventKind::Delivered => "delivered_at",
        PushEventKind::Opened => "opened_at",
        PushEventKind::Ignored => "ignored_at",
    }
}

#[async_trait]
impl<D: Dialect> PushStore for SqlStorage<D> {
    async fn report_push_device(&self, report: &PushReport) -> StorageResult<()> {
        query(
            "INSERT INTO push_devices (workspace_id, device_id, platform, channel, token, token_retired_at, user_id, bound_at, reported_at)
             VALUES ($1, $2, $3, $4, $5, NULL, NULL, NULL, $6)
             ON CONFLICT (workspace_id, device_id) DO UPDATE SET platform = excluded.platform, channel = excluded.channel,
                 token = excluded.token, reported_at = excluded.reported_at,
                 token_retired_at = CASE WHEN push_devices.token IS NOT DISTINCT FROM excluded.token
                     THEN push_devices.token_retired_at ELSE NULL END",
        )
        .bind(&report.workspace_id)
        .bind(&report.device_id)
        .bind(&report.platform)
        .bind(&report.channel)
        .bind(&report.token)
        .bind(report.at)
        .execute(&self.pool)
        .await
        .map_err(database_error)?;
        Ok(())
    }

    async fn bind_push_device(
        &self,
        workspace_id: &str,
        device_id: &str,
        user_id: Option<&str>,
        at: UnixMillis,
    ) -> StorageResult<()> {
        let changed = query(
            "UPDATE push_devices SET user_id = $3, bound_at = CASE WHEN $3 IS NULL THEN NULL ELSE $4 END
             WHERE workspace_id = $1 AND device_id = $2",
        )
        .bind(workspace_id)
        .bind(device_id)
        .bind(user_id)
        .bind(at)
        .execute(&self.pool)
        .await
        .map_err(database_error)?
        .rows_affected();
        if changed == 0 {
            return Err(StorageError::NotFound { entity: "push device" });
        }
        Ok(())
    }

    async fn get_push_device(&self, workspace_id: &str, device_id: &str) -> StorageResult<Option<PushDeviceRecord>> {
        let statement = format!("SELECT {DEVICE_COLUMNS} FROM push_devices WHERE workspace_id = $1 AND device_id = $2");
        let row = query(&statement)
            .bind(workspace_id)
            .bind(device_id)
            .fetch_optional(&self.pool)
            .await
            .map_err(database_error)?;
        row.as_ref().map(device_from_row).transpose().map_err(corrupt("push_devices"))
    }

    async fn push_devices_of_user(&self, workspace_id: &str, user_id: &str) -> StorageResult<Vec<PushDeviceRecord>> {
        let statement = format!(
            "SELECT {DEVICE_COLUMNS} FROM push_devices WHERE workspace_id = $1 AND user_id = $2 ORDER BY device_id"
        );
        let rows =
            query(&statement).bind(workspace_id).bind(user_id).fetch_all(&self.pool).await.map_err(database_error)?;
        rows.iter().map(device_from_row).collect::<Result<_, _>>().map_err(corrupt("push_devices"))
    }

    async fn push_audience(&self, audience: &BroadcastAudience) -> StorageResult<Vec<PushDeviceRecord>> {
        let statement = format!(
            "SELECT {DEVICE_COLUMNS} FROM push_devices WHERE workspace_id = $1
               AND ($2 IS NULL OR platform = $2)
               AND ($3 IS NULL OR ($3 = 1 AND user_id IS NOT NULL) OR ($3 = 0 AND user_id IS NULL))
               AND ($4 IS NULL OR bound_at >= $4)
             ORDER BY device_id"
        );
        let rows = query(&statement)
            .bind(&audience.workspace_id)
            .bind(&audience.platform)
            .bind(audience.bound.map(i64::from))
            .bind(audience.bound_since)
            .fetch_all(&self.pool)
            .await
            .map_err(database_error)?;
        rows.iter().map(device_from_row).collect::<Result<_, _>>().map_err(corrupt("push_devices"))
    }

    async fn retire_push_token(
        &self,
        workspace_id: &str,
        device_id: &str,
        token: &str,
        at: UnixMillis,
    ) -> StorageResult<bool> {
        let changed = query(
            "UPDATE push_devices SET token_retired_at = $4
             WHERE workspace_id = $1 AND device_id = $2 AND token = $3 AND token_retired_at IS NULL",
        )
        .bind(workspace_id)
        .bind(device_id)
        .bind(token)
        .bind(at)
        .execute(&self.pool)
        .await
        .map_err(database_error)?
        .rows_affected();
        Ok(changed > 0)
    }

    async fn put_push_definition(&self, record: &PushDefinitionRecord, audit: &NewAuditEntry) -> StorageResult<()> {
        let change = query(
            "INSERT INTO push_definitions (workspace_id, kind, name, definition, updated_at) VALUES ($1, $2, $3, $4, $5)
             ON CONFLICT (workspace_id, kind, name) DO UPDATE SET definition = excluded.definition, updated_at = excluded.updated_at",
        )
        .bind(&record.workspace_id)
        .bind(record.kind.as_str())
        .bind(&record.name)
        .bind(match record.kind {
            PushDefinitionKind::Channel => self.seal(&PUSH_CHANNEL_DEFINITION, &record.definition),
            _ => record.definition.clone(),
        })
        .bind(record.updated_at);
        self.audited(change, audit, database_error).await?;
        Ok(())
    }

    async fn delete_push_definition(
        &self,
        workspace_id: &str,
        kind: PushDefinitionKind,
        name: &str,
        audit: &NewAuditEntry,
    ) -> StorageResult<()> {
        let change = query("DELETE FROM push_definitions WHERE workspace_id = $1 AND kind = $2 AND name = $3")
            .bind(workspace_id)
            .bind(kind.as_str())
            .bind(name);
        self.audited_existing(change, "push definition", audit).await
    }

    async fn list_push_definitions(
        &self,
        workspace_id: &str,
        kind: PushDefinitionKind,
    ) -> StorageResult<Vec<PushDefinitionRecord>> {
        let rows = query(
            "SELECT workspace_id, name, definition, updated_at FROM push_definitions
             WHERE workspace_id = $1 AND kind = $2 ORDER BY name",
        )
        .bind(workspace_id)
        .bind(kind.as_str())
        .fetch_all(&self.pool)
        .await
        .map_err(database_error)?;
        let mut definitions: Vec<PushDefinitionRecord> = rows
            .iter()
            .map(|row| definition_from_row(row, kind))
            .collect::<Result<_, _>>()
            .map_err(corrupt("push_definitions"))?;
        if kind == PushDefinitionKind::Channel {
            for record in &mut definitions {
                record.definition = self.open_secret(&PUSH_CHANNEL_DEFINITION, &record.definition)?;
            }
        }
        Ok(definitions)
    }

    async fn create_push_task(
        &self,
        task: &PushTaskRecord,
        deliveries: &[PushDeliveryRecord],
        parent: Option<&PushTaskRecord>,
        audit: Option<&NewAuditEntry>,
    ) -> StorageResult<()> {
        let mut transaction = self.pool.begin().await.map_err(database_error)?;
        insert_task(&mut transaction, task).await?;
        insert_deliveries(&mut transaction, deliveries).await?;
        if let Some(parent) = parent {
            advance_task(&mut transaction, parent).await?;
        }
        if let Some(audit) = audit {
            insert_audit(&mut transaction, audit).await?;
        }
        transaction.commit().await.map_err(database_error)
    }

    async fn get_push_task(&self, task_id: &str) -> StorageResult<Option<PushTaskRecord>> {
        let statement = format!("SELECT {TASK_COLUMNS} FROM push_tasks WHERE task_id = $1");
        let row = query(&statement).bind(task_id).fetch_optional(&self.pool).await.map_err(database_error)?;
        row.as_ref().map(task_from_row).transpose().map_err(corrupt("push_tasks"))
    }

    async fn list_push_tasks(&self, workspace_id: &str, limit: u32) -> StorageResult<Vec<PushTaskRecord>> {
        let statement = format!(
            "SELECT {TASK_COLUMNS} FROM push_tasks WHERE workspace_id = $1 ORDER BY created_at DESC, task_id DESC LIMIT $2"
        );
        let rows = query(&statement)
            .bind(workspace_id)
            .bind(i64::from(limit))
            .fetch_all(&self.pool)
            .await
            .map_err(database_error)?;
        rows.iter().map(task_from_row).collect::<Result<_, _>>().map_err(corrupt("push_tasks"))
    }

    async fn runnable_push_tasks(&self, now: UnixMillis, limit: u32) -> StorageResult<Vec<PushTaskRecord>> {
        let statement = format!(
            "SELECT {TASK_COLUMNS} FROM push_tasks
             WHERE status = 'sending' OR (status = 'scheduled' AND next_run_at <= $1)
             ORDER BY created_at, task_id LIMIT $2"
        );
        let rows =
            query(&statement).bind(now).bind(i64::from(limit)).fetch_all(&self.pool).await.map_err(database_error)?;
        rows.iter().map(task_from_row).collect::<Result<_, _>>().map_err(corrupt("push_tasks"))
    }

    async fn set_push_task_status(
        &self,
        task_id: &str,
        status: PushTaskStatus,
        audit: Option<&NewAuditEntry>,
    ) -> StorageResult<()> {
        let mut transaction = self.pool.begin().await.map_err(database_error)?;
        let changed = query("UPDATE push_tasks SET status = $2 WHERE task_id = $1")
            .bind(task_id)
            .bind(status.as_str())
            .execute(&mut *transaction)
            .await
            .map_err(database_error)?
            .rows_affected();
        if changed == 0 {
            return Err(StorageError::NotFound { entity: "push task" });
        }
        if let Some(audit) = audit {
            insert_audit(&mut transaction, audit).await?;
        }
        transaction.commit().await.map_err(database_error)
    }

    async fn push_deliveries(
        &self,
        task_id: &str,
        which: DeliveryFilter,
        after_device_id: &str,
        limit: u32,
    ) -> StorageResult<Vec<PushDeliveryRecord>> {
        let pending = match which {
            DeliveryFilter::All => "",
            DeliveryFilter::Pending => "AND sent_at IS NULL AND failed_at IS NULL AND revoked_at IS NULL",
        };
        let statement = format!(
            "SELECT {DELIVERY_COLUMNS} FROM push_deliveries
             WHERE task_id = $1 AND device_id > $2 {pending} ORDER BY device_id LIMIT $3"
        );
        let rows = query(&statement)
            .bind(task_id)
            .bind(after_device_id)
            .bind(i64::from(limit))
            .fetch_all(&self.pool)
            .await
            .map_err(database_error)?;
        rows.iter().map(delivery_from_row).collect::<Result<_, _>>().map_err(corrupt("push_deliveries"))
    }

    async fn update_push_deliveries(&self, updates: &[DeliveryUpdate]) -> StorageResult<()> {
        // Sent ones, the bulk, take one statement per task and time; failures one each.
        let mut sent: BTreeMap<(&str, UnixMillis), Vec<&str>> = BTreeMap::new();
        let mut transaction = self.pool.begin().await.map_err(database_error)?;
        for update in updates {
            let DeliveryOutcome::Failed { error } = &update.outcome else {
                sent.entry((update.task_id.as_str(), update.at)).or_default().push(update.device_id.as_str());
                continue;
            };
            query("UPDATE push_deliveries SET failed_at = $3, error = $4 WHERE task_id = $1 AND device_id = $2")
                .bind(&update.task_id)
                .bind(&update.device_id)
                .bind(update.at)
                .bind(error)
                .execute(&mut *transaction)
                .await
                .map_err(database_error)?;
        }
        for ((task_id, at), device_ids) in sent {
            let mut query = QueryBuilder::new("UPDATE push_deliveries SET sent_at = ");
            query.push_bind(at).push(" WHERE task_id = ").push_bind(task_id).push(" AND ");
            D::push_in_list(&mut query, "device_id", &device_ids);
            query.build().execute(&mut *transaction).await.map_err(database_error)?;
        }
        transaction.commit().await.map_err(database_error)
    }

    async fn record_push_events(&self, events: &[PushEvent]) -> StorageResult<Vec<bool>> {
        let mut transaction = self.pool.begin().await.map_err(database_error)?;
        let mut changed = Vec::with_capacity(events.len());
        for event in events {
            let column = event_column(event.kind);
            // An open or a dismissal implies the message arrived.
            let delivered = if event.kind == PushEventKind::Delivered {
                String::new()
            } else {
                ", delivered_at = COALESCE(delivered_at, $4)".to_owned()
            };
            let statement = format!(
                "UPDATE push_deliveries SET {column} = $4{delivered}
                 WHERE workspace_id = $1 AND task_id = $2 AND device_id = $3 AND {column} IS NULL"
            );
            let rows = query(&statement)
                .bind(&event.workspace_id)
                .bind(&event.task_id)
                .bind(&event.device_id)
                .bind(event.at)
                .execute(&mut *transaction)
                .await
                .map_err(database_error)?
                .rows_affected();
            changed.push(rows > 0);
        }
        transaction.commit().await.map_err(database_error)?;
        Ok(changed)
    }

    async fn revoke_push_deliveries(
        &self,
        workspace_id: &str,
        task_id: &str,
        device_id: Option<&str>,
        at: UnixMillis,
        audit: Option<&NewAuditEntry>,
    ) -> StorageResult<Vec<PushDeliveryRecord>> {
        // One statement that writes first: a read followed by a write in one SQLite transaction
        // fails at once when another writer committed in between.
        let mut transaction = self.pool.begin().await.map_err(database_error)?;
        let statement = format!(
            "UPDATE push_deliveries SET revoked_at = $4
             WHERE workspace_id = $1
               AND (task_id = $2 OR task_id IN (SELECT task_id FROM push_tasks WHERE parent_task_id = $2))
               AND ($3 IS NULL OR device_id = $3) AND revoked_at IS NULL
             RETURNING {DELIVERY_COLUMNS}"
        );
        let rows = query(&statement)
            .bind(workspace_id)
            .bind(task_id)
            .bind(device_id)
            .bind(at)
            .fetch_all(&mut *transaction)
            .await
            .map_err(database_error)?;
        let mut revoked = rows
            .iter()
            .map(|row| delivery_from_row(row).map(|delivery| PushDeliveryRecord { revoked_at: None, ..delivery }))
            .collect::<Result<Vec<_>, _>>()
            .map_err(corrupt("push_deliveries"))?;
        revoked.sort_by(|left, right| (&left.task_id, &left.device_id).cmp(&(&right.task_id, &right.device_id)));
        if let Some(audit) = audit {
            insert_audit(&mut transaction, audit).await?;
        }
        transaction.commit().await.map_err(database_error)?;
        Ok(revoked)
    }

    async fn push_tasks_by_msg_id(
        &self,
        workspace_id: &str,
        msg_id: &str,
        since: UnixMillis,
    ) -> StorageResult<Vec<String>> {
        let rows = query(
            "SELECT DISTINCT task_id, created_at FROM push_deliveries
             WHERE workspace_id = $1 AND msg_id = $2 AND created_at >= $3 ORDER BY created_at, task_id",
        )
        .bind(workspace_id)
        .bind(msg_id)
        .bind(since)
        .fetch_all(&self.pool)
        .await
        .map_err(database_error)?;
        rows.iter().map(|row| row.try_get(0)).collect::<Result<_, _>>().map_err(corrupt("push_deliveries"))
    }

    async fn push_stats(&self, workspace_id: &str, scope: &PushStatsScope) -> StorageResult<Vec<PushStatsRow>> {
        let counts = "SELECT channel, platform, COUNT(*), COUNT(sent_at), COUNT(failed_at), COUNT(delivered_at),
                COUNT(opened_at), COUNT(ignored_at), COUNT(revoked_at) FROM push_deliveries WHERE workspace_id = $1";
        let statement = match scope {
            PushStatsScope::Task(_) => format!(
                "{counts} AND (task_id = $2 OR task_id IN (SELECT task_id FROM push_tasks WHERE parent_task_id = $2))
                 GROUP BY channel, platform ORDER BY channel, platform"
            ),
            PushStatsScope::Range { .. } => format!(
                "{counts} AND created_at >= $2 AND created_at < $3 GROUP BY channel, platform ORDER BY channel, platform"
            ),
        };
        let mut statement = query(&statement).bind(workspace_id);
        statement = match scope {
            PushStatsScope::Task(task_id) => statement.bind(task_id),
            PushStatsScope::Range { from, until } => statement.bind(*from).bind(*until),
        };
        let rows = statement.fetch_all(&self.pool).await.map_err(database_error)?;
        rows.iter()
            .map(|row| {
                Ok(PushStatsRow {
                    channel: row.try_get(0)?,
                    platform: row.try_get(1)?,
                    targets: row.try_get(2)?,
                    sent: row.try_get(3)?,
                    failed: row.try_get(4)?,
                    delivered: row.try_get(5)?,
                    opened: row.try_get(6)?,
                    ignored: row.try_get(7)?,
                    revoked: row.try_get(8)?,
                })
            })
            .collect::<Result<_, sqlx::Error>>()
            .map_err(corrupt("push_deliveries"))
    }
}
