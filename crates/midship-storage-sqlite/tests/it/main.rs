//! The shared storage test suite, run against a fresh SQLite file per test.

use std::sync::Arc;

use midship_storage::Storage;
use midship_storage::sealing::SecretKeyring;
use midship_storage::test_suite::Harness;
use midship_storage_sqlite::{PoolSettings, SqliteStorage};

async fn fresh_sqlite() -> Harness {
    let directory = tempfile::tempdir().expect("temporary directory");
    let url = format!("sqlite://{}", directory.path().join("midship.db").display());
    let storage = SqliteStorage::open(&url, PoolSettings::default(), Arc::new(SecretKeyring::ephemeral()))
        .await
        .expect("open sqlite");
    let reopen: midship_storage::test_suite::Reopen = Box::new(move |keyring| {
        let url = url.clone();
        Box::pin(async move {
            let storage: Arc<dyn Storage> =
                Arc::new(SqliteStorage::open(&url, PoolSettings::default(), keyring).await?);
            Ok(storage)
        })
    });
    Harness { storage: Arc::new(storage), reopen, keep_alive: Box::new(directory) }
}

midship_storage::storage_test_suite!(fresh_sqlite);
