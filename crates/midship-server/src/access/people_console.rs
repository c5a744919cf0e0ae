//! The People page: admins create accounts (a temporary password shown once), change roles and
//! app scopes, disable accounts, reset a lost password or phone, and end someone's sessions.

use axum::Router;
use axum::extract::{Form, Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use maud::{Markup, html};
use midship_control::{ControlError, NewPerson, PersonChange, PersonWithPassword};
use midship_core::PageRequest;
use midship_core::access::Role;
use midship_core::clock::format_rfc3339;
use midship_core::people::PersonRecord;

use crate::AppState;
use crate::console::form::Fields;
use crate::console::layout;
use crate::console::layout::{app_scope_label, app_scope_picker, secret_notice};
use crate::console::session::{ConsoleSession, failure};
use crate::error::ApiError;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/console/people", get(people).post(create_person))
        .route("/console/people/{person_id}", get(person_page).post(update_person))
        .route("/console/people/{person_id}/reset", post(reset_credentials))
        .route("/console/people/{person_id}/sign-out-everywhere", post(sign_out_everywhere))
}

/// What the person form holds, as typed.
#[derive(Debug, Default)]
pub struct PersonForm {
    login: String,
    display_name: String,
    role: String,
    app_ids: Vec<String>,
    disabled: bool,
}

impl PersonForm {
    fn from_fields(fields: &Fields) -> Self {
        Self {
            login: fields.first("login").trim().to_owned(),
            display_name: fields.first("display_name"),
            role: fields.first("role"),
            app_ids: fields.all("app_ids"),
            disabled: fields.has("disabled"),
        }
    }

    /// `None`: every app of the tenant.
    fn app_scope(&self) -> Option<Vec<String>> {
        (!self.app_ids.is_empty()).then(|| self.app_ids.clone())
    }
}

/// The field a validation error names, to mark it in the form.
fn invalid_field(error: &ApiError, field: &str) -> bool {
    error.message.starts_with(field)
}

async fn people(State(state): State<AppState>, session: ConsoleSession) -> Response {
    render_list(
        &state,
        &session,
        StatusCode::OK,
        &PersonForm { role: "operator".into(), ..PersonForm::default() },
        None,
    )
    .await
}

async fn render_list(
    state: &AppState,
    session: &ConsoleSession,
    status: StatusCode,
    form: &PersonForm,
    error: Option<&ApiError>,
) -> Response {
    let people = match state.control.list_people(&session.principal, &PageRequest::first(200)).await {
        Ok(page) => page.items,
        Err(error) => return failure(error),
    };
    let now = state.control.now_ms();
    let body = html! {
        h1 { "People" }
        p.muted { "Everyone who signs in to the console. Machines use API tokens instead." }
        table {
            thead { tr { th { "Login" } th { "Name" } th { "Role" } th { "Apps" } th { "Second factor" } th { "State" } } }
            tbody {
                @for person in &people {
                    tr {
                        td { a href={ "/console/people/" (person.person_id) } { (person.login) } }
                        td { (person.display_name) }
                        td { (person.role.as_str()) }
                        td { (app_scope_label(person.app_ids.as_deref(), &session.apps)) }
                        td { (person.second_factor().label()) }
                        td { (state_of(person, now)) }
                    }
                }
            }
        }
        form.card method="post" action="/console/people" {
            (session.csrf_field())
            h2 { "Add a person" }
            @if let Some(error) = error { p.error role="alert" { (error.message) } }
            (field("login", "Login (an email address works)", &form.login, error))
            (field("display_name", "Name", &form.display_name, error))
            (role_select(&form.role))
            (app_scope_picker(&session.apps, &form.app_ids))
            button type="submit" { "Add person" }
        }
    };
    (status, layout::page(session, "/console/people", "People", body)).into_response()
}

fn field(name: &str, label: &str, value: &str, error: Option<&ApiError>) -> Markup {
    let invalid = error.is_some_and(|error| invalid_field(error, name));
    html! {
        label for=(name) { (label) }
        input id=(name) name=(name) value=(value) aria-invalid=[invalid.then_some("true")];
    }
}

fn role_select(current: &str) -> Markup {
    html! {
        label for="role" { "Role" }
        select #role name="role" {
            @for role in Role::ALL { option value=(role.as_str()) selected[role.as_str() == current] { (role.as_str()) } }
        }
    }
}

fn state_of(person: &PersonRecord, now: i64) -> String {
    if let Some(disabled_at) = person.disabled_at {
        format!("disabled {}", format_rfc3339(disabled_at))
    } else if person.is_locked_at(now) {
        "locked after failed sign-ins".to_owned()
    } else if person.password_must_change {
        "temporary password".to_owned()
    } else {
        "active".to_owned()
    }
}

async fn create_person(State(state): State<AppState>, session: ConsoleSession, Form(fields): Form<Fields>) -> Response {
    let form = PersonForm::from_fields(&fields);
    let request = NewPerson {
        login: form.login.clone(),
        display_name: form.display_name.clone(),
        role: form.role.clone(),
        app_ids: form.app_scope(),
    };
    match state.control.create_person(&session.principal, request).await {
        Ok(created) => handed_over(&session, "created", &created),
        Err(error @ (ControlError::Invalid(_) | ControlError::Conflict(_))) => {
            let error = ApiError::from(error);
            render_list(&state, &session, error.status, &form, Some(&error)).await
        }
        Err(error) => failure(error),
    }
}

/// The temporary password, shown once, for the admin to pass on.
fn handed_over(session: &ConsoleSession, what: &str, created: &PersonWithPassword) -> Response {
    let body = html! {
        h1 { (created.person.login) " " (what) }
        (secret_notice("Temporary password", &created.temporary_password))
        p { "Pass it on by a channel you trust. At sign-in " (created.person.login)
            " chooses a new password and sets up an authenticator app." }
        p { a href="/console/people" { "Back to people" } }
    };
    (StatusCode::CREATED, layout::page(session, "/console/people", "Temporary password", body)).into_response()
}

async fn person_page(
    State(state): State<AppState>,
    session: ConsoleSession,
    Path(person_id): Path<String>,
) -> Response {
    match state.control.get_person(&session.principal, &person_id).await {
        Ok(person) => render_person(&state, &session, StatusCode::OK, &person, None),
        Err(error) => failure(error),
    }
}

fn render_person(
    state: &AppState,
    session: &ConsoleSession,
    status: StatusCode,
    person: &PersonRecord,
    error: Option<&ApiError>,
) -> Response {
    let now = state.control.now_ms();
    let body = html! {
        h1 { (person.login) }
        dl.facts {
            dt { "State" } dd { (state_of(person, now)) }
            dt { "Created" } dd { (format_rfc3339(person.created_at)) }
            dt { "Second factor" } dd { (person.second_factor().label()) }
        }
        form.card method="post" action={ "/console/people/" (person.person_id) } {
            (session.csrf_field())
            h2 { "Role and apps" }
            @if let Some(error) = error { p.error role="alert" { (error.message) } }
            (field("display_name", "Name", &person.display_name, error))
            (role_select(person.role.as_str()))
            (app_scope_picker(&session.apps, person.app_ids.as_deref().unwrap_or_default()))
            label { input type="checkbox" name="disabled" value="on" checked[person.disabled_at.is_some()]; " Disabled (cannot sign in; open sessions end)" }
            button type="submit" { "Save" }
        }
        form.card method="post" action={ "/console/people/" (person.person_id) "/reset" } {
            (session.csrf_field())
            h2 { "Lost password or phone" }
            p { "Gives a new temporary password, removes the authenticator app and ends every session." }
            button.danger type="submit" { "Reset password and second factor" }
        }
        form.card method="post" action={ "/console/people/" (person.person_id) "/sign-out-everywhere" } {
            (session.csrf_field())
            button.danger type="submit" { "Sign out everywhere" }
        }
    };
    (status, layout::page(session, "/console/people", &person.login, body)).into_response()
}

async fn update_person(
    State(state): State<AppState>,
    session: ConsoleSession,
    Path(person_id): Path<String>,
    Form(fields): Form<Fields>,
) -> Response {
    let form = PersonForm::from_fields(&fields);
    let change = PersonChange {
        display_name: Some(form.display_name.clone()),
        role: Some(form.role.clone()),
        app_ids: Some(form.app_scope()),
        disabled: Some(form.disabled),
    };
    match state.control.update_person(&session.principal, &person_id, change).await {
        Ok(_) => Redirect::to(&format!("/console/people/{person_id}")).into_response(),
        Err(error @ (ControlError::Invalid(_) | ControlError::Forbidden(_))) => {
            let error = ApiError::from(error);
            match state.control.get_person(&session.principal, &person_id).await {
                Ok(mut person) => {
                    // Show what was typed, not what is stored.
                    person.display_name = form.display_name;
                    render_person(&state, &session, error.status, &person, Some(&error))
                }
                Err(other) => failure(other),
            }
        }
        Err(error) => failure(error),
    }
}

async fn reset_credentials(
    State(state): State<AppState>,
    session: ConsoleSession,
    Path(person_id): Path<String>,
) -> Response {
    match state.control.reset_person_credentials(&session.principal, &person_id).await {
        Ok(reset) => handed_over(&session, "reset", &reset),
        Err(error) => failure(error),
    }
}

async fn sign_out_everywhere(
    State(state): State<AppState>,
    session: ConsoleSession,
    Path(person_id): Path<String>,
) -> Response {
    match state.control.sign_out_everywhere(&session.principal, &person_id).await {
        Ok(()) => Redirect::to(&format!("/console/people/{person_id}")).into_response(),
        Err(error) => failure(error),
    }
}
