//! Picks the storage backend from the database URL.

use std::sync::Arc;

use midship_storage::sealing::SecretKeyring;
use midship_storage::{Storage, StorageError};
use midship_storage_postgres::PostgresStorage;
use midship_storage_sqlite::{PoolSettings, SqliteStorage};

#[derive(Debug, thiserror::Error)]
pub enum StorageOpenError {
    #[error("unsupported database url scheme `{0}` (expected sqlite: or postgres:)")]
    UnsupportedScheme(String),
    #[error(transparent)]
    Storage(#[from] StorageError),
}

/// `sqlite:…` opens the embedded backend, `postgres:…`/`postgresql:…` the cluster backend.
/// Secrets are sealed with `keyring` (nodes then call `reseal_secrets` once, for secrets stored
/// plain or under an older key).
pub async fn open_storage(
    database_url: &str,
    max_connections: u32,
    keyring: Arc<SecretKeyring>,
) -> Result<Arc<dyn Storage>, StorageOpenError> {
    let scheme = database_url.split(':').next().unwrap_or_default();
    let settings = PoolSettings { max_connections, ..PoolSettings::default() };
    let storage: Arc<dyn Storage> = match scheme {
        "sqlite" => Arc::new(SqliteStorage::open(database_url, settings, keyring).await?),
        "postgres" | "postgresql" => Arc::new(PostgresStorage::open(database_url, settings, keyring).await?),
        other => return Err(StorageOpenError::UnsupportedScheme(other.to_owned())),
    };
    Ok(storage)
}

/// The URL with any password replaced, safe to log.
pub fn redact_database_url(database_url: &str) -> String {
    match url::Url::parse(database_url) {
        Ok(mut parsed) if parsed.password().is_some() => {
            let _ = parsed.set_password(Some("****"));
            parsed.to_string()
        }
        Ok(parsed) => parsed.to_string(),
        Err(_) => "<unparsable database url>".to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_never_reach_logs() {
        let redacted = redact_database_url("postgres://midship:hunter2@db:5432/midship");
        assert!(!redacted.contains("hunter2"), "{redacted}");
        assert!(redacted.contains("****"));
        assert_eq!(redact_database_url("sqlite:///var/lib/midship/midship.db"), "sqlite:///var/lib/midship/midship.db");
    }

    #[tokio::test]
    async fn unknown_schemes_are_refused() {
        let error = open_storage("mysql://localhost/db", 1, Arc::new(SecretKeyring::ephemeral())).await.unwrap_err();
        assert!(error.to_string().contains("mysql"), "{error}");
    }
}
