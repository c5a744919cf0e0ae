//! The embedded backend: one SQLite file in the data directory, in WAL mode with full fsync so
//! an acknowledged change survives a crash. Owns its migrations (`migrations/`); the SQL is
//! `midship-storage-sql`'s, run through [`SqliteDialect`].

use std::str::FromStr;

pub use midship_storage_sql::PoolSettings;
use midship_storage_sql::db::{ListItem, QueryBuilder};
use midship_storage_sql::{Dialect, SqlStorage};
use sqlx::Sqlite;
use sqlx::migrate::Migrator;
use sqlx::pool::PoolOptions;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqliteSynchronous};

static MIGRATOR: Migrator = sqlx::migrate!("./migrations");

/// Every storage trait on SQLite.
pub type SqliteStorage = SqlStorage<SqliteDialect>;

/// SQLite's connection options and the SQL only it speaks.
#[derive(Debug, Clone, Copy)]
pub struct SqliteDialect;

impl Dialect for SqliteDialect {
    type Db = Sqlite;
    const NAME: &'static str = "sqlite";
    const GREATEST: &'static str = "MAX";

    fn migrator() -> &'static Migrator {
        &MIGRATOR
    }

    /// The file at `url` (`sqlite://path`), created if missing; `settings.wait` is how long a
    /// writer waits for another.
    fn connect_options(url: &str, settings: &PoolSettings) -> Result<SqliteConnectOptions, sqlx::Error> {
        Ok(SqliteConnectOptions::from_str(url)?
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Full)
            .foreign_keys(true)
            .busy_timeout(settings.wait))
    }

    /// A file on this machine cannot go away between uses; a ping per query only costs.
    fn pool_options(_settings: &PoolSettings) -> PoolOptions<Sqlite> {
        PoolOptions::new().test_before_acquire(false)
    }

    /// The list goes in as one JSON array, unpacked by `json_each`.
    fn push_in_list<'q, S: ListItem>(query: &mut QueryBuilder<'q>, column: &str, values: &'q [S]) {
        query.push(column).push(" IN (SELECT value FROM json_each(").push_bind(values).push("))");
    }
}
