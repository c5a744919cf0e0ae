//! A published configuration compiled for evaluation, and the device context it is evaluated for.

use std::collections::{BTreeMap, HashMap};

use midship_targeting::DeviceContext;
use midship_targeting::feature::{CompiledFeatures, FeatureDefinition, UserContext};
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};

use crate::compile::compile_document;
use crate::definition::DefinitionError;
use crate::document::ConfigDocument;

/// One workspace's published configuration, ready to evaluate.
#[derive(Debug)]
pub struct ConfigSnapshot {
    pub workspace_id: String,
    pub app_id: String,
    /// 0 while nothing has been published.
    pub version: i64,
    pub published_at: Option<i64>,
    /// GrowthBook feature definitions, keyed by switch key.
    pub features: Map<String, Value>,
    /// Switches limited to some platforms, with those platforms.
    platform_limits: HashMap<String, Vec<String>>,
    compiled: CompiledFeatures,
}

impl ConfigSnapshot {
    pub fn build(
        workspace_id: &str,
        app_id: &str,
        version: i64,
        published_at: Option<i64>,
        document: &ConfigDocument,
    ) -> Result<Self, DefinitionError> {
        let features = compile_document(&document.switches)?;
        let definitions: HashMap<String, FeatureDefinition> = features
            .iter()
            .map(|(key, feature)| {
                let definition = serde_json::from_value(feature.clone()).map_err(|error| DefinitionError {
                    path: format!("$.switches[\"{key}\"]"),
                    message: format!("does not compile to a feature definition: {error}"),
                })?;
                Ok((key.clone(), definition))
            })
            .collect::<Result<_, DefinitionError>>()?;
        let compiled = CompiledFeatures::new(&definitions);
        let platform_limits = document
            .switches
            .iter()
            .filter(|switch| !switch.platforms.is_empty())
            .map(|switch| {
                (switch.key.clone(), switch.platforms.iter().map(|platform| platform.as_str().to_owned()).collect())
            })
            .collect();
        Ok(Self {
            workspace_id: workspace_id.to_owned(),
            app_id: app_id.to_owned(),
            version,
            published_at,
            features,
            platform_limits,
            compiled,
        })
    }

    pub fn empty(workspace_id: &str, app_id: &str) -> Self {
        Self::build(workspace_id, app_id, 0, None, &ConfigDocument::new(Vec::new()))
            .expect("an empty document compiles")
    }

    /// Every switch's value for this device; switches whose value is `null` (a platform the switch
    /// is not for) are left out.
    pub fn evaluate(&self, context: &DeviceContext) -> BTreeMap<String, Value> {
        let user = UserContext { attributes: context.attributes(), ..UserContext::default() };
        self.features
            .keys()
            .filter_map(|key| {
                let value = self.compiled.evaluate(&user, key).value;
                (!value.is_null()).then(|| (key.clone(), value))
            })
            .collect()
    }

    /// The GrowthBook features payload for SDKs of one platform: switches not meant for it are
    /// left out, and the rule that hides them elsewhere is dropped. GrowthBook's SDKs disagree on a
    /// `"force": null` rule (JavaScript applies it, Python skips it), so platform-specific payloads
    /// are the form every SDK evaluates alike.
    pub fn features_for_platform(&self, platform: &str) -> Map<String, Value> {
        self.features
            .iter()
            .filter_map(|(key, feature)| match self.platform_limits.get(key) {
                None => Some((key.clone(), feature.clone())),
                Some(platforms) if platforms.iter().any(|allowed| allowed == platform) => {
                    let mut feature = feature.clone();
                    // compile_switch puts the hiding rule first.
                    if let Some(rules) = feature.get_mut("rules").and_then(Value::as_array_mut) {
                        rules.remove(0);
                        if rules.is_empty() {
                            feature.as_object_mut().map(|object| object.remove("rules"));
                        }
                    }
                    Some((key.clone(), feature))
                }
                Some(_) => None,
            })
            .collect()
    }

    /// Names what a device got (its values, and whatever else the answer carries): equal ETags
    /// mean nothing changed for it.
    pub fn etag(&self, content: &impl serde::Serialize) -> String {
        let canonical = serde_json::to_vec(content).expect("answers serialize");
        let digest = hex::encode(&Sha256::digest(&canonical)[..8]);
        format!("{}-{digest}", self.version)
    }
}
