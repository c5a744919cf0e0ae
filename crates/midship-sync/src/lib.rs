//! Data sync (MSS): each bizType (`CHAT-MSG`) has a configuration — targeted or global, to users or
//! devices, every device or only the latest, persistent or not, retention, re-push of backlogs —
//! and every (bizType, target) is a stream with a gap-free sequence. Backends send through
//! [`SyncService`]; persistent messages are durable before the send is acknowledged.
//!
//! Devices receive their streams over the long connection: the server's WebSocket task opens a
//! [`DeviceSession`] per connection and writes what it returns. The [`Hub`] knows who is online
//! on this node; messages reach hubs through a [`Bus`] (in-process here, across nodes later).
//! No HTTP in this crate.

mod config;
pub mod hub;
mod message;
mod service;
mod session;
mod writer;

pub use config::{Delivery, Repush, Scope, SyncConfig, SyncConfigError, TargetKindName};
pub use hub::{Bus, Hub, Kick, LocalBus};
pub use message::{SyncMessage, VersionRange};
pub use service::{
    DELIVERY_BIZ_TYPE, DIAGNOSIS_DEVICE_BIZ_TYPE, DIAGNOSIS_USER_BIZ_TYPE, MAX_BATCH_MESSAGES, MAX_PAYLOAD_CHARS,
    Maintenance, PUSH_BIZ_TYPE, SendOutcome, SendRequest, SendResult, StreamStatus, SyncError, SyncService,
    SyncSettings,
};
pub use session::{DeviceIdentity, DeviceSession, SessionError, SessionEvent};

#[cfg(test)]
mod tests;
