//! The cluster backend: PostgreSQL, shared by every node. Owns its migrations (`migrations/`);
//! sqlx takes an advisory lock while migrating, so nodes starting together migrate once. The
//! SQL is `midship-storage-sql`'s, run through [`PostgresDialect`].

use std::str::FromStr;

pub use midship_storage_sql::PoolSettings;
use midship_storage_sql::db::{ListItem, QueryBuilder};
use midship_storage_sql::{Dialect, SqlStorage};
use sqlx::Postgres;
use sqlx::migrate::Migrator;
use sqlx::pool::PoolOptions;
use sqlx::postgres::PgConnectOptions;

static MIGRATOR: Migrator = sqlx::migrate!("./migrations");

/// Every storage trait on PostgreSQL.
pub type PostgresStorage = SqlStorage<PostgresDialect>;

/// PostgreSQL's connection options and the SQL only it speaks.
#[derive(Debug, Clone, Copy)]
pub struct PostgresDialect;

impl Dialect for PostgresDialect {
    type Db = Postgres;
    const NAME: &'static str = "postgres";
    const GREATEST: &'static str = "GREATEST";

    fn migrator() -> &'static Migrator {
        &MIGRATOR
    }

    /// `url` is `postgres://user:password@host:port/db`.
    fn connect_options(url: &str, _settings: &PoolSettings) -> Result<PgConnectOptions, sqlx::Error> {
        Ok(PgConnectOptions::from_str(url)?.application_name("midship"))
    }

    /// `settings.wait` is how long a statement waits for a free connection.
    fn pool_options(settings: &PoolSettings) -> PoolOptions<Postgres> {
        PoolOptions::new().acquire_timeout(settings.wait)
    }

    /// The list goes in as one array parameter.
    fn push_in_list<'q, S: ListItem>(query: &mut QueryBuilder<'q>, column: &str, values: &'q [S]) {
        query.push(column).push(" = ANY(").push_bind(values).push(")");
    }
}
