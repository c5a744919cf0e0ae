//! One workspace's live releases, compiled for `midship.delivery.check`: rebuilt when a release
//! changes, never read from the database per check.

use std::cmp::Ordering;
use std::collections::{HashMap, HashSet};
use std::hash::BuildHasher;
use std::sync::{Arc, Mutex};

use midship_package::signing::ALGORITHM;
use midship_protocol::calls::{DeliveryCheckResponse, InstalledPackages, PackageOffer, PatchOffer};
use midship_storage::{DeliveryEventKind, PackageKind, PackageRecord, PatchRecord, ReleaseRecord, ReleaseStatus};
use midship_targeting::Condition;
use midship_targeting::DeviceContext;
use midship_targeting::condition::compare_versions;
use serde_json::Value;

use crate::definition::{ReleaseDefinition, Stage, UpgradeMode, compile_audience};
use crate::signing_keys::{OfferSignatures, WorkspaceKeys};

/// Where devices download a blob of the package store.
pub fn blob_url(sha256: &str) -> String {
    format!("/delivery/blobs/{sha256}")
}

/// Devices are kept as a 64-bit hash of their id: a hundred releases remembering a million
/// devices each stay small, and a set lookup does not hash a string again.
type DeviceKey = u64;
type DeviceSet = HashSet<DeviceKey, foldhash::fast::FixedState>;

pub fn device_key(device_id: &str) -> DeviceKey {
    foldhash::quality::FixedState::with_seed(0x6d69_6473_6869_7064).hash_one(device_id)
}

/// The devices a release has seen, so each step is recorded once per device, and a capped
/// release knows how many it has offered. Kept across snapshot rebuilds.
#[derive(Debug, Default)]
pub struct Progress {
    checked: Mutex<DeviceSet>,
    offered: Mutex<DeviceSet>,
}

impl Progress {
    pub fn with_offered(devices: Vec<String>) -> Self {
        let offered = devices.iter().map(|device_id| device_key(device_id)).collect();
        Self { checked: Mutex::default(), offered: Mutex::new(offered) }
    }

    fn first_check(&self, device: DeviceKey) -> bool {
        self.checked.lock().expect("progress lock").insert(device)
    }

    /// Whether the device may be offered the release under `cap`; records it as offered.
    fn offer(&self, device: DeviceKey, cap: Option<u64>) -> Option<bool> {
        let mut offered = self.offered.lock().expect("progress lock");
        if offered.contains(&device) {
            return Some(false);
        }
        if cap.is_some_and(|cap| offered.len() as u64 >= cap) {
            return None;
        }
        offered.insert(device);
        Some(true)
    }

    fn has_room(&self, device: DeviceKey, cap: Option<u64>) -> bool {
        let Some(cap) = cap else { return true };
        let offered = self.offered.lock().expect("progress lock");
        offered.contains(&device) || (offered.len() as u64) < cap
    }
}

#[derive(Debug)]
struct LiveRelease {
    record: ReleaseRecord,
    package: Arc<PackageRecord>,
    details: Value,
    /// Upgrades: how insistently to ask, and after how many hours again (the rest of the
    /// definition, whitelists included, lives compiled in the audience).
    mode: Option<UpgradeMode>,
    remind_interval_hours: Option<u32>,
    /// Index of its audience in [`DeliverySnapshot::audiences`]; `None` for everyone.
    audience: Option<usize>,
    window: Option<(i64, i64)>,
    cap: Option<u64>,
    /// H5 and mini programs: the app versions the package is for.
    client_range: Option<(Option<String>, Option<String>)>,
    /// Hotpatches: the app version patched.
    patched_app_version: Option<String>,
    /// The manifest's signatures, made once per build.
    signatures: OfferSignatures,
    progress: Arc<Progress>,
}

impl LiveRelease {
    /// Whether the device may get this release, audience aside (before comparing with what it
    /// has).
    fn admits(&self, device: &DeviceContext, now: i64) -> bool {
        if let Some((start, end)) = self.window
            && !(start..end).contains(&now)
        {
            return false;
        }
        let package = &self.package;
        let app_version = device.app_version.as_deref();
        match package.kind {
            PackageKind::Upgrade => device.platform.as_deref() == Some(package.app_id.as_str()),
            PackageKind::Hotpatch => {
                device.platform.as_deref() == Some(package.app_id.as_str())
                    && self.patched_app_version.is_some()
                    && self.patched_app_version.as_deref() == app_version
            }
            PackageKind::H5 | PackageKind::MiniProgram => match (&self.client_range, app_version) {
                (None, _) => true,
                (Some(_), None) => false,
                (Some((min, max)), Some(app_version)) => {
                    min.as_deref().is_none_or(|min| compare_versions(app_version, min) != Ordering::Less)
                        && max.as_deref().is_none_or(|max| compare_versions(app_version, max) != Ordering::Greater)
                }
            },
        }
    }
}

/// The slot an offer fills: one upgrade, one package per H5 or mini program id, one hotpatch.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum Slot {
    Upgrade,
    H5(String),
    MiniProgram(String),
    Hotpatch,
}

fn slot_of(package: &PackageRecord) -> Slot {
    match package.kind {
        PackageKind::Upgrade => Slot::Upgrade,
        PackageKind::H5 => Slot::H5(package.app_id.clone()),
        PackageKind::MiniProgram => Slot::MiniProgram(package.app_id.clone()),
        PackageKind::Hotpatch => Slot::Hotpatch,
    }
}

/// One step a device reached, for the progress writer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProgressEvent {
    pub release_id: String,
    pub kind: DeliveryEventKind,
}

#[derive(Debug)]
pub struct DeliverySnapshot {
    /// The latest release change it was built from.
    pub revision: i64,
    releases: Vec<LiveRelease>,
    /// Compiled audiences, each once however many releases share it (a QA whitelist used by
    /// many releases is held and evaluated once per check).
    audiences: Vec<Condition>,
    /// (platform, app version, hotpatch version) of rolled-back hotpatches.
    rolled_back_hotpatches: HashSet<(String, String, String)>,
    /// (kind, app id, version) → package id.
    versions: HashMap<(PackageKind, String, String), String>,
    /// (from package, to package) → patch.
    patches: HashMap<(String, String), PatchRecord>,
}

/// What a snapshot is built from.
#[derive(Debug)]
pub struct SnapshotSource {
    pub revision: i64,
    /// The workspace's signing keys: every published one signs each offered manifest.
    pub keys: Arc<WorkspaceKeys>,
    pub packages: Vec<PackageRecord>,
    pub patches: Vec<PatchRecord>,
    /// Every release of the workspace with its definition parsed.
    pub releases: Vec<(ReleaseRecord, ReleaseDefinition)>,
}

impl DeliverySnapshot {
    pub fn empty() -> Self {
        Self {
            revision: 0,
            releases: Vec::new(),
            audiences: Vec::new(),
            rolled_back_hotpatches: HashSet::new(),
            versions: HashMap::new(),
            patches: HashMap::new(),
        }
    }

    /// `progress` gives each active release its (kept) progress.
    pub fn build(
        source: SnapshotSource,
        mut progress: impl FnMut(&ReleaseRecord) -> Arc<Progress>,
    ) -> Result<Self, crate::DeliveryError> {
        let packages: HashMap<String, Arc<PackageRecord>> =
            source.packages.into_iter().map(|package| (package.package_id.clone(), Arc::new(package))).collect();
        let versions = packages
            .values()
            .map(|package| {
                ((package.kind, package.app_id.clone(), package.version.clone()), package.package_id.clone())
            })
            .collect();
        let patches = source
            .patches
            .into_iter()
            .map(|patch| ((patch.from_package_id.clone(), patch.to_package_id.clone()), patch))
            .collect();
        let mut releases = Vec::new();
        let mut audiences = Vec::new();
        let mut audience_index: HashMap<String, usize> = HashMap::new();
        let mut rolled_back_hotpatches = HashSet::new();
        for (mut record, definition) in source.releases {
            let Some(package) = packages.get(&record.package_id).cloned() else { continue };
            let details: Value = serde_json::from_str(&package.details).unwrap_or(Value::Null);
            if record.status == ReleaseStatus::RolledBack
                && package.kind == PackageKind::Hotpatch
                && let Some(app_version) = details.get("app_version").and_then(Value::as_str)
            {
                rolled_back_hotpatches.insert((
                    package.app_id.clone(),
                    app_version.to_owned(),
                    package.version.clone(),
                ));
            }
            if record.status != ReleaseStatus::Active {
                continue;
            }
            let (window, cap) = match &definition.stage {
                Stage::TimeWindow { start_at, end_at } => (Some((start_at.unwrap_or(i64::MIN), *end_at)), None),
                Stage::Capped { max_devices } => (None, Some(*max_devices)),
                Stage::Whitelist { .. } | Stage::Official => (None, None),
            };
            let audience = match definition.audience() {
                None => None,
                Some(audience) => {
                    let text = audience.to_string();
                    match audience_index.get(&text) {
                        Some(index) => Some(*index),
                        None => {
                            audiences.push(compile_audience(&audience)?);
                            audience_index.insert(text, audiences.len() - 1);
                            Some(audiences.len() - 1)
                        }
                    }
                }
            };
            let text_at = |value: &Value, key: &str| value.get(key).and_then(Value::as_str).map(str::to_owned);
            let client_range = details
                .get("client_version")
                .filter(|range| range.is_object())
                .map(|range| (text_at(range, "min"), text_at(range, "max")));
            let patched_app_version = text_at(&details, "app_version");
            let progress = progress(&record);
            let signatures = source.keys.sign_offer(&package.manifest);
            // The definition's text (whitelists and all) is not needed to answer checks.
            record.definition = String::new();
            releases.push(LiveRelease {
                record,
                package,
                details,
                mode: definition.mode,
                remind_interval_hours: definition.remind_interval(),
                audience,
                window,
                cap,
                client_range,
                patched_app_version,
                signatures,
                progress,
            });
        }
        Ok(Self { revision: source.revision, releases, audiences, rolled_back_hotpatches, versions, patches })
    }

    /// The device's answer at `now`, and the progress it made (first check, first offer).
    pub fn check(
        &self,
        device: &DeviceContext,
        installed: &InstalledPackages,
        now: i64,
    ) -> (DeliveryCheckResponse, Vec<ProgressEvent>) {
        let attributes = device.attributes();
        let device_key = device.device_id.as_deref().map(device_key);
        let mut verdicts: Vec<Option<bool>> = vec![None; self.audiences.len()];
        let mut events = Vec::new();
        let mut chosen: HashMap<Slot, &LiveRelease> = HashMap::new();
        for release in &self.releases {
            if !release.admits(device, now) {
                continue;
            }
            if let Some(index) = release.audience {
                let verdict = *verdicts[index].get_or_insert_with(|| self.audiences[index].matches(&attributes));
                if !verdict {
                    continue;
                }
            }
            if let Some(device_key) = device_key
                && release.progress.first_check(device_key)
            {
                events.push(ProgressEvent {
                    release_id: release.record.release_id.clone(),
                    kind: DeliveryEventKind::Checked,
                });
            }
            if !self.is_newer_than_installed(release, device, installed) {
                continue;
            }
            if release.cap.is_some()
                && !device_key.is_some_and(|device_key| release.progress.has_room(device_key, release.cap))
            {
                continue;
            }
            let slot = slot_of(&release.package);
            let better = chosen.get(&slot).is_none_or(|current| {
                compare_versions(&release.package.version, &current.package.version) == Ordering::Greater
            });
            if better {
                chosen.insert(slot, release);
            }
        }
        let mut response = DeliveryCheckResponse::default();
        let mut offers: Vec<(&Slot, &LiveRelease)> = chosen.iter().map(|(slot, release)| (slot, *release)).collect();
        offers.sort_by(|left, right| left.1.package.app_id.cmp(&right.1.package.app_id));
        for (slot, release) in offers {
            if let Some(device_key) = device_key {
                match release.progress.offer(device_key, release.cap) {
                    Some(true) => events.push(ProgressEvent {
                        release_id: release.record.release_id.clone(),
                        kind: DeliveryEventKind::Offered,
                    }),
                    Some(false) => {}
                    // The cap filled between the look and the offer.
                    None => continue,
                }
            }
            let offer = self.offer(release, self.installed_version(release, device, installed));
            match slot {
                Slot::Upgrade => response.upgrade = Some(offer),
                Slot::H5(_) => response.h5.push(offer),
                Slot::MiniProgram(_) => response.mini_programs.push(offer),
                Slot::Hotpatch => response.hotpatch = Some(offer),
            }
        }
        if response.hotpatch.is_none()
            && let (Some(version), Some(platform), Some(app_version)) =
                (&installed.hotpatch, &device.platform, &device.app_version)
            && self.rolled_back_hotpatches.contains(&(platform.clone(), app_version.clone(), version.clone()))
        {
            response.hotpatch_rollback = Some(version.clone());
        }
        (response, events)
    }

    /// The version of this release's package the device has now, if it said.
    fn installed_version<'a>(
        &self,
        release: &LiveRelease,
        device: &'a DeviceContext,
        installed: &'a InstalledPackages,
    ) -> Option<&'a str> {
        let package = &release.package;
        match package.kind {
            PackageKind::Upgrade => device.app_version.as_deref(),
            PackageKind::H5 => installed.h5.get(&package.app_id).map(String::as_str),
            PackageKind::MiniProgram => installed.mini_programs.get(&package.app_id).map(String::as_str),
            PackageKind::Hotpatch => installed.hotpatch.as_deref(),
        }
    }

    fn is_newer_than_installed(
        &self,
        release: &LiveRelease,
        device: &DeviceContext,
        installed: &InstalledPackages,
    ) -> bool {
        match self.installed_version(release, device, installed) {
            None => release.package.kind != PackageKind::Upgrade,
            // Most devices are up to date: no version parsing for them.
            Some(have) if have == release.package.version => false,
            Some(have) if release.package.kind == PackageKind::Hotpatch => have != release.package.version,
            Some(have) => compare_versions(&release.package.version, have) == Ordering::Greater,
        }
    }

    fn offer(&self, release: &LiveRelease, installed: Option<&str>) -> PackageOffer {
        let package = &release.package;
        let patch = installed.and_then(|from_version| {
            let from = self.versions.get(&(package.kind, package.app_id.clone(), from_version.to_owned()))?;
            let patch = self.patches.get(&(from.clone(), package.package_id.clone()))?;
            Some(PatchOffer {
                from_version: from_version.to_owned(),
                url: blob_url(&patch.blob_sha256),
                size: patch.size,
                sha256: patch.blob_sha256.clone(),
            })
        });
        PackageOffer {
            release_id: release.record.release_id.clone(),
            kind: package.kind.as_str().to_owned(),
            app_id: package.app_id.clone(),
            version: package.version.clone(),
            url: package.blob_sha256.as_deref().map(blob_url),
            size: package.size,
            manifest: package.manifest.clone(),
            algorithm: ALGORITHM.to_owned(),
            signature: release.signatures.signature.clone(),
            signatures: release.signatures.signatures.clone(),
            patch,
            mode: release.mode.map(|mode| mode.as_str().to_owned()),
            remind_interval_hours: release.remind_interval_hours,
            details: release.details.clone(),
        }
    }
}
