//! Delivery: packages, patches, releases, device progress and signing keys, with the SQL shared
//! by both backends (`midship_storage::delivery_store_sql!`).

use crate::PostgresStorage;

midship_storage::delivery_store_sql!(storage: PostgresStorage, database: sqlx::Postgres, row: sqlx::postgres::PgRow);
