//! The cluster's nonce record: a JetStream key-value bucket whose entries live as long as a
//! signed request may be replayed. Creating a key that exists fails, on every node alike, so a
//! nonce is accepted exactly once across the cluster (not "probably once": there is no window
//! between two nodes checking).

use async_nats::Client;
use async_nats::jetstream::kv::{Config, CreateErrorKind, Store};
use async_nats::jetstream::stream::StorageType;
use midship_gateway::ClusterGuards;
use sha2::{Digest, Sha256};

use crate::{Cluster, ClusterError, ClusterSettings};

/// Opens the bucket, creating it on first use. File storage: a restarted NATS still knows the
/// nonces of the last minutes.
pub(crate) async fn open_bucket(client: &Client, settings: &ClusterSettings) -> Result<Store, ClusterError> {
    let bucket = format!("{}-nonces", settings.prefix);
    let jetstream = async_nats::jetstream::new(client.clone());
    let error = |detail: String| ClusterError::KeyValue { bucket: bucket.clone(), detail };
    if let Ok(store) = jetstream.get_key_value(bucket.as_str()).await {
        return Ok(store);
    }
    jetstream
        .create_key_value(Config {
            bucket: bucket.clone(),
            description: "Midship: nonces of signed requests, kept for the replay window".into(),
            history: 1,
            max_age: settings.nonce_ttl,
            storage: StorageType::File,
            ..Config::default()
        })
        .await
        .map_err(|failure| error(failure.to_string()))
}

/// Nonces are hashed into keys: a key may only hold a few characters, a nonce any.
fn key_of(nonce: &str) -> String {
    hex::encode(&Sha256::digest(nonce.as_bytes())[..20])
}

#[async_trait::async_trait]
impl ClusterGuards for Cluster {
    fn live_nodes(&self) -> usize {
        Cluster::live_nodes(self)
    }

    async fn first_use(&self, nonce: &str) -> Result<bool, String> {
        match self.nonces.create(key_of(nonce), bytes_of_node(self)).await {
            Ok(_) => Ok(true),
            Err(error) if error.kind() == CreateErrorKind::AlreadyExists => Ok(false),
            Err(error) => Err(error.to_string()),
        }
    }
}

/// The value kept: which node saw the nonce first, for whoever inspects the bucket.
fn bytes_of_node(cluster: &Cluster) -> bytes::Bytes {
    bytes::Bytes::from(cluster.node_id.clone().into_bytes())
}
