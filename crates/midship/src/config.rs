//! Server configuration: built-in defaults < config file < environment (`MIDSHIP_SECTION__KEY`)
//! < command-line flags.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use anyhow::Context;
use figment::Figment;
use figment::providers::{Env, Format, Serialized, Toml};
use serde::{Deserialize, Serialize};

mod cluster;
mod console;

pub use cluster::{BlobsSection, ClusterSection};
pub use console::ConsoleSection;

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    pub server: ServerSection,
    pub database: DatabaseSection,
    pub admin: AdminSection,
    pub console: ConsoleSection,
    pub gateway: GatewaySection,
    pub sync: SyncSection,
    pub delivery: DeliverySection,
    pub analytics: AnalyticsSection,
    pub secrets: SecretsSection,
    pub cluster: ClusterSection,
    pub blobs: BlobsSection,
    pub log: LogSection,
}

/// The key-encryption key that seals secrets stored in the database (`crate::secrets`).
#[derive(Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SecretsSection {
    /// The key itself (base64 of 32 bytes), best given as `MIDSHIP_SECRETS__KEY`.
    pub key: String,
    /// A file holding the key; empty: `data_dir/secrets.key`, made at first start.
    pub key_file: Option<PathBuf>,
    /// Files of earlier keys: they still open what they sealed until a start reseals it.
    pub open_only_key_files: Vec<PathBuf>,
}

impl std::fmt::Debug for SecretsSection {
    /// The key never reaches logs.
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter
            .debug_struct("SecretsSection")
            .field("key", &if self.key.is_empty() { "" } else { "****" })
            .field("key_file", &self.key_file)
            .field("open_only_key_files", &self.open_only_key_files)
            .finish()
    }
}

/// Delivery packages: limits and diffs (blobs live in `server.data_dir/packages`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DeliverySection {
    pub max_package_mib: u64,
    pub max_package_entries: usize,
    pub max_unpacked_mib: u64,
    pub diff_from_versions: usize,
}

impl Default for DeliverySection {
    fn default() -> Self {
        Self { max_package_mib: 256, max_package_entries: 20_000, max_unpacked_mib: 512, diff_from_versions: 5 }
    }
}

impl DeliverySection {
    pub fn placement(&self, data_dir: &Path) -> midship_server::DeliveryPlacement {
        const MIB: u64 = 1024 * 1024;
        midship_server::DeliveryPlacement {
            package_dir: data_dir.join("packages"),
            redirect_downloads_for: None,
            settings: midship_delivery::DeliverySettings {
                max_package_bytes: self.max_package_mib.saturating_mul(MIB),
                archive: midship_package::ArchiveLimits {
                    max_entries: self.max_package_entries,
                    max_unpacked_bytes: self.max_unpacked_mib.saturating_mul(MIB),
                },
                patch_from_versions: self.diff_from_versions,
            },
        }
    }
}

/// Analytics uploads (batches live in the database; reports are kept in memory).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AnalyticsSection {
    pub device_events_per_minute: u64,
    /// How often raw events are written to `server.data_dir/analytics/parquet`; 0 turns it off
    /// (`POST /api/v1/analytics/export` still writes on demand).
    pub export_interval_seconds: u64,
    /// How often alert rules are evaluated.
    pub alert_interval_seconds: u64,
}

impl Default for AnalyticsSection {
    fn default() -> Self {
        let defaults = midship_analytics::AnalyticsSettings::default();
        Self {
            device_events_per_minute: defaults.device_events_per_minute,
            export_interval_seconds: 300,
            alert_interval_seconds: 60,
        }
    }
}

impl AnalyticsSection {
    pub fn settings(&self, data_dir: &Path) -> midship_analytics::AnalyticsSettings {
        midship_analytics::AnalyticsSettings {
            device_events_per_minute: self.device_events_per_minute,
            export_dir: Some(data_dir.join("analytics").join("parquet")),
            ..midship_analytics::AnalyticsSettings::default()
        }
    }
}

/// The device long connection and data sync.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SyncSection {
    pub heartbeat_seconds: u64,
    pub idle_timeout_seconds: u64,
    pub hello_timeout_seconds: u64,
    pub write_timeout_seconds: u64,
    pub max_connections: usize,
    pub connection_queue: usize,
    pub window: usize,
    pub max_rpcs_in_flight: usize,
    pub maintenance_interval_seconds: u64,
}

impl Default for SyncSection {
    fn default() -> Self {
        Self {
            heartbeat_seconds: 30,
            idle_timeout_seconds: 90,
            hello_timeout_seconds: 10,
            write_timeout_seconds: 10,
            max_connections: 200_000,
            connection_queue: 256,
            window: 128,
            max_rpcs_in_flight: 16,
            maintenance_interval_seconds: 1,
        }
    }
}

/// File handles kept free of connections, for the database, packages and logs.
const RESERVED_FILE_HANDLES: u64 = 512;

impl ServerSection {
    /// The connection limits, with the total capped below the process's open-file limit so that
    /// a full house of connections never leaves the database without a file handle.
    pub fn connection_limits(&self, open_file_limit: Option<u64>) -> midship_server::ConnectionLimits {
        use std::time::Duration;
        let handles_for_connections = open_file_limit
            .map(|limit| limit.saturating_sub(RESERVED_FILE_HANDLES).max(1) as usize)
            .unwrap_or(usize::MAX);
        midship_server::ConnectionLimits {
            header_read_timeout: Duration::from_secs(self.header_read_timeout_seconds.max(1)),
            body_read_timeout: Duration::from_secs(self.body_read_timeout_seconds.max(1)),
            max_connections: self.max_connections.min(handles_for_connections),
            max_connections_per_address: self.max_connections_per_address,
            max_header_bytes: self.max_header_bytes,
        }
    }
}

impl SyncSection {
    pub fn long_connection(&self) -> midship_server::longconn::LongConnectionSettings {
        use std::time::Duration;
        midship_server::longconn::LongConnectionSettings {
            heartbeat: Duration::from_secs(self.heartbeat_seconds),
            idle_timeout: Duration::from_secs(self.idle_timeout_seconds),
            hello_timeout: Duration::from_secs(self.hello_timeout_seconds),
            write_timeout: Duration::from_secs(self.write_timeout_seconds),
            max_rpcs_in_flight: self.max_rpcs_in_flight,
            sync: midship_sync::SyncSettings {
                max_connections: self.max_connections,
                connection_queue: self.connection_queue,
                window: self.window,
                ..midship_sync::SyncSettings::default()
            },
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct GatewaySection {
    pub timestamp_window_seconds: u64,
    /// Calls per second per API on one node for APIs that name no limit; 0 for none.
    pub default_api_rate_limit: u32,
    /// Calls per second of all an app's APIs on one node; 0 for none.
    pub app_rate_limit: u32,
    /// Web origins (`https://h5.bank.example`) whose pages may call `/mgw` from a browser (CORS);
    /// `*` for any. Empty: none, as browsers then refuse cross-origin calls.
    pub cors_origins: Vec<String>,
}

impl GatewaySection {
    /// An origin is a scheme and host with an optional port, nothing after: browsers compare
    /// the `Origin` header with it byte for byte, so `https://h5.bank.example/` would never match.
    fn check_cors_origins(&self) -> anyhow::Result<()> {
        for origin in &self.cors_origins {
            if origin == "*" {
                continue;
            }
            let parsed = url::Url::parse(origin).with_context(|| {
                format!("gateway.cors_origins: {origin:?} is not an origin like https://h5.example")
            })?;
            anyhow::ensure!(
                parsed.origin().ascii_serialization() == *origin,
                "gateway.cors_origins: {origin:?} is not an origin: write it as {:?}",
                parsed.origin().ascii_serialization()
            );
        }
        Ok(())
    }
}

impl Default for GatewaySection {
    fn default() -> Self {
        Self { timestamp_window_seconds: 300, default_api_rate_limit: 0, app_rate_limit: 0, cors_origins: Vec::new() }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ServerSection {
    pub listen: SocketAddr,
    pub data_dir: PathBuf,
    pub max_body_bytes: usize,
    pub header_read_timeout_seconds: u64,
    pub body_read_timeout_seconds: u64,
    pub max_connections: usize,
    pub max_connections_per_address: usize,
    pub max_header_bytes: usize,
    pub secure_cookies: bool,
    /// PEM certificate chain; with `tls_private_key`, Midship serves HTTPS (HTTP/1.1 and HTTP/2).
    pub tls_certificate: Option<PathBuf>,
    pub tls_private_key: Option<PathBuf>,
}

#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DatabaseSection {
    /// Empty: SQLite in the data directory.
    pub url: String,
    pub max_connections: u32,
}

impl std::fmt::Debug for DatabaseSection {
    /// The URL may carry a password: show it redacted.
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter
            .debug_struct("DatabaseSection")
            .field("url", &midship_server::storage::redact_database_url(&self.url))
            .field("max_connections", &self.max_connections)
            .finish()
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AdminSection {
    pub key_grace_seconds: u64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LogSection {
    pub level: String,
    pub format: LogFormat,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    Text,
    Json,
}

impl Default for ServerSection {
    fn default() -> Self {
        Self {
            listen: SocketAddr::from(([127, 0, 0, 1], 7070)),
            data_dir: PathBuf::from("./midship-data"),
            max_body_bytes: 1024 * 1024,
            header_read_timeout_seconds: 15,
            body_read_timeout_seconds: 30,
            max_connections: 100_000,
            max_connections_per_address: 2_000,
            max_header_bytes: 64 * 1024,
            secure_cookies: false,
            tls_certificate: None,
            tls_private_key: None,
        }
    }
}

impl Default for DatabaseSection {
    fn default() -> Self {
        Self { url: String::new(), max_connections: 16 }
    }
}

impl Default for AdminSection {
    fn default() -> Self {
        Self { key_grace_seconds: 24 * 60 * 60 }
    }
}

impl Default for LogSection {
    fn default() -> Self {
        Self { level: "info".to_owned(), format: LogFormat::Text }
    }
}

/// Values given on the command line; only those present override.
#[derive(Debug, Default, Serialize)]
pub struct FlagOverrides {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub listen: Option<SocketAddr>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub data_dir: Option<PathBuf>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub database_url: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub nats_url: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub blob_url: Option<String>,
    /// `--single-node`: only `true` overrides.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub single_node: bool,
}

impl Config {
    /// Merges every source. A named file must exist; `MIDSHIP_CONFIG` names one too.
    pub fn load(file: Option<&Path>, flags: &FlagOverrides) -> anyhow::Result<Self> {
        let mut figment = Figment::from(Serialized::defaults(Config::default()));
        if let Some(file) = file {
            anyhow::ensure!(file.is_file(), "config file {} does not exist", file.display());
            figment = figment.merge(Toml::file_exact(file));
        }
        // Only MIDSHIP_SECTION__KEY variables: MIDSHIP_SERVER and MIDSHIP_TOKEN belong to the CLI.
        figment = figment.merge(Env::prefixed("MIDSHIP_").filter(|key| key.as_str().contains("__")).split("__"));
        let mut overrides = serde_json::Map::new();
        let mut server = serde_json::Map::new();
        if let Some(listen) = flags.listen {
            server.insert("listen".into(), listen.to_string().into());
        }
        if let Some(data_dir) = &flags.data_dir {
            server.insert("data_dir".into(), data_dir.display().to_string().into());
        }
        if !server.is_empty() {
            overrides.insert("server".into(), server.into());
        }
        if let Some(url) = &flags.database_url {
            overrides.insert("database".into(), serde_json::json!({ "url": url }));
        }
        let mut cluster = serde_json::Map::new();
        if let Some(url) = &flags.nats_url {
            cluster.insert("nats_url".into(), url.clone().into());
        }
        if flags.single_node {
            cluster.insert("single_node".into(), true.into());
        }
        if !cluster.is_empty() {
            overrides.insert("cluster".into(), cluster.into());
        }
        if let Some(url) = &flags.blob_url {
            overrides.insert("blobs".into(), serde_json::json!({ "url": url }));
        }
        figment = figment.merge(Serialized::defaults(serde_json::Value::Object(overrides)));
        let config: Config = figment.extract().context("invalid configuration")?;
        config.gateway.check_cors_origins()?;
        config.console.validate()?;
        Ok(config)
    }

    /// How often the node's background jobs run.
    pub fn node_settings(&self) -> midship_server::NodeSettings {
        let seconds = |value: u64| std::time::Duration::from_secs(value.max(1));
        midship_server::NodeSettings {
            sync_maintenance_interval: seconds(self.sync.maintenance_interval_seconds),
            alert_interval: seconds(self.analytics.alert_interval_seconds),
            export_interval: (self.analytics.export_interval_seconds > 0)
                .then(|| seconds(self.analytics.export_interval_seconds)),
            ..midship_server::NodeSettings::default()
        }
    }

    /// The database URL, defaulting to the SQLite file in the data directory.
    pub fn database_url(&self) -> String {
        if self.database.url.trim().is_empty() {
            format!("sqlite://{}", self.server.data_dir.join("midship.db").display())
        } else {
            self.database.url.clone()
        }
    }
}

/// The commented default file printed by `midship config default`.
pub const DEFAULT_FILE: &str = r#"# Midship configuration.
# Precedence: built-in defaults < this file < environment < command-line flags.
# Every key can be set from the environment as MIDSHIP_<SECTION>__<KEY>,
# for example MIDSHIP_SERVER__LISTEN=0.0.0.0:7070 or MIDSHIP_DATABASE__URL=postgres://...

[server]
# Address and port to listen on. 0.0.0.0:7070 accepts connections from other machines.
listen = "127.0.0.1:7070"
# Where Midship keeps its embedded database, the lock file and the first admin token.
data_dir = "./midship-data"
# Largest accepted request body in bytes; larger ones get 413.
max_body_bytes = 1048576
# Seconds a client has to send a request's headers, from connecting or from the end of its
# previous response (so also how long an idle keep-alive connection stays open).
header_read_timeout_seconds = 15
# Seconds a request body may pause between chunks before the request is dropped.
body_read_timeout_seconds = 30
# Open connections (long connections included) on this node; further ones get 503 and are closed.
# Never more than the open-file limit allows, less a reserve for the database and files.
max_connections = 100000
# Open connections from one client address. Mobile carriers put many devices behind one address
# (carrier-grade NAT), so keep this well above what one office or NAT gateway needs.
max_connections_per_address = 2000
# Largest request line and headers, in bytes; larger ones get 431.
max_header_bytes = 65536
# Mark console cookies Secure. Set this when people reach Midship over HTTPS.
secure_cookies = false
# Serve HTTPS (HTTP/1.1 and HTTP/2 by ALPN) with this PEM certificate chain and private key.
# Leave both out for cleartext HTTP/1.1 and HTTP/2 (h2c), for example behind a TLS proxy.
# tls_certificate = "/etc/midship/tls/cert.pem"
# tls_private_key = "/etc/midship/tls/key.pem"

[database]
# Empty: a SQLite file in data_dir (midship.db), nothing else to install.
# For a cluster: postgres://user:password@host:5432/midship
url = ""
# Connections kept open to the database.
max_connections = 16

[admin]
# How long an app's previous signing key keeps working after a rotation, in seconds.
key_grace_seconds = 86400

[console]
# People must set up an authenticator app (TOTP) before using the console.
require_second_factor = true
# A console session unused this long is over, in minutes.
idle_timeout_minutes = 30
# A console session is over this long after sign-in, however busy, in hours.
session_hours = 12
# Failed sign-ins in a row before an account locks for a minute (doubling, up to an hour).
failures_before_lock = 5
# Single sign-on with OpenID Connect (Keycloak, ADFS, Azure AD…): uncomment and fill in, and
# register https://HOST/console/oidc/callback at the provider. A person's account is found by
# the login claim (an admin adds the person first); the first sign-in links it to the provider.
# [console.oidc]
# issuer = "https://sso.bank.example/realms/staff"
# client_id = "midship"
# Better as the environment variable MIDSHIP_CONSOLE__OIDC__CLIENT_SECRET.
# client_secret = ""
# redirect_url = "https://midship.bank.example/console/oidc/callback"
# scopes = ["profile", "email"]
# The ID token claim holding the Midship login; "email" needs email_verified.
# login_claim = "preferred_username"
# label = "Sign in with single sign-on"

[gateway]
# How far a client's Ts header may be from the server's clock, in seconds.
timestamp_window_seconds = 300
# Calls per second per API on one node, for APIs that set no limit of their own; 0 for none.
default_api_rate_limit = 0
# Calls per second of all of one app's APIs together on one node; 0 for none.
app_rate_limit = 0
# Web origins whose pages may call /mgw from a browser (CORS), such as
# ["https://h5.bank.example"]; ["*"] for any. Empty: browsers refuse cross-origin calls.
cors_origins = []

[sync]
# The device long connection (GET /ws) and data sync.
# How often devices ping, in seconds (told to them when they connect).
heartbeat_seconds = 30
# A connection with no frame for this long is closed (code 4009).
idle_timeout_seconds = 90
# The hello must arrive within this after the upgrade (code 4002).
hello_timeout_seconds = 10
# A write to a device that takes longer closes it as too slow (code 4008).
write_timeout_seconds = 10
# Connections one node accepts; more are told to come back later (code 1013).
max_connections = 200000
# Messages waiting for one device before it is closed as too slow (code 4008).
connection_queue = 256
# Unacknowledged messages per stream and connection.
window = 128
# RPCs one connection may have running at once; more are answered 1002.
max_rpcs_in_flight = 16
# How often expired messages are purged and scheduled ones released, in seconds.
maintenance_interval_seconds = 1

[delivery]
# Packages are kept by sha256 in data_dir/packages.
# Largest package upload, in MiB; larger ones get 413.
max_package_mib = 256
# Zip packages (H5, mini programs): most entries, and most bytes unpacked in MiB.
max_package_entries = 20000
max_unpacked_mib = 512
# A new version is diffed against this many earlier versions of the same package.
diff_from_versions = 5

[analytics]
# Events one device may upload per minute; more are answered 1002 until the minute ends.
device_events_per_minute = 20000
# Raw events are written as Parquet (app_id=…/day=…) under data_dir/analytics/parquet this often,
# in seconds, for DuckDB, Spark or ClickHouse; 0 turns the schedule off.
export_interval_seconds = 300
# How often alert rules (crash and ANR rates, startup p95, a gateway API's error rate or latency)
# are evaluated, in seconds. Webhooks are tried 3 times.
alert_interval_seconds = 60

[secrets]
# App signing secrets, the workspaces' server keys, envelope and package signing keys and push
# channel credentials are stored in the database sealed (AES-256-GCM) under a key-encryption key
# kept outside it. Give every node of a cluster the same key. Rotate with docs/security.md.
# The key itself, base64 of 32 bytes; best set as MIDSHIP_SECRETS__KEY (`midship secrets
# generate-key` makes one). It takes precedence over key_file.
key = ""
# A file holding the key (mode 0600). Unset: data_dir/secrets.key, created at first start; keep a
# copy apart from the database's backups, or a backup alone cannot be restored.
# key_file = "/etc/midship/secrets.key"
# Files of earlier keys, during a rotation: they open what they sealed; each start reseals with
# the current key, after which they can go.
open_only_key_files = []

[cluster]
# Several nodes on one PostgreSQL database (docs/deploy.md) pass live sync messages, presence,
# kicks, change announcements and nonces over NATS (JetStream enabled: nats-server -js).
# Empty: no bus. A node on PostgreSQL refuses to start without one unless single_node is set.
nats_url = ""
# Subjects and key-value buckets start with this, so installations can share one NATS.
subject_prefix = "midship"
# Set on a node that runs alone on PostgreSQL, so it may start without a bus.
single_node = false

[blobs]
# Where packages and patches are kept. Empty: data_dir/packages on this node's disk (one node).
# For a cluster, S3-compatible object storage (AWS S3, MinIO, SeaweedFS, Ceph):
# url = "s3://midship-packages?endpoint=http://127.0.0.1:8333&region=us-east-1"
url = ""
access_key_id = ""
# Best set as MIDSHIP_BLOBS__SECRET_ACCESS_KEY.
secret_access_key = ""
# "proxy": nodes stream packages to devices (with ranges); "redirect": devices are sent to a
# pre-signed object storage URL, valid redirect_seconds.
downloads = "proxy"
redirect_seconds = 900

[log]
# Filter in tracing's syntax, e.g. "info" or "info,midship_server=debug". RUST_LOG overrides it.
level = "info"
# "text" for people, "json" for log collectors.
format = "text"
"#;

#[cfg(test)]
#[allow(clippy::result_large_err)] // figment::Jail closures return figment::Error
mod tests {
    use super::*;

    #[test]
    fn default_file_matches_the_defaults() {
        let parsed: Config = Figment::from(Toml::string(DEFAULT_FILE)).extract().unwrap();
        assert_eq!(parsed, Config::default());
    }

    #[test]
    fn precedence_is_defaults_file_env_flags() {
        figment::Jail::expect_with(|jail| {
            jail.create_file(
                "midship.toml",
                "[server]\nlisten = \"127.0.0.1:1111\"\ndata_dir = \"/from-file\"\n[admin]\nkey_grace_seconds = 60\n",
            )?;
            jail.set_env("MIDSHIP_SERVER__LISTEN", "127.0.0.1:2222");
            jail.set_env("MIDSHIP_SERVER", "http://cli-only:1");
            jail.set_env("MIDSHIP_TOKEN", "msp_cli_only");
            let flags = FlagOverrides { data_dir: Some("/from-flag".into()), ..FlagOverrides::default() };
            let config = Config::load(Some(Path::new("midship.toml")), &flags).map_err(|error| error.to_string())?;
            assert_eq!(config.server.listen.to_string(), "127.0.0.1:2222", "env beats file");
            assert_eq!(config.server.data_dir, PathBuf::from("/from-flag"), "flag beats file");
            assert_eq!(config.admin.key_grace_seconds, 60, "file beats default");
            assert_eq!(config.log, LogSection::default());
            let flags = FlagOverrides { listen: Some("127.0.0.1:3333".parse().unwrap()), ..FlagOverrides::default() };
            let config = Config::load(Some(Path::new("midship.toml")), &flags).map_err(|error| error.to_string())?;
            assert_eq!(config.server.listen.to_string(), "127.0.0.1:3333", "flag beats env");
            Ok(())
        });
    }

    #[test]
    fn unknown_keys_and_missing_files_are_errors() {
        figment::Jail::expect_with(|jail| {
            jail.create_file("typo.toml", "[server]\nlisen = \"127.0.0.1:1\"\n")?;
            let error = Config::load(Some(Path::new("typo.toml")), &FlagOverrides::default()).unwrap_err();
            assert!(format!("{error:#}").contains("lisen"), "{error:#}");
            assert!(Config::load(Some(Path::new("absent.toml")), &FlagOverrides::default()).is_err());
            Ok(())
        });
    }

    #[test]
    fn cors_origins_are_origins_from_the_environment_too() {
        figment::Jail::expect_with(|jail| {
            jail.set_env("MIDSHIP_GATEWAY__CORS_ORIGINS", r#"["https://h5.bank.example","http://127.0.0.1:8080"]"#);
            let config = Config::load(None, &FlagOverrides::default()).map_err(|error| error.to_string())?;
            assert_eq!(config.gateway.cors_origins, ["https://h5.bank.example", "http://127.0.0.1:8080"]);
            jail.set_env("MIDSHIP_GATEWAY__CORS_ORIGINS", r#"["https://h5.bank.example/"]"#);
            let error = Config::load(None, &FlagOverrides::default()).unwrap_err();
            assert!(format!("{error:#}").contains(r#"write it as "https://h5.bank.example""#), "{error:#}");
            jail.set_env("MIDSHIP_GATEWAY__CORS_ORIGINS", r#"["*"]"#);
            assert!(Config::load(None, &FlagOverrides::default()).is_ok());
            Ok(())
        });
    }

    #[test]
    fn database_url_defaults_to_sqlite_in_the_data_dir() {
        let config = Config::default();
        assert_eq!(config.database_url(), "sqlite://./midship-data/midship.db");
        let debug = format!("{:?}", DatabaseSection { url: "postgres://u:hunter2@h/db".into(), max_connections: 1 });
        assert!(!debug.contains("hunter2"), "{debug}");
    }
}
