//! The shared storage test suite, run against a fresh SQLite file per test.

use std::sync::Arc;

use midship_storage::test_suite::Harness;
use midship_storage_sqlite::{PoolSettings, SqliteStorage};

async fn fresh_sqlite() -> Harness {
    let directory = tempfile::tempdir().expect("temporary directory");
    let url = format!("sqlite://{}", directory.path().join("midship.db").display());
    let storage = SqliteStorage::open(&url, PoolSettings::default()).await.expect("open sqlite");
    Harness { storage: Arc::new(storage), keep_alive: Box::new(directory) }
}

midship_storage::storage_test_suite!(fresh_sqlite);
