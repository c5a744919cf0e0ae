//! The SQL of every storage area, written once for both backends as ordinary generic code over
//! sqlx. [`SqlStorage<D>`] implements every `midship-storage` trait; the backend crates give the
//! [`Dialect`]: their connection options and migrations, and the few statements that really
//! differ (array parameters, the two-argument maximum). Statements use `$n` placeholders, which
//! SQLite and PostgreSQL both read; [`db`] is the seam to sqlx's drivers.

use std::fmt::Debug;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use midship_core::NewAuditEntry;
use midship_storage::sealing::SecretKeyring;
use midship_storage::{ResealReport, Storage, StorageError, StorageResult};
use sqlx::migrate::{Migrate, Migrator};
use sqlx::pool::PoolOptions;
use sqlx::{Connection, Database, Pool, Transaction};

pub mod db;

mod analytics;
mod approval;
mod delivery;
mod experiment;
mod gateway;
mod lease;
mod people;
mod push;
mod secrets;
mod switches;
mod sync;
mod tenancy;

use db::{ListItem, Query, QueryBuilder, SqlDatabase, query};

/// What sets one backend apart from the other: how it connects and migrates, and the SQL
/// that differs between SQLite and PostgreSQL.
pub trait Dialect: Debug + Clone + Send + Sync + 'static {
    type Db: SqlDatabase<Connection: Migrate>;
    /// `sqlite` or `postgres`, for logs and `/readyz`.
    const NAME: &'static str;
    /// The function that returns the larger of two values (`MAX` on SQLite, `GREATEST` on
    /// PostgreSQL).
    const GREATEST: &'static str;

    /// The backend's own migrations.
    fn migrator() -> &'static Migrator;

    /// How each connection to `url` is opened.
    fn connect_options(url: &str, settings: &PoolSettings) -> Result<ConnectOptions<Self>, sqlx::Error>;

    /// How the pool hands out connections (its size is set from the settings afterwards).
    fn pool_options(settings: &PoolSettings) -> PoolOptions<Self::Db>;

    /// Appends the condition "`column` is one of `values`", binding `values` as one parameter.
    fn push_in_list<'q, S: ListItem>(query: &mut QueryBuilder<'q>, column: &str, values: &'q [S]);
}

/// A dialect's connection options type.
pub type ConnectOptions<D> = <<<D as Dialect>::Db as Database>::Connection as Connection>::Options;

/// How a backend's connection pool behaves.
#[derive(Debug, Clone, Copy)]
pub struct PoolSettings {
    pub max_connections: u32,
    /// How long a statement waits before it fails: for another writer on SQLite (its busy
    /// timeout), for a free connection on PostgreSQL.
    pub wait: Duration,
}

impl Default for PoolSettings {
    fn default() -> Self {
        Self { max_connections: 8, wait: Duration::from_secs(5) }
    }
}

/// Every storage trait, over one backend's pool. Secrets are sealed with `keyring` on their way
/// into the database.
#[derive(Debug, Clone)]
pub struct SqlStorage<D: Dialect> {
    pool: Pool<D::Db>,
    keyring: Arc<SecretKeyring>,
}

impl<D: Dialect> SqlStorage<D> {
    /// Connects to `url` and brings the schema up to date with the backend's migrations.
    pub async fn open(url: &str, settings: PoolSettings, keyring: Arc<SecretKeyring>) -> StorageResult<Self> {
        let options = D::connect_options(url, &settings).map_err(database_error)?;
        let pool = D::pool_options(&settings)
            .max_connections(settings.max_connections)
            .connect_with(options)
            .await
            .map_err(database_error)?;
        D::migrator().run(&pool).await.map_err(|error| StorageError::Migration(error.to_string()))?;
        Ok(Self { pool, keyring })
    }
}

impl<D: Dialect> SqlStorage<D> {
    /// Runs one change and records its audit entry in the same transaction; answers how many
    /// rows it changed. A change of no rows is not audited and writes nothing.
    async fn audited(
        &self,
        change: Query<'_>,
        audit: &NewAuditEntry,
        on_error: impl Fn(sqlx::Error) -> StorageError + Send,
    ) -> StorageResult<u64> {
        let mut transaction = self.pool.begin().await.map_err(database_error)?;
        let changed = change.execute(&mut *transaction).await.map_err(on_error)?.rows_affected();
        if changed > 0 {
            insert_audit(&mut transaction, audit).await?;
            transaction.commit().await.map_err(database_error)?;
        }
        Ok(changed)
    }

    /// [`Self::audited`] for a change to a row that must exist: `NotFound` when there is none.
    async fn audited_existing(
        &self,
        change: Query<'_>,
        entity: &'static str,
        audit: &NewAuditEntry,
    ) -> StorageResult<()> {
        match self.audited(change, audit, database_error).await? {
            0 => Err(StorageError::NotFound { entity }),
            _ => Ok(()),
        }
    }
}

#[async_trait]
impl<D: Dialect> Storage for SqlStorage<D> {
    fn backend_name(&self) -> &'static str {
        D::NAME
    }

    async fn ping(&self) -> StorageResult<()> {
        query("SELECT 1").execute(&self.pool).await.map_err(database_error)?;
        Ok(())
    }

    async fn close(&self) {
        self.pool.close().await;
    }

    async fn reseal_secrets(&self) -> StorageResult<ResealReport> {
        self.reseal_all().await
    }
}

pub fn database_error(error: sqlx::Error) -> StorageError {
    StorageError::Database(error.to_string())
}

/// Maps a unique-key violation to a conflict on `entity`, anything else to a database error.
pub(crate) fn write_error(entity: &'static str) -> impl Fn(sqlx::Error) -> StorageError {
    move |error| match &error {
        sqlx::Error::Database(db_error) if db_error.is_unique_violation() => StorageError::Conflict { entity },
        _ => database_error(error),
    }
}

pub(crate) fn corrupt(table: &'static str) -> impl Fn(sqlx::Error) -> StorageError {
    move |error| StorageError::Corrupt { table, detail: error.to_string() }
}

/// Parses a cursor of a newest-first list keyed by a number (audit `seq`, switch `version`);
/// anything unparsable starts from the newest entry (services refuse such cursors first).
pub(crate) fn descending_cursor(page: &midship_core::PageRequest) -> i64 {
    page.after.as_deref().and_then(|cursor| cursor.parse().ok()).unwrap_or(i64::MAX)
}

/// Records the change in the audit log, inside the transaction that makes it.
pub(crate) async fn insert_audit<Db: SqlDatabase>(
    transaction: &mut Transaction<'_, Db>,
    entry: &NewAuditEntry,
) -> StorageResult<()> {
    query(
        "INSERT INTO audit_log (tenant_id, at, actor_token_id, actor_person_id, actor_name, action, target_kind, target_id, app_id, before_json, after_json)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
    )
    .bind(&entry.tenant_id)
    .bind(entry.at)
    .bind(&entry.actor_token_id)
    .bind(&entry.actor_person_id)
    .bind(&entry.actor_name)
    .bind(&entry.action)
    .bind(&entry.target_kind)
    .bind(&entry.target_id)
    .bind(&entry.app_id)
    .bind(entry.before.as_ref().map(ToString::to_string))
    .bind(entry.after.as_ref().map(ToString::to_string))
    .execute(&mut **transaction)
    .await
    .map_err(database_error)?;
    Ok(())
}
