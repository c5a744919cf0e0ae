//! Integration tests of the HTTP surface: a real server on port 0 over embedded storage, driven
//! by the SDK's admin client and by plain HTTP for the malformed requests the SDK cannot send.

mod admin_api;
mod analytics;
mod attestation;
mod console;
mod delivery;
mod experiments;
mod gateway;
mod gateway_policies;
mod ops;
mod push;
mod roles;
mod security;
mod switches;
mod sync;
mod tls;

use std::sync::Arc;

use midship_admin_client::AdminClient;
use midship_control::{ControlPlane, ControlSettings};
use midship_core::SystemClock;
use midship_gateway::GatewaySettings;
use midship_server::{AppState, Node, NodeSettings, ServerSettings, open_storage};
use tokio::net::TcpListener;
use tokio::sync::oneshot;

#[derive(Debug)]
pub struct TestServer {
    pub base_url: String,
    pub admin_token: String,
    pub http: reqwest::Client,
    /// The node's services, for what tests drive directly (alert evaluation, say).
    pub state: AppState,
    stop: Option<oneshot::Sender<()>>,
    _data_dir: tempfile::TempDir,
}

impl TestServer {
    pub async fn start() -> Self {
        Self::start_with(ServerSettings::default()).await
    }

    pub async fn start_with(mut settings: ServerSettings) -> Self {
        let data_dir = tempfile::tempdir().unwrap();
        settings.delivery.package_dir = data_dir.path().join("packages");
        settings.analytics.export_dir = Some(data_dir.path().join("analytics").join("parquet"));
        let url = format!("sqlite://{}", data_dir.path().join("midship.db").display());
        let storage = open_storage(&url, 4, midship_storage::sealing::SecretKeyring::ephemeral().into()).await.unwrap();
        let control = ControlPlane::new(storage, Arc::new(SystemClock), ControlSettings::default());
        let issued = control.bootstrap(|_| Ok(())).await.unwrap().expect("fresh database bootstraps");
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base_url = format!("http://{}", listener.local_addr().unwrap());
        let (stop, stopped) = oneshot::channel::<()>();
        let state = AppState::new(control, settings, GatewaySettings::default());
        // The node `midship serve` starts, with a brisker push dispatcher.
        let node_settings =
            NodeSettings { push_dispatch_interval: std::time::Duration::from_millis(200), ..NodeSettings::default() };
        let node = Node::start(state.clone(), &node_settings).await.unwrap();
        tokio::spawn(node.serve(listener, async move {
            let _ = stopped.await;
        }));
        let http = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
        Self { base_url, admin_token: issued.token, http, state, stop: Some(stop), _data_dir: data_dir }
    }

    pub fn admin(&self) -> AdminClient {
        AdminClient::new(&self.base_url, &self.admin_token).unwrap()
    }

    pub fn client_with(&self, token: &str) -> AdminClient {
        AdminClient::new(&self.base_url, token).unwrap()
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base_url)
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}
