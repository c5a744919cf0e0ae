//! The device SDK as an app holds it: one [`Midship`] object with its parts — `rpc`, `config`,
//! `sync`, `push`, `delivery` and `analytics` — over the Rust core in `midship-sdk`.
//!
//! The surface is made to be bound by UniFFI (docs/sdk.md): no generics or lifetimes, records
//! and objects only, callbacks as foreign traits ([`SyncHandler`], [`PushHandler`],
//! [`SecretStore`]), `async` methods (Kotlin `suspend`, Swift `async`, Python `async def`) that
//! run on the SDK's own Tokio runtime, and one error enum, [`MidshipError`], that carries the
//! gateway's result code. Nothing here panics into the host app: bad input, a corrupt state file
//! or a garbled answer becomes an error value.

uniffi::setup_scaffolding!();

mod analytics;
mod config;
mod delivery;
mod error;
mod midship;
mod push;
mod rpc;
mod secrets;
mod signing;
mod sync;

pub use analytics::{MidshipAnalytics, UploadReport};
pub use config::MidshipConfig;
pub use delivery::{DeliveredPackage, MidshipDelivery, PackageOfferSummary};
pub use error::MidshipError;
pub use midship::{Midship, MidshipSettings};
pub use push::{MidshipPush, PushHandler, PushNotice};
pub use rpc::{MidshipRpc, RpcAnswer};
pub use secrets::{FileSecretStore, SecretStore};
pub use signing::{CallToSign, SignedCall, sign_call};
pub use sync::{MidshipSync, SyncHandler, SyncMessage};
