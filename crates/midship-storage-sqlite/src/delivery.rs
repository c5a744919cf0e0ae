//! Delivery: packages, patches, releases, device progress and signing keys, with the SQL shared
//! by both backends (`midship_storage::delivery_store_sql!`).

use crate::SqliteStorage;

midship_storage::delivery_store_sql!(storage: SqliteStorage, database: sqlx::Sqlite, row: sqlx::sqlite::SqliteRow);
