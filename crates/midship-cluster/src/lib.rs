//! The cluster bus: how the nodes of one installation talk, over NATS.
//!
//! - **Live sync delivery** ([`SyncBus`], the cluster's `midship_sync::Bus`): a message stored
//!   through any node reaches the devices connected to every node; kicks and presence ("is this
//!   user online anywhere") are asked of every node; a user's device connecting to one node stops
//!   the others treating their devices of the user as the latest, and closes an older connection
//!   of the same device on another node.
//! - **Change announcements**: a node that changed configuration says so, and every other node
//!   drops its caches and refreshes its snapshots at once (polling stays as the safety net).
//! - **Membership**: every node says it is alive each second, so the gateway shares rate limits
//!   among the live nodes.
//! - **The nonce record** ([`nonces`]): a JetStream key-value bucket where creating a key that
//!   exists fails, so a nonce is accepted once across the cluster.
//!
//! What the bus carries is never the only copy: persistent sync messages are stored before they
//! are published, so a node that missed traffic while NATS was away reads storage again
//! ([`midship_sync::Hub::catch_up_all`]) when the bus comes back.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use async_nats::Client;
use futures_util::StreamExt;
use serde::{Deserialize, Serialize};
use tokio::sync::watch;
use tokio::task::JoinHandle;

mod nonces;
mod sync_bus;

pub use sync_bus::SyncBus;

/// How to reach the bus.
#[derive(Debug, Clone)]
pub struct ClusterSettings {
    /// One or more `nats://host:port` addresses, comma-separated.
    pub nats_url: String,
    /// Subjects and bucket names start with this, so installations can share one NATS.
    pub prefix: String,
    /// How long a question to the other nodes (presence, kicks) waits for their answers.
    pub answer_timeout: Duration,
    /// How long a nonce is remembered: at least the gateway's timestamp window on both sides.
    pub nonce_ttl: Duration,
}

impl Default for ClusterSettings {
    fn default() -> Self {
        Self {
            nats_url: String::new(),
            prefix: "midship".into(),
            answer_timeout: Duration::from_millis(500),
            nonce_ttl: Duration::from_secs(600),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ClusterError {
    #[error("cannot connect to NATS at {url}: {detail}")]
    Connect { url: String, detail: String },
    #[error("cannot open the key-value bucket {bucket} (is JetStream enabled on nats-server, -js?): {detail}")]
    KeyValue { bucket: String, detail: String },
    #[error("cannot subscribe to {subject}: {detail}")]
    Subscribe { subject: String, detail: String },
}

/// Every this often a node says it is alive.
const HEARTBEAT: Duration = Duration::from_secs(1);
/// A node not heard of for this long is taken for gone.
const MEMBER_TIMEOUT: Duration = Duration::from_secs(4);

/// A node's link to the bus. Dropping it does not stop its tasks: call [`Cluster::close`].
#[derive(Debug)]
pub struct Cluster {
    client: Client,
    node_id: String,
    settings: ClusterSettings,
    members: Members,
    nonces: async_nats::jetstream::kv::Store,
    /// Counts the times the connection came back after a loss: traffic may have been missed.
    reconnects: watch::Sender<u64>,
    tasks: Mutex<Vec<JoinHandle<()>>>,
}

/// The other nodes heard of lately.
#[derive(Debug, Default)]
struct Members {
    last_heard: Mutex<HashMap<String, Instant>>,
}

impl Members {
    fn heard(&self, node_id: String) {
        self.last_heard.lock().expect("members lock").insert(node_id, Instant::now());
    }

    fn left(&self, node_id: &str) {
        self.last_heard.lock().expect("members lock").remove(node_id);
    }

    /// Other nodes alive now.
    fn others(&self) -> usize {
        let mut last_heard = self.last_heard.lock().expect("members lock");
        last_heard.retain(|_, heard| heard.elapsed() < MEMBER_TIMEOUT);
        last_heard.len()
    }
}

/// The NATS addresses without user names and passwords, for errors and logs.
fn redact_credentials(urls: &str) -> String {
    urls.split(',')
        .map(|url| match (url.find("://"), url.rfind('@')) {
            (Some(scheme_end), Some(at)) if at > scheme_end => format!("{}****{}", &url[..scheme_end + 3], &url[at..]),
            _ => url.to_owned(),
        })
        .collect::<Vec<_>>()
        .join(",")
}

/// What every frame on the bus says first: which node sent it, so a node skips its own.
#[derive(Debug, Serialize, Deserialize)]
struct Origin {
    origin: String,
}

impl Cluster {
    /// Connects to NATS and opens the nonce bucket. Fails when NATS cannot be reached at start
    /// (a node that starts without its bus would silently lose live delivery); once started, a
    /// lost connection is retried for ever.
    pub async fn connect(settings: ClusterSettings, node_id: &str) -> Result<Arc<Self>, ClusterError> {
        let reconnects = watch::Sender::new(0u64);
        let on_event = reconnects.clone();
        let lost = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let options = async_nats::ConnectOptions::new()
            .name(format!("midship node {node_id}"))
            .connection_timeout(Duration::from_secs(5))
            .max_reconnects(None)
            .event_callback(move |event| {
                let on_event = on_event.clone();
                let lost = lost.clone();
                async move {
                    match event {
                        async_nats::Event::Disconnected => {
                            lost.store(true, std::sync::atomic::Ordering::SeqCst);
                            tracing::warn!("lost the connection to NATS; reconnecting");
                        }
                        async_nats::Event::Connected => {
                            if lost.swap(false, std::sync::atomic::Ordering::SeqCst) {
                                tracing::info!("reconnected to NATS");
                                on_event.send_modify(|count| *count += 1);
                            }
                        }
                        other => tracing::debug!(event = %other, "NATS event"),
                    }
                }
            });
        let client = options.connect(settings.nats_url.as_str()).await.map_err(|error| ClusterError::Connect {
            url: redact_credentials(&settings.nats_url),
            detail: error.to_string(),
        })?;
        let nonces = nonces::open_bucket(&client, &settings).await?;
        let cluster = Arc::new(Self {
            client,
            node_id: node_id.to_owned(),
            settings,
            members: Members::default(),
            nonces,
            reconnects,
            tasks: Mutex::default(),
        });
        cluster.start_membership().await?;
        Ok(cluster)
    }

    pub fn node_id(&self) -> &str {
        &self.node_id
    }

    /// Nodes alive now, this one included.
    pub fn live_nodes(&self) -> usize {
        self.members.others() + 1
    }

    fn subject(&self, name: &str) -> String {
        format!("{}.{name}", self.settings.prefix)
    }

    fn origin(&self) -> Origin {
        Origin { origin: self.node_id.clone() }
    }

    /// Tells every other node that this one changed configuration (switches, releases, routes,
    /// keys, tokens, bizTypes, symbol files).
    pub async fn announce_change(&self) {
        self.publish("changed", &self.origin()).await;
    }

    /// Runs `on_change` whenever another node announces a change, and when this node or another
    /// gets the bus back after a loss (announcements may have been missed).
    pub async fn on_change(self: &Arc<Self>, on_change: impl Fn() + Send + Sync + 'static) -> Result<(), ClusterError> {
        let on_change = Arc::new(on_change);
        let from_others = on_change.clone();
        self.subscribe_frames("changed", move |_: Origin| from_others()).await?;
        let after_their_loss = on_change.clone();
        self.subscribe_frames("catch-up", move |_: Origin| after_their_loss()).await?;
        let cluster = self.clone();
        let mut reconnects = self.reconnects.subscribe();
        self.spawn(async move {
            while reconnects.changed().await.is_ok() {
                on_change();
                // The others read storage again too: what this node published may be lost.
                cluster.publish("catch-up", &cluster.origin()).await;
            }
        });
        Ok(())
    }

    /// Waits until the bus comes back after a loss.
    pub(crate) fn reconnects(&self) -> watch::Receiver<u64> {
        self.reconnects.subscribe()
    }

    /// Publishes a frame; a failure is logged, since what the bus carries is also in storage.
    async fn publish<T: Serialize>(&self, name: &str, frame: &T) {
        let payload = serde_json::to_vec(frame).expect("bus frames serialize");
        if let Err(error) = self.client.publish(self.subject(name), payload.into()).await {
            tracing::warn!(%error, subject = name, "cannot publish on the cluster bus");
        }
    }

    /// Calls `handle` with every frame published on `name` by other nodes, in order.
    async fn subscribe_frames<T, F>(&self, name: &str, handle: F) -> Result<(), ClusterError>
    where
        T: for<'de> Deserialize<'de> + Send + 'static,
        F: Fn(T) + Send + Sync + 'static,
    {
        let subject = self.subject(name);
        self.on_messages_of_other_nodes(name, move |message| {
            match serde_json::from_slice::<T>(&message.payload) {
                Ok(frame) => handle(frame),
                Err(error) => tracing::warn!(%error, %subject, "unreadable frame on the cluster bus"),
            }
            std::future::ready(())
        })
        .await
    }

    /// Answers questions other nodes ask on `name` (presence, kicks) with `answer`.
    async fn answer<T, F>(&self, name: &str, answer: F) -> Result<(), ClusterError>
    where
        T: for<'de> Deserialize<'de> + Send + 'static,
        F: Fn(T) -> bool + Send + Sync + 'static,
    {
        let client = self.client.clone();
        self.on_messages_of_other_nodes(name, move |message| {
            let yes = serde_json::from_slice::<T>(&message.payload).is_ok_and(&answer);
            let client = client.clone();
            async move {
                let Some(reply) = message.reply else { return };
                if let Err(error) = client.publish(reply, if yes { "1" } else { "0" }.into()).await {
                    tracing::debug!(%error, "cannot answer a node's question");
                }
            }
        })
        .await
    }

    /// Runs `handle` on every message on `name` sent by another node, one at a time, in order.
    async fn on_messages_of_other_nodes<F, Fut>(&self, name: &str, handle: F) -> Result<(), ClusterError>
    where
        F: Fn(async_nats::Message) -> Fut + Send + 'static,
        Fut: std::future::Future<Output = ()> + Send,
    {
        let subject = self.subject(name);
        let mut subscriber = self
            .client
            .subscribe(subject.clone())
            .await
            .map_err(|error| ClusterError::Subscribe { subject, detail: error.to_string() })?;
        let node_id = self.node_id.clone();
        self.spawn(async move {
            while let Some(message) = subscriber.next().await {
                let own = serde_json::from_slice::<Origin>(&message.payload).is_ok_and(|frame| frame.origin == node_id);
                if !own {
                    handle(message).await;
                }
            }
        });
        Ok(())
    }

    /// Asks every other node; `true` as soon as one answers yes, `false` once all said no or
    /// the answer timeout passed.
    async fn ask_others<T: Serialize>(&self, name: &str, question: &T) -> bool {
        let expected = self.members.others();
        if expected == 0 {
            return false;
        }
        let inbox = self.client.new_inbox();
        let Ok(mut answers) = self.client.subscribe(inbox.clone()).await else { return false };
        let payload = serde_json::to_vec(question).expect("bus frames serialize");
        if self.client.publish_with_reply(self.subject(name), inbox, payload.into()).await.is_err() {
            return false;
        }
        let deadline = tokio::time::sleep(self.settings.answer_timeout);
        tokio::pin!(deadline);
        let mut answered = 0;
        loop {
            tokio::select! {
                answer = answers.next() => match answer {
                    Some(answer) if answer.payload.as_ref() == b"1" => return true,
                    Some(_) => {
                        answered += 1;
                        if answered >= expected {
                            return false;
                        }
                    }
                    None => return false,
                },
                () = &mut deadline => return false,
            }
        }
    }

    async fn start_membership(self: &Arc<Self>) -> Result<(), ClusterError> {
        let members = self.clone();
        self.subscribe_frames("node.alive", move |frame: Origin| members.members.heard(frame.origin)).await?;
        let members = self.clone();
        self.subscribe_frames("node.leaving", move |frame: Origin| members.members.left(&frame.origin)).await?;
        let cluster = self.clone();
        self.spawn(async move {
            let mut ticker = tokio::time::interval(HEARTBEAT);
            loop {
                ticker.tick().await;
                cluster.publish("node.alive", &cluster.origin()).await;
            }
        });
        Ok(())
    }

    fn spawn(&self, task: impl std::future::Future<Output = ()> + Send + 'static) {
        self.tasks.lock().expect("tasks lock").push(tokio::spawn(task));
    }

    /// Says this node is leaving, sends what is buffered and stops listening.
    pub async fn close(&self) {
        self.publish("node.leaving", &self.origin()).await;
        if let Err(error) = self.client.flush().await {
            tracing::debug!(%error, "cannot flush the bus connection");
        }
        for task in self.tasks.lock().expect("tasks lock").drain(..) {
            task.abort();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn credentials_in_nats_urls_stay_out_of_errors() {
        assert_eq!(
            redact_credentials("nats://bus:hunter2@nats-1:4222,nats://nats-2:4222"),
            "nats://****@nats-1:4222,nats://nats-2:4222"
        );
    }

    #[test]
    fn members_not_heard_lately_are_gone() {
        let members = Members::default();
        members.heard("a".into());
        members.heard("b".into());
        assert_eq!(members.others(), 2);
        members.left("a");
        assert_eq!(members.others(), 1);
        members.last_heard.lock().unwrap().insert("b".into(), Instant::now() - MEMBER_TIMEOUT);
        assert_eq!(members.others(), 0, "a node silent for the timeout is taken for gone");
    }
}
