//! Remote configuration: drafts and published versions.

use async_trait::async_trait;
use midship_core::{NewAuditEntry, Page, PageRequest};
use midship_storage::{DraftAfterPublish, DraftSwitchRecord, StorageResult, SwitchStore, SwitchVersionRecord};
use sqlx::Transaction;

use crate::db::{SqlDatabase, SqlRow, query};
use crate::{Dialect, SqlStorage, corrupt, database_error, descending_cursor, insert_audit, write_error};

fn draft_from_row(row: &impl SqlRow) -> Result<DraftSwitchRecord, sqlx::Error> {
    Ok(DraftSwitchRecord {
        key: row.try_get("key")?,
        definition: row.try_get("definition")?,
        updated_at: row.try_get("updated_at")?,
    })
}

fn version_from_row(row: &impl SqlRow) -> Result<SwitchVersionRecord, sqlx::Error> {
    Ok(SwitchVersionRecord {
        workspace_id: row.try_get("workspace_id")?,
        version: row.try_get("version")?,
        document: row.try_get("document")?,
        published_at: row.try_get("published_at")?,
        published_by: row.try_get("published_by")?,
        note: row.try_get("note")?,
    })
}

async fn upsert_draft<Db: SqlDatabase>(
    transaction: &mut Transaction<'_, Db>,
    workspace_id: &str,
    switch: &DraftSwitchRecord,
) -> StorageResult<()> {
    query(
        "INSERT INTO switch_drafts (workspace_id, key, definition, updated_at) VALUES ($1, $2, $3, $4)
         ON CONFLICT (workspace_id, key) DO UPDATE SET definition = excluded.definition, updated_at = excluded.updated_at",
    )
    .bind(workspace_id)
    .bind(&switch.key)
    .bind(&switch.definition)
    .bind(switch.updated_at)
    .execute(&mut **transaction)
    .await
    .map_err(database_error)?;
    Ok(())
}

async fn replace_all<Db: SqlDatabase>(
    transaction: &mut Transaction<'_, Db>,
    workspace_id: &str,
    switches: &[DraftSwitchRecord],
) -> StorageResult<()> {
    query("DELETE FROM switch_drafts WHERE workspace_id = $1")
        .bind(workspace_id)
        .execute(&mut **transaction)
        .await
        .map_err(database_error)?;
    for switch in switches {
        upsert_draft(transaction, workspace_id, switch).await?;
    }
    Ok(())
}

const VERSION_COLUMNS: &str = "workspace_id, version, document, published_at, published_by, note";

#[async_trait]
impl<D: Dialect> SwitchStore for SqlStorage<D> {
    async fn put_draft_switch(
        &self,
        workspace_id: &str,
        switch: &DraftSwitchRecord,
        audit: &NewAuditEntry,
    ) -> StorageResult<()> {
        let mut transaction = self.pool.begin().await.map_err(database_error)?;
        upsert_draft(&mut transaction, workspace_id, switch).await?;
        insert_audit(&mut transaction, audit).await?;
        transaction.commit().await.map_err(database_error)
    }

    async fn delete_draft_switch(&self, workspace_id: &str, key: &str, audit: &NewAuditEntry) -> StorageResult<()> {
        let change =
            query("DELETE FROM switch_drafts WHERE workspace_id = $1 AND key = $2").bind(workspace_id).bind(key);
        self.audited_existing(change, "switch", audit).await
    }

    async fn list_draft_switches(&self, workspace_id: &str) -> StorageResult<Vec<DraftSwitchRecord>> {
        let rows = query("SELECT key, definition, updated_at FROM switch_drafts WHERE workspace_id = $1 ORDER BY key")
            .bind(workspace_id)
            .fetch_all(&self.pool)
            .await
            .map_err(database_error)?;
        rows.iter().map(draft_from_row).collect::<Result<_, _>>().map_err(corrupt("switch_drafts"))
    }

    async fn replace_draft(
        &self,
        workspace_id: &str,
        switches: &[DraftSwitchRecord],
        audit: &NewAuditEntry,
    ) -> StorageResult<()> {
        let mut transaction = self.pool.begin().await.map_err(database_error)?;
        replace_all(&mut transaction, workspace_id, switches).await?;
        insert_audit(&mut transaction, audit).await?;
        transaction.commit().await.map_err(database_error)
    }

    async fn publish_switch_version(
        &self,
        version: &SwitchVersionRecord,
        draft: DraftAfterPublish<'_>,
        audit: &NewAuditEntry,
    ) -> StorageResult<()> {
        let mut transaction = self.pool.begin().await.map_err(database_error)?;
        query(&format!("INSERT INTO switch_versions ({VERSION_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6)"))
            .bind(&version.workspace_id)
            .bind(version.version)
            .bind(&version.document)
            .bind(version.published_at)
            .bind(&version.published_by)
            .bind(&version.note)
            .execute(&mut *transaction)
            .await
            .map_err(write_error("switch version"))?;
        if let DraftAfterPublish::Replace(switches) = draft {
            replace_all(&mut transaction, &version.workspace_id, switches).await?;
        }
        insert_audit(&mut transaction, audit).await?;
        transaction.commit().await.map_err(database_error)
    }

    async fn get_switch_version(
        &self,
        workspace_id: &str,
        version: Option<i64>,
    ) -> StorageResult<Option<SwitchVersionRecord>> {
        let row = query(&format!(
            "SELECT {VERSION_COLUMNS} FROM switch_versions WHERE workspace_id = $1 AND version <= $2 ORDER BY version DESC LIMIT 1"
        ))
        .bind(workspace_id)
        .bind(version.unwrap_or(i64::MAX))
        .fetch_optional(&self.pool)
        .await
        .map_err(database_error)?;
        let found = row.as_ref().map(version_from_row).transpose().map_err(corrupt("switch_versions"))?;
        Ok(found.filter(|record| version.is_none_or(|wanted| record.version == wanted)))
    }

    async fn list_switch_versions(
        &self,
        workspace_id: &str,
        page: &PageRequest,
    ) -> StorageResult<Page<SwitchVersionRecord>> {
        let rows = query(&format!(
            "SELECT {VERSION_COLUMNS} FROM switch_versions WHERE workspace_id = $1 AND version < $2 ORDER BY version DESC LIMIT $3"
        ))
        .bind(workspace_id)
        .bind(descending_cursor(page))
        .bind(page.fetch_limit())
        .fetch_all(&self.pool)
        .await
        .map_err(database_error)?;
        let versions =
            rows.iter().map(version_from_row).collect::<Result<Vec<_>, _>>().map_err(corrupt("switch_versions"))?;
        Ok(Page::from_rows(versions, page, |record| record.version.to_string()))
    }

    async fn latest_switch_versions(&self) -> StorageResult<Vec<(String, i64)>> {
        let rows = query("SELECT workspace_id, MAX(version) AS version FROM switch_versions GROUP BY workspace_id")
            .fetch_all(&self.pool)
            .await
            .map_err(database_error)?;
        rows.iter()
            .map(|row| Ok((row.try_get("workspace_id")?, row.try_get("version")?)))
            .collect::<Result<_, sqlx::Error>>()
            .map_err(corrupt("switch_versions"))
    }
}
