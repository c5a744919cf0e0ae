//! Test helpers.
//!
//! - A real PostgreSQL: `scripts/test` starts a throwaway cluster and exports
//!   `MIDSHIP_TEST_DATABASE_URL`; each test then gets its own fresh database in it, so tests run in
//!   parallel without seeing each other's rows. Without the variable the tests fail loudly: the
//!   PostgreSQL backend is never skipped.
//! - Waiting for background work (a dispatcher, a writer, a device answering): [`eventually`] and
//!   [`eventually_blocking`] poll until a deadline instead of sleeping a fixed time, so a test is as
//!   fast as the work and fails with the last value it saw.
//! - The engines of a cluster: NATS with JetStream ([`NatsServer`]) and SeaweedFS's S3 gateway
//!   ([`SeaweedS3`]), real servers on loopback ports.

mod engines;
mod wait;

pub use engines::{NatsServer, SeaweedS3, free_port};
pub use wait::{eventually, eventually_blocking, eventually_within_blocking};

use rand::Rng;
use sqlx::{Connection, PgConnection};

pub const DATABASE_URL_VARIABLE: &str = "MIDSHIP_TEST_DATABASE_URL";

/// Creates an empty database named after `label` and returns its URL.
pub async fn fresh_postgres_database(label: &str) -> String {
    let admin_url = std::env::var(DATABASE_URL_VARIABLE).unwrap_or_else(|_| {
        panic!(
            "{DATABASE_URL_VARIABLE} is not set: run the tests with `scripts/test` (it starts a throwaway \
             PostgreSQL 15 cluster) or point {DATABASE_URL_VARIABLE} at a PostgreSQL server"
        )
    });
    let mut connection = PgConnection::connect(&admin_url)
        .await
        .unwrap_or_else(|error| panic!("cannot connect to {DATABASE_URL_VARIABLE}: {error}"));
    let suffix: u64 = rand::rng().random();
    let sanitized: String =
        label.chars().map(|c| if c.is_ascii_alphanumeric() { c.to_ascii_lowercase() } else { '_' }).take(30).collect();
    let database = format!("t_{sanitized}_{suffix:016x}");
    sqlx::query(&format!("CREATE DATABASE {database}"))
        .execute(&mut connection)
        .await
        .unwrap_or_else(|error| panic!("cannot create test database {database}: {error}"));
    connection.close().await.ok();
    let mut url = url::Url::parse(&admin_url).expect("MIDSHIP_TEST_DATABASE_URL is a URL");
    url.set_path(&database);
    url.to_string()
}
