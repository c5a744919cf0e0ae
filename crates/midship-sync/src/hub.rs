//! The connection hub: which devices and users are online on this node, and the routing of
//! messages to their connections. Messages reach hubs through a [`Bus`]; [`LocalBus`] is the
//! single-node bus, and a cluster bus delivers the same events to every node's hub.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU8, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, RwLock};

use async_trait::async_trait;
use midship_storage::SyncTargetKind;
use tokio::sync::{Notify, mpsc};

use crate::message::SyncMessage;

/// Hands messages to the hubs of every node, and answers who is online anywhere.
#[async_trait]
pub trait Bus: Send + Sync + std::fmt::Debug {
    /// Delivers to every node's hub, this one included. Never blocks on slow devices.
    async fn publish(&self, message: Arc<SyncMessage>);
    /// Whether the target has a connection on any node.
    async fn is_online(&self, workspace_id: &str, kind: SyncTargetKind, target_id: &str) -> bool;
    /// Closes the device's connection on whichever node holds it; whether one was found.
    async fn kick_device(&self, workspace_id: &str, device_id: &str, reason: Kick) -> bool;
    /// `device_id` (signed in as `user_id`) connected to this node: every other node closes an
    /// older connection of the device, and the user's devices there are no longer the latest
    /// (bizTypes that deliver to the latest device only).
    fn device_connected(&self, _member: Member<'_>) {}
}

/// The bus of a single node: this node's hub is every hub there is.
#[derive(Debug)]
pub struct LocalBus {
    hub: Arc<Hub>,
}

impl LocalBus {
    pub fn new(hub: Arc<Hub>) -> Self {
        Self { hub }
    }
}

#[async_trait]
impl Bus for LocalBus {
    async fn publish(&self, message: Arc<SyncMessage>) {
        self.hub.dispatch(&message);
    }

    async fn is_online(&self, workspace_id: &str, kind: SyncTargetKind, target_id: &str) -> bool {
        self.hub.is_online(workspace_id, kind, target_id)
    }

    async fn kick_device(&self, workspace_id: &str, device_id: &str, reason: Kick) -> bool {
        self.hub.kick_device(workspace_id, device_id, reason)
    }
}

/// Why the hub ends a connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kick {
    /// Its queue was full: the device reads too slowly.
    Overflow = 1,
    /// The same device connected again.
    Replaced = 2,
    /// The node is shutting down.
    Shutdown = 3,
    /// The device's credential was revoked.
    Revoked = 4,
}

impl Kick {
    /// The reason as one byte, for signals and the cluster bus.
    pub fn code(self) -> u8 {
        self as u8
    }

    pub fn from_code(code: u8) -> Option<Self> {
        match code {
            1 => Some(Kick::Overflow),
            2 => Some(Kick::Replaced),
            3 => Some(Kick::Shutdown),
            4 => Some(Kick::Revoked),
            _ => None,
        }
    }
}

/// Set by the hub, awaited by the connection's task.
#[derive(Debug, Default)]
pub struct KickSignal {
    reason: AtomicU8,
    notify: Notify,
}

impl KickSignal {
    fn kick(&self, reason: Kick) {
        // The first reason sticks.
        if self.reason.compare_exchange(0, reason.code(), Ordering::AcqRel, Ordering::Acquire).is_ok() {
            self.notify.notify_one();
        }
    }

    /// Waits until the connection is kicked. Cancel-safe.
    pub async fn kicked(&self) -> Kick {
        loop {
            if let Some(reason) = self.reason() {
                return reason;
            }
            self.notify.notified().await;
        }
    }

    pub fn reason(&self) -> Option<Kick> {
        Kick::from_code(self.reason.load(Ordering::Acquire))
    }
}

#[derive(Debug)]
struct Entry {
    connection_id: u64,
    /// When the device connected (the node's clock), to tell an older connection from a newer one.
    connected_at: i64,
    user_id: Option<String>,
    sender: mpsc::Sender<Arc<SyncMessage>>,
    signal: Arc<KickSignal>,
    catch_up: Arc<Notify>,
}

impl Entry {
    fn offer(&self, message: &Arc<SyncMessage>) -> bool {
        match self.sender.try_send(message.clone()) {
            Ok(()) => true,
            Err(mpsc::error::TrySendError::Full(_)) => {
                self.signal.kick(Kick::Overflow);
                false
            }
            Err(mpsc::error::TrySendError::Closed(_)) => false,
        }
    }
}

#[derive(Debug, Default)]
struct WorkspaceConnections {
    by_device: HashMap<String, Entry>,
    by_user: HashMap<String, UserDevices>,
}

/// A user's devices on this node.
#[derive(Debug, Default)]
struct UserDevices {
    /// Oldest connection first, so the last is the latest device.
    devices: Vec<String>,
    /// A device of the user connected to another node since: none here is the latest.
    latest_elsewhere: bool,
}

impl UserDevices {
    fn latest(&self) -> Option<&String> {
        if self.latest_elsewhere { None } else { self.devices.last() }
    }
}

/// What a device gets when it joins the hub.
#[derive(Debug)]
pub struct Registration {
    pub connection_id: u64,
    pub messages: mpsc::Receiver<Arc<SyncMessage>>,
    pub signal: Arc<KickSignal>,
    /// Notified when live messages may have been missed (the bus was down): read storage again.
    pub catch_up: Arc<Notify>,
}

#[derive(Debug)]
pub struct Hub {
    workspaces: RwLock<HashMap<String, WorkspaceConnections>>,
    next_connection_id: AtomicU64,
    connections: AtomicUsize,
    queue_capacity: usize,
}

/// Who joins: the device, and the user it is signed in as.
#[derive(Debug, Clone, Copy)]
pub struct Member<'a> {
    pub workspace_id: &'a str,
    pub device_id: &'a str,
    pub user_id: Option<&'a str>,
    /// When it connected, in milliseconds since the epoch.
    pub connected_at: i64,
}

/// How much older than a connection made on another node a connection here must be to be taken
/// for the device's stale one and closed: nodes' clocks differ by a little, and a device that
/// moved back within that time keeps its new connection here.
const CROSS_NODE_REPLACE_MARGIN_MS: i64 = 1000;

impl Hub {
    /// `queue_capacity`: messages waiting for one connection before it counts as too slow.
    pub fn new(queue_capacity: usize) -> Self {
        Self {
            workspaces: RwLock::default(),
            next_connection_id: AtomicU64::new(1),
            connections: AtomicUsize::new(0),
            queue_capacity,
        }
    }

    /// Adds a connection, replacing (and kicking) an older one of the same device.
    pub fn register(&self, member: Member<'_>) -> Registration {
        let connection_id = self.next_connection_id.fetch_add(1, Ordering::Relaxed);
        let (sender, messages) = mpsc::channel(self.queue_capacity);
        let signal = Arc::new(KickSignal::default());
        let catch_up = Arc::new(Notify::new());
        let entry = Entry {
            connection_id,
            connected_at: member.connected_at,
            user_id: member.user_id.map(str::to_owned),
            sender,
            signal: signal.clone(),
            catch_up: catch_up.clone(),
        };
        let mut workspaces = self.workspaces.write().unwrap_or_else(|poisoned| poisoned.into_inner());
        let workspace = workspaces.entry(member.workspace_id.to_owned()).or_default();
        match workspace.by_device.insert(member.device_id.to_owned(), entry) {
            Some(replaced) => {
                replaced.signal.kick(Kick::Replaced);
                remove_user_device(workspace, replaced.user_id.as_deref(), member.device_id);
            }
            None => {
                self.connections.fetch_add(1, Ordering::Relaxed);
            }
        }
        if let Some(user_id) = member.user_id {
            let user = workspace.by_user.entry(user_id.to_owned()).or_default();
            user.devices.push(member.device_id.to_owned());
            user.latest_elsewhere = false;
        }
        Registration { connection_id, messages, signal, catch_up }
    }

    /// Removes a connection, unless a newer one of the device replaced it already.
    pub fn unregister(&self, workspace_id: &str, device_id: &str, connection_id: u64) {
        let mut workspaces = self.workspaces.write().unwrap_or_else(|poisoned| poisoned.into_inner());
        let Some(workspace) = workspaces.get_mut(workspace_id) else { return };
        if workspace.by_device.get(device_id).is_none_or(|entry| entry.connection_id != connection_id) {
            return;
        }
        if let Some(entry) = workspace.by_device.remove(device_id) {
            remove_user_device(workspace, entry.user_id.as_deref(), device_id);
            self.connections.fetch_sub(1, Ordering::Relaxed);
        }
        if workspace.by_device.is_empty() {
            workspaces.remove(workspace_id);
        }
    }

    /// Hands the message to the connections it is for; returns how many took it.
    pub fn dispatch(&self, message: &Arc<SyncMessage>) -> usize {
        let workspaces = self.workspaces.read().unwrap_or_else(|poisoned| poisoned.into_inner());
        let Some(workspace) = workspaces.get(&message.stream.workspace_id) else { return 0 };
        let target = message.stream.target_id.as_str();
        let offer = |device_id: &String| workspace.by_device.get(device_id).is_some_and(|entry| entry.offer(message));
        match message.stream.target_kind {
            SyncTargetKind::Device => {
                usize::from(workspace.by_device.get(target).is_some_and(|entry| entry.offer(message)))
            }
            SyncTargetKind::User => match workspace.by_user.get(target) {
                None => 0,
                Some(user) if message.latest_device_only => usize::from(user.latest().is_some_and(offer)),
                Some(user) => user.devices.iter().filter(|device_id| offer(device_id)).count(),
            },
            SyncTargetKind::Global => workspace.by_device.values().filter(|entry| entry.offer(message)).count(),
        }
    }

    pub fn is_online(&self, workspace_id: &str, kind: SyncTargetKind, target_id: &str) -> bool {
        let workspaces = self.workspaces.read().unwrap_or_else(|poisoned| poisoned.into_inner());
        let Some(workspace) = workspaces.get(workspace_id) else { return false };
        match kind {
            SyncTargetKind::Device => workspace.by_device.contains_key(target_id),
            SyncTargetKind::User => workspace.by_user.contains_key(target_id),
            SyncTargetKind::Global => !workspace.by_device.is_empty(),
        }
    }

    /// Whether `device_id` is the user's most recently connected device on this node.
    pub fn is_latest_device(&self, workspace_id: &str, user_id: &str, device_id: &str) -> bool {
        let workspaces = self.workspaces.read().unwrap_or_else(|poisoned| poisoned.into_inner());
        workspaces
            .get(workspace_id)
            .and_then(|workspace| workspace.by_user.get(user_id))
            .and_then(UserDevices::latest)
            .is_some_and(|latest| latest == device_id)
    }

    /// The device connected to another node: a clearly older connection of it here is replaced,
    /// and none of its user's devices here is the latest any more.
    pub fn connected_elsewhere(&self, member: Member<'_>) {
        let mut workspaces = self.workspaces.write().unwrap_or_else(|poisoned| poisoned.into_inner());
        let Some(workspace) = workspaces.get_mut(member.workspace_id) else { return };
        if let Some(entry) = workspace.by_device.get(member.device_id)
            && entry.connected_at + CROSS_NODE_REPLACE_MARGIN_MS <= member.connected_at
        {
            entry.signal.kick(Kick::Replaced);
        }
        if let Some(user) = member.user_id.and_then(|user_id| workspace.by_user.get_mut(user_id)) {
            user.latest_elsewhere = true;
        }
    }

    /// Asks every connection to read its streams from storage again: live messages may have been
    /// lost on the way (the cluster bus was down).
    pub fn catch_up_all(&self) {
        let workspaces = self.workspaces.read().unwrap_or_else(|poisoned| poisoned.into_inner());
        for entry in workspaces.values().flat_map(|workspace| workspace.by_device.values()) {
            entry.catch_up.notify_one();
        }
    }

    pub fn connection_count(&self) -> usize {
        self.connections.load(Ordering::Relaxed)
    }

    /// Closes the device's connection on this node, if it has one (its credential was revoked).
    pub fn kick_device(&self, workspace_id: &str, device_id: &str, reason: Kick) -> bool {
        let workspaces = self.workspaces.read().unwrap_or_else(|poisoned| poisoned.into_inner());
        let entry = workspaces.get(workspace_id).and_then(|workspace| workspace.by_device.get(device_id));
        entry.map(|entry| entry.signal.kick(reason)).is_some()
    }

    /// Asks every connection to close (the node is stopping).
    pub fn kick_all(&self) {
        let workspaces = self.workspaces.read().unwrap_or_else(|poisoned| poisoned.into_inner());
        for entry in workspaces.values().flat_map(|workspace| workspace.by_device.values()) {
            entry.signal.kick(Kick::Shutdown);
        }
    }
}

fn remove_user_device(workspace: &mut WorkspaceConnections, user_id: Option<&str>, device_id: &str) {
    let Some(user_id) = user_id else { return };
    if let Some(user) = workspace.by_user.get_mut(user_id) {
        user.devices.retain(|candidate| candidate != device_id);
        if user.devices.is_empty() {
            workspace.by_user.remove(user_id);
        }
    }
}

#[cfg(test)]
mod tests {
    use midship_storage::{SyncMessageRecord, SyncStream};

    use super::*;

    fn message(kind: SyncTargetKind, target: &str, latest_device_only: bool) -> Arc<SyncMessage> {
        let stream =
            SyncStream { workspace_id: "WS".into(), biz_type: "B".into(), target_kind: kind, target_id: target.into() };
        let record = SyncMessageRecord {
            seq: 1,
            third_msg_id: "m".into(),
            payload: "p".into(),
            created_at: 0,
            expires_at: i64::MAX,
            filter: None,
        };
        Arc::new(SyncMessage::new(stream, record, latest_device_only))
    }

    fn join(hub: &Hub, device_id: &str, user_id: Option<&str>) -> Registration {
        hub.register(Member { workspace_id: "WS", device_id, user_id, connected_at: 0 })
    }

    #[test]
    fn routes_by_device_user_latest_device_and_workspace() {
        let hub = Hub::new(8);
        let _phone = join(&hub, "PHONE", Some("alice"));
        let _tablet = join(&hub, "TABLET", Some("alice"));
        let _other = join(&hub, "OTHER", None);
        assert_eq!(hub.connection_count(), 3);
        assert_eq!(hub.dispatch(&message(SyncTargetKind::Device, "PHONE", false)), 1);
        assert_eq!(hub.dispatch(&message(SyncTargetKind::User, "alice", false)), 2);
        assert_eq!(hub.dispatch(&message(SyncTargetKind::User, "alice", true)), 1);
        assert!(hub.is_latest_device("WS", "alice", "TABLET"));
        assert_eq!(hub.dispatch(&message(SyncTargetKind::Global, "", false)), 3);
        assert_eq!(hub.dispatch(&message(SyncTargetKind::User, "bob", false)), 0);
        assert!(hub.is_online("WS", SyncTargetKind::User, "alice"));
        assert!(!hub.is_online("WS", SyncTargetKind::Device, "NONE"));
    }

    #[test]
    fn a_device_connecting_elsewhere_replaces_its_connection_here_and_takes_latest_device_delivery_away() {
        let hub = Hub::new(8);
        let phone = join(&hub, "PHONE", Some("alice"));
        let watch = join(&hub, "WATCH", Some("alice"));
        let elsewhere =
            |device_id, connected_at| Member { workspace_id: "WS", device_id, user_id: Some("alice"), connected_at };
        hub.connected_elsewhere(elsewhere("LAPTOP", 5_000));
        assert_eq!(hub.dispatch(&message(SyncTargetKind::User, "alice", true)), 0, "the latest device is elsewhere");
        assert_eq!(
            hub.dispatch(&message(SyncTargetKind::User, "alice", false)),
            2,
            "every-device bizTypes still reach them"
        );
        assert!(!hub.is_latest_device("WS", "alice", "WATCH"));
        assert_eq!(phone.signal.reason(), None);
        hub.connected_elsewhere(elsewhere("WATCH", 999));
        assert_eq!(watch.signal.reason(), None, "within the clock margin: maybe the newer one, kept");
        hub.connected_elsewhere(elsewhere("WATCH", 1_000));
        assert_eq!(watch.signal.reason(), Some(Kick::Replaced), "the device's older connection here is closed");
        let _tablet = join(&hub, "TABLET", Some("alice"));
        assert!(hub.is_latest_device("WS", "alice", "TABLET"), "a newer connection here is the latest again");
        hub.catch_up_all();
        tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(phone.catch_up.notified());
    }

    #[test]
    fn a_new_connection_replaces_the_old_one_of_the_same_device() {
        let hub = Hub::new(8);
        let first = join(&hub, "PHONE", Some("alice"));
        let second = join(&hub, "PHONE", Some("alice"));
        assert_eq!(first.signal.reason(), Some(Kick::Replaced));
        assert_eq!(hub.connection_count(), 1);
        hub.unregister("WS", "PHONE", first.connection_id);
        assert!(hub.is_online("WS", SyncTargetKind::User, "alice"), "the old connection leaving keeps the new one");
        hub.unregister("WS", "PHONE", second.connection_id);
        assert!(!hub.is_online("WS", SyncTargetKind::User, "alice"));
        assert_eq!(hub.connection_count(), 0);
    }

    #[test]
    fn a_full_queue_kicks_the_slow_connection() {
        let hub = Hub::new(2);
        let slow = join(&hub, "SLOW", None);
        for _ in 0..2 {
            assert_eq!(hub.dispatch(&message(SyncTargetKind::Device, "SLOW", false)), 1);
        }
        assert_eq!(hub.dispatch(&message(SyncTargetKind::Device, "SLOW", false)), 0);
        assert_eq!(slow.signal.reason(), Some(Kick::Overflow));
        hub.kick_all();
        assert_eq!(slow.signal.reason(), Some(Kick::Overflow), "the first reason sticks");
    }
}
