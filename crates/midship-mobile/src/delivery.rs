//! Delivery: ask what this device should get, then install H5 packages — the diff when offered,
//! the full package otherwise — checked file by file against the signed manifest before any
//! file is written.

use std::collections::BTreeMap;
use std::path::{Component, Path, PathBuf};
use std::sync::{Arc, Mutex};

use midship_package::Files;
use midship_protocol::calls::{DeliveryCheckRequest, InstalledPackages, PackageOffer};

use crate::MidshipError;
use crate::midship::Shared;

/// The offers of the last check, by release id, so `install_h5` takes one by its id.
#[derive(Default)]
pub(crate) struct Offers(Mutex<BTreeMap<String, PackageOffer>>);

/// What a check offered.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct PackageOfferSummary {
    pub release_id: String,
    /// `upgrade`, `h5`, `mini_program` or `hotpatch`.
    pub kind: String,
    /// The H5 or mini program id (the platform for upgrades and hotpatches).
    pub app_id: String,
    pub version: String,
    pub size: i64,
    /// A diff from the installed version is offered.
    pub has_patch: bool,
    /// Upgrades: `remind_once`, `remind_always` or `force`.
    pub mode: Option<String>,
    /// Upgrades: where the installer is (a store URL when the package is not hosted).
    pub url: Option<String>,
}

/// An installed H5 package: its files are in `directory`.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct DeliveredPackage {
    pub app_id: String,
    pub version: String,
    pub directory: String,
    pub files: Vec<String>,
    /// The diff was used (false: the full package was downloaded).
    pub from_patch: bool,
}

const INSTALLED_FILE: &str = "installed.json";

#[derive(Debug, uniffi::Object)]
pub struct MidshipDelivery {
    pub(crate) shared: Arc<Shared>,
}

#[uniffi::export]
impl MidshipDelivery {
    /// What this device should get, given the H5 packages it has installed.
    pub async fn check(&self) -> Result<Vec<PackageOfferSummary>, MidshipError> {
        let installed = read_installed(&self.h5_dir())?;
        let request = DeliveryCheckRequest {
            os_version: self.shared.settings.os_version.clone(),
            model: self.shared.settings.model.clone(),
            installed: InstalledPackages { h5: installed, ..InstalledPackages::default() },
            ..DeliveryCheckRequest::default()
        };
        let delivery = self.shared.delivery.clone();
        let answer = self.shared.run(async move { Ok(delivery.check(&request).await?) }).await?;
        let offers: Vec<PackageOffer> =
            answer.upgrade.into_iter().chain(answer.h5).chain(answer.mini_programs).chain(answer.hotpatch).collect();
        let summaries = offers.iter().map(summary).collect();
        let mut kept = self.shared.delivery_offers.0.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        *kept = offers.into_iter().map(|offer| (offer.release_id.clone(), offer)).collect();
        Ok(summaries)
    }

    /// Installs the H5 package of `release_id` (from the last check) beside the installed
    /// versions, and reports the outcome. Nothing is written unless every file matches the
    /// signed manifest.
    pub async fn install_h5(&self, release_id: String) -> Result<DeliveredPackage, MidshipError> {
        let offer = self
            .shared
            .delivery_offers
            .0
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .get(&release_id)
            .cloned();
        let offer = offer.ok_or_else(|| MidshipError::invalid(format!("no offer {release_id} in the last check")))?;
        if offer.kind != "h5" {
            return Err(MidshipError::invalid(format!("release {release_id} is a {} package, not h5", offer.kind)));
        }
        let h5_dir = self.h5_dir();
        let installed = read_installed(&h5_dir)?;
        let current = match installed.get(&offer.app_id) {
            Some(version) => Some(read_files(&h5_dir.join(&offer.app_id).join(version))?),
            None => None,
        };
        let delivery = self.shared.delivery.clone();
        let package = self.shared.run(async move { Ok(delivery.install_zip(&offer, current.as_ref()).await?) }).await?;
        let files = package.files.unwrap_or_default();
        let app_id = package.manifest.app_id;
        let version = package.manifest.version;
        let directory = h5_dir.join(&app_id).join(&version);
        write_files(&directory, &files)?;
        let mut installed = installed;
        installed.insert(app_id.clone(), version.clone());
        write_installed(&h5_dir, &installed)?;
        Ok(DeliveredPackage {
            app_id,
            version,
            directory: directory.display().to_string(),
            files: files.into_keys().collect(),
            from_patch: package.from_patch,
        })
    }
}

impl MidshipDelivery {
    fn h5_dir(&self) -> PathBuf {
        self.shared.state_path("h5")
    }
}

fn summary(offer: &PackageOffer) -> PackageOfferSummary {
    PackageOfferSummary {
        release_id: offer.release_id.clone(),
        kind: offer.kind.clone(),
        app_id: offer.app_id.clone(),
        version: offer.version.clone(),
        size: offer.size,
        has_patch: offer.patch.is_some(),
        mode: offer.mode.clone(),
        url: offer.url.clone(),
    }
}

fn read_installed(h5_dir: &Path) -> Result<BTreeMap<String, String>, MidshipError> {
    match std::fs::read(h5_dir.join(INSTALLED_FILE)) {
        Ok(bytes) => {
            serde_json::from_slice(&bytes).map_err(|error| MidshipError::local(format!("{INSTALLED_FILE}: {error}")))
        }
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => Ok(BTreeMap::new()),
        Err(error) => Err(MidshipError::local(error)),
    }
}

fn write_installed(h5_dir: &Path, installed: &BTreeMap<String, String>) -> Result<(), MidshipError> {
    let path = h5_dir.join(INSTALLED_FILE);
    let temporary = path.with_extension("tmp");
    std::fs::write(&temporary, serde_json::to_vec(installed).expect("versions serialize"))
        .map_err(MidshipError::local)?;
    std::fs::rename(&temporary, &path).map_err(MidshipError::local)
}

/// Only plain relative paths: a manifest's names are checked, but a file never lands outside
/// the package's directory whatever it says.
fn inside(directory: &Path, name: &str) -> Result<PathBuf, MidshipError> {
    let relative = Path::new(name);
    if relative.components().all(|component| matches!(component, Component::Normal(_))) {
        Ok(directory.join(relative))
    } else {
        Err(MidshipError::Package { detail: format!("file name {name:?} leaves the package") })
    }
}

fn write_files(directory: &Path, files: &Files) -> Result<(), MidshipError> {
    for (name, bytes) in files {
        let path = inside(directory, name)?;
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).map_err(MidshipError::local)?;
        }
        std::fs::write(&path, bytes).map_err(MidshipError::local)?;
    }
    Ok(())
}

fn read_files(directory: &Path) -> Result<Files, MidshipError> {
    let mut files = Files::new();
    let mut pending = vec![directory.to_owned()];
    while let Some(current) = pending.pop() {
        for entry in std::fs::read_dir(&current).map_err(MidshipError::local)? {
            let path = entry.map_err(MidshipError::local)?.path();
            if path.is_dir() {
                pending.push(path);
            } else {
                let name = path
                    .strip_prefix(directory)
                    .expect("walked from the directory")
                    .to_string_lossy()
                    .replace('\\', "/");
                files.insert(name, std::fs::read(&path).map_err(MidshipError::local)?);
            }
        }
    }
    Ok(files)
}
