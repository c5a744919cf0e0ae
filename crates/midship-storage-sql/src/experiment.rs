//! Laboratories and experiments, with the workspace's experiments revision moved in the same
//! transaction as every change.

use async_trait::async_trait;
use midship_core::NewAuditEntry;
use midship_storage::{ExperimentRecord, ExperimentStore, LaboratoryRecord, StorageError, StorageResult};
use sqlx::Transaction;

use crate::db::{Query, SqlDatabase, SqlRow, query, query_scalar};
use crate::{Dialect, SqlStorage, corrupt, database_error, insert_audit, write_error};

const LABORATORY_COLUMNS: &str = "laboratory_id, workspace_id, key, name, description, created_at";
const EXPERIMENT_COLUMNS: &str = "experiment_id, workspace_id, laboratory_id, key, phase, definition, bucket_version,
    created_at, updated_at, started_at, stopped_at, decision, revision";

fn laboratory_from_row(row: &impl SqlRow) -> StorageResult<LaboratoryRecord> {
    let read = corrupt("laboratories");
    Ok(LaboratoryRecord {
        laboratory_id: row.try_get("laboratory_id").map_err(&read)?,
        workspace_id: row.try_get("workspace_id").map_err(&read)?,
        key: row.try_get("key").map_err(&read)?,
        name: row.try_get("name").map_err(&read)?,
        description: row.try_get("description").map_err(&read)?,
        created_at: row.try_get("created_at").map_err(&read)?,
    })
}

fn experiment_from_row(row: &impl SqlRow) -> StorageResult<ExperimentRecord> {
    let read = corrupt("experiments");
    let json = |column: &str, text: String| {
        serde_json::from_str(&text)
            .map_err(|error| StorageError::Corrupt { table: "experiments", detail: format!("{column}: {error}") })
    };
    let definition: String = row.try_get("definition").map_err(&read)?;
    let decision: Option<String> = row.try_get("decision").map_err(&read)?;
    Ok(ExperimentRecord {
        experiment_id: row.try_get("experiment_id").map_err(&read)?,
        workspace_id: row.try_get("workspace_id").map_err(&read)?,
        laboratory_id: row.try_get("laboratory_id").map_err(&read)?,
        key: row.try_get("key").map_err(&read)?,
        phase: row.try_get("phase").map_err(&read)?,
        definition: json("definition", definition)?,
        bucket_version: row.try_get("bucket_version").map_err(&read)?,
        created_at: row.try_get("created_at").map_err(&read)?,
        updated_at: row.try_get("updated_at").map_err(&read)?,
        started_at: row.try_get("started_at").map_err(&read)?,
        stopped_at: row.try_get("stopped_at").map_err(&read)?,
        decision: decision.map(|text| json("decision", text)).transpose()?,
        revision: row.try_get("revision").map_err(&read)?,
    })
}

/// Moves the workspace's experiments revision inside the change's transaction.
async fn bump_revision<Db: SqlDatabase>(
    transaction: &mut Transaction<'_, Db>,
    workspace_id: &str,
) -> StorageResult<()> {
    query(
        "INSERT INTO experiment_revisions (workspace_id, revision) VALUES ($1, 1)
         ON CONFLICT (workspace_id) DO UPDATE SET revision = experiment_revisions.revision + 1",
    )
    .bind(workspace_id)
    .execute(&mut **transaction)
    .await
    .map_err(database_error)?;
    Ok(())
}

impl<D: Dialect> SqlStorage<D> {
    /// Runs `change`; when it changed a row, moves the revision and writes the audit entry, all in
    /// one transaction. Returns whether a row changed.
    async fn experiment_change(
        &self,
        change: Query<'_>,
        workspace_id: &str,
        entity: &'static str,
        audit: &NewAuditEntry,
    ) -> StorageResult<bool> {
        let mut transaction = self.pool.begin().await.map_err(database_error)?;
        let changed = change.execute(&mut *transaction).await.map_err(write_error(entity))?.rows_affected();
        if changed == 0 {
            return Ok(false);
        }
        bump_revision(&mut transaction, workspace_id).await?;
        insert_audit(&mut transaction, audit).await?;
        transaction.commit().await.map_err(database_error)?;
        Ok(true)
    }
}

#[async_trait]
impl<D: Dialect> ExperimentStore for SqlStorage<D> {
    async fn create_laboratory(&self, laboratory: &LaboratoryRecord, audit: &NewAuditEntry) -> StorageResult<()> {
        let sql = format!("INSERT INTO laboratories ({LABORATORY_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6)");
        let insert = query(&sql)
            .bind(&laboratory.laboratory_id)
            .bind(&laboratory.workspace_id)
            .bind(&laboratory.key)
            .bind(&laboratory.name)
            .bind(&laboratory.description)
            .bind(laboratory.created_at);
        self.experiment_change(insert, &laboratory.workspace_id, "laboratory", audit).await?;
        Ok(())
    }

    async fn list_laboratories(&self, workspace_id: &str) -> StorageResult<Vec<LaboratoryRecord>> {
        let rows =
            query(&format!("SELECT {LABORATORY_COLUMNS} FROM laboratories WHERE workspace_id = $1 ORDER BY key"))
                .bind(workspace_id)
                .fetch_all(&self.pool)
                .await
                .map_err(database_error)?;
        rows.iter().map(laboratory_from_row).collect()
    }

    async fn create_experiment(&self, experiment: &ExperimentRecord, audit: &NewAuditEntry) -> StorageResult<()> {
        let sql = format!(
            "INSERT INTO experiments ({EXPERIMENT_COLUMNS})
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)"
        );
        let insert = query(&sql)
            .bind(&experiment.experiment_id)
            .bind(&experiment.workspace_id)
            .bind(&experiment.laboratory_id)
            .bind(&experiment.key)
            .bind(&experiment.phase)
            .bind(experiment.definition.to_string())
            .bind(experiment.bucket_version)
            .bind(experiment.created_at)
            .bind(experiment.updated_at)
            .bind(experiment.started_at)
            .bind(experiment.stopped_at)
            .bind(experiment.decision.as_ref().map(ToString::to_string))
            .bind(experiment.revision);
        self.experiment_change(insert, &experiment.workspace_id, "experiment", audit).await?;
        Ok(())
    }

    async fn get_experiment(&self, workspace_id: &str, key: &str) -> StorageResult<Option<ExperimentRecord>> {
        let row = query(&format!("SELECT {EXPERIMENT_COLUMNS} FROM experiments WHERE workspace_id = $1 AND key = $2"))
            .bind(workspace_id)
            .bind(key)
            .fetch_optional(&self.pool)
            .await
            .map_err(database_error)?;
        row.as_ref().map(experiment_from_row).transpose()
    }

    async fn list_experiments(&self, workspace_id: &str) -> StorageResult<Vec<ExperimentRecord>> {
        let rows = query(&format!("SELECT {EXPERIMENT_COLUMNS} FROM experiments WHERE workspace_id = $1 ORDER BY key"))
            .bind(workspace_id)
            .fetch_all(&self.pool)
            .await
            .map_err(database_error)?;
        rows.iter().map(experiment_from_row).collect()
    }

    async fn update_experiment(
        &self,
        experiment: &ExperimentRecord,
        expected_revision: i64,
        audit: &NewAuditEntry,
    ) -> StorageResult<bool> {
        let update = query(
            "UPDATE experiments SET laboratory_id = $1, phase = $2, definition = $3, bucket_version = $4,
                 updated_at = $5, started_at = $6, stopped_at = $7, decision = $8, revision = $9
             WHERE experiment_id = $10 AND revision = $11",
        )
        .bind(&experiment.laboratory_id)
        .bind(&experiment.phase)
        .bind(experiment.definition.to_string())
        .bind(experiment.bucket_version)
        .bind(experiment.updated_at)
        .bind(experiment.started_at)
        .bind(experiment.stopped_at)
        .bind(experiment.decision.as_ref().map(ToString::to_string))
        .bind(experiment.revision)
        .bind(&experiment.experiment_id)
        .bind(expected_revision);
        self.experiment_change(update, &experiment.workspace_id, "experiment", audit).await
    }

    async fn experiments_revision(&self, workspace_id: &str) -> StorageResult<i64> {
        let revision: Option<i64> = query_scalar("SELECT revision FROM experiment_revisions WHERE workspace_id = $1")
            .bind(workspace_id)
            .fetch_optional(&self.pool)
            .await
            .map_err(database_error)?;
        Ok(revision.unwrap_or(0))
    }

    async fn all_experiments_revisions(&self) -> StorageResult<Vec<(String, i64)>> {
        let rows = query("SELECT workspace_id, revision FROM experiment_revisions")
            .fetch_all(&self.pool)
            .await
            .map_err(database_error)?;
        let read = corrupt("experiment_revisions");
        rows.iter()
            .map(|row| Ok((row.try_get("workspace_id").map_err(&read)?, row.try_get("revision").map_err(&read)?)))
            .collect()
    }
}
