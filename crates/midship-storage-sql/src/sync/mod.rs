//! Data sync: configurations, streams, message ids, the schedule and device acks.

use std::collections::{BTreeSet, HashMap};

use async_trait::async_trait;
use midship_core::NewAuditEntry;
use midship_core::clock::UnixMillis;
use midship_storage::{
    AppendOutcome, NewSyncMessage, ScheduleOutcome, ScheduledSyncMessage, StorageError, StorageResult, SyncAck,
    SyncAppend, SyncConfigRecord, SyncMessageRecord, SyncPosition, SyncPurge, SyncStore, SyncStream, SyncTargetKind,
};
use sqlx::Transaction;

use crate::db::{QueryBuilder, SqlDatabase, SqlRow, query};
use crate::{Dialect, SqlStorage, corrupt, database_error};

mod plan;

use plan::{AppendPlan, RememberedId, StoredStream, plan_appends};

/// `Some(seq)` when the stream remembers this id (`seq` is `None` while the message is
/// scheduled); ids whose memory ended by `now` do not count.
async fn remembered_id<Db: SqlDatabase>(
    transaction: &mut Transaction<'_, Db>,
    stream_id: i64,
    third_msg_id: &str,
    now: UnixMillis,
) -> StorageResult<Option<Option<i64>>> {
    let row = query("SELECT seq FROM sync_message_ids WHERE stream_id = $1 AND third_msg_id = $2 AND expires_at > $3")
        .bind(stream_id)
        .bind(third_msg_id)
        .bind(now)
        .fetch_optional(&mut **transaction)
        .await
        .map_err(database_error)?;
    row.map(|row| row.try_get::<Option<i64>>(0)).transpose().map_err(corrupt("sync_message_ids"))
}

async fn remember_id<Db: SqlDatabase>(
    transaction: &mut Transaction<'_, Db>,
    stream_id: i64,
    third_msg_id: &str,
    seq: Option<i64>,
    expires_at: UnixMillis,
) -> StorageResult<()> {
    query(
        "INSERT INTO sync_message_ids (stream_id, third_msg_id, seq, expires_at) VALUES ($1, $2, $3, $4)
         ON CONFLICT (stream_id, third_msg_id) DO UPDATE SET seq = excluded.seq, expires_at = excluded.expires_at",
    )
    .bind(stream_id)
    .bind(third_msg_id)
    .bind(seq)
    .bind(expires_at)
    .execute(&mut **transaction)
    .await
    .map_err(database_error)?;
    Ok(())
}

/// The batch's streams, created where missing, in one statement. Being a write, it locks their
/// rows until commit on PostgreSQL (in stream order, the order the writer sorts batches in), so
/// appends to one stream take turns across nodes, and takes the write lock on SQLite, so nothing
/// read next can change under the transaction.
async fn lock_streams<Db: SqlDatabase>(
    transaction: &mut Transaction<'_, Db>,
    appends: &[SyncAppend],
) -> StorageResult<HashMap<SyncStream, StoredStream>> {
    let distinct: BTreeSet<&SyncStream> = appends.iter().map(|append| &append.message.stream).collect();
    let mut query =
        QueryBuilder::new("INSERT INTO sync_streams (workspace_id, biz_type, target_kind, target_id, last_seq) ");
    query.push_values(&distinct, |mut row, stream| {
        row.push_bind(&stream.workspace_id)
            .push_bind(&stream.biz_type)
            .push_bind(stream.target_kind.as_str())
            .push_bind(&stream.target_id)
            .push("0");
    });
    query.push(
        " ON CONFLICT (workspace_id, biz_type, target_kind, target_id) DO UPDATE SET last_seq = sync_streams.last_seq
          RETURNING stream_id, last_seq, workspace_id, biz_type, target_kind, target_id",
    );
    let rows = query.build().fetch_all(&mut **transaction).await.map_err(database_error)?;
    rows.iter().map(stream_from_row).collect::<Result<_, _>>().map_err(corrupt("sync_streams"))
}

fn stream_from_row(row: &impl SqlRow) -> Result<(SyncStream, StoredStream), sqlx::Error> {
    let target_kind: String = row.try_get("target_kind")?;
    let stream = SyncStream {
        workspace_id: row.try_get("workspace_id")?,
        biz_type: row.try_get("biz_type")?,
        target_kind: SyncTargetKind::parse(&target_kind)
            .ok_or_else(|| sqlx::Error::Decode(format!("unknown target kind {target_kind}").into()))?,
        target_id: row.try_get("target_id")?,
    };
    Ok((stream, StoredStream { stream_id: row.try_get("stream_id")?, last_seq: row.try_get("last_seq")? }))
}

/// The ids of the batch that its streams already remember.
async fn remembered_ids<Db: SqlDatabase>(
    transaction: &mut Transaction<'_, Db>,
    appends: &[SyncAppend],
    streams: &HashMap<SyncStream, StoredStream>,
) -> StorageResult<HashMap<(i64, String), RememberedId>> {
    let mut query = QueryBuilder::new(
        "SELECT stream_id, third_msg_id, seq, expires_at FROM sync_message_ids WHERE (stream_id, third_msg_id) IN (",
    );
    query.push_values(appends, |mut row, append| {
        let stream_id = streams.get(&append.message.stream).map_or(0, |stream| stream.stream_id);
        row.push_bind(stream_id).push_bind(&append.message.third_msg_id);
    });
    query.push(")");
    let rows = query.build().fetch_all(&mut **transaction).await.map_err(database_error)?;
    rows.iter()
        .map(|row| {
            let key = (row.try_get("stream_id")?, row.try_get("third_msg_id")?);
            Ok((key, RememberedId { seq: row.try_get("seq")?, expires_at: row.try_get("expires_at")? }))
        })
        .collect::<Result<_, sqlx::Error>>()
        .map_err(corrupt("sync_message_ids"))
}

/// Writes the planned messages, ids, last sequences and trims, a statement each.
async fn write_plan<Db: SqlDatabase>(
    transaction: &mut Transaction<'_, Db>,
    plan: &AppendPlan<'_>,
) -> StorageResult<()> {
    if plan.inserts.is_empty() {
        return Ok(());
    }
    let mut messages = QueryBuilder::new(
        "INSERT INTO sync_messages (stream_id, seq, third_msg_id, payload, filter, created_at, expires_at) ",
    );
    messages.push_values(&plan.inserts, |mut row, (stream_id, seq, append)| {
        let message = &append.message;
        row.push_bind(*stream_id)
            .push_bind(*seq)
            .push_bind(&message.third_msg_id)
            .push_bind(&message.payload)
            .push_bind(&message.filter)
            .push_bind(message.created_at)
            .push_bind(message.expires_at);
    });
    messages.build().execute(&mut **transaction).await.map_err(database_error)?;
    let mut ids = QueryBuilder::new("INSERT INTO sync_message_ids (stream_id, third_msg_id, seq, expires_at) ");
    ids.push_values(&plan.inserts, |mut row, (stream_id, seq, append)| {
        row.push_bind(*stream_id)
            .push_bind(&append.message.third_msg_id)
            .push_bind(*seq)
            .push_bind(append.id_expires_at);
    });
    ids.push(
        " ON CONFLICT (stream_id, third_msg_id) DO UPDATE SET seq = excluded.seq, expires_at = excluded.expires_at",
    );
    ids.build().execute(&mut **transaction).await.map_err(database_error)?;
    let mut last = QueryBuilder::new("UPDATE sync_streams SET last_seq = v.column2 FROM (");
    last.push_values(&plan.new_last_seqs, |mut row, (stream_id, last_seq)| {
        row.push_bind(*stream_id).push_bind(*last_seq);
    });
    last.push(") AS v WHERE sync_streams.stream_id = v.column1");
    last.build().execute(&mut **transaction).await.map_err(database_error)?;
    for (stream_id, upto) in &plan.trims {
        query("DELETE FROM sync_messages WHERE stream_id = $1 AND seq <= $2")
            .bind(stream_id)
            .bind(upto)
            .execute(&mut **transaction)
            .await
            .map_err(database_error)?;
    }
    Ok(())
}

fn scheduled_from_row(row: &impl SqlRow) -> Result<ScheduledSyncMessage, sqlx::Error> {
    let target_kind: String = row.try_get("target_kind")?;
    let target_kind = SyncTargetKind::parse(&target_kind)
        .ok_or_else(|| sqlx::Error::Decode(format!("unknown target kind {target_kind}").into()))?;
    let keep_newest: Option<i64> = row.try_get("keep_newest")?;
    Ok(ScheduledSyncMessage {
        scheduled_id: row.try_get("scheduled_id")?,
        due_at: row.try_get("due_at")?,
        append: SyncAppend {
            message: NewSyncMessage {
                stream: SyncStream {
                    workspace_id: row.try_get("workspace_id")?,
                    biz_type: row.try_get("biz_type")?,
                    target_kind,
                    target_id: row.try_get("target_id")?,
                },
                third_msg_id: row.try_get("third_msg_id")?,
                payload: row.try_get("payload")?,
                created_at: row.try_get("created_at")?,
                expires_at: row.try_get("expires_at")?,
                filter: row.try_get("filter")?,
            },
            keep_newest: keep_newest.map(|keep| keep as u32),
            id_expires_at: row.try_get("id_expires_at")?,
        },
    })
}

#[async_trait]
impl<D: Dialect> SyncStore for SqlStorage<D> {
    async fn put_sync_config(&self, record: &SyncConfigRecord, audit: &NewAuditEntry) -> StorageResult<()> {
        let change = query(
            "INSERT INTO sync_configs (workspace_id, biz_type, definition, updated_at) VALUES ($1, $2, $3, $4)
             ON CONFLICT (workspace_id, biz_type) DO UPDATE SET definition = excluded.definition, updated_at = excluded.updated_at",
        )
        .bind(&record.workspace_id)
        .bind(&record.biz_type)
        .bind(&record.definition)
        .bind(record.updated_at);
        self.audited(change, audit, database_error).await?;
        Ok(())
    }

    async fn delete_sync_config(&self, workspace_id: &str, biz_type: &str, audit: &NewAuditEntry) -> StorageResult<()> {
        let change = query("DELETE FROM sync_configs WHERE workspace_id = $1 AND biz_type = $2")
            .bind(workspace_id)
            .bind(biz_type);
        self.audited_existing(change, "sync configuration", audit).await
    }

    async fn list_sync_configs(&self, workspace_id: &str) -> StorageResult<Vec<SyncConfigRecord>> {
        let rows = query(
            "SELECT workspace_id, biz_type, definition, updated_at FROM sync_configs WHERE workspace_id = $1 ORDER BY biz_type",
        )
        .bind(workspace_id)
        .fetch_all(&self.pool)
        .await
        .map_err(database_error)?;
        rows.iter()
            .map(|row| {
                Ok(SyncConfigRecord {
                    workspace_id: row.try_get("workspace_id")?,
                    biz_type: row.try_get("biz_type")?,
                    definition: row.try_get("definition")?,
                    updated_at: row.try_get("updated_at")?,
                })
            })
            .collect::<Result<_, sqlx::Error>>()
            .map_err(corrupt("sync_configs"))
    }

    async fn append_sync_messages(&self, appends: &[SyncAppend]) -> StorageResult<Vec<AppendOutcome>> {
        if appends.is_empty() {
            return Ok(Vec::new());
        }
        let mut transaction = self.pool.begin().await.map_err(database_error)?;
        let streams = lock_streams(&mut transaction, appends).await?;
        let remembered = remembered_ids(&mut transaction, appends, &streams).await?;
        let plan = plan_appends(appends, &streams, &remembered)?;
        write_plan(&mut transaction, &plan).await?;
        transaction.commit().await.map_err(database_error)?;
        Ok(plan.outcomes)
    }

    async fn schedule_sync_message(&self, append: &SyncAppend, due_at: UnixMillis) -> StorageResult<ScheduleOutcome> {
        let message = &append.message;
        let mut transaction = self.pool.begin().await.map_err(database_error)?;
        let streams = lock_streams(&mut transaction, std::slice::from_ref(append)).await?;
        let stream_id = streams.get(&message.stream).map(|stream| stream.stream_id).ok_or_else(|| {
            StorageError::Corrupt { table: "sync_streams", detail: "the stream was not read back".to_owned() }
        })?;
        if let Some(seq) = remembered_id(&mut transaction, stream_id, &message.third_msg_id, message.created_at).await?
        {
            return Ok(ScheduleOutcome::Duplicate { seq });
        }
        remember_id(&mut transaction, stream_id, &message.third_msg_id, None, append.id_expires_at).await?;
        let row = query(
            "INSERT INTO sync_scheduled (stream_id, third_msg_id, payload, filter, created_at, expires_at, id_expires_at, keep_newest, due_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) RETURNING scheduled_id",
        )
        .bind(stream_id)
        .bind(&message.third_msg_id)
        .bind(&message.payload)
        .bind(&message.filter)
        .bind(message.created_at)
        .bind(message.expires_at)
        .bind(append.id_expires_at)
        .bind(append.keep_newest.map(i64::from))
        .bind(due_at)
        .fetch_one(&mut *transaction)
        .await
        .map_err(database_error)?;
        let scheduled_id: i64 = row.try_get(0).map_err(database_error)?;
        transaction.commit().await.map_err(database_error)?;
        Ok(ScheduleOutcome::Scheduled { scheduled_id })
    }

    async fn due_sync_messages(&self, now: UnixMillis, limit: u32) -> StorageResult<Vec<ScheduledSyncMessage>> {
        let rows = query(
            "SELECT s.scheduled_id, s.third_msg_id, s.payload, s.filter, s.created_at, s.expires_at, s.id_expires_at,
                    s.keep_newest, s.due_at, t.workspace_id, t.biz_type, t.target_kind, t.target_id
             FROM sync_scheduled s JOIN sync_streams t ON t.stream_id = s.stream_id
             WHERE s.due_at <= $1 ORDER BY s.due_at, s.scheduled_id LIMIT $2",
        )
        .bind(now)
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await
        .map_err(database_error)?;
        rows.iter().map(scheduled_from_row).collect::<Result<_, _>>().map_err(corrupt("sync_scheduled"))
    }

    async fn append_scheduled_sync_message(&self, scheduled: &ScheduledSyncMessage) -> StorageResult<Option<i64>> {
        let mut transaction = self.pool.begin().await.map_err(database_error)?;
        let removed = query("DELETE FROM sync_scheduled WHERE scheduled_id = $1")
            .bind(scheduled.scheduled_id)
            .execute(&mut *transaction)
            .await
            .map_err(database_error)?
            .rows_affected();
        if removed == 0 {
            return Ok(None);
        }
        // Its id was reserved when it was scheduled, so the plan is made without remembered ids.
        let appends = std::slice::from_ref(&scheduled.append);
        let streams = lock_streams(&mut transaction, appends).await?;
        let plan = plan_appends(appends, &streams, &HashMap::new())?;
        write_plan(&mut transaction, &plan).await?;
        transaction.commit().await.map_err(database_error)?;
        Ok(plan.outcomes.first().and_then(|outcome| match outcome {
            AppendOutcome::Appended { seq } => Some(*seq),
            AppendOutcome::Duplicate { .. } => None,
        }))
    }

    async fn sync_messages_after(
        &self,
        stream: &SyncStream,
        after_seq: i64,
        limit: u32,
    ) -> StorageResult<Vec<SyncMessageRecord>> {
        let rows = query(
            "SELECT m.seq, m.third_msg_id, m.payload, m.filter, m.created_at, m.expires_at
             FROM sync_messages m JOIN sync_streams s ON s.stream_id = m.stream_id
             WHERE s.workspace_id = $1 AND s.biz_type = $2 AND s.target_kind = $3 AND s.target_id = $4 AND m.seq > $5
             ORDER BY m.seq LIMIT $6",
        )
        .bind(&stream.workspace_id)
        .bind(&stream.biz_type)
        .bind(stream.target_kind.as_str())
        .bind(&stream.target_id)
        .bind(after_seq)
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await
        .map_err(database_error)?;
        rows.iter()
            .map(|row| {
                Ok(SyncMessageRecord {
                    seq: row.try_get("seq")?,
                    third_msg_id: row.try_get("third_msg_id")?,
                    payload: row.try_get("payload")?,
                    created_at: row.try_get("created_at")?,
                    expires_at: row.try_get("expires_at")?,
                    filter: row.try_get("filter")?,
                })
            })
            .collect::<Result<_, sqlx::Error>>()
            .map_err(corrupt("sync_messages"))
    }

    async fn sync_position(&self, stream: &SyncStream, device_id: &str) -> StorageResult<SyncPosition> {
        let row = query(
            "SELECT s.last_seq, COALESCE(a.seq, 0) FROM sync_streams s
             LEFT JOIN sync_acks a ON a.stream_id = s.stream_id AND a.device_id = $1
             WHERE s.workspace_id = $2 AND s.biz_type = $3 AND s.target_kind = $4 AND s.target_id = $5",
        )
        .bind(device_id)
        .bind(&stream.workspace_id)
        .bind(&stream.biz_type)
        .bind(stream.target_kind.as_str())
        .bind(&stream.target_id)
        .fetch_optional(&self.pool)
        .await
        .map_err(database_error)?;
        let Some(row) = row else { return Ok(SyncPosition::default()) };
        let read = |index: usize| row.try_get::<i64>(index).map_err(corrupt("sync_streams"));
        Ok(SyncPosition { last_seq: read(0)?, acked_seq: read(1)? })
    }

    async fn ack_sync(&self, acks: &[SyncAck]) -> StorageResult<()> {
        let mut transaction = self.pool.begin().await.map_err(database_error)?;
        for chunk in acks.chunks(ACK_CHUNK) {
            let mut query = QueryBuilder::new(
                "INSERT INTO sync_acks (stream_id, device_id, seq, acked_at)
                 SELECT s.stream_id, v.column5, v.column6, v.column7 FROM (",
            );
            query.push_values(chunk, |mut row, ack| {
                row.push_bind(&ack.stream.workspace_id)
                    .push_bind(&ack.stream.biz_type)
                    .push_bind(ack.stream.target_kind.as_str())
                    .push_bind(&ack.stream.target_id)
                    .push_bind(&ack.device_id)
                    .push_bind(ack.seq)
                    .push_bind(ack.at);
            });
            query.push(
                ") AS v JOIN sync_streams s ON s.workspace_id = v.column1 AND s.biz_type = v.column2
                   AND s.target_kind = v.column3 AND s.target_id = v.column4
                 WHERE true
                 ON CONFLICT (stream_id, device_id) DO UPDATE SET seq = ",
            );
            query.push(D::GREATEST).push("(sync_acks.seq, excluded.seq), acked_at = excluded.acked_at");
            query.build().execute(&mut *transaction).await.map_err(database_error)?;
        }
        transaction.commit().await.map_err(database_error)
    }

    async fn delete_sync_message(&self, stream: &SyncStream, third_msg_id: &str) -> StorageResult<bool> {
        let deleted = query(
            "DELETE FROM sync_messages WHERE third_msg_id = $1 AND stream_id = (SELECT stream_id FROM sync_streams
             WHERE workspace_id = $2 AND biz_type = $3 AND target_kind = $4 AND target_id = $5)",
        )
        .bind(third_msg_id)
        .bind(&stream.workspace_id)
        .bind(&stream.biz_type)
        .bind(stream.target_kind.as_str())
        .bind(&stream.target_id)
        .execute(&self.pool)
        .await
        .map_err(database_error)?
        .rows_affected();
        Ok(deleted > 0)
    }

    async fn purge_expired_sync(&self, now: UnixMillis) -> StorageResult<SyncPurge> {
        let mut purge = SyncPurge::default();
        for (table, key, count) in [
            ("sync_messages", "stream_id, seq", &mut purge.messages),
            ("sync_message_ids", "stream_id, third_msg_id", &mut purge.message_ids),
            ("sync_scheduled", "scheduled_id", &mut purge.scheduled),
        ] {
            // In batches, so writers never wait long behind a large purge.
            let statement = format!(
                "DELETE FROM {table} WHERE ({key}) IN (SELECT {key} FROM {table} WHERE expires_at <= $1 LIMIT {PURGE_BATCH})"
            );
            loop {
                let deleted =
                    query(&statement).bind(now).execute(&self.pool).await.map_err(database_error)?.rows_affected();
                *count += deleted;
                if deleted < PURGE_BATCH {
                    break;
                }
            }
        }
        Ok(purge)
    }
}

const PURGE_BATCH: u64 = 5000;
/// Acks per statement (seven parameters each).
const ACK_CHUNK: usize = 500;
