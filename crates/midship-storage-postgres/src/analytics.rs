//! Analytics: accepted log batches and upload policies, with the SQL shared by both backends
//! (`midship_storage::analytics_store_sql!`).

use crate::PostgresStorage;

midship_storage::analytics_store_sql!(storage: PostgresStorage, database: sqlx::Postgres, row: sqlx::postgres::PgRow);
