//! The shared storage test suite, run against a real PostgreSQL: a fresh database per test.

use std::sync::Arc;

use midship_storage::Storage;
use midship_storage::sealing::SecretKeyring;
use midship_storage::test_suite::Harness;
use midship_storage_postgres::{PoolSettings, PostgresStorage};

async fn fresh_postgres() -> Harness {
    let url = midship_testkit::fresh_postgres_database("storage_suite").await;
    let settings = PoolSettings { max_connections: 4, ..PoolSettings::default() };
    let storage =
        PostgresStorage::open(&url, settings, Arc::new(SecretKeyring::ephemeral())).await.expect("open postgres");
    let reopen: midship_storage::test_suite::Reopen = Box::new(move |keyring| {
        let url = url.clone();
        Box::pin(async move {
            let storage: Arc<dyn Storage> = Arc::new(PostgresStorage::open(&url, settings, keyring).await?);
            Ok(storage)
        })
    });
    Harness { storage: Arc::new(storage), reopen, keep_alive: Box::new(()) }
}

midship_storage::storage_test_suite!(fresh_postgres);
