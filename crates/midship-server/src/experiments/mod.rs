//! A/B experiments: laboratories and experiments (REST), their results computed from this node's
//! analytics, and promotion, which publishes the winner's values through the approval rule.

pub(crate) mod console;
pub(crate) mod rest;
pub(crate) mod traffic;

use midship_api::{ExperimentResultsView, ExperimentView};
use midship_core::Principal;
use midship_core::clock::format_rfc3339;
use midship_experiments::metric::{MetricPlan, default_metrics};
use midship_experiments::results::analyze;
use midship_experiments::{ConfigPull, Experiment, StickyAssignment};
use midship_gateway::{GatewayError, ServerKeys};
use midship_switches::SwitchError;

use crate::AppState;
use crate::approvals::{self, Gated};
use crate::error::ApiError;

const DAY_MS: f64 = 86_400_000.0;

pub fn view(experiment: &Experiment) -> ExperimentView {
    ExperimentView {
        key: experiment.key.clone(),
        laboratory: experiment.laboratory.clone(),
        phase: experiment.phase.as_str().to_owned(),
        definition: serde_json::to_value(&experiment.definition).expect("definitions serialize"),
        created_at: format_rfc3339(experiment.created_at),
        updated_at: format_rfc3339(experiment.updated_at),
        started_at: experiment.started_at.map(format_rfc3339),
        stopped_at: experiment.stopped_at.map(format_rfc3339),
        decision: experiment.decision.clone(),
    }
}

/// The experiment's results now: its metrics (the defaults when it names none) summed over
/// its exposed units, each variation compared with control.
pub async fn results(
    state: &AppState,
    who: &Principal,
    workspace_id: &str,
    key: &str,
) -> Result<ExperimentResultsView, ApiError> {
    let experiment = state.experiments.get(who, workspace_id, key).await?;
    let definition = &experiment.definition;
    let metrics = if definition.metrics.is_empty() { default_metrics() } else { definition.metrics.clone() };
    let plan = MetricPlan::new(&metrics);
    let variations: Vec<String> = definition.variations.iter().map(|variation| variation.key.clone()).collect();
    let summary =
        state.analytics.experiment_summary(who, workspace_id, key, definition.unit, &variations, &plan).await?;
    let results = analyze(
        &variations,
        &definition.effective_weights(),
        &metrics,
        &summary.statistics,
        &summary.units,
        definition.minimum_detectable_effect,
        definition.analysis,
    );
    let days_running = match experiment.started_at {
        Some(started) => {
            let until = experiment
                .stopped_at
                .unwrap_or_else(|| state.control.now_ms())
                .min(definition.end_ms().unwrap_or(i64::MAX));
            ((until - started).max(0) as f64 / DAY_MS * 100.0).round() / 100.0
        }
        None => 0.0,
    };
    Ok(ExperimentResultsView {
        experiment: experiment.key.clone(),
        phase: experiment.phase.as_str().to_owned(),
        variations,
        days_running,
        results: serde_json::to_value(&results).expect("results serialize"),
    })
}

/// A device holds at most this many assignments worth checking in one pull.
const MAX_HELD: usize = 100;

/// The held assignments that carry the proof the server gave them; the others are dropped, so a
/// device cannot pick its own variation by claiming to hold it.
pub async fn proven_holdings(
    keys: &ServerKeys,
    workspace_id: &str,
    held: Vec<StickyAssignment>,
) -> Result<Vec<StickyAssignment>, GatewayError> {
    if held.is_empty() {
        return Ok(held);
    }
    let prover = keys.assignment_prover(workspace_id).await?;
    Ok(held
        .into_iter()
        .take(MAX_HELD)
        .filter(|holding| prover.matches(&holding.experiment, &holding.unit, &holding.variation, &holding.proof))
        .collect())
}

/// A pull's assignments with their proofs (debug assignments stick to nothing and get none).
pub async fn with_proofs(keys: &ServerKeys, workspace_id: &str, pull: ConfigPull) -> Result<ConfigPull, GatewayError> {
    let ConfigPull::Values { version, etag, values, mut experiments } = pull else { return Ok(pull) };
    if experiments.is_empty() {
        return Ok(ConfigPull::Values { version, etag, values, experiments });
    }
    let prover = keys.assignment_prover(workspace_id).await?;
    for assignment in experiments.iter_mut().filter(|assignment| !assignment.debug) {
        assignment.proof = prover.proof(&assignment.experiment, &assignment.unit, &assignment.variation);
    }
    Ok(ConfigPull::Values { version, etag, values, experiments })
}

/// What promoting gave: the stopped experiment and the publication of its winner.
pub struct Promotion {
    pub experiment: Experiment,
    pub publication: Option<Gated<midship_switches::PublishedVersion>>,
}

/// Promotes `variation`: its values become the switches' defaults in the draft (checked against
/// each switch's type first), the experiment stops with the decision, and the draft is published
/// through the approval rule. Values already published need no new version.
pub async fn promote(
    state: &AppState,
    who: &Principal,
    workspace_id: &str,
    key: &str,
    variation: &str,
    note: &str,
) -> Result<Promotion, ApiError> {
    let chosen = state.experiments.variation_to_promote(who, workspace_id, key, variation).await?;
    for (switch, value) in &chosen.values {
        let status = state.switches.get_switch(who, workspace_id, switch).await?;
        let Some(mut definition) = status.draft.or(status.published) else {
            return Err(SwitchError::UnknownSwitch(switch.clone()).into());
        };
        if definition.default_value != *value {
            definition.default_value = value.clone();
            state.switches.set_switch(who, workspace_id, definition).await?;
        }
    }
    let experiment = state.experiments.promote(who, workspace_id, key, variation, note).await?;
    let note = format!("promote {variation} of experiment {key}");
    let publication = match state.switches.review_publication(who, workspace_id).await {
        Err(SwitchError::NothingToPublish(_)) => None,
        Err(error) => return Err(error.into()),
        Ok(_) => Some(approvals::publish_config(state, who, workspace_id, &note).await?),
    };
    Ok(Promotion { experiment, publication })
}
