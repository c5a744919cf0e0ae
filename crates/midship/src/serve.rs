//! `midship serve`: one node with every service.

use std::fs::{self, File, OpenOptions, TryLockError};
use std::io::Write;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{Context, bail};
use midship_control::{ControlPlane, ControlSettings, NewPerson};
use midship_core::SystemClock;
use midship_gateway::GatewaySettings;
use midship_server::storage::redact_database_url;
use midship_server::tls::{TlsListener, load_tls_config};
use midship_server::{AppState, Infrastructure, Node, ServerSettings, open_storage};
use tokio::net::TcpListener;

use crate::config::Config;

pub const ADMIN_TOKEN_FILE: &str = "admin-token";
pub const ADMIN_PASSWORD_FILE: &str = "admin-password";
const LOCK_FILE: &str = "midship.lock";

pub async fn serve(config: Config) -> anyhow::Result<()> {
    let data_dir = config.server.data_dir.clone();
    fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(&data_dir)
        .with_context(|| format!("cannot create data directory {}", data_dir.display()))?;
    let _lock = lock_data_dir(&data_dir)?;
    let open_file_limit = raise_open_file_limit();

    let database_url = config.database_url();
    check_cluster_settings(&config, &database_url)?;
    let keyring = Arc::new(crate::secrets::load_keyring(&config.secrets, &data_dir)?);
    tracing::info!(database = %redact_database_url(&database_url), data_dir = %data_dir.display(), "opening storage");
    let storage = open_storage(&database_url, config.database.max_connections, keyring)
        .await
        .with_context(|| format!("cannot open the database {}", redact_database_url(&database_url)))?;
    let sealed = storage.reseal_secrets().await.context(
        "cannot open the stored secrets: give this node the key-encryption key they were sealed with \
         (secrets.key_file, MIDSHIP_SECRETS__KEY, or secrets.open_only_key_files during a rotation)",
    )?;
    tracing::info!(sealed = sealed.current, resealed = sealed.resealed, "stored secrets sealed with the current key");

    let control_settings = ControlSettings {
        key_grace_ms: (config.admin.key_grace_seconds as i64).saturating_mul(1000),
        sign_in: config.console.sign_in_policy(),
        require_second_factor: config.console.require_second_factor,
        ..ControlSettings::default()
    };
    let control = ControlPlane::new(storage.clone(), Arc::new(SystemClock), control_settings);
    bootstrap(&control, &data_dir).await?;

    let listener = TcpListener::bind(config.server.listen)
        .await
        .with_context(|| format!("cannot listen on {}", config.server.listen))?;
    let address = listener.local_addr().context("listener has no local address")?;
    let settings = ServerSettings {
        max_body_bytes: config.server.max_body_bytes,
        connections: config.server.connection_limits(open_file_limit),
        secure_cookies: config.server.secure_cookies,
        cors_origins: config.gateway.cors_origins.clone(),
        long_connection: config.sync.long_connection(),
        delivery: midship_server::DeliveryPlacement {
            redirect_downloads_for: config.blobs.redirect_downloads_for(),
            ..config.delivery.placement(&data_dir)
        },
        analytics: config.analytics.settings(&data_dir),
        oidc: config.console.oidc.as_ref().map(|oidc| oidc.settings()),
    };
    let tls = match (&config.server.tls_certificate, &config.server.tls_private_key) {
        (Some(certificate), Some(private_key)) => Some(load_tls_config(certificate, private_key)?),
        (None, None) => None,
        _ => bail!("set both server.tls_certificate and server.tls_private_key, or neither"),
    };
    let scheme = if tls.is_some() { "https" } else { "http" };
    // Scripts and tests read this line to learn the port when listening on port 0.
    println!("midship listening on {scheme}://{address}");
    tracing::info!(%address, storage = storage.backend_name(), "midship started");
    let gateway_settings = GatewaySettings {
        timestamp_window_ms: (config.gateway.timestamp_window_seconds as i64).saturating_mul(1000),
        default_api_rate_limit: Some(config.gateway.default_api_rate_limit).filter(|limit| *limit > 0),
        app_rate_limit: Some(config.gateway.app_rate_limit).filter(|limit| *limit > 0),
        ..GatewaySettings::default()
    };
    let infrastructure = connect_infrastructure(&config, control.node_id()).await?;
    let state = AppState::with_infrastructure(control, settings, gateway_settings, infrastructure)
        .await
        .context("cannot join the cluster bus")?;
    let limits = state.settings.connections.clone();
    tracing::info!(
        max_connections = limits.max_connections,
        per_address = limits.max_connections_per_address,
        "connection limits"
    );
    // Reports are answered from memory: the node counts what was stored before serving.
    let node = Node::start(state, &config.node_settings()).await.context("cannot load the stored analytics batches")?;
    match tls {
        Some(tls_config) => {
            let listener = TlsListener::new(listener, tls_config).context("cannot start the TLS listener")?;
            node.serve(listener, shutdown_signal()).await.context("server failed")?;
        }
        None => node.serve(listener, shutdown_signal()).await.context("server failed")?,
    }
    tracing::info!("midship stopped");
    Ok(())
}

/// Two nodes on one PostgreSQL database without a bus would each deliver only to their own
/// devices, silently: a node on PostgreSQL needs one, unless it is declared alone.
fn check_cluster_settings(config: &Config, database_url: &str) -> anyhow::Result<()> {
    let shared_database = database_url.starts_with("postgres://") || database_url.starts_with("postgresql://");
    if shared_database && config.cluster.nats_url.trim().is_empty() && !config.cluster.single_node {
        bail!(
            "a node on PostgreSQL needs the cluster bus: pass --nats-url nats://host:4222 (cluster.nats_url), \
             or --single-node (cluster.single_node) if this node runs alone; see docs/deploy.md"
        );
    }
    if shared_database && !config.cluster.single_node && config.blobs.url.trim().is_empty() {
        tracing::warn!(
            "packages are kept in this node's data directory: other nodes cannot serve them; \
             set blobs.url (--blob-url s3://…) for a cluster"
        );
    }
    Ok(())
}

/// The cluster bus and the object store, when configured; a node that cannot reach them does
/// not start.
async fn connect_infrastructure(config: &Config, node_id: &str) -> anyhow::Result<Infrastructure> {
    let mut infrastructure = Infrastructure::default();
    if !config.cluster.nats_url.trim().is_empty() {
        let window = std::time::Duration::from_secs(config.gateway.timestamp_window_seconds);
        let cluster = midship_cluster::Cluster::connect(config.cluster.settings(window), node_id)
            .await
            .context("cannot join the cluster bus")?;
        tracing::info!(node_id, live_nodes = cluster.live_nodes(), "joined the cluster bus");
        infrastructure.cluster = Some(cluster);
    }
    if let Some(s3) = config.blobs.s3_settings()? {
        let bucket = s3.bucket.clone();
        let store = midship_delivery::S3BlobStore::new(s3);
        store.check().await.with_context(|| format!("cannot use the object storage bucket {bucket}"))?;
        tracing::info!(%bucket, "packages are kept in object storage");
        infrastructure.blobs = Some(Arc::new(store));
    }
    Ok(infrastructure)
}

/// Every device connection is an open file: take all the operating system allows this process
/// (the hard limit), and say what that is, since it caps the connections one node holds.
fn raise_open_file_limit() -> Option<u64> {
    match rlimit::increase_nofile_limit(u64::MAX) {
        Ok(limit) => {
            tracing::info!(open_files = limit, "open file limit");
            Some(limit)
        }
        Err(error) => {
            tracing::warn!(%error, "cannot raise the open file limit");
            None
        }
    }
}

/// Holds an exclusive lock on `DATA_DIR/midship.lock` for the life of the server, so two servers
/// never share one embedded database. The OS releases it if the process dies.
fn lock_data_dir(data_dir: &Path) -> anyhow::Result<File> {
    let path = data_dir.join(LOCK_FILE);
    let mut file = OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .with_context(|| format!("cannot open lock file {}", path.display()))?;
    match file.try_lock() {
        Ok(()) => {}
        Err(TryLockError::WouldBlock) => bail!(
            "another midship server is already running on data directory {} (it holds {}); \
             stop it first or pass a different --data-dir",
            data_dir.display(),
            path.display()
        ),
        Err(TryLockError::Error(error)) => {
            return Err(error).with_context(|| format!("cannot lock {}", path.display()));
        }
    }
    file.set_len(0).ok();
    writeln!(file, "{}", std::process::id()).ok();
    Ok(file)
}

/// On the very first start: the installation tenant and an admin token, saved to
/// `DATA_DIR/admin-token` (mode 0600) before it becomes valid, and the console's first person,
/// `admin`, whose temporary password goes to `DATA_DIR/admin-password`; only paths are printed.
async fn bootstrap(control: &ControlPlane, data_dir: &Path) -> anyhow::Result<()> {
    let token_path = data_dir.join(ADMIN_TOKEN_FILE);
    let mut written: Option<PathBuf> = None;
    let created = control
        .bootstrap(|token| {
            write_secret_file(&token_path, &token.token)?;
            written = Some(token_path.clone());
            Ok(())
        })
        .await
        .context("cannot create the first admin token")?;
    match created {
        Some(token) => {
            // Standard output ends up in journald or a container log, so the token itself stays
            // in the 0600 file.
            println!("midship: first start: created the default tenant and an admin token.");
            println!("midship: read it with: cat {}", token_path.display());
            tracing::info!(token_id = %token.token_id, path = %token_path.display(), "first admin token saved");
            let password_path = data_dir.join(ADMIN_PASSWORD_FILE);
            let admin = control.authenticate(&token.token).await.context("cannot read back the first admin token")?;
            let person = NewPerson {
                login: "admin".into(),
                display_name: "Administrator".into(),
                role: "admin".into(),
                app_ids: None,
            };
            let created =
                control.create_person(&admin, person).await.context("cannot create the first console account")?;
            write_secret_file(&password_path, &created.temporary_password)
                .with_context(|| format!("cannot write {}", password_path.display()))?;
            println!(
                "midship: sign in to the console as admin with the temporary password in {}",
                password_path.display()
            );
        }
        None => {
            // Another node sharing the database bootstrapped first; our token never became valid.
            if let Some(path) = written {
                fs::remove_file(path).ok();
            }
        }
    }
    Ok(())
}

fn write_secret_file(path: &Path, secret: &str) -> std::io::Result<()> {
    let temporary = path.with_extension("tmp");
    let mut file = OpenOptions::new().create(true).truncate(true).write(true).mode(0o600).open(&temporary)?;
    file.write_all(secret.as_bytes())?;
    file.write_all(b"\n")?;
    file.sync_all()?;
    fs::rename(&temporary, path)
}

async fn shutdown_signal() {
    let interrupt = async {
        tokio::signal::ctrl_c().await.ok();
    };
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(error) => {
                tracing::warn!(%error, "cannot listen for SIGTERM");
                std::future::pending::<()>().await;
            }
        }
    };
    tokio::select! {
        () = interrupt => tracing::info!("SIGINT received, shutting down"),
        () = terminate => tracing::info!("SIGTERM received, shutting down"),
    }
}
