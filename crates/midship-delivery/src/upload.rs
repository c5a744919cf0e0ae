//! Uploads checked per kind before anything is stored: H5 and mini program packages are zips
//! with a `manifest.json` at the root; upgrades are installers (apk, ipa and hap are zips) or a
//! store URL; hotpatches are a file for one app version.

use std::sync::LazyLock;

use bytes::Bytes;
use midship_core::Platform;
use midship_package::{ArchiveLimits, Files, read_zip};
use midship_storage::PackageKind;
use regex::Regex;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::{DeliveryError, invalid};

/// The name of the manifest inside H5 and mini program zips.
pub const ZIP_MANIFEST: &str = "manifest.json";

static VERSION_SHAPE: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"^[0-9]+(\.[0-9]+){0,3}([-+][0-9A-Za-z.\-]{1,32})?$").expect("valid regex"));

/// What an upload says besides its bytes (query parameters of the upload call).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UploadRequest {
    /// `upgrade`, `h5`, `mini_program` or `hotpatch`.
    pub kind: String,
    /// Upgrades and hotpatches: `android`, `ios` or `harmony`.
    #[serde(default)]
    pub platform: Option<String>,
    /// Upgrades and hotpatches; for zips it is the manifest's, and must agree if given.
    #[serde(default)]
    pub version: Option<String>,
    /// H5 or mini program id; must agree with the manifest if given.
    #[serde(default)]
    pub app_id: Option<String>,
    #[serde(default)]
    pub build: Option<i64>,
    #[serde(default)]
    pub notes: Option<String>,
    /// Hotpatches: the app version they patch.
    #[serde(default)]
    pub app_version: Option<String>,
    /// Upgrades published in a store instead of uploaded.
    #[serde(default)]
    pub store_url: Option<String>,
}

/// An H5 or mini program zip's `manifest.json`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ZipManifest {
    pub app_id: String,
    pub version: String,
    pub vhost: String,
    pub main_url: String,
    #[serde(default)]
    pub client_version: Option<ClientVersionRange>,
    #[serde(default = "default_install_mode")]
    pub install_mode: String,
    #[serde(default)]
    pub fallback_url: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClientVersionRange {
    #[serde(default)]
    pub min: Option<String>,
    #[serde(default)]
    pub max: Option<String>,
}

fn default_install_mode() -> String {
    "automatic".into()
}

const INSTALL_MODES: [&str; 3] = ["automatic", "wifi_only", "on_use"];

/// An upload that passed every check.
#[derive(Debug)]
pub struct CheckedUpload {
    pub kind: PackageKind,
    pub app_id: String,
    pub version: String,
    pub details: Value,
    /// The bytes to store; `None` for a store URL.
    pub bytes: Option<Bytes>,
    /// The unpacked files of H5 and mini program packages.
    pub files: Option<Files>,
}

pub fn check_version(field: &str, version: &str) -> Result<(), DeliveryError> {
    if VERSION_SHAPE.is_match(version) {
        Ok(())
    } else {
        Err(invalid(field, format!("`{}` is not a version such as 10.2.3", midship_core::ids::echo(version))))
    }
}

fn check_url(field: &str, url: &str) -> Result<(), DeliveryError> {
    match url::Url::parse(url) {
        Ok(parsed) if matches!(parsed.scheme(), "https" | "http") && url.len() <= 2048 => Ok(()),
        _ => Err(invalid(field, "must be an http(s) URL of at most 2048 characters")),
    }
}

fn check_text(field: &str, text: &str, max_chars: usize) -> Result<(), DeliveryError> {
    if text.chars().count() > max_chars {
        return Err(invalid(field, format!("at most {max_chars} characters")));
    }
    Ok(())
}

fn device_platform(request: &UploadRequest) -> Result<String, DeliveryError> {
    let platform = request.platform.as_deref().ok_or_else(|| invalid("platform", "is required for this kind"))?;
    match platform.parse::<Platform>() {
        Ok(Platform::Android | Platform::Ios | Platform::Harmony) => Ok(platform.to_owned()),
        _ => Err(invalid("platform", "must be android, ios or harmony")),
    }
}

/// Checks an upload; `bytes` is the request body (empty for a store URL).
pub fn check_upload(
    request: &UploadRequest,
    bytes: Bytes,
    limits: ArchiveLimits,
) -> Result<CheckedUpload, DeliveryError> {
    let kind = PackageKind::parse(&request.kind)
        .ok_or_else(|| invalid("kind", "must be upgrade, h5, mini_program or hotpatch"))?;
    if let Some(notes) = &request.notes {
        check_text("notes", notes, 4000)?;
    }
    match kind {
        PackageKind::H5 | PackageKind::MiniProgram => check_zip_package(kind, request, bytes, limits),
        PackageKind::Upgrade | PackageKind::Hotpatch => check_binary_package(kind, request, bytes),
    }
}

fn check_zip_package(
    kind: PackageKind,
    request: &UploadRequest,
    bytes: Bytes,
    limits: ArchiveLimits,
) -> Result<CheckedUpload, DeliveryError> {
    if bytes.is_empty() {
        return Err(invalid("body", "the package zip is missing"));
    }
    for (field, given) in
        [("platform", &request.platform), ("store_url", &request.store_url), ("app_version", &request.app_version)]
    {
        if given.is_some() {
            return Err(invalid(field, "does not apply to H5 and mini program packages"));
        }
    }
    let files = read_zip(&bytes, limits)?;
    let manifest_bytes =
        files.get(ZIP_MANIFEST).ok_or_else(|| invalid(ZIP_MANIFEST, "the zip has no manifest.json at its root"))?;
    let manifest: ZipManifest = serde_json::from_slice(manifest_bytes)
        .map_err(|error| invalid(ZIP_MANIFEST, format!("cannot be read: {error}")))?;
    let digits = if kind == PackageKind::H5 { 8 } else { 16 };
    if manifest.app_id.len() != digits || !manifest.app_id.bytes().all(|byte| byte.is_ascii_digit()) {
        return Err(invalid("manifest.json app_id", format!("must be {digits} digits")));
    }
    check_version("manifest.json version", &manifest.version)?;
    if let Some(app_id) = &request.app_id
        && app_id != &manifest.app_id
    {
        return Err(invalid(
            "app_id",
            format!(
                "the upload names {} but its manifest.json says {}",
                midship_core::ids::echo(app_id),
                manifest.app_id
            ),
        ));
    }
    if let Some(version) = &request.version
        && version != &manifest.version
    {
        return Err(invalid(
            "version",
            format!(
                "the upload names {} but its manifest.json says {}",
                midship_core::ids::echo(version),
                manifest.version
            ),
        ));
    }
    check_url("manifest.json vhost", &manifest.vhost)?;
    let main = manifest.main_url.trim_start_matches('/');
    if !files.contains_key(main) {
        return Err(invalid(
            "manifest.json main_url",
            format!("`{}` is not a file of the package", midship_core::ids::echo(&manifest.main_url)),
        ));
    }
    if !INSTALL_MODES.contains(&manifest.install_mode.as_str()) {
        return Err(invalid("manifest.json install_mode", "must be automatic, wifi_only or on_use"));
    }
    if let Some(url) = &manifest.fallback_url {
        check_url("manifest.json fallback_url", url)?;
    }
    if let Some(range) = &manifest.client_version {
        for (field, version) in [("min", &range.min), ("max", &range.max)] {
            if let Some(version) = version {
                check_version(&format!("manifest.json client_version.{field}"), version)?;
            }
        }
    }
    let mut details = serde_json::to_value(&manifest).expect("manifests serialize");
    if let Some(notes) = &request.notes {
        details["notes"] = json!(notes);
    }
    Ok(CheckedUpload {
        kind,
        app_id: manifest.app_id.clone(),
        version: manifest.version.clone(),
        details,
        bytes: Some(bytes),
        files: Some(files),
    })
}

fn check_binary_package(
    kind: PackageKind,
    request: &UploadRequest,
    bytes: Bytes,
) -> Result<CheckedUpload, DeliveryError> {
    let platform = device_platform(request)?;
    let version = request.version.clone().ok_or_else(|| invalid("version", "is required for this kind"))?;
    check_version("version", &version)?;
    if request.app_id.is_some() {
        return Err(invalid("app_id", "applies to H5 and mini program packages only"));
    }
    let mut details = json!({});
    if let Some(build) = request.build {
        if build < 0 {
            return Err(invalid("build", "must not be negative"));
        }
        details["build"] = json!(build);
    }
    if let Some(notes) = &request.notes {
        details["notes"] = json!(notes);
    }
    match kind {
        PackageKind::Upgrade => {
            if request.app_version.is_some() {
                return Err(invalid("app_version", "applies to hotpatches only"));
            }
            match (&request.store_url, bytes.is_empty()) {
                (Some(_), false) => {
                    return Err(invalid("store_url", "give either a store URL or the installer, not both"));
                }
                (None, true) => return Err(invalid("body", "the installer is missing (or give store_url)")),
                (Some(url), true) => {
                    check_url("store_url", url)?;
                    details["store_url"] = json!(url);
                    return Ok(CheckedUpload { kind, app_id: platform, version, details, bytes: None, files: None });
                }
                (None, false) => {}
            }
            // apk, ipa and hap are all zip archives: a broken one is refused here rather than on
            // every device.
            zip::ZipArchive::new(std::io::Cursor::new(&bytes[..]))
                .map_err(|error| invalid("body", format!("not an installer (apk, ipa and hap are zips): {error}")))?;
        }
        PackageKind::Hotpatch => {
            let app_version = request
                .app_version
                .clone()
                .ok_or_else(|| invalid("app_version", "a hotpatch names the app version it patches"))?;
            check_version("app_version", &app_version)?;
            if request.store_url.is_some() {
                return Err(invalid("store_url", "applies to upgrades only"));
            }
            if bytes.is_empty() {
                return Err(invalid("body", "the hotpatch file is missing"));
            }
            details["app_version"] = json!(app_version);
        }
        PackageKind::H5 | PackageKind::MiniProgram => unreachable!("zip kinds are checked by check_zip_package"),
    }
    Ok(CheckedUpload { kind, app_id: platform, version, details, bytes: Some(bytes), files: None })
}

#[cfg(test)]
mod tests {
    use midship_package::write_zip;

    use super::*;

    fn h5_zip(manifest: Value, extra: &[(&str, &str)]) -> Bytes {
        let mut files = Files::from([(ZIP_MANIFEST.to_owned(), manifest.to_string().into_bytes())]);
        for (path, content) in extra {
            files.insert((*path).to_owned(), content.as_bytes().to_vec());
        }
        Bytes::from(write_zip(&files))
    }

    fn manifest() -> Value {
        json!({ "app_id": "12345678", "version": "1.0.0", "vhost": "https://12345678.h5app.example.com", "main_url": "/index.html" })
    }

    fn h5() -> UploadRequest {
        UploadRequest { kind: "h5".into(), ..UploadRequest::default() }
    }

    #[test]
    fn h5_packages_are_read_from_their_manifest() {
        let upload =
            check_upload(&h5(), h5_zip(manifest(), &[("index.html", "<html>")]), ArchiveLimits::default()).unwrap();
        assert_eq!((upload.app_id.as_str(), upload.version.as_str()), ("12345678", "1.0.0"));
        assert_eq!(upload.details["install_mode"], "automatic");
        assert_eq!(upload.files.unwrap().len(), 2);
    }

    #[test]
    fn bad_h5_packages_are_refused_with_the_reason() {
        let limits = ArchiveLimits::default();
        let refuse =
            |request: &UploadRequest, bytes: Bytes| check_upload(request, bytes, limits).unwrap_err().to_string();
        assert!(refuse(&h5(), h5_zip(manifest(), &[])).contains("main_url"));
        let mut wrong_id = manifest();
        wrong_id["app_id"] = json!("1234");
        assert!(refuse(&h5(), h5_zip(wrong_id, &[("index.html", "")])).contains("8 digits"));
        let mut mismatch = h5();
        mismatch.version = Some("2.0.0".into());
        assert!(refuse(&mismatch, h5_zip(manifest(), &[("index.html", "")])).contains("manifest.json says 1.0.0"));
        assert!(refuse(&h5(), Bytes::from_static(b"PK\x03\x04 broken")).contains("not a valid zip"));
        assert!(refuse(&h5(), h5_zip(manifest(), &[("index.html", ""), ("../escape.js", "")])).contains("escapes"));
        let mut mode = manifest();
        mode["install_mode"] = json!("sometimes");
        assert!(refuse(&h5(), h5_zip(mode, &[("index.html", "")])).contains("install_mode"));
        let no_manifest = Bytes::from(write_zip(&Files::from([("index.html".to_owned(), Vec::new())])));
        assert!(refuse(&h5(), no_manifest).contains("no manifest.json"));
    }

    #[test]
    fn upgrades_and_hotpatches_need_their_fields() {
        let limits = ArchiveLimits::default();
        let installer = Bytes::from(write_zip(&Files::from([("classes.dex".to_owned(), vec![1, 2, 3])])));
        let upgrade = UploadRequest {
            kind: "upgrade".into(),
            platform: Some("android".into()),
            version: Some("2.0.0".into()),
            ..UploadRequest::default()
        };
        assert_eq!(check_upload(&upgrade, installer.clone(), limits).unwrap().app_id, "android");
        assert!(check_upload(&upgrade, Bytes::from_static(b"not an apk"), limits).is_err());
        let store = UploadRequest { store_url: Some("https://apps.example.com/app".into()), ..upgrade.clone() };
        assert!(check_upload(&store, Bytes::new(), limits).unwrap().bytes.is_none());
        let hotpatch = UploadRequest { kind: "hotpatch".into(), ..upgrade };
        assert!(check_upload(&hotpatch, installer.clone(), limits).unwrap_err().to_string().contains("app version"));
        let hotpatch = UploadRequest { app_version: Some("1.0.0".into()), ..hotpatch };
        assert!(check_upload(&hotpatch, installer, limits).is_ok());
    }
}
