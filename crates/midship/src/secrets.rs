//! The key-encryption key of a node: from `MIDSHIP_SECRETS__KEY`, a key file, or
//! `data_dir/secrets.key` made at first start; and `midship secrets` (generate-key, reseal).

use std::fs::{self, OpenOptions};
use std::io::Write;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{Context, bail};
use midship_storage::sealing::{KeyEncryptionKey, SecretKeyring};

use crate::config::{Config, SecretsSection};

pub const DEFAULT_KEY_FILE: &str = "secrets.key";

/// The keyring the node seals with: the configured key, or the one in `data_dir/secrets.key`
/// (made now if neither is configured and the file is missing).
pub fn load_keyring(secrets: &SecretsSection, data_dir: &Path) -> anyhow::Result<SecretKeyring> {
    let current = if !secrets.key.trim().is_empty() {
        KeyEncryptionKey::parse(&secrets.key).context("secrets.key (MIDSHIP_SECRETS__KEY) is not a valid key")?
    } else if let Some(file) = &secrets.key_file {
        read_key_file(file)?
    } else {
        let file = data_dir.join(DEFAULT_KEY_FILE);
        if !file.exists() {
            write_key_file(&file, &KeyEncryptionKey::generate_text())?;
            tracing::warn!(
                file = %file.display(),
                "created the key-encryption key that seals stored secrets; keep a copy apart from the \
                 database's backups, and give every node of a cluster the same key"
            );
        }
        read_key_file(&file)?
    };
    let open_only = secrets.open_only_key_files.iter().map(|file| read_key_file(file)).collect::<Result<_, _>>()?;
    let keyring = SecretKeyring::new(current, open_only);
    tracing::info!(key_id = keyring.current_key_id(), "key-encryption key loaded");
    Ok(keyring)
}

fn read_key_file(file: &Path) -> anyhow::Result<KeyEncryptionKey> {
    let metadata = fs::metadata(file).with_context(|| format!("cannot read the key file {}", file.display()))?;
    if metadata.permissions().mode() & 0o077 != 0 {
        bail!("the key file {} is readable by others: chmod 600 it", file.display());
    }
    let text = zeroize::Zeroizing::new(
        fs::read_to_string(file).with_context(|| format!("cannot read the key file {}", file.display()))?,
    );
    KeyEncryptionKey::parse(&text).with_context(|| format!("the key file {} holds no valid key", file.display()))
}

/// Writes a new key file, readable by its owner only; never replaces one.
fn write_key_file(file: &Path, key: &str) -> anyhow::Result<()> {
    let mut handle = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(file)
        .with_context(|| format!("cannot create the key file {}", file.display()))?;
    writeln!(handle, "{key}")
        .and_then(|()| handle.sync_all())
        .with_context(|| format!("cannot write {}", file.display()))
}

/// `midship secrets generate-key`: a new key into `output` (created 0600), or on standard output.
pub fn generate_key(output: Option<&PathBuf>) -> anyhow::Result<()> {
    let key = KeyEncryptionKey::generate_text();
    let id = KeyEncryptionKey::parse(&key).expect("a generated key parses").id().to_owned();
    match output {
        Some(file) => {
            write_key_file(file, &key)?;
            eprintln!("wrote key {id} to {}", file.display());
        }
        None => println!("{}", key.as_str()),
    }
    Ok(())
}

/// `midship secrets reseal`: seals every stored secret with the current key now (as each start
/// does), and says how many moved, so an operator knows when an old key may go.
pub async fn reseal(config: &Config) -> anyhow::Result<()> {
    let keyring = Arc::new(load_keyring(&config.secrets, &config.server.data_dir)?);
    let key_id = keyring.current_key_id().to_owned();
    let database_url = config.database_url();
    let storage = midship_server::open_storage(&database_url, 2, keyring).await.with_context(|| {
        format!("cannot open the database {}", midship_server::storage::redact_database_url(&database_url))
    })?;
    let report = storage.reseal_secrets().await.context("cannot reseal the stored secrets")?;
    storage.close().await;
    println!(
        "{} secrets sealed with key {key_id}: {} resealed now, {} already",
        report.current + report.resealed,
        report.resealed,
        report.current
    );
    Ok(())
}
