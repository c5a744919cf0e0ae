//! Push: devices, definitions, tasks and deliveries, with the SQL shared by both backends
//! (`midship_storage::push_store_sql!`).

use crate::SqliteStorage;

midship_storage::push_store_sql!(storage: SqliteStorage, database: sqlx::Sqlite, row: sqlx::sqlite::SqliteRow, mark_sent: mark_sent);

/// Marks a step's deliveries sent: the device ids go in as one JSON array.
async fn mark_sent(
    transaction: &mut sqlx::Transaction<'_, sqlx::Sqlite>,
    task_id: &str,
    at: i64,
    device_ids: &[&str],
) -> midship_storage::StorageResult<()> {
    sqlx::query(
        "UPDATE push_deliveries SET sent_at = $2 WHERE task_id = $1 AND device_id IN (SELECT value FROM json_each($3))",
    )
    .bind(task_id)
    .bind(at)
    .bind(serde_json::to_string(device_ids).expect("strings serialize"))
    .execute(&mut **transaction)
    .await
    .map_err(crate::database_error)?;
    Ok(())
}
