//! Push: devices, definitions, tasks and deliveries, with the SQL shared by both backends
//! (`midship_storage::push_store_sql!`).

use crate::PostgresStorage;

midship_storage::push_store_sql!(storage: PostgresStorage, database: sqlx::Postgres, row: sqlx::postgres::PgRow, mark_sent: mark_sent);

/// Marks a step's deliveries sent: the device ids go in as one array parameter.
async fn mark_sent(
    transaction: &mut sqlx::Transaction<'_, sqlx::Postgres>,
    task_id: &str,
    at: i64,
    device_ids: &[&str],
) -> midship_storage::StorageResult<()> {
    sqlx::query("UPDATE push_deliveries SET sent_at = $2 WHERE task_id = $1 AND device_id = ANY($3)")
        .bind(task_id)
        .bind(at)
        .bind(device_ids)
        .execute(&mut **transaction)
        .await
        .map_err(crate::database_error)?;
    Ok(())
}
