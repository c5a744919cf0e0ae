//! The experiments pages of the current workspace: laboratories and experiments, an experiment's
//! definition and phase, its results with the confidence intervals drawn as SVG, and promotion.

use axum::Router;
use axum::extract::{Form, Path, State};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use maud::{Markup, html};
use midship_core::access::Action;
use midship_experiments::{ExperimentDefinition, ExperimentError, Phase};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::AppState;
use crate::approvals::console::after_gated;
use crate::console::layout;
use crate::console::session::{ConsoleSession, failure};
use crate::error::ApiError;

const PAGE: &str = "/console/experiments";

pub fn routes() -> Router<AppState> {
    Router::new()
        .route(PAGE, get(page).post(create))
        .route("/console/experiments/laboratories", post(create_laboratory))
        .route("/console/experiments/{key}", get(detail).post(update))
        .route("/console/experiments/{key}/phase", post(change_phase))
        .route("/console/experiments/{key}/promote", post(promote))
}

/// What a new experiment's definition box starts with.
fn example_definition() -> String {
    serde_json::to_string_pretty(&json!({
        "hypothesis": "a blue pay button sells more",
        "variations": [
            { "key": "control", "values": { "pay.button": "grey" } },
            { "key": "blue", "values": { "pay.button": "blue" } }
        ],
        "metrics": [
            { "key": "bought", "kind": { "type": "conversion", "event": "buy", "within_hours": 24 } }
        ]
    }))
    .expect("JSON serializes")
}

fn workspace(session: &ConsoleSession) -> Option<String> {
    session.context.workspace_id().map(str::to_owned)
}

fn no_workspace(session: &ConsoleSession) -> Response {
    let body = html! { h1 { "Experiments" } p.muted { "Create an app first, then pick it and a workspace above." } };
    layout::page(session, PAGE, "Experiments", body)
}

/// A create form refused, with what was typed.
struct Refused<'a> {
    form: &'a CreateForm,
    message: String,
}

pub async fn page(State(state): State<AppState>, session: ConsoleSession) -> Response {
    render_list(&state, &session, None).await
}

async fn render_list(state: &AppState, session: &ConsoleSession, refused: Option<Refused<'_>>) -> Response {
    let Some(workspace_id) = workspace(session) else { return no_workspace(session) };
    let who = &session.principal;
    let (laboratories, experiments) = match tokio::try_join!(
        state.experiments.list_laboratories(who, &workspace_id),
        state.experiments.list(who, &workspace_id)
    ) {
        Ok(both) => both,
        Err(error) => return failure(error),
    };
    let may_change = who.role.allows(Action::Operate);
    let typed = refused.as_ref().map(|refused| refused.form);
    let body = html! {
        h1 { "Experiments" }
        @if experiments.is_empty() { p.muted { "No experiments yet." } }
        @else { div.scroll { table {
            thead { tr { th { "Key" } th { "Laboratory" } th { "Phase" } th { "Variations" } th { "Started" } } }
            tbody { @for experiment in &experiments {
                tr {
                    td.mono { a href=(format!("{PAGE}/{}", experiment.key)) { (experiment.key) } }
                    td { (experiment.laboratory) }
                    td { (experiment.phase.as_str()) }
                    td { (experiment.definition.variations.iter().map(|variation| variation.key.as_str()).collect::<Vec<_>>().join(", ")) }
                    td { (experiment.started_at.map(midship_core::clock::format_rfc3339).unwrap_or_default()) }
                }
            } }
        } } }
        h2 { "Laboratories" }
        p.muted { "A laboratory is a traffic layer: its live experiments take disjoint slices of it, so no unit is in two." }
        ul { @for laboratory in &laboratories { li { span.mono { (laboratory.key) } " — " (laboratory.name) } } }
        @if may_change {
            form method="post" action="/console/experiments/laboratories" {
                (session.csrf_field())
                label { "Key " input name="key" required pattern="[a-z][a-z0-9_-]{0,31}" size="16"; }
                label { " Name " input name="name" maxlength="64" size="20"; }
                button type="submit" { "Add laboratory" }
            }
            @if !laboratories.is_empty() {
                h2 { "New experiment" }
                form method="post" action=(PAGE) {
                    (session.csrf_field())
                    @if let Some(refused) = &refused { p.error role="alert" { (refused.message) } }
                    label { "Key " input name="key" required size="20" value=(typed.map(|form| form.key.as_str()).unwrap_or("")); }
                    label { " Laboratory "
                        select name="laboratory" { @for laboratory in &laboratories {
                            option value=(laboratory.key) selected[typed.is_some_and(|form| form.laboratory == laboratory.key)] { (laboratory.key) }
                        } }
                    }
                    p { label { "Definition (docs/experiments.md)" br;
                        textarea.mono name="definition" rows="18" cols="90" aria-invalid=[refused.as_ref().map(|_| "true")] {
                            (typed.map(|form| form.definition.clone()).unwrap_or_else(example_definition))
                        }
                    } }
                    button type="submit" { "Create in draft" }
                }
            }
        }
    };
    layout::page(session, PAGE, "Experiments", body)
}

#[derive(Debug, Deserialize)]
pub struct LaboratoryForm {
    key: String,
    #[serde(default)]
    name: String,
}

pub async fn create_laboratory(
    State(state): State<AppState>,
    session: ConsoleSession,
    Form(form): Form<LaboratoryForm>,
) -> Response {
    let Some(workspace_id) = workspace(&session) else { return no_workspace(&session) };
    match state.experiments.create_laboratory(&session.principal, &workspace_id, &form.key, &form.name, "").await {
        Ok(_) => Redirect::to(PAGE).into_response(),
        Err(error) => failure(error),
    }
}

#[derive(Debug, Deserialize)]
pub struct CreateForm {
    key: String,
    laboratory: String,
    definition: String,
}

fn parse_definition(text: &str) -> Result<ExperimentDefinition, ApiError> {
    serde_json::from_str(text).map_err(|error| {
        ExperimentError::Invalid(midship_experiments::DefinitionError::new("$", error.to_string())).into()
    })
}

pub async fn create(State(state): State<AppState>, session: ConsoleSession, Form(form): Form<CreateForm>) -> Response {
    let Some(workspace_id) = workspace(&session) else { return no_workspace(&session) };
    let created = match parse_definition(&form.definition) {
        Ok(definition) => state
            .experiments
            .create(&session.principal, &workspace_id, &form.key, &form.laboratory, definition)
            .await
            .map_err(ApiError::from),
        Err(error) => Err(error),
    };
    match created {
        Ok(experiment) => Redirect::to(&format!("{PAGE}/{}", experiment.key)).into_response(),
        Err(error) if error.status.is_client_error() && error.status.as_u16() != 403 => {
            render_list(&state, &session, Some(Refused { form: &form, message: error.message })).await
        }
        Err(error) => failure(error),
    }
}

pub async fn detail(State(state): State<AppState>, session: ConsoleSession, Path(key): Path<String>) -> Response {
    render_detail(&state, &session, &key, None).await
}

async fn render_detail(
    state: &AppState,
    session: &ConsoleSession,
    key: &str,
    refused: Option<(&str, String)>,
) -> Response {
    let Some(workspace_id) = workspace(session) else { return no_workspace(session) };
    let who = &session.principal;
    let experiment = match state.experiments.get(who, &workspace_id, key).await {
        Ok(experiment) => experiment,
        Err(error) => return failure(error),
    };
    let results = match super::results(state, who, &workspace_id, key).await {
        Ok(results) => results,
        Err(error) => return failure(error),
    };
    let may_change = who.role.allows(Action::Operate);
    let phase = experiment.phase;
    let next_phases: Vec<Phase> = [Phase::Draft, Phase::Debug, Phase::Running, Phase::Stopped]
        .into_iter()
        .filter(|next| phase.may_move_to(*next))
        .collect();
    let definition_text = match refused {
        Some((typed, _)) => typed.to_owned(),
        None => serde_json::to_string_pretty(&experiment.definition).expect("definitions serialize"),
    };
    let body = html! {
        h1 { "Experiment · " span.mono { (experiment.key) } }
        p { "Laboratory " strong { (experiment.laboratory) } " · phase " strong { (phase.as_str()) }
            @if let Some(started) = experiment.started_at { " · started " (midship_core::clock::format_rfc3339(started)) }
            " · " (results.days_running) " days running" }
        @if !experiment.definition.hypothesis.is_empty() { p { em { (experiment.definition.hypothesis) } } }
        @if let Some(decision) = &experiment.decision {
            p.notice role="status" { "Promoted " strong { (decision["promoted"].as_str().unwrap_or("-")) }
                " by " (decision["by"].as_str().unwrap_or("-")) }
        }
        @if may_change && !next_phases.is_empty() {
            form method="post" action=(format!("{PAGE}/{key}/phase")) {
                (session.csrf_field())
                @for next in &next_phases {
                    button type="submit" name="phase" value=(next.as_str()) class=[(*next == Phase::Stopped).then_some("danger")] {
                        (phase_label(*next))
                    }
                    " "
                }
            }
        }
        (results_section(&results.variations, &results.results))
        @if may_change && phase == Phase::Running {
            h2 { "Promote" }
            p.muted { "The variation's values become the switches' values for everyone (through approvals when the "
                "workspace requires them), and the experiment stops." }
            form method="post" action=(format!("{PAGE}/{key}/promote")) {
                (session.csrf_field())
                select name="variation" { @for variation in &experiment.definition.variations {
                    option value=(variation.key) { (variation.key) }
                } }
                label { " Note " input name="note" maxlength="200" size="30"; }
                button type="submit" { "Promote" }
            }
        }
        h2 { "Definition" }
        form method="post" action=(format!("{PAGE}/{key}")) {
            (session.csrf_field())
            @if let Some((_, message)) = &refused { p.error role="alert" { (message) } }
            textarea.mono name="definition" rows="24" cols="90" readonly[!may_change || phase == Phase::Stopped]
                aria-invalid=[refused.as_ref().map(|_| "true")] { (definition_text) }
            @if may_change && phase != Phase::Stopped { p { button type="submit" { "Save definition" } } }
        }
    };
    layout::page(session, PAGE, &format!("Experiment {key}"), body)
}

fn phase_label(phase: Phase) -> &'static str {
    match phase {
        Phase::Draft => "Back to draft",
        Phase::Debug => "Debug (whitelist only)",
        Phase::Running => "Start",
        Phase::Stopped => "Stop",
    }
}

fn percent(value: &Value) -> String {
    value.as_f64().map_or_else(|| "–".to_owned(), |number| format!("{:+.2} %", number * 100.0))
}

fn share(value: &Value) -> String {
    value.as_f64().map_or_else(|| "–".to_owned(), |number| format!("{:.1} %", number * 100.0))
}

/// Units, the split check, the power estimate and a table and interval plot per metric.
fn results_section(variations: &[String], results: &Value) -> Markup {
    let units = results["units"].as_array().cloned().unwrap_or_default();
    html! {
        h2 { "Results" }
        p { @for (variation, count) in variations.iter().zip(&units) { strong { (variation) } " " (count) " units · " } }
        @if results["srm"]["mismatch"].as_bool() == Some(true) {
            p.error role="alert" { "Sample ratio mismatch (p = " (format!("{:.2e}", results["srm"]["p_value"].as_f64().unwrap_or(0.0)))
                "): the units are not split as the weights say. Find out why before trusting these results." }
        }
        p.muted { @match results["power"]["status"].as_str() {
            Some("estimated") => { "About " (results["power"]["units_per_variation"]) " units per variation detect a "
                (share(&results["power"]["minimum_detectable_effect"])) " change on the first metric (80 % power)." }
            _ => { "Power: not enough data yet (" (results["power"]["reason"].as_str().unwrap_or("-")) ")." }
        } }
        @for metric in results["metrics"].as_array().into_iter().flatten() {
            h3 { (metric["key"].as_str().unwrap_or("-"))
                @if metric["guardrail"] == true { " (guardrail)" }
                @if metric["inverse"] == true { " · lower is better" } }
            div.scroll { table {
                thead { tr { th { "Variation" } th { "Units" } th { "Value" } th { "Uplift" } th { "Interval" }
                    th { "p (adjusted)" } th { "Chance to win" } } }
                tbody { @for variation in metric["variations"].as_array().into_iter().flatten() {
                    @let comparison = &variation["comparison"];
                    tr {
                        td { (variation["variation"].as_str().unwrap_or("-")) }
                        td { (variation["units"]) }
                        td { (format!("{:.4}", variation["value"].as_f64().unwrap_or(0.0))) }
                        @match comparison["status"].as_str() {
                            Some("compared") => {
                                td { (percent(&comparison["uplift"])) }
                                td { "[" (percent(&comparison["ci"][0])) ", " (percent(&comparison["ci"][1])) "]" }
                                td { (format!("{:.4}", comparison["adjusted_p_value"].as_f64().unwrap_or(1.0))) }
                                td { (share(&comparison["chance_to_win"])) }
                            }
                            Some(_) => { td colspan="4" { "not enough data (" (comparison["reason"].as_str().unwrap_or("-")) ")" } }
                            None => { td colspan="4" .muted { "control" } }
                        }
                    }
                } }
            } }
            (interval_plot(metric))
        }
    }
}

/// Each variation's uplift over control with its confidence interval, around a line at zero; an
/// interval clear of zero is drawn in the winning or losing colour.
fn interval_plot(metric: &Value) -> Markup {
    const WIDTH: f64 = 640.0;
    const LABEL: f64 = 110.0;
    const ROW: f64 = 26.0;
    let inverse = metric["inverse"] == true;
    let rows: Vec<(String, f64, f64, f64)> = metric["variations"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|variation| variation["comparison"]["status"] == "compared")
        .filter_map(|variation| {
            let comparison = &variation["comparison"];
            Some((
                variation["variation"].as_str()?.to_owned(),
                comparison["uplift"].as_f64()?,
                comparison["ci"][0].as_f64()?,
                comparison["ci"][1].as_f64()?,
            ))
        })
        .collect();
    if rows.is_empty() {
        return html! {};
    }
    let extent = rows.iter().flat_map(|(_, _, low, high)| [low.abs(), high.abs()]).fold(0.01_f64, f64::max);
    let plot = WIDTH - LABEL - 20.0;
    let x = |value: f64| LABEL + plot / 2.0 + value / extent * plot / 2.0;
    let height = ROW * rows.len() as f64 + 24.0;
    let label = format!("{} uplift over control with its interval", metric["key"].as_str().unwrap_or("metric"));
    html! {
        svg width=(WIDTH) height=(height) viewBox=(format!("0 0 {WIDTH} {height}")) role="img" aria-label=(label) {
            line x1=(x(0.0)) y1="0" x2=(x(0.0)) y2=(height - 18.0) stroke="#5b6b7c" stroke-dasharray="3 3" {}
            text x=(x(-extent)) y=(height - 4.0) font-size="11" fill="#5b6b7c" { (format!("{:+.1} %", -extent * 100.0)) }
            text x=(x(0.0)) y=(height - 4.0) font-size="11" fill="#5b6b7c" text-anchor="middle" { "0" }
            text x=(x(extent)) y=(height - 4.0) font-size="11" fill="#5b6b7c" text-anchor="end" { (format!("{:+.1} %", extent * 100.0)) }
            @for (index, (name, uplift, low, high)) in rows.iter().enumerate() {
                @let y = index as f64 * ROW + 14.0;
                @let better = if inverse { *high < 0.0 } else { *low > 0.0 };
                @let worse = if inverse { *low > 0.0 } else { *high < 0.0 };
                @let colour = if better { "#1a7f37" } else if worse { "#b42318" } else { "#0b63c5" };
                text x="0" y=(y + 4.0) font-size="13" fill="#1d2733" { (name) }
                line x1=(x(*low)) y1=(y) x2=(x(*high)) y2=(y) stroke=(colour) stroke-width="4" stroke-linecap="round" {
                    title { (name) ": " (format!("{:+.2} % [{:+.2} %, {:+.2} %]", uplift * 100.0, low * 100.0, high * 100.0)) }
                }
                circle cx=(x(*uplift)) cy=(y) r="5" fill=(colour) {}
            }
        }
    }
}

#[derive(Debug, Deserialize)]
pub struct DefinitionForm {
    definition: String,
}

pub async fn update(
    State(state): State<AppState>,
    session: ConsoleSession,
    Path(key): Path<String>,
    Form(form): Form<DefinitionForm>,
) -> Response {
    let Some(workspace_id) = workspace(&session) else { return no_workspace(&session) };
    let updated = match parse_definition(&form.definition) {
        Ok(definition) => {
            state.experiments.update(&session.principal, &workspace_id, &key, definition).await.map_err(ApiError::from)
        }
        Err(error) => Err(error),
    };
    match updated {
        Ok(_) => Redirect::to(&format!("{PAGE}/{key}")).into_response(),
        Err(error)
            if error.status.is_client_error() && error.status.as_u16() != 403 && error.status.as_u16() != 404 =>
        {
            render_detail(&state, &session, &key, Some((&form.definition, error.message))).await
        }
        Err(error) => failure(error),
    }
}

#[derive(Debug, Deserialize)]
pub struct PhaseForm {
    phase: String,
}

pub async fn change_phase(
    State(state): State<AppState>,
    session: ConsoleSession,
    Path(key): Path<String>,
    Form(form): Form<PhaseForm>,
) -> Response {
    let Some(workspace_id) = workspace(&session) else { return no_workspace(&session) };
    let Some(phase) = Phase::parse(&form.phase) else {
        return layout::error_page(axum::http::StatusCode::BAD_REQUEST, "unknown phase");
    };
    match state.experiments.set_phase(&session.principal, &workspace_id, &key, phase).await {
        Ok(_) => Redirect::to(&format!("{PAGE}/{key}")).into_response(),
        Err(error) => failure(error),
    }
}

#[derive(Debug, Deserialize)]
pub struct PromoteForm {
    variation: String,
    #[serde(default)]
    note: String,
}

pub async fn promote(
    State(state): State<AppState>,
    session: ConsoleSession,
    Path(key): Path<String>,
    Form(form): Form<PromoteForm>,
) -> Response {
    let Some(workspace_id) = workspace(&session) else { return no_workspace(&session) };
    let done = format!("{PAGE}/{key}");
    match super::promote(&state, &session.principal, &workspace_id, &key, &form.variation, &form.note).await {
        Ok(promotion) => match promotion.publication {
            Some(publication) => after_gated(Ok(publication), &done),
            None => Redirect::to(&done).into_response(),
        },
        Err(error) => failure(error),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn intervals_clear_of_zero_are_coloured_and_undecided_ones_are_not() {
        let metric = json!({
            "key": "bought",
            "inverse": false,
            "variations": [
                { "variation": "control", "units": 100, "value": 0.1 },
                { "variation": "blue", "units": 100, "comparison": { "status": "compared", "uplift": 0.2, "ci": [0.05, 0.35] } },
                { "variation": "red", "units": 100, "comparison": { "status": "compared", "uplift": 0.01, "ci": [-0.1, 0.12] } },
                { "variation": "green", "units": 0, "comparison": { "status": "not_enough_data", "reason": "no_units" } }
            ]
        });
        let svg = interval_plot(&metric).into_string();
        assert!(svg.contains("aria-label=\"bought uplift over control with its interval\""), "{svg}");
        assert_eq!(svg.matches("<circle").count(), 2, "control and not-enough-data rows are not drawn: {svg}");
        assert!(svg.contains("stroke=\"#1a7f37\""), "blue wins: {svg}");
        assert!(svg.contains("stroke=\"#0b63c5\""), "red is undecided: {svg}");
        assert!(svg.contains("blue: +20.00 % [+5.00 %, +35.00 %]"), "{svg}");
        let inverse = json!({ "key": "crashes", "inverse": true, "variations": metric["variations"] });
        assert!(interval_plot(&inverse).into_string().contains("stroke=\"#b42318\""), "more crashes lose");
        let empty = json!({ "key": "none", "variations": [] });
        assert!(interval_plot(&empty).into_string().is_empty());
    }
}
