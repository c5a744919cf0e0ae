//! The JSON document of a whole configuration: what a version stores, export writes and import reads.

use serde::{Deserialize, Serialize};

use crate::definition::{DefinitionError, SwitchDefinition, check_unique_keys};

pub const DOCUMENT_FORMAT: &str = "midship.switches.v1";

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct ConfigDocument {
    /// Always `midship.switches.v1`.
    #[serde(default = "default_format")]
    #[cfg_attr(feature = "openapi", schema(pattern = r"^midship\.switches\.v1$"))]
    pub format: String,
    /// Ordered by key.
    pub switches: Vec<SwitchDefinition>,
}

fn default_format() -> String {
    DOCUMENT_FORMAT.to_owned()
}

impl ConfigDocument {
    pub fn new(mut switches: Vec<SwitchDefinition>) -> Self {
        switches.sort_by(|left, right| left.key.cmp(&right.key));
        Self { format: default_format(), switches }
    }

    /// Checks the format marker, every switch, and that keys are unique.
    pub fn validate(&self) -> Result<(), DefinitionError> {
        if self.format != DOCUMENT_FORMAT {
            return Err(DefinitionError {
                path: "$.format".into(),
                message: format!("expected `{DOCUMENT_FORMAT}`, got `{}`", self.format),
            });
        }
        check_unique_keys(&self.switches)?;
        for (index, switch) in self.switches.iter().enumerate() {
            switch.validate().map_err(|error| DefinitionError {
                path: format!("$.switches[{index}]{}", error.path.trim_start_matches('$')),
                message: error.message,
            })?;
        }
        Ok(())
    }
}
