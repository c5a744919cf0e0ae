//! Tenants, apps and their workspaces and keys, admin tokens and the audit log.

use std::str::FromStr;

use async_trait::async_trait;
use midship_core::access::{Role, TokenRecord};
use midship_core::clock::UnixMillis;
use midship_core::{
    App, AppKey, AuditEntry, AuditFilter, NewAuditEntry, Page, PageRequest, Platform, Tenant, Workspace,
};
use midship_storage::{
    AppScope, AppStore, AuditStore, Bootstrap, StorageError, StorageResult, TenantStore, TokenStore,
};
use sqlx::Transaction;

use crate::db::{QueryBuilder, SqlDatabase, SqlRow, query};
use crate::secrets::APP_KEY_SECRET;
use crate::{Dialect, SqlStorage, corrupt, database_error, descending_cursor, insert_audit, write_error};

/// Parses the `app_ids` column, a JSON array or NULL.
pub(crate) fn decode_app_ids(raw: Option<&str>) -> StorageResult<Option<Vec<String>>> {
    raw.map(serde_json::from_str)
        .transpose()
        .map_err(|error| StorageError::Corrupt { table: "api_tokens", detail: error.to_string() })
}

pub(crate) fn encode_app_ids(app_ids: Option<&[String]>) -> Option<String> {
    app_ids.map(|apps| serde_json::Value::from(apps.to_vec()).to_string())
}

/// Parses a JSON summary column of the audit log.
fn decode_json_column(raw: Option<&str>) -> StorageResult<Option<serde_json::Value>> {
    raw.map(serde_json::from_str)
        .transpose()
        .map_err(|error| StorageError::Corrupt { table: "audit_log", detail: error.to_string() })
}

async fn insert_tenant<Db: SqlDatabase>(transaction: &mut Transaction<'_, Db>, tenant: &Tenant) -> StorageResult<()> {
    query("INSERT INTO tenants (tenant_id, name, created_at) VALUES ($1, $2, $3)")
        .bind(&tenant.tenant_id)
        .bind(&tenant.name)
        .bind(tenant.created_at)
        .execute(&mut **transaction)
        .await
        .map_err(write_error("tenant"))?;
    Ok(())
}

async fn insert_token<Db: SqlDatabase>(
    transaction: &mut Transaction<'_, Db>,
    token: &TokenRecord,
) -> StorageResult<()> {
    query(
        "INSERT INTO api_tokens (token_id, tenant_id, name, role, app_ids, token_hash, hint, created_at, created_by, expires_at, revoked_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
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

async fn insert_workspace<Db: SqlDatabase>(
    transaction: &mut Transaction<'_, Db>,
    workspace: &Workspace,
) -> StorageResult<()> {
    query("INSERT INTO workspaces (workspace_id, app_id, name, created_at) VALUES ($1, $2, $3, $4)")
        .bind(&workspace.workspace_id)
        .bind(&workspace.app_id)
        .bind(&workspace.name)
        .bind(workspace.created_at)
        .execute(&mut **transaction)
        .await
        .map_err(write_error("workspace"))?;
    Ok(())
}

/// Inserts an app key, its secret already sealed.
async fn insert_key<Db: SqlDatabase>(
    transaction: &mut Transaction<'_, Db>,
    key: &AppKey,
    sealed_secret: String,
) -> StorageResult<()> {
    query("INSERT INTO app_keys (key_id, app_id, secret, created_at, expires_at) VALUES ($1, $2, $3, $4, $5)")
        .bind(&key.key_id)
        .bind(&key.app_id)
        .bind(sealed_secret)
        .bind(key.created_at)
        .bind(key.expires_at)
        .execute(&mut **transaction)
        .await
        .map_err(write_error("app key"))?;
    Ok(())
}

fn tenant_from_row(row: &impl SqlRow) -> Result<Tenant, sqlx::Error> {
    Ok(Tenant {
        tenant_id: row.try_get("tenant_id")?,
        name: row.try_get("name")?,
        created_at: row.try_get("created_at")?,
    })
}

fn app_from_row(row: &impl SqlRow) -> StorageResult<App> {
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

fn workspace_from_row(row: &impl SqlRow) -> Result<Workspace, sqlx::Error> {
    Ok(Workspace {
        workspace_id: row.try_get("workspace_id")?,
        app_id: row.try_get("app_id")?,
        name: row.try_get("name")?,
        created_at: row.try_get("created_at")?,
    })
}

fn key_from_row(row: &impl SqlRow) -> Result<AppKey, sqlx::Error> {
    Ok(AppKey {
        key_id: row.try_get("key_id")?,
        app_id: row.try_get("app_id")?,
        secret: row.try_get("secret")?,
        created_at: row.try_get("created_at")?,
        expires_at: row.try_get("expires_at")?,
    })
}

fn token_from_row(row: &impl SqlRow) -> StorageResult<TokenRecord> {
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

fn audit_from_row(row: &impl SqlRow) -> StorageResult<AuditEntry> {
    let read = corrupt("audit_log");
    let before: Option<String> = row.try_get("before_json").map_err(&read)?;
    let after: Option<String> = row.try_get("after_json").map_err(&read)?;
    Ok(AuditEntry {
        seq: row.try_get("seq").map_err(&read)?,
        entry: NewAuditEntry {
            tenant_id: row.try_get("tenant_id").map_err(&read)?,
            at: row.try_get("at").map_err(&read)?,
            actor_token_id: row.try_get("actor_token_id").map_err(&read)?,
            actor_person_id: row.try_get("actor_person_id").map_err(&read)?,
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
impl<D: Dialect> TenantStore for SqlStorage<D> {
    async fn bootstrap(&self, bootstrap: &Bootstrap) -> StorageResult<bool> {
        let mut transaction = self.pool.begin().await.map_err(database_error)?;
        let inserted = query(
            "INSERT INTO tenants (tenant_id, name, created_at) SELECT $1, $2, $3 WHERE NOT EXISTS (SELECT 1 FROM tenants)",
        )
        .bind(&bootstrap.tenant.tenant_id)
        .bind(&bootstrap.tenant.name)
        .bind(bootstrap.tenant.created_at)
        .execute(&mut *transaction)
        .await;
        // Two nodes starting together both see no tenant; the primary key lets one win.
        let inserted = match inserted {
            Err(sqlx::Error::Database(db_error)) if db_error.is_unique_violation() => 0,
            other => other.map_err(database_error)?.rows_affected(),
        };
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
        let row = query("SELECT tenant_id, name, created_at FROM tenants WHERE tenant_id = $1")
            .bind(tenant_id)
            .fetch_optional(&self.pool)
            .await
            .map_err(database_error)?;
        row.as_ref().map(tenant_from_row).transpose().map_err(corrupt("tenants"))
    }

    async fn list_tenants(&self, page: &PageRequest) -> StorageResult<Page<Tenant>> {
        let rows =
            query("SELECT tenant_id, name, created_at FROM tenants WHERE tenant_id > $1 ORDER BY tenant_id LIMIT $2")
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
impl<D: Dialect> AppStore for SqlStorage<D> {
    async fn create_app(
        &self,
        app: &App,
        workspaces: &[Workspace],
        first_key: &AppKey,
        audit: &NewAuditEntry,
    ) -> StorageResult<()> {
        let mut transaction = self.pool.begin().await.map_err(database_error)?;
        query("INSERT INTO apps (app_id, tenant_id, name, platforms, created_at) VALUES ($1, $2, $3, $4, $5)")
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
        insert_key(&mut transaction, first_key, self.seal(&APP_KEY_SECRET, &first_key.secret)).await?;
        insert_audit(&mut transaction, audit).await?;
        transaction.commit().await.map_err(database_error)
    }

    async fn get_app(&self, app_id: &str) -> StorageResult<Option<App>> {
        let row = query("SELECT app_id, tenant_id, name, platforms, created_at FROM apps WHERE app_id = $1")
            .bind(app_id)
            .fetch_optional(&self.pool)
            .await
            .map_err(database_error)?;
        row.as_ref().map(app_from_row).transpose()
    }

    async fn list_apps(&self, scope: &AppScope, page: &PageRequest) -> StorageResult<Page<App>> {
        let mut query =
            QueryBuilder::new("SELECT app_id, tenant_id, name, platforms, created_at FROM apps WHERE tenant_id = ");
        query.push_bind(&scope.tenant_id).push(" AND app_id > ").push_bind(page.after.as_deref().unwrap_or(""));
        if let Some(app_ids) = &scope.only_app_ids {
            query.push(" AND ");
            D::push_in_list(&mut query, "app_id", app_ids);
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
        let row = query("SELECT workspace_id, app_id, name, created_at FROM workspaces WHERE workspace_id = $1")
            .bind(workspace_id)
            .fetch_optional(&self.pool)
            .await
            .map_err(database_error)?;
        row.as_ref().map(workspace_from_row).transpose().map_err(corrupt("workspaces"))
    }

    async fn list_workspaces(&self, app_id: &str) -> StorageResult<Vec<Workspace>> {
        let rows = query(
            "SELECT workspace_id, app_id, name, created_at FROM workspaces WHERE app_id = $1 ORDER BY created_at, name",
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
        query("UPDATE app_keys SET expires_at = $1 WHERE app_id = $2 AND (expires_at IS NULL OR expires_at > $3)")
            .bind(previous_expire_at)
            .bind(&new_key.app_id)
            .bind(previous_expire_at)
            .execute(&mut *transaction)
            .await
            .map_err(database_error)?;
        insert_key(&mut transaction, new_key, self.seal(&APP_KEY_SECRET, &new_key.secret)).await?;
        insert_audit(&mut transaction, audit).await?;
        transaction.commit().await.map_err(database_error)
    }

    async fn list_app_keys(&self, app_id: &str) -> StorageResult<Vec<AppKey>> {
        let rows = query(
            "SELECT key_id, app_id, secret, created_at, expires_at FROM app_keys WHERE app_id = $1 ORDER BY created_at DESC, key_id DESC",
        )
        .bind(app_id)
        .fetch_all(&self.pool)
        .await
        .map_err(database_error)?;
        let mut keys: Vec<AppKey> =
            rows.iter().map(key_from_row).collect::<Result<_, _>>().map_err(corrupt("app_keys"))?;
        for key in &mut keys {
            key.secret = self.open_secret(&APP_KEY_SECRET, &key.secret)?;
        }
        Ok(keys)
    }
}

#[async_trait]
impl<D: Dialect> TokenStore for SqlStorage<D> {
    async fn create_token(&self, token: &TokenRecord, audit: &NewAuditEntry) -> StorageResult<()> {
        let mut transaction = self.pool.begin().await.map_err(database_error)?;
        insert_token(&mut transaction, token).await?;
        insert_audit(&mut transaction, audit).await?;
        transaction.commit().await.map_err(database_error)
    }

    async fn find_token_by_hash(&self, token_hash: &str) -> StorageResult<Option<TokenRecord>> {
        let row = query(&format!("SELECT {TOKEN_COLUMNS} FROM api_tokens WHERE token_hash = $1"))
            .bind(token_hash)
            .fetch_optional(&self.pool)
            .await
            .map_err(database_error)?;
        row.as_ref().map(token_from_row).transpose()
    }

    async fn get_token(&self, token_id: &str) -> StorageResult<Option<TokenRecord>> {
        let row = query(&format!("SELECT {TOKEN_COLUMNS} FROM api_tokens WHERE token_id = $1"))
            .bind(token_id)
            .fetch_optional(&self.pool)
            .await
            .map_err(database_error)?;
        row.as_ref().map(token_from_row).transpose()
    }

    async fn list_tokens(&self, tenant_id: &str, page: &PageRequest) -> StorageResult<Page<TokenRecord>> {
        let rows = query(&format!(
            "SELECT {TOKEN_COLUMNS} FROM api_tokens WHERE tenant_id = $1 AND token_id > $2 ORDER BY token_id LIMIT $3"
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
        let change = query("UPDATE api_tokens SET revoked_at = COALESCE(revoked_at, $1) WHERE token_id = $2")
            .bind(revoked_at)
            .bind(token_id);
        self.audited_existing(change, "token", audit).await
    }
}

#[async_trait]
impl<D: Dialect> AuditStore for SqlStorage<D> {
    async fn list_audit(
        &self,
        tenant_id: &str,
        filter: &AuditFilter,
        page: &PageRequest,
    ) -> StorageResult<Page<AuditEntry>> {
        let mut query = QueryBuilder::new(
            "SELECT seq, tenant_id, at, actor_token_id, actor_person_id, actor_name, action, target_kind, target_id, app_id, before_json, after_json
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
            query.push(" AND ");
            D::push_in_list(&mut query, "app_id", visible);
        }
        query.push(" ORDER BY seq DESC LIMIT ").push_bind(page.fetch_limit());
        let rows = query.build().fetch_all(&self.pool).await.map_err(database_error)?;
        let entries = rows.iter().map(audit_from_row).collect::<StorageResult<Vec<_>>>()?;
        Ok(Page::from_rows(entries, page, |entry| entry.seq.to_string()))
    }
}
