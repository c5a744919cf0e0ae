//! The gateway's groups, APIs and revision counter, and device registration.

use async_trait::async_trait;
use midship_core::NewAuditEntry;
use midship_storage::{
    ApiGroupRecord, ApiRecord, CredentialStatus, DeviceRecord, GatewayStore, StorageError, StorageResult,
    WorkspaceSecurityRecord,
};
use sqlx::Transaction;

use crate::db::{Query, SqlDatabase, SqlRow, query};
use crate::secrets::ENVELOPE_KEY_SECRET;
use crate::{Dialect, SqlStorage, corrupt, database_error, insert_audit, write_error};

fn group_from_row(row: &impl SqlRow) -> Result<ApiGroupRecord, sqlx::Error> {
    Ok(ApiGroupRecord {
        group_id: row.try_get("group_id")?,
        workspace_id: row.try_get("workspace_id")?,
        name: row.try_get("name")?,
        definition: row.try_get("definition")?,
        updated_at: row.try_get("updated_at")?,
    })
}

fn api_from_row(row: &impl SqlRow) -> Result<ApiRecord, sqlx::Error> {
    Ok(ApiRecord {
        api_id: row.try_get("api_id")?,
        workspace_id: row.try_get("workspace_id")?,
        operation_type: row.try_get("operation_type")?,
        group_id: row.try_get("group_id")?,
        definition: row.try_get("definition")?,
        updated_at: row.try_get("updated_at")?,
    })
}

const INSERT_DEVICE: &str = "INSERT INTO devices
    (utdid, app_id, workspace_id, platform, model, os_version, app_version, first_seen_at, last_seen_at, credential_issued_at)
    VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)";

/// Binds a device's columns to [`INSERT_DEVICE`]; it was last seen when first seen.
fn bind_device<'q>(insert: Query<'q>, device: &'q DeviceRecord, credential_issued_at: Option<i64>) -> Query<'q> {
    insert
        .bind(&device.utdid)
        .bind(&device.app_id)
        .bind(&device.workspace_id)
        .bind(&device.platform)
        .bind(&device.model)
        .bind(&device.os_version)
        .bind(&device.app_version)
        .bind(device.first_seen_at)
        .bind(device.first_seen_at)
        .bind(credential_issued_at)
}

/// Every gateway change bumps the revision in its own transaction, so other nodes notice it.
async fn bump_revision<Db: SqlDatabase>(transaction: &mut Transaction<'_, Db>) -> StorageResult<()> {
    query("UPDATE gateway_revision SET revision = revision + 1 WHERE singleton = 1")
        .execute(&mut **transaction)
        .await
        .map_err(database_error)?;
    Ok(())
}

#[async_trait]
impl<D: Dialect> GatewayStore for SqlStorage<D> {
    async fn create_api_group(&self, group: &ApiGroupRecord, audit: &NewAuditEntry) -> StorageResult<()> {
        let mut transaction = self.pool.begin().await.map_err(database_error)?;
        query(
            "INSERT INTO api_groups (group_id, workspace_id, name, definition, updated_at) VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(&group.group_id)
        .bind(&group.workspace_id)
        .bind(&group.name)
        .bind(&group.definition)
        .bind(group.updated_at)
        .execute(&mut *transaction)
        .await
        .map_err(write_error("api group"))?;
        bump_revision(&mut transaction).await?;
        insert_audit(&mut transaction, audit).await?;
        transaction.commit().await.map_err(database_error)
    }

    async fn update_api_group(&self, group: &ApiGroupRecord, audit: &NewAuditEntry) -> StorageResult<()> {
        let mut transaction = self.pool.begin().await.map_err(database_error)?;
        let updated = query("UPDATE api_groups SET name = $1, definition = $2, updated_at = $3 WHERE group_id = $4")
            .bind(&group.name)
            .bind(&group.definition)
            .bind(group.updated_at)
            .bind(&group.group_id)
            .execute(&mut *transaction)
            .await
            .map_err(write_error("api group"))?
            .rows_affected();
        if updated == 0 {
            return Err(StorageError::NotFound { entity: "api group" });
        }
        bump_revision(&mut transaction).await?;
        insert_audit(&mut transaction, audit).await?;
        transaction.commit().await.map_err(database_error)
    }

    async fn list_api_groups(&self, workspace_id: &str) -> StorageResult<Vec<ApiGroupRecord>> {
        let rows = query(
            "SELECT group_id, workspace_id, name, definition, updated_at FROM api_groups WHERE workspace_id = $1 ORDER BY name",
        )
        .bind(workspace_id)
        .fetch_all(&self.pool)
        .await
        .map_err(database_error)?;
        rows.iter().map(group_from_row).collect::<Result<_, _>>().map_err(corrupt("api_groups"))
    }

    async fn create_api(&self, api: &ApiRecord, audit: &NewAuditEntry) -> StorageResult<()> {
        let mut transaction = self.pool.begin().await.map_err(database_error)?;
        query(
            "INSERT INTO apis (api_id, workspace_id, operation_type, group_id, definition, updated_at) VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(&api.api_id)
        .bind(&api.workspace_id)
        .bind(&api.operation_type)
        .bind(&api.group_id)
        .bind(&api.definition)
        .bind(api.updated_at)
        .execute(&mut *transaction)
        .await
        .map_err(write_error("api"))?;
        bump_revision(&mut transaction).await?;
        insert_audit(&mut transaction, audit).await?;
        transaction.commit().await.map_err(database_error)
    }

    async fn update_api(&self, api: &ApiRecord, audit: &NewAuditEntry) -> StorageResult<()> {
        let mut transaction = self.pool.begin().await.map_err(database_error)?;
        let updated = query("UPDATE apis SET group_id = $1, definition = $2, updated_at = $3 WHERE api_id = $4")
            .bind(&api.group_id)
            .bind(&api.definition)
            .bind(api.updated_at)
            .bind(&api.api_id)
            .execute(&mut *transaction)
            .await
            .map_err(write_error("api"))?
            .rows_affected();
        if updated == 0 {
            return Err(StorageError::NotFound { entity: "api" });
        }
        bump_revision(&mut transaction).await?;
        insert_audit(&mut transaction, audit).await?;
        transaction.commit().await.map_err(database_error)
    }

    async fn list_apis(&self, workspace_id: &str) -> StorageResult<Vec<ApiRecord>> {
        let rows = query(
            "SELECT api_id, workspace_id, operation_type, group_id, definition, updated_at FROM apis
             WHERE workspace_id = $1 ORDER BY operation_type",
        )
        .bind(workspace_id)
        .fetch_all(&self.pool)
        .await
        .map_err(database_error)?;
        rows.iter().map(api_from_row).collect::<Result<_, _>>().map_err(corrupt("apis"))
    }

    async fn gateway_revision(&self) -> StorageResult<i64> {
        let row = query("SELECT revision FROM gateway_revision WHERE singleton = 1")
            .fetch_one(&self.pool)
            .await
            .map_err(database_error)?;
        row.try_get("revision").map_err(corrupt("gateway_revision"))
    }

    async fn envelope_key(&self, workspace_id: &str, suite: &str, candidate: &str, now: i64) -> StorageResult<String> {
        query(
            "INSERT INTO gateway_envelope_keys (workspace_id, suite, secret, created_at) VALUES ($1, $2, $3, $4)
             ON CONFLICT (workspace_id, suite) DO NOTHING",
        )
        .bind(workspace_id)
        .bind(suite)
        .bind(self.seal(&ENVELOPE_KEY_SECRET, candidate))
        .bind(now)
        .execute(&self.pool)
        .await
        .map_err(write_error("envelope key"))?;
        let row = query("SELECT secret FROM gateway_envelope_keys WHERE workspace_id = $1 AND suite = $2")
            .bind(workspace_id)
            .bind(suite)
            .fetch_one(&self.pool)
            .await
            .map_err(database_error)?;
        let stored: String = row.try_get("secret").map_err(corrupt("gateway_envelope_keys"))?;
        self.open_secret(&ENVELOPE_KEY_SECRET, &stored)
    }

    async fn register_device(&self, device: &DeviceRecord) -> StorageResult<()> {
        bind_device(query(INSERT_DEVICE), device, None).execute(&self.pool).await.map_err(write_error("device"))?;
        Ok(())
    }

    async fn claim_device_credential(&self, device: &DeviceRecord, now: i64) -> StorageResult<bool> {
        let mut transaction = self.pool.begin().await.map_err(database_error)?;
        let claim_new = format!("{INSERT_DEVICE} ON CONFLICT (utdid) DO NOTHING");
        let inserted = bind_device(query(&claim_new), device, Some(now))
            .execute(&mut *transaction)
            .await
            .map_err(write_error("device"))?
            .rows_affected();
        let claimed = inserted == 1
            || query(
                "UPDATE devices SET credential_issued_at = $1
                 WHERE utdid = $2 AND workspace_id = $3 AND credential_issued_at IS NULL",
            )
            .bind(now)
            .bind(&device.utdid)
            .bind(&device.workspace_id)
            .execute(&mut *transaction)
            .await
            .map_err(database_error)?
            .rows_affected()
                == 1;
        transaction.commit().await.map_err(database_error)?;
        Ok(claimed)
    }

    async fn device_credential_status(&self, workspace_id: &str, utdid: &str) -> StorageResult<CredentialStatus> {
        let row = query(
            "SELECT credential_issued_at, credential_revoked_at FROM devices WHERE utdid = $1 AND workspace_id = $2",
        )
        .bind(utdid)
        .bind(workspace_id)
        .fetch_optional(&self.pool)
        .await
        .map_err(database_error)?;
        let Some(row) = row else { return Ok(CredentialStatus::None) };
        let issued: Option<i64> = row.try_get(0).map_err(corrupt("devices"))?;
        let revoked: Option<i64> = row.try_get(1).map_err(corrupt("devices"))?;
        Ok(match (issued, revoked) {
            (_, Some(at)) => CredentialStatus::Revoked { at },
            (Some(at), None) => CredentialStatus::Issued { at },
            (None, None) => CredentialStatus::None,
        })
    }

    async fn revoke_device_credential(
        &self,
        workspace_id: &str,
        utdid: &str,
        at: i64,
        audit: &NewAuditEntry,
    ) -> StorageResult<()> {
        let change = query(
            "UPDATE devices SET credential_revoked_at = $1
             WHERE utdid = $2 AND workspace_id = $3 AND credential_issued_at IS NOT NULL AND credential_revoked_at IS NULL",
        )
        .bind(at)
        .bind(utdid)
        .bind(workspace_id);
        self.audited_existing(change, "device credential", audit).await
    }

    async fn workspace_security(&self, workspace_id: &str) -> StorageResult<WorkspaceSecurityRecord> {
        let row = query(
            "SELECT device_credentials_required_from, connect_tokens_valid_after, unsigned_config_pull, updated_at,
                    attestation_verifier_url, encrypt_features_payload
             FROM workspace_security WHERE workspace_id = $1",
        )
        .bind(workspace_id)
        .fetch_optional(&self.pool)
        .await
        .map_err(database_error)?;
        let Some(row) = row else {
            return Ok(WorkspaceSecurityRecord { workspace_id: workspace_id.to_owned(), ..Default::default() });
        };
        let read = || -> Result<WorkspaceSecurityRecord, sqlx::Error> {
            Ok(WorkspaceSecurityRecord {
                workspace_id: workspace_id.to_owned(),
                device_credentials_required_from: row.try_get("device_credentials_required_from")?,
                connect_tokens_valid_after: row.try_get("connect_tokens_valid_after")?,
                unsigned_config_pull: row.try_get("unsigned_config_pull")?,
                attestation_verifier_url: row.try_get("attestation_verifier_url")?,
                encrypt_features_payload: row.try_get("encrypt_features_payload")?,
                updated_at: row.try_get("updated_at")?,
            })
        };
        read().map_err(corrupt("workspace_security"))
    }

    async fn set_workspace_security(
        &self,
        record: &WorkspaceSecurityRecord,
        audit: &NewAuditEntry,
    ) -> StorageResult<()> {
        let mut transaction = self.pool.begin().await.map_err(database_error)?;
        query(
            "INSERT INTO workspace_security
                 (workspace_id, device_credentials_required_from, connect_tokens_valid_after, unsigned_config_pull,
                  attestation_verifier_url, encrypt_features_payload, updated_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7)
             ON CONFLICT (workspace_id) DO UPDATE SET
                 device_credentials_required_from = excluded.device_credentials_required_from,
                 connect_tokens_valid_after = excluded.connect_tokens_valid_after,
                 unsigned_config_pull = excluded.unsigned_config_pull,
                 attestation_verifier_url = excluded.attestation_verifier_url,
                 encrypt_features_payload = excluded.encrypt_features_payload,
                 updated_at = excluded.updated_at",
        )
        .bind(&record.workspace_id)
        .bind(record.device_credentials_required_from)
        .bind(record.connect_tokens_valid_after)
        .bind(record.unsigned_config_pull)
        .bind(&record.attestation_verifier_url)
        .bind(record.encrypt_features_payload)
        .bind(record.updated_at)
        .execute(&mut *transaction)
        .await
        .map_err(write_error("workspace security"))?;
        bump_revision(&mut transaction).await?;
        insert_audit(&mut transaction, audit).await?;
        transaction.commit().await.map_err(database_error)?;
        Ok(())
    }
}
