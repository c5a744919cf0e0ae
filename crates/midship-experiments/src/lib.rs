//! A/B experiments (issue 20). A laboratory owns a traffic layer: its experiments take disjoint
//! slices of it (GrowthBook namespaces), while laboratories overlap. An experiment's variations
//! are sets of switch values (`definition`); devices are assigned by the targeting engine's
//! hashing and keep their assignment (`snapshot`); metrics are counted on analytics data from
//! each unit's first exposure (`metric`) and compared by `midship-stats` (`results`). The service
//! (`service`) keeps the phases and their rules. No HTTP.

pub mod definition;
pub mod metric;
pub mod results;
mod service;
pub mod snapshot;

pub use definition::{AssignmentUnit, DefinitionError, ExperimentDefinition, Phase, Variation};
pub use service::{ConfigPull, Experiment, ExperimentError, ExperimentService};
pub use snapshot::{Assignment, ExperimentSnapshot, StickyAssignment};
