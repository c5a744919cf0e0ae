//! The embedded backend: one SQLite file in the data directory, in WAL mode with full fsync so
//! an acknowledged change survives a crash. Owns its migrations (`migrations/`); the SQL is
//! `midship-storage-sql`'s, run through [`SqliteDialect`].

use std::fs::{self, OpenOptions, Permissions};
use std::io;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::str::FromStr;

pub use midship_storage_sql::PoolSettings;
use midship_storage_sql::db::{ListItem, QueryBuilder};
use midship_storage_sql::{Dialect, SqlStorage};
use sqlx::Sqlite;
use sqlx::migrate::Migrator;
use sqlx::pool::PoolOptions;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqliteSynchronous};

static MIGRATOR: Migrator = sqlx::migrate!("./migrations");

/// Every storage trait on SQLite.
pub type SqliteStorage = SqlStorage<SqliteDialect>;

/// SQLite's connection options and the SQL only it speaks.
#[derive(Debug, Clone, Copy)]
pub struct SqliteDialect;

impl Dialect for SqliteDialect {
    type Db = Sqlite;
    const NAME: &'static str = "sqlite";
    const GREATEST: &'static str = "MAX";

    fn migrator() -> &'static Migrator {
        &MIGRATOR
    }

    /// The file at `url` (`sqlite://path`), created if missing; `settings.wait` is how long a
    /// writer waits for another.
    fn connect_options(url: &str, settings: &PoolSettings) -> Result<SqliteConnectOptions, sqlx::Error> {
        let options = SqliteConnectOptions::from_str(url)?;
        restrict_to_owner(options.get_filename())?;
        Ok(options
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Full)
            .foreign_keys(true)
            .busy_timeout(settings.wait))
    }

    /// A file on this machine cannot go away between uses; a ping per query only costs.
    fn pool_options(_settings: &PoolSettings) -> PoolOptions<Sqlite> {
        PoolOptions::new().test_before_acquire(false)
    }

    /// The list goes in as one JSON array, unpacked by `json_each`.
    fn push_in_list<'q, S: ListItem>(query: &mut QueryBuilder<'q>, column: &str, values: &'q [S]) {
        query.push(column).push(" IN (SELECT value FROM json_each(").push_bind(values).push("))");
    }
}

/// A store at `url` whose secrets are sealed with a key that lives as long as the process: for
/// tests and tools whose database is thrown away with it.
pub async fn open_throwaway(url: &str) -> midship_storage::StorageResult<SqliteStorage> {
    let keyring = std::sync::Arc::new(midship_storage::sealing::SecretKeyring::ephemeral());
    SqliteStorage::open(url, PoolSettings::default(), keyring).await
}

/// The database holds app secrets and channel credentials: it and its `-wal` and `-shm` files are
/// readable by their owner only, whatever the directory's mode or the umask. SQLite gives the
/// side files the mode of the database file, so creating that one 0600 covers files made later;
/// files from before are narrowed here.
fn restrict_to_owner(database: &Path) -> io::Result<()> {
    let in_memory = database.to_str().is_some_and(|name| name == ":memory:" || name.starts_with("file:"));
    if database.as_os_str().is_empty() || in_memory {
        return Ok(());
    }
    OpenOptions::new().create(true).truncate(false).write(true).mode(0o600).open(database)?;
    for suffix in ["", "-wal", "-shm"] {
        let mut path = PathBuf::from(database.as_os_str());
        path.as_mut_os_string().push(suffix);
        match fs::set_permissions(&path, Permissions::from_mode(0o600)) {
            Err(error) if error.kind() != io::ErrorKind::NotFound => return Err(error),
            _ => {}
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn database_files_are_private_in_an_open_directory() {
        let directory = tempfile::tempdir().unwrap();
        fs::set_permissions(directory.path(), Permissions::from_mode(0o755)).unwrap();
        let database = directory.path().join("midship.db");
        let wal = directory.path().join("midship.db-wal");
        fs::write(&wal, b"").unwrap();
        fs::set_permissions(&wal, Permissions::from_mode(0o644)).unwrap();
        restrict_to_owner(&database).unwrap();
        for path in [&database, &wal] {
            let mode = fs::metadata(path).unwrap().permissions().mode() & 0o777;
            assert_eq!(mode, 0o600, "{}", path.display());
        }
    }
}
