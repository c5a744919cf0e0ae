//! The embedded backend: one SQLite file in the data directory, in WAL mode with full fsync so
//! an acknowledged change survives a crash. Owns its migrations (`migrations/`).

use std::str::FromStr;
use std::time::Duration;

use async_trait::async_trait;
use midship_core::access::{Role, TokenRecord};
use midship_core::clock::UnixMillis;
use midship_core::{
    App, AppKey, AuditEntry, AuditFilter, NewAuditEntry, Page, PageRequest, Platform, Tenant, Workspace,
};
use midship_storage::{
    AppScope, AppStore, AuditStore, Bootstrap, Storage, StorageError, StorageResult, TenantStore, TokenStore,
    decode_app_ids, decode_json_column, descending_cursor, encode_app_ids,
};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteRow, SqliteSynchronous};
use sqlx::{QueryBuilder, Row, Sqlite, SqlitePool, Transaction};

mod analytics;
mod delivery;
mod gateway;
mod push;
mod switches;
mod sync;

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations");

#[derive(Debug, Clone)]
pub struct SqliteStorage {
    pool: SqlitePool,
}

#[derive(Debug, Clone, Copy)]
pub struct SqliteSettings {
    pub max_connections: u32,
    /// How long a writer waits for another writer before giving up.
    pub busy_timeout: Duration,
}

impl Default for SqliteSettings {
    fn default() -> Self {
        Self { max_connections: 8, busy_timeout: Duration::from_secs(5) }
    }
}

impl SqliteStorage {
    /// Opens (creating if needed) the database at `url` (`sqlite://path`) and migrates it.
    pub async fn open(url: &str, settings: SqliteSettings) -> StorageResult<Self> {
        let options = SqliteConnectOptions::from_str(url)
            .map_err(database_error)?
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Full)
            .foreign_keys(true)
            .busy_timeout(settings.busy_timeout);
        let pool = SqlitePoolOptions::new()
            .max_connections(settings.max_connections)
            // A file on this machine cannot go away between uses; a ping per query only costs.
            .test_before_acquire(false)
            .connect_with(options)
            .await
            .map_err(database_error)?;
        MIGRATOR.run(&pool).await.map_err(|error| StorageError::Migration(error.to_string()))?;
        Ok(Self { pool })
    }
}

pub(crate) fn database_error(error: sqlx::Error) -> StorageError {
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

pub(crate) async fn insert_audit(
    transaction: &mut Transaction<'_, Sqlite>,
    entry: &NewAuditEntry,
) -> StorageResult<()> {
    sqlx::query(
        "INSERT INTO audit_log (tenant_id, at, actor_token_id, actor_name, action, target_kind, target_id, app_id, before_json, after_json)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
    )
    .bind(&entry.tenant_id)
    .bind(entry.at)
    .bind(&entry.actor_token_id)
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

async fn insert_tenant(transaction: &mut Transaction<'_, Sqlite>, tenant: &Tenant) -> StorageResult<()> {
    sqlx::query("INSERT INTO tenants (tenant_id, name, created_at) VALUES (?, ?, ?)")
        .bind(&tenant.tenant_id)
        .bind(&tenant.name)
        .bind(tenant.created_at)
        .execute(&mut **transaction)
        .await
        .map_err(write_error("tenant"))?;
    Ok(())
}

async fn insert_token(transaction: &mut Transaction<'_, Sqlite>, token: &TokenRecord) -> StorageResult<()> {
    sqlx::query(
        "INSERT INTO api_tokens (token_id, tenant_id, name, role, app_ids, token_hash, hint, created_at, created_by, expires_at, revoked_at)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
    )
    .bind(&token.token_id)
    .bind(&token.tenant_id)
    .bind(&token.name)
    .bind(token.role.as_str())
    .bind(encode_app_ids(token.app_ids.as_deref()))
    .bind(&token.token_hash)
    .bind(&token.hint)
    .bind(token.created_at)
    .bind(&token.created_by)
    .bind(token.expires_at)
    .bind(token.revoked_at)
    .execute(&mut **transaction)
    .await
    .map_err(write_error("token"))?;
    Ok(())
}

async fn insert_workspace(transaction: &mut Transaction<'_, Sqlite>, workspace: &Workspace) -> StorageResult<()> {
    sqlx::query("INSERT INTO workspaces (workspace_id, app_id, name, created_at) VALUES (?, ?, ?, ?)")
        .bind(&workspace.workspace_id)
        .bind(&workspace.app_id)
        .bind(&workspace.name)
        .bind(workspace.created_at)
        .execute(&mut **transaction)
        .await
        .map_err(write_error("workspace"))?;
    Ok(())
}

async fn insert_key(transaction: &mut Transaction<'_, Sqlite>, key: &AppKey) -> StorageResult<()> {
    sqlx::query("INSERT INTO app_keys (key_id, app_id, secret, created_at, expires_at) VALUES (?, ?, ?, ?, ?)")
        .bind(&key.key_id)
        .bind(&key.app_id)
        .bind(&key.secret)
        .bind(key.created_at)
        .bind(key.expires_at)
        .execute(&mut **transaction)
        .await
        .map_err(write_error("app key"))?;
    Ok(())
}

fn tenant_from_row(row: &SqliteRow) -> Result<Tenant, sqlx::Error> {
    Ok(Tenant {
        tenant_id: row.try_get("tenant_id")?,
        name: row.try_get("name")?,
        created_at: row.try_get("created_at")?,
    })
}

fn app_from_row(row: &SqliteRow) -> StorageResult<App> {
    let platforms: String = row.try_get("platforms").map_err(corrupt("apps"))?;
    Ok(App {
        app_id: row.try_get("app_id").map_err(corrupt("apps"))?,
        tenant_id: row.try_get("tenant_id").map_err(corrupt("apps"))?,
        name: row.try_get("name").map_err(corrupt("apps"))?,
        platforms: Platform::parse_list(&platforms)
            .map_err(|error| StorageError::Corrupt { table: "apps", detail: error.to_string() })?,
        created_at: row.try_get("created_at").map_err(corrupt("apps"))?,
    })
}

fn workspace_from_row(row: &SqliteRow) -> Result<Workspace, sqlx::Error> {
    Ok(Workspace {
        workspace_id: row.try_get("workspace_id")?,
        app_id: row.try_get("app_id")?,
        name: row.try_get("name")?,
        created_at: row.try_get("created_at")?,
    })
}

fn key_from_row(row: &SqliteRow) -> Result<AppKey, sqlx::Error> {
    Ok(AppKey {
        key_id: row.try_get("key_id")?,
        app_id: row.try_get("app_id")?,
        secret: row.try_get("secret")?,
        created_at: row.try_get("created_at")?,
        expires_at: row.try_get("expires_at")?,
    })
}

fn token_from_row(row: &SqliteRow) -> StorageResult<TokenRecord> {
    let role: String = row.try_get("role").map_err(corrupt("api_tokens"))?;
    let app_ids: Option<String> = row.try_get("app_ids").map_err(corrupt("api_tokens"))?;
    Ok(TokenRecord {
        token_id: row.try_get("token_id").map_err(corrupt("api_tokens"))?,
        tenant_id: row.try_get("tenant_id").map_err(corrupt("api_tokens"))?,
        name: row.try_get("name").map_err(corrupt("api_tokens"))?,
        role: Role::from_str(&role)
            .map_err(|error| StorageError::Corrupt { table: "api_tokens", detail: error.to_string() })?,
        app_ids: decode_app_ids(app_ids.as_deref())?,
        token_hash: row.try_get("token_hash").map_err(corrupt("api_tokens"))?,
        hint: row.try_get("hint").map_err(corrupt("api_tokens"))?,
        created_at: row.try_get("created_at").map_err(corrupt("api_tokens"))?,
        created_by: row.try_get("created_by").map_err(corrupt("api_tokens"))?,
        expires_at: row.try_get("expires_at").map_err(corrupt("api_tokens"))?,
        revoked_at: row.try_get("revoked_at").map_err(corrupt("api_tokens"))?,
    })
}

fn audit_from_row(row: &SqliteRow) -> StorageResult<AuditEntry> {
    let read = corrupt("audit_log");
    let before: Option<String> = row.try_get("before_json").map_err(&read)?;
    let after: Option<String> = row.try_get("after_json").map_err(&read)?;
    Ok(AuditEntry {
        seq: row.try_get("seq").map_err(&read)?,
        entry: NewAuditEntry {
            tenant_id: row.try_get("tenant_id").map_err(&read)?,
            at: row.try_get("at").map_err(&read)?,
            actor_token_id: row.try_get("actor_token_id").map_err(&read)?,
            actor_name: row.try_get("actor_name").map_err(&read)?,
            action: row.try_get("action").map_err(&read)?,
            target_kind: row.try_get("target_kind").map_err(&read)?,
            target_id: row.try_get("target_id").map_err(&read)?,
            app_id: row.try_get("app_id").map_err(&read)?,
            before: decode_json_column(before.as_deref())?,
            after: decode_json_column(after.as_deref())?,
        },
    })
}

const TOKEN_COLUMNS: &str =
    "token_id, tenant_id, name, role, app_ids, token_hash, hint, created_at, created_by, expires_at, revoked_at";

#[async_trait]
impl TenantStore for SqliteStorage {
    async fn bootstrap(&self, bootstrap: &Bootstrap) -> StorageResult<bool> {
        let mut transaction = self.pool.begin().await.map_err(database_error)?;
        let inserted = sqlx::query(
            "INSERT INTO tenants (tenant_id, name, created_at) SELECT ?, ?, ? WHERE NOT EXISTS (SELECT 1 FROM tenants)",
        )
        .bind(&bootstrap.tenant.tenant_id)
        .bind(&bootstrap.tenant.name)
        .bind(bootstrap.tenant.created_at)
        .execute(&mut *transaction)
        .await
        .map_err(write_error("tenant"))?
        .rows_affected();
        if inserted == 0 {
            return Ok(false);
        }
        insert_token(&mut transaction, &bootstrap.admin_token).await?;
        insert_audit(&mut transaction, &bootstrap.audit).await?;
        transaction.commit().await.map_err(database_error)?;
        Ok(true)
    }

    async fn create_tenant(&self, tenant: &Tenant, audit: &NewAuditEntry) -> StorageResult<()> {
        let mut transaction = self.pool.begin().await.map_err(database_error)?;
        insert_tenant(&mut transaction, tenant).await?;
        insert_audit(&mut transaction, audit).await?;
        transaction.commit().await.map_err(database_error)
    }

    async fn get_tenant(&self, tenant_id: &str) -> StorageResult<Option<Tenant>> {
        let row = sqlx::query("SELECT tenant_id, name, created_at FROM tenants WHERE tenant_id = ?")
            .bind(tenant_id)
            .fetch_optional(&self.pool)
            .await
            .map_err(database_error)?;
        row.as_ref().map(tenant_from_row).transpose().map_err(corrupt("tenants"))
    }

    async fn list_tenants(&self, page: &PageRequest) -> StorageResult<Page<Tenant>> {
        let rows = sqlx::query(
            "SELECT tenant_id, name, created_at FROM tenants WHERE tenant_id > ? ORDER BY tenant_id LIMIT ?",
        )
        .bind(page.after.as_deref().unwrap_or(""))
        .bind(page.fetch_limit())
        .fetch_all(&self.pool)
        .await
        .map_err(database_error)?;
        let tenants = rows.iter().map(tenant_from_row).collect::<Result<Vec<_>, _>>().map_err(corrupt("tenants"))?;
        Ok(Page::from_rows(tenants, page, |tenant| tenant.tenant_id.clone()))
    }
}

#[async_trait]
impl AppStore for SqliteStorage {
    async fn create_app(
        &self,
        app: &App,
        workspaces: &[Workspace],
        first_key: &AppKey,
        audit: &NewAuditEntry,
    ) -> StorageResult<()> {
        let mut transaction = self.pool.begin().await.map_err(database_error)?;
        sqlx::query("INSERT INTO apps (app_id, tenant_id, name, platforms, created_at) VALUES (?, ?, ?, ?, ?)")
            .bind(&app.app_id)
            .bind(&app.tenant_id)
            .bind(&app.name)
            .bind(Platform::join(&app.platforms))
            .bind(app.created_at)
            .execute(&mut *transaction)
            .await
            .map_err(write_error("app"))?;
        for workspace in workspaces {
            insert_workspace(&mut transaction, workspace).await?;
        }
        insert_key(&mut transaction, first_key).await?;
        insert_audit(&mut transaction, audit).await?;
        transaction.commit().await.map_err(database_error)
    }

    async fn get_app(&self, app_id: &str) -> StorageResult<Option<App>> {
        let row = sqlx::query("SELECT app_id, tenant_id, name, platforms, created_at FROM apps WHERE app_id = ?")
            .bind(app_id)
            .fetch_optional(&self.pool)
            .await
            .map_err(database_error)?;
        row.as_ref().map(app_from_row).transpose()
    }

    async fn list_apps(&self, scope: &AppScope, page: &PageRequest) -> StorageResult<Page<App>> {
        let mut query = QueryBuilder::<Sqlite>::new(
            "SELECT app_id, tenant_id, name, platforms, created_at FROM apps WHERE tenant_id = ",
        );
        query.push_bind(&scope.tenant_id).push(" AND app_id > ").push_bind(page.after.as_deref().unwrap_or(""));
        if let Some(app_ids) = &scope.only_app_ids {
            query
                .push(" AND app_id IN (SELECT value FROM json_each(")
                .push_bind(serde_json::Value::from(app_ids.clone()).to_string())
                .push("))");
        }
        query.push(" ORDER BY app_id LIMIT ").push_bind(page.fetch_limit());
        let rows = query.build().fetch_all(&self.pool).await.map_err(database_error)?;
        let apps = rows.iter().map(app_from_row).collect::<StorageResult<Vec<_>>>()?;
        Ok(Page::from_rows(apps, page, |app| app.app_id.clone()))
    }

    async fn create_workspace(&self, workspace: &Workspace, audit: &NewAuditEntry) -> StorageResult<()> {
        let mut transaction = self.pool.begin().await.map_err(database_error)?;
        insert_workspace(&mut transaction, workspace).await?;
        insert_audit(&mut transaction, audit).await?;
        transaction.commit().await.map_err(database_error)
    }

    async fn get_workspace(&self, workspace_id: &str) -> StorageResult<Option<Workspace>> {
        let row = sqlx::query("SELECT workspace_id, app_id, name, created_at FROM workspaces WHERE workspace_id = ?")
            .bind(workspace_id)
            .fetch_optional(&self.pool)
            .await
            .map_err(database_error)?;
        row.as_ref().map(workspace_from_row).transpose().map_err(corrupt("workspaces"))
    }

    async fn list_workspaces(&self, app_id: &str) -> StorageResult<Vec<Workspace>> {
        let rows = sqlx::query(
            "SELECT workspace_id, app_id, name, created_at FROM workspaces WHERE app_id = ? ORDER BY created_at, name",
        )
        .bind(app_id)
        .fetch_all(&self.pool)
        .await
        .map_err(database_error)?;
        rows.iter().map(workspace_from_row).collect::<Result<_, _>>().map_err(corrupt("workspaces"))
    }

    async fn rotate_app_key(
        &self,
        new_key: &AppKey,
        previous_expire_at: UnixMillis,
        audit: &NewAuditEntry,
    ) -> StorageResult<()> {
        let mut transaction = self.pool.begin().await.map_err(database_error)?;
        sqlx::query("UPDATE app_keys SET expires_at = ? WHERE app_id = ? AND (expires_at IS NULL OR expires_at > ?)")
            .bind(previous_expire_at)
            .bind(&new_key.app_id)
            .bind(previous_expire_at)
            .execute(&mut *transaction)
            .await
            .map_err(database_error)?;
        insert_key(&mut transaction, new_key).await?;
        insert_audit(&mut transaction, audit).await?;
        transaction.commit().await.map_err(database_error)
    }

    async fn list_app_keys(&self, app_id: &str) -> StorageResult<Vec<AppKey>> {
        let rows = sqlx::query(
            "SELECT key_id, app_id, secret, created_at, expires_at FROM app_keys WHERE app_id = ? ORDER BY created_at DESC, key_id DESC",
        )
        .bind(app_id)
        .fetch_all(&self.pool)
        .await
        .map_err(database_error)?;
        rows.iter().map(key_from_row).collect::<Result<_, _>>().map_err(corrupt("app_keys"))
    }
}

#[async_trait]
impl TokenStore for SqliteStorage {
    async fn create_token(&self, token: &TokenRecord, audit: &NewAuditEntry) -> StorageResult<()> {
        let mut transaction = self.pool.begin().await.map_err(database_error)?;
        insert_token(&mut transaction, token).await?;
        insert_audit(&mut transaction, audit).await?;
        transaction.commit().await.map_err(database_error)
    }

    async fn find_token_by_hash(&self, token_hash: &str) -> StorageResult<Option<TokenRecord>> {
        let row = sqlx::query(&format!("SELECT {TOKEN_COLUMNS} FROM api_tokens WHERE token_hash = ?"))
            .bind(token_hash)
            .fetch_optional(&self.pool)
            .await
            .map_err(database_error)?;
        row.as_ref().map(token_from_row).transpose()
    }

    async fn get_token(&self, token_id: &str) -> StorageResult<Option<TokenRecord>> {
        let row = sqlx::query(&format!("SELECT {TOKEN_COLUMNS} FROM api_tokens WHERE token_id = ?"))
            .bind(token_id)
            .fetch_optional(&self.pool)
            .await
            .map_err(database_error)?;
        row.as_ref().map(token_from_row).transpose()
    }

    async fn list_tokens(&self, tenant_id: &str, page: &PageRequest) -> StorageResult<Page<TokenRecord>> {
        let rows = sqlx::query(&format!(
            "SELECT {TOKEN_COLUMNS} FROM api_tokens WHERE tenant_id = ? AND token_id > ? ORDER BY token_id LIMIT ?"
        ))
        .bind(tenant_id)
        .bind(page.after.as_deref().unwrap_or(""))
        .bind(page.fetch_limit())
        .fetch_all(&self.pool)
        .await
        .map_err(database_error)?;
        let tokens = rows.iter().map(token_from_row).collect::<StorageResult<Vec<_>>>()?;
        Ok(Page::from_rows(tokens, page, |token| token.token_id.clone()))
    }

    async fn revoke_token(&self, token_id: &str, revoked_at: UnixMillis, audit: &NewAuditEntry) -> StorageResult<()> {
        let mut transaction = self.pool.begin().await.map_err(database_error)?;
        let matched = sqlx::query("UPDATE api_tokens SET revoked_at = COALESCE(revoked_at, ?) WHERE token_id = ?")
            .bind(revoked_at)
            .bind(token_id)
            .execute(&mut *transaction)
            .await
            .map_err(database_error)?
            .rows_affected();
        if matched == 0 {
            return Err(StorageError::NotFound { entity: "token" });
        }
        insert_audit(&mut transaction, audit).await?;
        transaction.commit().await.map_err(database_error)
    }
}

#[async_trait]
impl AuditStore for SqliteStorage {
    async fn list_audit(
        &self,
        tenant_id: &str,
        filter: &AuditFilter,
        page: &PageRequest,
    ) -> StorageResult<Page<AuditEntry>> {
        let mut query = QueryBuilder::<Sqlite>::new(
            "SELECT seq, tenant_id, at, actor_token_id, actor_name, action, target_kind, target_id, app_id, before_json, after_json
             FROM audit_log WHERE tenant_id = ",
        );
        query.push_bind(tenant_id).push(" AND seq < ").push_bind(descending_cursor(page));
        if let Some(app_id) = &filter.app_id {
            query.push(" AND app_id = ").push_bind(app_id);
        }
        if let Some(action) = &filter.action {
            query.push(" AND action = ").push_bind(action);
        }
        if let Some(visible) = &filter.visible_apps {
            query
                .push(" AND app_id IN (SELECT value FROM json_each(")
                .push_bind(serde_json::Value::from(visible.clone()).to_string())
                .push("))");
        }
        query.push(" ORDER BY seq DESC LIMIT ").push_bind(page.fetch_limit());
        let rows = query.build().fetch_all(&self.pool).await.map_err(database_error)?;
        let entries = rows.iter().map(audit_from_row).collect::<StorageResult<Vec<_>>>()?;
        Ok(Page::from_rows(entries, page, |entry| entry.seq.to_string()))
    }
}

#[async_trait]
impl Storage for SqliteStorage {
    fn backend_name(&self) -> &'static str {
        "sqlite"
    }

    async fn ping(&self) -> StorageResult<()> {
        sqlx::query("SELECT 1").execute(&self.pool).await.map_err(database_error)?;
        Ok(())
    }

    async fn close(&self) {
        self.pool.close().await;
    }
}
