//! Remote configuration ("switches"): typed keys with defaults and targeted values, edited as a
//! draft, published as immutable versions (with history and rollback), and served to devices from
//! an in-memory snapshot rebuilt on publish — no database access per pull.
//!
//! Targeting is the shared engine (`midship-targeting`, GrowthBook-conformant): a switch's targeted
//! values use its rules (`midship_targeting::rules`), and switches compile into GrowthBook feature
//! definitions, which is also what GrowthBook's own SDKs read.

pub mod compile;
pub mod definition;
mod document;
pub mod encrypted_payload;
pub mod saved_groups;
pub mod secure_attributes;
mod service;
mod snapshot;

pub use definition::{DefinitionError, SwitchDefinition, TargetedValue, ValueType};
pub use document::{ConfigDocument, DOCUMENT_FORMAT};
pub use service::{
    ExportSource, ImportMode, PublicationReview, PublishedVersion, PullOutcome, SwitchError, SwitchService,
    SwitchState, SwitchStatus, VersionSummary,
};
pub use snapshot::ConfigSnapshot;

#[cfg(test)]
mod tests;
