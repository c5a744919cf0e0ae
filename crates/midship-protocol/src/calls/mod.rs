//! The bodies of the built-in services' calls (docs/protocol.md, "Built-in services"): what a
//! device sends and what it gets back, shared by the server that answers and the SDK that asks.

mod analytics;
mod config;
mod delivery;
mod device;
mod push;

pub use analytics::*;
pub use config::*;
pub use delivery::*;
pub use device::DeviceFacts;
pub use push::PushCall;
