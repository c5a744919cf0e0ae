//! `/api/v1/workspaces/{workspace_id}/laboratories` and `/experiments`: A/B experiments.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use midship_api::{
    CreateExperiment, CreateLaboratory, ErrorBody, ExperimentResultsView, ExperimentView, LaboratoryView, List,
    PhaseChange, PhaseName, PromoteRequest, PromotionView,
};
use midship_core::clock::format_rfc3339;
use midship_experiments::{DefinitionError, ExperimentDefinition, ExperimentError, Phase};
use midship_storage::LaboratoryRecord;
use serde_json::Value;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::{promote as promote_variation, results as experiment_results, view};
use crate::AppState;
use crate::approvals::Gated;
use crate::approvals::rest::APPROVAL_REQUESTED;
use crate::error::ApiError;
use crate::extract::{ApiJson, Caller};

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_laboratories, create_laboratory))
        .routes(routes!(list_experiments, create_experiment))
        .routes(routes!(get_experiment, update_experiment))
        .routes(routes!(change_phase))
        .routes(routes!(results))
        .routes(routes!(promote))
}

fn laboratory_view(laboratory: LaboratoryRecord) -> LaboratoryView {
    LaboratoryView {
        key: laboratory.key,
        name: laboratory.name,
        description: laboratory.description,
        created_at: format_rfc3339(laboratory.created_at),
    }
}

/// A definition from the request body, with the path of what is wrong in it.
fn definition(value: Value) -> Result<ExperimentDefinition, ApiError> {
    serde_json::from_value(value).map_err(|error| {
        ApiError::from(ExperimentError::Invalid(DefinitionError::new("$.definition", error.to_string())))
    })
}

/// The workspace's laboratories: traffic layers whose experiments never share a unit.
#[utoipa::path(get, path = "/api/v1/workspaces/{workspace_id}/laboratories", tag = "experiments",
    params(("workspace_id" = String, Path)),
    responses((status = 200, body = List<LaboratoryView>), (status = 404, body = ErrorBody)))]
async fn list_laboratories(
    State(state): State<AppState>,
    Caller(who): Caller,
    Path(workspace_id): Path<String>,
) -> Result<Json<List<LaboratoryView>>, ApiError> {
    let laboratories = state.experiments.list_laboratories(&who, &workspace_id).await?;
    Ok(Json(List { items: laboratories.into_iter().map(laboratory_view).collect(), next_cursor: None }))
}

#[utoipa::path(post, path = "/api/v1/workspaces/{workspace_id}/laboratories", tag = "experiments",
    params(("workspace_id" = String, Path)), request_body = CreateLaboratory,
    responses((status = 201, body = LaboratoryView), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
async fn create_laboratory(
    State(state): State<AppState>,
    Caller(who): Caller,
    Path(workspace_id): Path<String>,
    ApiJson(request): ApiJson<CreateLaboratory>,
) -> Result<(StatusCode, Json<LaboratoryView>), ApiError> {
    let laboratory = state
        .experiments
        .create_laboratory(&who, &workspace_id, &request.key, &request.name, &request.description)
        .await?;
    Ok((StatusCode::CREATED, Json(laboratory_view(laboratory))))
}

#[utoipa::path(get, path = "/api/v1/workspaces/{workspace_id}/experiments", tag = "experiments",
    params(("workspace_id" = String, Path)),
    responses((status = 200, body = List<ExperimentView>), (status = 404, body = ErrorBody)))]
async fn list_experiments(
    State(state): State<AppState>,
    Caller(who): Caller,
    Path(workspace_id): Path<String>,
) -> Result<Json<List<ExperimentView>>, ApiError> {
    let experiments = state.experiments.list(&who, &workspace_id).await?;
    Ok(Json(List { items: experiments.iter().map(view).collect(), next_cursor: None }))
}

/// A new experiment, in `draft`: devices see nothing of it until it moves to `debug` or `running`.
#[utoipa::path(post, path = "/api/v1/workspaces/{workspace_id}/experiments", tag = "experiments",
    params(("workspace_id" = String, Path)), request_body = CreateExperiment,
    responses((status = 201, body = ExperimentView), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
async fn create_experiment(
    State(state): State<AppState>,
    Caller(who): Caller,
    Path(workspace_id): Path<String>,
    ApiJson(request): ApiJson<CreateExperiment>,
) -> Result<(StatusCode, Json<ExperimentView>), ApiError> {
    let definition = definition(request.definition)?;
    let experiment =
        state.experiments.create(&who, &workspace_id, &request.key, &request.laboratory, definition).await?;
    Ok((StatusCode::CREATED, Json(view(&experiment))))
}

#[utoipa::path(get, path = "/api/v1/workspaces/{workspace_id}/experiments/{key}", tag = "experiments",
    params(("workspace_id" = String, Path), ("key" = String, Path)),
    responses((status = 200, body = ExperimentView), (status = 404, body = ErrorBody)))]
async fn get_experiment(
    State(state): State<AppState>,
    Caller(who): Caller,
    Path((workspace_id, key)): Path<(String, String)>,
) -> Result<Json<ExperimentView>, ApiError> {
    Ok(Json(view(&state.experiments.get(&who, &workspace_id, &key).await?)))
}

/// Replaces the definition. While running, only weights, coverage, audience, metrics, names and
/// the analysis may change (units keep their variation); a stopped experiment is finished.
#[utoipa::path(put, path = "/api/v1/workspaces/{workspace_id}/experiments/{key}", tag = "experiments",
    params(("workspace_id" = String, Path), ("key" = String, Path)), request_body = Object,
    responses((status = 200, body = ExperimentView), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
async fn update_experiment(
    State(state): State<AppState>,
    Caller(who): Caller,
    Path((workspace_id, key)): Path<(String, String)>,
    ApiJson(body): ApiJson<Value>,
) -> Result<Json<ExperimentView>, ApiError> {
    let definition = definition(body)?;
    Ok(Json(view(&state.experiments.update(&who, &workspace_id, &key, definition).await?)))
}

/// Moves the experiment: `debug` serves the whitelist only, `running` assigns its audience,
/// `stopped` ends it (results stay). Going live checks the laboratory's layer and the switches.
#[utoipa::path(post, path = "/api/v1/workspaces/{workspace_id}/experiments/{key}/phase", tag = "experiments",
    params(("workspace_id" = String, Path), ("key" = String, Path)), request_body = PhaseChange,
    responses((status = 200, body = ExperimentView), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
async fn change_phase(
    State(state): State<AppState>,
    Caller(who): Caller,
    Path((workspace_id, key)): Path<(String, String)>,
    ApiJson(request): ApiJson<PhaseChange>,
) -> Result<Json<ExperimentView>, ApiError> {
    let phase = match request.phase {
        PhaseName::Draft => Phase::Draft,
        PhaseName::Debug => Phase::Debug,
        PhaseName::Running => Phase::Running,
        PhaseName::Stopped => Phase::Stopped,
    };
    Ok(Json(view(&state.experiments.set_phase(&who, &workspace_id, &key, phase).await?)))
}

/// Results so far, from this node's analytics.
#[utoipa::path(get, path = "/api/v1/workspaces/{workspace_id}/experiments/{key}/results", tag = "experiments",
    params(("workspace_id" = String, Path), ("key" = String, Path)),
    responses((status = 200, body = ExperimentResultsView), (status = 404, body = ErrorBody)))]
async fn results(
    State(state): State<AppState>,
    Caller(who): Caller,
    Path((workspace_id, key)): Path<(String, String)>,
) -> Result<Json<ExperimentResultsView>, ApiError> {
    Ok(Json(experiment_results(&state, &who, &workspace_id, &key).await?))
}

/// Promotes a variation of a running experiment: its values become the switches' defaults and
/// are published (a new version, or `202` with the approval request when the workspace requires
/// approvals), and the experiment stops with the decision.
#[utoipa::path(post, path = "/api/v1/workspaces/{workspace_id}/experiments/{key}/promote", tag = "experiments",
    params(("workspace_id" = String, Path), ("key" = String, Path)), request_body = PromoteRequest,
    responses((status = 200, body = PromotionView), (status = 202, description = APPROVAL_REQUESTED, body = PromotionView),
        (status = 400, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
        (status = 409, body = ErrorBody)))]
async fn promote(
    State(state): State<AppState>,
    Caller(who): Caller,
    Path((workspace_id, key)): Path<(String, String)>,
    ApiJson(request): ApiJson<PromoteRequest>,
) -> Result<Response, ApiError> {
    let promotion = promote_variation(&state, &who, &workspace_id, &key, &request.variation, &request.note).await?;
    let experiment = view(&promotion.experiment);
    Ok(match promotion.publication {
        Some(Gated::Requested(approval)) => {
            let approval = crate::approvals::approval_view(&approval, state.control.now_ms());
            let body = PromotionView { experiment, published_version: None, approval: Some(approval) };
            (StatusCode::ACCEPTED, Json(body)).into_response()
        }
        Some(Gated::Done(published)) => {
            let body = PromotionView { experiment, published_version: Some(published.version), approval: None };
            Json(body).into_response()
        }
        None => Json(PromotionView { experiment, published_version: None, approval: None }).into_response(),
    })
}
