//! Leases, one row each: taken when lapsed, renewed by their holder.

use async_trait::async_trait;
use midship_storage::{LeaseClaim, LeaseStore, StorageResult};

use crate::db::query;
use crate::{Dialect, SqlStorage, database_error};

#[async_trait]
impl<D: Dialect> LeaseStore for SqlStorage<D> {
    async fn acquire_lease(&self, claim: &LeaseClaim<'_>) -> StorageResult<bool> {
        // One statement, so two nodes racing for a lapsed lease cannot both win.
        let taken = query(
            "INSERT INTO leases (name, holder, expires_at) VALUES ($1, $2, $3)
             ON CONFLICT (name) DO UPDATE SET holder = excluded.holder, expires_at = excluded.expires_at
             WHERE leases.holder = excluded.holder OR leases.expires_at <= $4",
        )
        .bind(claim.name)
        .bind(claim.holder)
        .bind(claim.until)
        .bind(claim.now)
        .execute(&self.pool)
        .await
        .map_err(database_error)?
        .rows_affected();
        Ok(taken > 0)
    }

    async fn release_lease(&self, name: &str, holder: &str) -> StorageResult<()> {
        query("DELETE FROM leases WHERE name = $1 AND holder = $2")
            .bind(name)
            .bind(holder)
            .execute(&self.pool)
            .await
            .map_err(database_error)?;
        Ok(())
    }
}
