//! `/api/v1/people`: console accounts, for admins and their provisioning tools. A created or
//! reset account's temporary password is returned once; the person chooses their own at sign-in.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use midship_api::{CreatePersonRequest, ErrorBody, List, PersonView, PersonWithPassword, UpdatePersonRequest};
use midship_control::{NewPerson, PersonChange};
use midship_core::clock::format_rfc3339;
use midship_core::people::PersonRecord;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::AppState;
use crate::error::ApiError;
use crate::extract::{ApiJson, ApiQuery, Caller, PageQuery};

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_people, create_person))
        .routes(routes!(get_person, update_person))
        .routes(routes!(reset_person))
        .routes(routes!(sign_out_person))
}

pub(crate) fn person_view(person: PersonRecord) -> PersonView {
    PersonView {
        second_factor: person.second_factor().as_str().to_owned(),
        person_id: person.person_id,
        tenant_id: person.tenant_id,
        login: person.login,
        display_name: person.display_name,
        role: person.role.as_str().to_owned(),
        app_ids: person.app_ids,
        password_must_change: person.password_must_change,
        locked_until: person.locked_until.map(format_rfc3339),
        created_at: format_rfc3339(person.created_at),
        created_by: person.created_by,
        disabled_at: person.disabled_at.map(format_rfc3339),
    }
}

/// People of the tenant, by login (admins only; app-scoped admins see people within their apps).
#[utoipa::path(get, path = "/api/v1/people", tag = "people", params(PageQuery),
    responses((status = 200, body = List<PersonView>), (status = 403, body = ErrorBody)))]
async fn list_people(
    State(state): State<AppState>,
    Caller(who): Caller,
    ApiQuery(query): ApiQuery<PageQuery>,
) -> Result<Json<List<PersonView>>, ApiError> {
    let page = state.control.list_people(&who, &query.page()?).await?;
    Ok(Json(List { items: page.items.into_iter().map(person_view).collect(), next_cursor: page.next_cursor }))
}

/// Adds a person with a temporary password, returned only in this response.
#[utoipa::path(post, path = "/api/v1/people", tag = "people", request_body = CreatePersonRequest,
    responses((status = 201, body = PersonWithPassword), (status = 409, description = "the login is taken", body = ErrorBody),
        (status = 404, description = "an app of `app_ids` the caller may not see", body = ErrorBody)))]
async fn create_person(
    State(state): State<AppState>,
    Caller(who): Caller,
    ApiJson(request): ApiJson<CreatePersonRequest>,
) -> Result<(StatusCode, Json<PersonWithPassword>), ApiError> {
    let request = NewPerson {
        login: request.login,
        display_name: request.display_name,
        role: request.role,
        app_ids: request.app_ids,
    };
    let created = state.control.create_person(&who, request).await?;
    let body =
        PersonWithPassword { person: person_view(created.person), temporary_password: created.temporary_password };
    Ok((StatusCode::CREATED, Json(body)))
}

/// One person (admins; anyone may read their own account).
#[utoipa::path(get, path = "/api/v1/people/{person_id}", tag = "people", params(("person_id" = String, Path)),
    responses((status = 200, body = PersonView), (status = 404, body = ErrorBody)))]
async fn get_person(
    State(state): State<AppState>,
    Caller(who): Caller,
    Path(person_id): Path<String>,
) -> Result<Json<PersonView>, ApiError> {
    Ok(Json(person_view(state.control.get_person(&who, &person_id).await?)))
}

/// Changes name, role, app scope or whether the account is disabled (which ends its sessions).
#[utoipa::path(patch, path = "/api/v1/people/{person_id}", tag = "people", params(("person_id" = String, Path)),
    request_body = UpdatePersonRequest,
    responses((status = 200, body = PersonView), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn update_person(
    State(state): State<AppState>,
    Caller(who): Caller,
    Path(person_id): Path<String>,
    ApiJson(request): ApiJson<UpdatePersonRequest>,
) -> Result<Json<PersonView>, ApiError> {
    let change = PersonChange {
        display_name: request.display_name,
        role: request.role,
        app_ids: request.app_ids,
        disabled: request.disabled,
    };
    Ok(Json(person_view(state.control.update_person(&who, &person_id, change).await?)))
}

/// A lost password or phone: a new temporary password (returned only here), the authenticator
/// app removed, every session ended.
#[utoipa::path(post, path = "/api/v1/people/{person_id}/reset", tag = "people", params(("person_id" = String, Path)),
    responses((status = 200, body = PersonWithPassword), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn reset_person(
    State(state): State<AppState>,
    Caller(who): Caller,
    Path(person_id): Path<String>,
) -> Result<Json<PersonWithPassword>, ApiError> {
    let reset = state.control.reset_person_credentials(&who, &person_id).await?;
    Ok(Json(PersonWithPassword { person: person_view(reset.person), temporary_password: reset.temporary_password }))
}

/// Ends every console session of the person.
#[utoipa::path(post, path = "/api/v1/people/{person_id}/sign-out", tag = "people", params(("person_id" = String, Path)),
    responses((status = 204), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn sign_out_person(
    State(state): State<AppState>,
    Caller(who): Caller,
    Path(person_id): Path<String>,
) -> Result<StatusCode, ApiError> {
    state.control.sign_out_everywhere(&who, &person_id).await?;
    Ok(StatusCode::NO_CONTENT)
}
