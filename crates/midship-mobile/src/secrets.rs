//! Where the device's credential is kept between runs. Apps pass the platform's secure storage
//! (Android Keystore-backed preferences, the iOS Keychain); [`FileSecretStore`] is for hosts
//! without one (kiosks, test tools), as a file only its owner can read.

use std::path::PathBuf;

use crate::MidshipError;

/// The SDK stores one value, `device_credential` (the registered device's id and secret as JSON),
/// and reads it at every start.
#[uniffi::export(with_foreign)]
pub trait SecretStore: Send + Sync + std::fmt::Debug {
    fn get(&self, key: String) -> Option<String>;
    fn set(&self, key: String, value: String) -> Result<(), MidshipError>;
}

/// One file per key in `directory`, written atomically, mode 0600 on Unix.
#[derive(Debug, uniffi::Object)]
pub struct FileSecretStore {
    directory: PathBuf,
}

#[uniffi::export]
impl FileSecretStore {
    #[uniffi::constructor]
    pub fn new(directory: String) -> std::sync::Arc<Self> {
        std::sync::Arc::new(Self { directory: PathBuf::from(directory) })
    }
}

impl FileSecretStore {
    fn path(&self, key: &str) -> Result<PathBuf, MidshipError> {
        let plain = !key.is_empty() && key.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
        if !plain {
            return Err(MidshipError::invalid(format!("secret key {key:?} is not a plain name")));
        }
        Ok(self.directory.join(format!("{key}.secret")))
    }
}

#[uniffi::export]
impl SecretStore for FileSecretStore {
    fn get(&self, key: String) -> Option<String> {
        std::fs::read_to_string(self.path(&key).ok()?).ok()
    }

    fn set(&self, key: String, value: String) -> Result<(), MidshipError> {
        let path = self.path(&key)?;
        std::fs::create_dir_all(&self.directory).map_err(MidshipError::local)?;
        let temporary = path.with_extension("tmp");
        write_private(&temporary, value.as_bytes()).map_err(MidshipError::local)?;
        std::fs::rename(&temporary, &path).map_err(MidshipError::local)
    }
}

fn write_private(path: &std::path::Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options.open(path)?;
    file.write_all(bytes)?;
    file.sync_all()
}
