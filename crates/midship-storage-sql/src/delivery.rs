//! Delivery: packages, diff patches, releases, device progress and signing keys.

use async_trait::async_trait;
use midship_core::NewAuditEntry;
use midship_core::clock::UnixMillis;
use midship_storage::{
    DeliveryEventKind, DeliveryEventRecord, DeliveryStore, PackageKind, PackageRecord, PatchRecord, ReleaseRecord,
    ReleaseStatus, SigningKeyRecord, StorageError, StorageResult,
};

use crate::db::{Query, QueryBuilder, SqlRow, query, query_scalar};
use crate::secrets::PACKAGE_SIGNING_KEY_SECRET;
use crate::{Dialect, SqlStorage, corrupt, database_error, insert_audit, write_error};

const PACKAGE_COLUMNS: &str = "package_id, workspace_id, kind, app_id, version, blob_sha256, size, details, \
     manifest, signature, created_at";
const RELEASE_COLUMNS: &str = "release_id, workspace_id, package_id, definition, status, created_at, updated_at";
/// Events per insert statement (5 parameters each).
const EVENT_CHUNK: usize = 1000;

fn package_from_row(row: &impl SqlRow) -> Result<PackageRecord, sqlx::Error> {
    Ok(PackageRecord {
        package_id: row.try_get(0)?,
        workspace_id: row.try_get(1)?,
        kind: {
            let kind: String = row.try_get(2)?;
            PackageKind::parse(&kind)
                .ok_or_else(|| sqlx::Error::Decode(format!("unknown package kind {kind}").into()))?
        },
        app_id: row.try_get(3)?,
        version: row.try_get(4)?,
        blob_sha256: row.try_get(5)?,
        size: row.try_get(6)?,
        details: row.try_get(7)?,
        manifest: row.try_get(8)?,
        signature: row.try_get(9)?,
        created_at: row.try_get(10)?,
    })
}

fn release_from_row(row: &impl SqlRow) -> Result<ReleaseRecord, sqlx::Error> {
    Ok(ReleaseRecord {
        release_id: row.try_get(0)?,
        workspace_id: row.try_get(1)?,
        package_id: row.try_get(2)?,
        definition: row.try_get(3)?,
        status: {
            let status: String = row.try_get(4)?;
            ReleaseStatus::parse(&status)
                .ok_or_else(|| sqlx::Error::Decode(format!("unknown release status {status}").into()))?
        },
        created_at: row.try_get(5)?,
        updated_at: row.try_get(6)?,
    })
}

fn patch_from_row(row: &impl SqlRow) -> Result<PatchRecord, sqlx::Error> {
    Ok(PatchRecord {
        from_package_id: row.try_get(0)?,
        to_package_id: row.try_get(1)?,
        blob_sha256: row.try_get(2)?,
        size: row.try_get(3)?,
        created_at: row.try_get(4)?,
    })
}

#[async_trait]
impl<D: Dialect> DeliveryStore for SqlStorage<D> {
    async fn insert_delivery_package(&self, package: &PackageRecord, audit: &NewAuditEntry) -> StorageResult<()> {
        let statement = format!(
            "INSERT INTO delivery_packages ({PACKAGE_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)"
        );
        let change = query(&statement)
            .bind(&package.package_id)
            .bind(&package.workspace_id)
            .bind(package.kind.as_str())
            .bind(&package.app_id)
            .bind(&package.version)
            .bind(&package.blob_sha256)
            .bind(package.size)
            .bind(&package.details)
            .bind(&package.manifest)
            .bind(&package.signature)
            .bind(package.created_at);
        self.audited(change, audit, write_error("package")).await?;
        Ok(())
    }

    async fn get_delivery_package(&self, package_id: &str) -> StorageResult<Option<PackageRecord>> {
        let row = query(&format!("SELECT {PACKAGE_COLUMNS} FROM delivery_packages WHERE package_id = $1"))
            .bind(package_id)
            .fetch_optional(&self.pool)
            .await
            .map_err(database_error)?;
        row.as_ref().map(package_from_row).transpose().map_err(corrupt("delivery_packages"))
    }

    async fn list_delivery_packages(&self, workspace_id: &str) -> StorageResult<Vec<PackageRecord>> {
        let rows = query(&format!(
            "SELECT {PACKAGE_COLUMNS} FROM delivery_packages WHERE workspace_id = $1 ORDER BY created_at, package_id"
        ))
        .bind(workspace_id)
        .fetch_all(&self.pool)
        .await
        .map_err(database_error)?;
        rows.iter().map(package_from_row).collect::<Result<_, _>>().map_err(corrupt("delivery_packages"))
    }

    async fn put_delivery_patch(&self, patch: &PatchRecord) -> StorageResult<()> {
        query(
            "INSERT INTO delivery_patches (from_package_id, to_package_id, blob_sha256, size, created_at)
             VALUES ($1, $2, $3, $4, $5)
             ON CONFLICT (from_package_id, to_package_id) DO UPDATE
             SET blob_sha256 = excluded.blob_sha256, size = excluded.size, created_at = excluded.created_at",
        )
        .bind(&patch.from_package_id)
        .bind(&patch.to_package_id)
        .bind(&patch.blob_sha256)
        .bind(patch.size)
        .bind(patch.created_at)
        .execute(&self.pool)
        .await
        .map_err(write_error("patch"))?;
        Ok(())
    }

    async fn list_delivery_patches(&self, workspace_id: &str) -> StorageResult<Vec<PatchRecord>> {
        let rows = query(
            "SELECT p.from_package_id, p.to_package_id, p.blob_sha256, p.size, p.created_at
             FROM delivery_patches p JOIN delivery_packages t ON t.package_id = p.to_package_id
             WHERE t.workspace_id = $1 ORDER BY p.to_package_id, p.from_package_id",
        )
        .bind(workspace_id)
        .fetch_all(&self.pool)
        .await
        .map_err(database_error)?;
        rows.iter().map(patch_from_row).collect::<Result<_, _>>().map_err(corrupt("delivery_patches"))
    }

    async fn create_delivery_release(&self, release: &ReleaseRecord, audit: &NewAuditEntry) -> StorageResult<()> {
        let statement =
            format!("INSERT INTO delivery_releases ({RELEASE_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7)");
        let change = query(&statement)
            .bind(&release.release_id)
            .bind(&release.workspace_id)
            .bind(&release.package_id)
            .bind(&release.definition)
            .bind(release.status.as_str())
            .bind(release.created_at)
            .bind(release.updated_at);
        self.audited(change, audit, write_error("release")).await?;
        Ok(())
    }

    async fn update_delivery_release(&self, release: &ReleaseRecord, audit: &NewAuditEntry) -> StorageResult<()> {
        let mut transaction = self.pool.begin().await.map_err(database_error)?;
        let updated =
            query("UPDATE delivery_releases SET definition = $2, status = $3, updated_at = $4 WHERE release_id = $1")
                .bind(&release.release_id)
                .bind(&release.definition)
                .bind(release.status.as_str())
                .bind(release.updated_at)
                .execute(&mut *transaction)
                .await
                .map_err(database_error)?;
        if updated.rows_affected() == 0 {
            return Err(StorageError::NotFound { entity: "release" });
        }
        insert_audit(&mut transaction, audit).await?;
        transaction.commit().await.map_err(database_error)
    }

    async fn get_delivery_release(&self, release_id: &str) -> StorageResult<Option<ReleaseRecord>> {
        let row = query(&format!("SELECT {RELEASE_COLUMNS} FROM delivery_releases WHERE release_id = $1"))
            .bind(release_id)
            .fetch_optional(&self.pool)
            .await
            .map_err(database_error)?;
        row.as_ref().map(release_from_row).transpose().map_err(corrupt("delivery_releases"))
    }

    async fn list_delivery_releases(&self, workspace_id: &str) -> StorageResult<Vec<ReleaseRecord>> {
        let rows = query(&format!(
            "SELECT {RELEASE_COLUMNS} FROM delivery_releases WHERE workspace_id = $1
             ORDER BY created_at DESC, release_id DESC"
        ))
        .bind(workspace_id)
        .fetch_all(&self.pool)
        .await
        .map_err(database_error)?;
        rows.iter().map(release_from_row).collect::<Result<_, _>>().map_err(corrupt("delivery_releases"))
    }

    async fn delivery_revision(&self, workspace_id: &str) -> StorageResult<UnixMillis> {
        let revision: Option<i64> =
            // A key rotated or retired changes the signatures offered, as a release change does.
            query_scalar(
                "SELECT MAX(changed) FROM (
                     SELECT MAX(updated_at) AS changed FROM delivery_releases WHERE workspace_id = $1
                     UNION ALL SELECT MAX(created_at) FROM delivery_signing_keys WHERE workspace_id = $1
                     UNION ALL SELECT MAX(retired_at) FROM delivery_signing_keys WHERE workspace_id = $1
                 ) AS changes",
            )
                .bind(workspace_id)
                .fetch_one(&self.pool)
                .await
                .map_err(database_error)?;
        Ok(revision.unwrap_or(0))
    }

    async fn record_delivery_events(&self, events: &[DeliveryEventRecord]) -> StorageResult<()> {
        if events.is_empty() {
            return Ok(());
        }
        let mut transaction = self.pool.begin().await.map_err(database_error)?;
        for chunk in events.chunks(EVENT_CHUNK) {
            let mut query = QueryBuilder::new("INSERT INTO delivery_events (release_id, device_id, kind, at, detail) ");
            query.push_values(chunk, |mut row, event| {
                row.push_bind(&event.release_id)
                    .push_bind(&event.device_id)
                    .push_bind(event.kind.as_str())
                    .push_bind(event.at)
                    .push_bind(&event.detail);
            });
            query.push(" ON CONFLICT (release_id, device_id, kind) DO NOTHING");
            query.build().execute(&mut *transaction).await.map_err(database_error)?;
        }
        transaction.commit().await.map_err(database_error)
    }

    async fn delivery_stats(&self, release_id: &str) -> StorageResult<Vec<(DeliveryEventKind, i64)>> {
        let rows =
            query("SELECT kind, COUNT(*) FROM delivery_events WHERE release_id = $1 GROUP BY kind ORDER BY kind")
                .bind(release_id)
                .fetch_all(&self.pool)
                .await
                .map_err(database_error)?;
        rows.iter()
            .map(|row| {
                let kind: String = row.try_get(0)?;
                let kind = DeliveryEventKind::parse(&kind)
                    .ok_or_else(|| sqlx::Error::Decode(format!("unknown delivery event {kind}").into()))?;
                Ok((kind, row.try_get::<i64>(1)?))
            })
            .collect::<Result<_, sqlx::Error>>()
            .map_err(corrupt("delivery_events"))
    }

    async fn offered_devices(&self, release_id: &str) -> StorageResult<Vec<String>> {
        query_scalar("SELECT device_id FROM delivery_events WHERE release_id = $1 AND kind = 'offered'")
            .bind(release_id)
            .fetch_all(&self.pool)
            .await
            .map_err(database_error)
    }

    async fn delivery_signing_keys(&self, first: &SigningKeyRecord) -> StorageResult<Vec<SigningKeyRecord>> {
        let existing = self.list_signing_keys(&first.workspace_id).await?;
        if !existing.is_empty() {
            return Ok(existing);
        }
        bind_signing_key(query(INSERT_SIGNING_KEY_ONCE), first, self.seal(&PACKAGE_SIGNING_KEY_SECRET, &first.secret))
            .execute(&self.pool)
            .await
            .map_err(write_error("signing key"))?;
        self.list_signing_keys(&first.workspace_id).await
    }

    async fn add_delivery_signing_key(&self, key: &SigningKeyRecord, audit: &NewAuditEntry) -> StorageResult<()> {
        let change =
            bind_signing_key(query(INSERT_SIGNING_KEY), key, self.seal(&PACKAGE_SIGNING_KEY_SECRET, &key.secret));
        self.audited(change, audit, write_error("signing key generation")).await?;
        Ok(())
    }

    async fn retire_delivery_signing_key(
        &self,
        workspace_id: &str,
        generation: i64,
        at: UnixMillis,
        audit: &NewAuditEntry,
    ) -> StorageResult<()> {
        let change = query(
            "UPDATE delivery_signing_keys SET retired_at = $1
             WHERE workspace_id = $2 AND generation = $3 AND retired_at IS NULL",
        )
        .bind(at)
        .bind(workspace_id)
        .bind(generation);
        self.audited_existing(change, "signing key", audit).await
    }
}

const INSERT_SIGNING_KEY: &str = "INSERT INTO delivery_signing_keys
     (workspace_id, generation, algorithm, secret, public_key, created_at, retired_at)
     VALUES ($1, $2, $3, $4, $5, $6, $7)";
const INSERT_SIGNING_KEY_ONCE: &str = "INSERT INTO delivery_signing_keys
     (workspace_id, generation, algorithm, secret, public_key, created_at, retired_at)
     VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (workspace_id, generation) DO NOTHING";

fn bind_signing_key<'q>(statement: Query<'q>, key: &'q SigningKeyRecord, sealed_secret: String) -> Query<'q> {
    statement
        .bind(&key.workspace_id)
        .bind(key.generation)
        .bind(&key.algorithm)
        .bind(sealed_secret)
        .bind(&key.public_key)
        .bind(key.created_at)
        .bind(key.retired_at)
}

impl<D: Dialect> SqlStorage<D> {
    async fn list_signing_keys(&self, workspace_id: &str) -> StorageResult<Vec<SigningKeyRecord>> {
        let rows = query(
            "SELECT workspace_id, generation, algorithm, secret, public_key, created_at, retired_at
             FROM delivery_signing_keys WHERE workspace_id = $1 ORDER BY generation",
        )
        .bind(workspace_id)
        .fetch_all(&self.pool)
        .await
        .map_err(database_error)?;
        let mut keys = Vec::with_capacity(rows.len());
        for row in &rows {
            let key = (|| {
                Ok::<_, sqlx::Error>(SigningKeyRecord {
                    workspace_id: row.try_get(0)?,
                    generation: row.try_get(1)?,
                    algorithm: row.try_get(2)?,
                    secret: row.try_get(3)?,
                    public_key: row.try_get(4)?,
                    created_at: row.try_get(5)?,
                    retired_at: row.try_get(6)?,
                })
            })();
            let mut key = key.map_err(corrupt("delivery_signing_keys"))?;
            key.secret = self.open_secret(&PACKAGE_SIGNING_KEY_SECRET, &key.secret)?;
            keys.push(key);
        }
        Ok(keys)
    }
}
