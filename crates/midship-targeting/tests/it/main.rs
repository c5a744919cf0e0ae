//! Integration tests of the targeting engine: GrowthBook spec conformance and properties.

mod conformance;
mod properties;
