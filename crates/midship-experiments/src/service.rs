//! The experiment service: laboratories and experiments for people (with their audit entries),
//! the phase rules — no overlap in a layer, no switch in two live experiments, only published
//! switches —, and the in-memory snapshot config pulls are served from, rebuilt on change and
//! refreshed from the workspace's experiments revision.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, RwLock};

use midship_control::{ControlError, ControlPlane};
use midship_core::access::Action;
use midship_core::{Classify, ErrorKind, NewAuditEntry, Principal, Workspace};
use midship_storage::{ExperimentRecord, LaboratoryRecord, StorageError};
use midship_switches::{SwitchError, SwitchService};
use midship_targeting::DeviceContext;
use serde_json::{Value, json};

use crate::definition::{DefinitionError, ExperimentDefinition, Phase, Variation};
use crate::snapshot::{Assignment, ExperimentSnapshot, LiveExperiment, StickyAssignment};

#[derive(Debug, thiserror::Error)]
pub enum ExperimentError {
    #[error(transparent)]
    Control(#[from] ControlError),
    #[error("invalid experiment at {0}")]
    Invalid(#[from] DefinitionError),
    #[error("experiment `{0}` not found")]
    UnknownExperiment(String),
    #[error("laboratory `{0}` not found")]
    UnknownLaboratory(String),
    #[error("variation `{0}` not found")]
    UnknownVariation(String),
    /// A change the experiment's phase does not allow, or one that clashes with another live
    /// experiment.
    #[error("{0}")]
    Conflict(String),
    #[error(transparent)]
    Switches(#[from] SwitchError),
}

impl Classify for ExperimentError {
    fn kind(&self) -> ErrorKind {
        match self {
            ExperimentError::Control(control) => control.kind(),
            ExperimentError::Invalid(_) => ErrorKind::Invalid,
            ExperimentError::UnknownExperiment(_)
            | ExperimentError::UnknownLaboratory(_)
            | ExperimentError::UnknownVariation(_) => ErrorKind::NotFound,
            ExperimentError::Conflict(_) => ErrorKind::Conflict,
            ExperimentError::Switches(switches) => switches.kind(),
        }
    }
}

impl From<StorageError> for ExperimentError {
    fn from(error: StorageError) -> Self {
        Self::Control(error.into())
    }
}

/// An experiment as people see it.
#[derive(Debug, Clone, PartialEq)]
pub struct Experiment {
    pub key: String,
    pub laboratory: String,
    pub phase: Phase,
    pub definition: ExperimentDefinition,
    pub created_at: i64,
    pub updated_at: i64,
    pub started_at: Option<i64>,
    pub stopped_at: Option<i64>,
    pub decision: Option<Value>,
}

/// A device's configuration with its experiments applied.
#[derive(Debug, Clone, PartialEq)]
pub enum ConfigPull {
    Values { version: i64, etag: String, values: BTreeMap<String, Value>, experiments: Vec<Assignment> },
    NotModified { version: i64, etag: String },
}

#[derive(Debug, Clone)]
pub struct ExperimentService {
    control: ControlPlane,
    switches: SwitchService,
    snapshots: Arc<RwLock<HashMap<String, Arc<ExperimentSnapshot>>>>,
}

fn parse(record: &ExperimentRecord, laboratories: &[LaboratoryRecord]) -> Result<Experiment, ExperimentError> {
    let corrupt = |detail: String| {
        ExperimentError::from(StorageError::Corrupt {
            table: "experiments",
            detail: format!("{}: {detail}", record.key),
        })
    };
    let definition: ExperimentDefinition =
        serde_json::from_value(record.definition.clone()).map_err(|error| corrupt(error.to_string()))?;
    let phase = Phase::parse(&record.phase).ok_or_else(|| corrupt(format!("phase {}", record.phase)))?;
    let laboratory = laboratories
        .iter()
        .find(|laboratory| laboratory.laboratory_id == record.laboratory_id)
        .map(|laboratory| laboratory.key.clone())
        .ok_or_else(|| corrupt(format!("laboratory {}", record.laboratory_id)))?;
    Ok(Experiment {
        key: record.key.clone(),
        laboratory,
        phase,
        definition,
        created_at: record.created_at,
        updated_at: record.updated_at,
        started_at: record.started_at,
        stopped_at: record.stopped_at,
        decision: record.decision.clone(),
    })
}

/// Only a running experiment is promoted, and only to one of its variations.
fn promotable<'e>(experiment: &'e Experiment, variation: &str) -> Result<&'e Variation, ExperimentError> {
    if experiment.phase != Phase::Running {
        return Err(ExperimentError::Conflict(format!(
            "only a running experiment can be promoted; `{}` is {}",
            experiment.key,
            experiment.phase.as_str()
        )));
    }
    experiment
        .definition
        .variations
        .iter()
        .find(|candidate| candidate.key == variation)
        .ok_or_else(|| ExperimentError::UnknownVariation(midship_core::ids::echo(variation)))
}

impl ExperimentService {
    pub fn new(control: ControlPlane, switches: SwitchService) -> Self {
        Self { control, switches, snapshots: Arc::default() }
    }

    /// The injected clock's time, which decides whether an experiment's `ends_at` has come.
    pub fn now_ms(&self) -> i64 {
        self.control.now_ms()
    }

    async fn workspace(
        &self,
        who: &Principal,
        workspace_id: &str,
        action: Action,
    ) -> Result<Workspace, ExperimentError> {
        let (_, workspace) = self.control.authorized_workspace(who, workspace_id, action).await?;
        Ok(workspace)
    }

    fn audit(&self, who: &Principal, workspace: &Workspace, action: &str, target_id: &str) -> NewAuditEntry {
        NewAuditEntry::by(who, self.control.now_ms(), action, "experiment", target_id).in_app(&workspace.app_id)
    }

    pub async fn create_laboratory(
        &self,
        who: &Principal,
        workspace_id: &str,
        key: &str,
        name: &str,
        description: &str,
    ) -> Result<LaboratoryRecord, ExperimentError> {
        let workspace = self.workspace(who, workspace_id, Action::Operate).await?;
        let key = midship_core::validation::slug("laboratory key", key).map_err(ControlError::from)?;
        let name = if name.trim().is_empty() {
            key.clone()
        } else {
            midship_core::validation::display_name("name", name).map_err(ControlError::from)?
        };
        if description.chars().count() > 1_000 {
            return Err(DefinitionError::new("$.description", "at most 1000 characters").into());
        }
        let laboratory = LaboratoryRecord {
            laboratory_id: self.control.new_id(),
            workspace_id: workspace_id.to_owned(),
            key: key.clone(),
            name,
            description: description.to_owned(),
            created_at: self.control.now_ms(),
        };
        let audit = self.audit(who, &workspace, "laboratory.create", &key).after(json!({ "name": laboratory.name }));
        match self.control.storage().create_laboratory(&laboratory, &audit).await {
            Err(StorageError::Conflict { .. }) => {
                Err(ExperimentError::Conflict(format!("the workspace already has a laboratory `{key}`")))
            }
            other => Ok(other.map(|()| laboratory)?),
        }
    }

    pub async fn list_laboratories(
        &self,
        who: &Principal,
        workspace_id: &str,
    ) -> Result<Vec<LaboratoryRecord>, ExperimentError> {
        self.workspace(who, workspace_id, Action::Read).await?;
        Ok(self.control.storage().list_laboratories(workspace_id).await?)
    }

    /// A new experiment, in `draft`.
    pub async fn create(
        &self,
        who: &Principal,
        workspace_id: &str,
        key: &str,
        laboratory: &str,
        definition: ExperimentDefinition,
    ) -> Result<Experiment, ExperimentError> {
        let workspace = self.workspace(who, workspace_id, Action::Operate).await?;
        midship_core::validation::slug("experiment key", key).map_err(ControlError::from)?;
        definition.validate()?;
        let storage = self.control.storage();
        let laboratories = storage.list_laboratories(workspace_id).await?;
        let laboratory_id = laboratories
            .iter()
            .find(|candidate| candidate.key == laboratory)
            .map(|found| found.laboratory_id.clone())
            .ok_or_else(|| ExperimentError::UnknownLaboratory(midship_core::ids::echo(laboratory)))?;
        let now = self.control.now_ms();
        let record = ExperimentRecord {
            experiment_id: self.control.new_id(),
            workspace_id: workspace_id.to_owned(),
            laboratory_id,
            key: key.to_owned(),
            phase: Phase::Draft.as_str().to_owned(),
            definition: serde_json::to_value(&definition).expect("definitions serialize"),
            bucket_version: 1,
            created_at: now,
            updated_at: now,
            started_at: None,
            stopped_at: None,
            decision: None,
            revision: 1,
        };
        let audit = self.audit(who, &workspace, "experiment.create", key).after(record.definition.clone());
        match storage.create_experiment(&record, &audit).await {
            Err(StorageError::Conflict { .. }) => {
                return Err(ExperimentError::Conflict(format!("the workspace already has an experiment `{key}`")));
            }
            other => other?,
        }
        parse(&record, &laboratories)
    }

    async fn record(&self, workspace_id: &str, key: &str) -> Result<(ExperimentRecord, Experiment), ExperimentError> {
        let storage = self.control.storage();
        let record = storage
            .get_experiment(workspace_id, key)
            .await?
            .ok_or_else(|| ExperimentError::UnknownExperiment(midship_core::ids::echo(key)))?;
        let experiment = parse(&record, &storage.list_laboratories(workspace_id).await?)?;
        Ok((record, experiment))
    }

    pub async fn get(&self, who: &Principal, workspace_id: &str, key: &str) -> Result<Experiment, ExperimentError> {
        self.workspace(who, workspace_id, Action::Read).await?;
        Ok(self.record(workspace_id, key).await?.1)
    }

    pub async fn list(&self, who: &Principal, workspace_id: &str) -> Result<Vec<Experiment>, ExperimentError> {
        self.workspace(who, workspace_id, Action::Read).await?;
        self.all(workspace_id).await
    }

    async fn all(&self, workspace_id: &str) -> Result<Vec<Experiment>, ExperimentError> {
        let storage = self.control.storage();
        let laboratories = storage.list_laboratories(workspace_id).await?;
        storage.list_experiments(workspace_id).await?.iter().map(|record| parse(record, &laboratories)).collect()
    }

    /// Replaces the definition. While running only what sticky assignment keeps safe may change —
    /// weights, coverage, audience, metrics, names —; the variations, the unit and the layer slice
    /// are fixed once units are assigned. A stopped experiment is finished.
    pub async fn update(
        &self,
        who: &Principal,
        workspace_id: &str,
        key: &str,
        definition: ExperimentDefinition,
    ) -> Result<Experiment, ExperimentError> {
        let workspace = self.workspace(who, workspace_id, Action::Operate).await?;
        definition.validate()?;
        let (record, current) = self.record(workspace_id, key).await?;
        match current.phase {
            Phase::Stopped => return Err(ExperimentError::Conflict(format!("experiment `{key}` is stopped"))),
            Phase::Running => {
                let fixed = |definition: &ExperimentDefinition| {
                    (definition.variations.clone(), definition.unit, definition.layer_range)
                };
                if fixed(&definition) != fixed(&current.definition) {
                    return Err(ExperimentError::Conflict(
                        "a running experiment keeps its variations, unit and layer range; stop it and start another"
                            .into(),
                    ));
                }
            }
            Phase::Draft | Phase::Debug => {}
        }
        let mut next = record.clone();
        next.definition = serde_json::to_value(&definition).expect("definitions serialize");
        if current.phase.is_live() {
            self.check_clashes(workspace_id, key, &current.laboratory, &definition).await?;
        }
        let audit = self
            .audit(who, &workspace, "experiment.update", key)
            .before(record.definition.clone())
            .after(next.definition.clone());
        self.write(next, record.revision, &audit).await
    }

    /// Moves the experiment to `phase`: debug and running check that it fits beside the other live
    /// experiments and that its switches are published.
    pub async fn set_phase(
        &self,
        who: &Principal,
        workspace_id: &str,
        key: &str,
        phase: Phase,
    ) -> Result<Experiment, ExperimentError> {
        let workspace = self.workspace(who, workspace_id, Action::Operate).await?;
        let (record, current) = self.record(workspace_id, key).await?;
        if !current.phase.may_move_to(phase) {
            return Err(ExperimentError::Conflict(format!(
                "experiment `{key}` is {} and cannot move to {}",
                current.phase.as_str(),
                phase.as_str()
            )));
        }
        if phase.is_live() {
            self.check_clashes(workspace_id, key, &current.laboratory, &current.definition).await?;
            self.check_backends(workspace_id, &current.definition).await?;
            let published = self.switches.snapshot(workspace_id).await?;
            if let Some(missing) =
                current.definition.switch_keys().into_iter().find(|switch| !published.features.contains_key(*switch))
            {
                return Err(ExperimentError::Conflict(format!(
                    "switch `{missing}` is not published; publish it before the experiment goes live"
                )));
            }
            self.check_value_types(who, workspace_id, &current.definition).await?;
        }
        let now = self.control.now_ms();
        let mut next = record.clone();
        next.phase = phase.as_str().to_owned();
        if phase == Phase::Running {
            next.started_at = Some(now);
        }
        if phase == Phase::Stopped {
            next.stopped_at = Some(now);
        }
        let audit = self.audit(who, &workspace, &format!("experiment.{}", phase.as_str()), key);
        self.write(next, record.revision, &audit).await
    }

    /// Stops a running experiment with `variation` as its decision; the caller publishes the
    /// variation's values (through the approval rule). Returns the experiment and those values.
    pub async fn promote(
        &self,
        who: &Principal,
        workspace_id: &str,
        key: &str,
        variation: &str,
        note: &str,
    ) -> Result<Experiment, ExperimentError> {
        let workspace = self.workspace(who, workspace_id, Action::Operate).await?;
        let (record, current) = self.record(workspace_id, key).await?;
        let chosen = promotable(&current, variation)?;
        let now = self.control.now_ms();
        let decision = json!({
            "promoted": chosen.key,
            "values": chosen.values,
            "by": who.actor_name(),
            "at": now,
            "note": note,
        });
        let mut next = record.clone();
        next.phase = Phase::Stopped.as_str().to_owned();
        next.stopped_at = Some(now);
        next.decision = Some(decision.clone());
        let audit = self.audit(who, &workspace, "experiment.promote", key).after(decision);
        self.write(next, record.revision, &audit).await
    }

    /// The variation a promotion of `key` would publish, checked as [`Self::promote`] checks it,
    /// so a caller can stage its values before the experiment stops.
    pub async fn variation_to_promote(
        &self,
        who: &Principal,
        workspace_id: &str,
        key: &str,
        variation: &str,
    ) -> Result<Variation, ExperimentError> {
        self.workspace(who, workspace_id, Action::Operate).await?;
        let (_, current) = self.record(workspace_id, key).await?;
        promotable(&current, variation).cloned()
    }

    async fn write(
        &self,
        mut next: ExperimentRecord,
        expected_revision: i64,
        audit: &NewAuditEntry,
    ) -> Result<Experiment, ExperimentError> {
        next.updated_at = self.control.now_ms();
        next.revision = expected_revision + 1;
        let storage = self.control.storage();
        if !storage.update_experiment(&next, expected_revision, audit).await? {
            return Err(ExperimentError::Conflict(format!(
                "experiment `{}` changed at the same time; read it again and retry",
                next.key
            )));
        }
        self.forget(&next.workspace_id);
        let laboratories = storage.list_laboratories(&next.workspace_id).await?;
        parse(&next, &laboratories)
    }

    /// Refuses a live experiment that overlaps another live one of its laboratory, or sets a
    /// switch another live experiment sets.
    async fn check_clashes(
        &self,
        workspace_id: &str,
        key: &str,
        laboratory: &str,
        definition: &ExperimentDefinition,
    ) -> Result<(), ExperimentError> {
        for other in self.all(workspace_id).await? {
            if other.key == key || !other.phase.is_live() {
                continue;
            }
            if other.laboratory == laboratory && other.definition.overlaps(definition) {
                return Err(ExperimentError::Conflict(format!(
                    "experiment `{}` of laboratory `{laboratory}` takes an overlapping part of its layer ({:?}); \
                     give this one another layer_range",
                    other.key, other.definition.layer_range
                )));
            }
            if let Some(operation_type) = &definition.operation_type
                && other.definition.operation_type.as_ref() == Some(operation_type)
            {
                return Err(ExperimentError::Conflict(format!(
                    "API `{operation_type}` is already split by live experiment `{}`",
                    other.key
                )));
            }
            let theirs = other.definition.switch_keys();
            if let Some(shared) = definition.switch_keys().into_iter().find(|switch| theirs.contains(switch)) {
                return Err(ExperimentError::Conflict(format!(
                    "switch `{shared}` is already in live experiment `{}`",
                    other.key
                )));
            }
        }
        Ok(())
    }

    /// Every variation's values must have their switch's published type.
    async fn check_value_types(
        &self,
        who: &Principal,
        workspace_id: &str,
        definition: &ExperimentDefinition,
    ) -> Result<(), ExperimentError> {
        for switch in definition.switch_keys() {
            let status = self.switches.get_switch(who, workspace_id, switch).await?;
            let Some(published) = status.published else { continue };
            for (index, variation) in definition.variations.iter().enumerate() {
                let value = &variation.values[switch];
                if !published.value_type.accepts(value) {
                    return Err(DefinitionError::new(
                        format!("$.variations[{index}].values[\"{switch}\"]"),
                        format!("switch `{switch}` takes {} values, not {value}", published.value_type.as_str()),
                    )
                    .into());
                }
            }
        }
        Ok(())
    }

    /// A gateway experiment's API and the groups its variations name must exist.
    async fn check_backends(
        &self,
        workspace_id: &str,
        definition: &ExperimentDefinition,
    ) -> Result<(), ExperimentError> {
        let Some(operation_type) = &definition.operation_type else { return Ok(()) };
        let storage = self.control.storage();
        if !storage.list_apis(workspace_id).await?.iter().any(|api| &api.operation_type == operation_type) {
            return Err(ExperimentError::Conflict(format!("there is no API `{operation_type}` in this workspace")));
        }
        let groups = storage.list_api_groups(workspace_id).await?;
        for group in definition.variations.iter().filter_map(|variation| variation.group.as_ref()) {
            if !groups.iter().any(|candidate| &candidate.name == group) {
                return Err(ExperimentError::Conflict(format!("there is no API group `{group}` in this workspace")));
            }
        }
        Ok(())
    }

    fn forget(&self, workspace_id: &str) {
        self.snapshots.write().unwrap_or_else(|poisoned| poisoned.into_inner()).remove(workspace_id);
    }

    fn cached(&self, workspace_id: &str) -> Option<Arc<ExperimentSnapshot>> {
        self.snapshots.read().unwrap_or_else(|poisoned| poisoned.into_inner()).get(workspace_id).cloned()
    }

    /// What devices of the workspace are served from; storage is read once per change.
    pub async fn snapshot(&self, workspace_id: &str) -> Result<Arc<ExperimentSnapshot>, ExperimentError> {
        if let Some(snapshot) = self.cached(workspace_id) {
            return Ok(snapshot);
        }
        let storage = self.control.storage();
        let revision = storage.experiments_revision(workspace_id).await?;
        let live = self
            .all(workspace_id)
            .await?
            .into_iter()
            .filter(|experiment| experiment.phase.is_live())
            .map(|experiment| {
                LiveExperiment::new(&experiment.key, &experiment.laboratory, experiment.phase, experiment.definition)
            })
            .collect();
        let snapshot = Arc::new(ExperimentSnapshot { revision, live });
        let mut snapshots = self.snapshots.write().unwrap_or_else(|poisoned| poisoned.into_inner());
        snapshots.insert(workspace_id.to_owned(), snapshot.clone());
        Ok(snapshot)
    }

    /// Drops snapshots whose workspace changed on another node; returns how many.
    pub async fn refresh_changed(&self) -> Result<usize, ExperimentError> {
        let revisions = self.control.storage().all_experiments_revisions().await?;
        let mut dropped = 0;
        for (workspace_id, revision) in revisions {
            if self.cached(&workspace_id).is_some_and(|snapshot| snapshot.revision < revision) {
                self.forget(&workspace_id);
                dropped += 1;
            }
        }
        Ok(dropped)
    }

    /// A device's switch values with its experiments' values over them, and the experiments it
    /// is in; `known_etag` is what it got last time, `sticky` the assignments it holds.
    pub async fn pull(
        &self,
        app_id: &str,
        workspace_id: &str,
        context: &DeviceContext,
        sticky: &[StickyAssignment],
        known_etag: Option<&str>,
    ) -> Result<ConfigPull, ExperimentError> {
        let (config, mut values) = self.switches.evaluate(app_id, workspace_id, context).await?;
        let now = self.control.now_ms();
        let experiments = self.snapshot(workspace_id).await?.assign(context, sticky, &mut values, now);
        // Without experiments the etag is the plain switches' one.
        let etag = if experiments.is_empty() { config.etag(&values) } else { config.etag(&(&values, &experiments)) };
        if known_etag == Some(etag.as_str()) {
            return Ok(ConfigPull::NotModified { version: config.version, etag });
        }
        Ok(ConfigPull::Values { version: config.version, etag, values, experiments })
    }
}
