//! Analytics: accepted log batches and upload policies, with the SQL shared by both backends
//! (`midship_storage::analytics_store_sql!`).

use crate::SqliteStorage;

midship_storage::analytics_store_sql!(storage: SqliteStorage, database: sqlx::Sqlite, row: sqlx::sqlite::SqliteRow);
