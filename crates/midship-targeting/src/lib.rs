//! Midship's targeting engine: who gets which value. Release rules (staged rollouts to a share
//! of users or to app versions), switches (remote configuration), experiments (A/B tests with
//! deterministic bucketing) and campaign audiences all decide with this one engine, so a user
//! targeted in one place is targeted the same way everywhere.
//!
//! It implements the GrowthBook SDK specification (conformance-tested against the spec's
//! cases), so definitions and results are GrowthBook's JSON and the device SDKs bucket users
//! exactly as the server does:
//!
//! - [`condition`]: compiled attribute conditions (`$in`, `$regex`, `$vgte`, …) and the saved
//!   groups `$inGroup` reads ([`SavedGroups`]);
//! - [`hash`]: the hashing and bucket ranges behind rollouts and experiments;
//! - [`feature`]: feature definitions, their rules, experiments and evaluation;
//! - [`query_string`]: forcing an experiment variation from a URL;
//! - [`rules`]: mPaaS-style audiences (whitelists, cities, models, networks, version ranges,
//!   percentages) written as one condition, and [`DeviceContext`], the attributes they read.
//!
//! Pure code: no I/O, no clock, no randomness. Compile definitions once
//! ([`feature::CompiledFeatures`], [`condition::Condition`]) and evaluate them for many users.

pub mod condition;
mod device;
pub mod feature;
pub mod hash;
mod js;
pub mod query_string;
pub mod rules;

pub use condition::{Condition, ConditionError, SavedGroups, eval_condition, eval_condition_with};
pub use device::DeviceContext;
pub use feature::{
    CompiledFeatures, Context, Experiment, ExperimentResult, FeatureDefinition, FeatureResult, FeatureRule,
    FeatureSource, UserContext, evaluate_feature, run_experiment,
};
