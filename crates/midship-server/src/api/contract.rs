//! The OpenAPI document made exact about errors. Each handler's `#[utoipa::path]` names the
//! answers particular to it (409 on a taken name, 416 on a bad range); the answers every route
//! shares by the way it is built are stated here once, from what the route takes: the bearer token
//! (401), a change (403), path parameters (404), query parameters or a body (400), a body (413,
//! and 415 for JSON), and storage (500, 503). All of them carry [`midship_api::ErrorBody`].

use utoipa::openapi::path::{Operation, ParameterIn, PathItem};
use utoipa::openapi::{ContentBuilder, OpenApi, Ref, RefOr, ResponseBuilder};

/// The shared answers: status, component name, description.
const SHARED: [(&str, &str, &str); 8] = [
    ("400", "InvalidRequest", "`invalid_request`: a parameter or the body breaks a rule; the message names it"),
    ("401", "Unauthorized", "`unauthorized`: no bearer token, or an unknown, revoked or expired one"),
    ("403", "Forbidden", "`forbidden`: the token's role or app scope does not allow this"),
    ("404", "NotFound", "`not_found`: an id that does not exist, or that the token may not see"),
    ("413", "PayloadTooLarge", "`payload_too_large`: the body is larger than the server accepts"),
    ("415", "UnsupportedMediaType", "`unsupported_media_type`: the body is not `application/json`"),
    ("500", "Internal", "`internal`: a failure of Midship itself; the server log has the details"),
    ("503", "Unavailable", "`unavailable`: storage cannot be reached now; nothing was changed, try again"),
];

/// Adds the shared error answers to every operation of `document`.
pub fn add_shared_responses(document: &mut OpenApi) {
    let components = document.components.get_or_insert_with(Default::default);
    for (_, name, description) in SHARED {
        let body = ContentBuilder::new().schema(Some(Ref::from_schema_name("ErrorBody"))).build();
        let response = ResponseBuilder::new().description(description).content("application/json", body).build();
        components.responses.insert(name.to_owned(), RefOr::T(response));
    }
    for item in document.paths.paths.values_mut() {
        for (is_read, operation) in operations(item) {
            for status in shared_statuses(is_read, operation) {
                let name = SHARED.iter().find(|(code, ..)| *code == status).map(|(_, name, _)| *name);
                let reference = Ref::from_response_name(name.expect("every shared status has a response"));
                operation.responses.responses.entry(status.to_owned()).or_insert(RefOr::Ref(reference));
            }
        }
    }
}

/// The operations of a path, each with whether it only reads.
fn operations(item: &mut PathItem) -> impl Iterator<Item = (bool, &mut Operation)> {
    [
        (true, item.get.as_mut()),
        (false, item.post.as_mut()),
        (false, item.put.as_mut()),
        (false, item.patch.as_mut()),
        (false, item.delete.as_mut()),
    ]
    .into_iter()
    .filter_map(|(is_read, operation)| operation.map(|operation| (is_read, operation)))
}

/// What the route can answer by the way it is built. Reads are open to every role (their handlers
/// name a 403 where one is needed); every change is checked against the token's role.
fn shared_statuses(is_read: bool, operation: &Operation) -> Vec<&'static str> {
    let parameters = operation.parameters.as_deref().unwrap_or_default();
    let has = |place: ParameterIn| parameters.iter().any(|parameter| parameter.parameter_in == place);
    let body = operation.request_body.as_ref();
    let mut statuses = vec!["401", "500", "503"];
    if !is_read {
        statuses.push("403");
    }
    if has(ParameterIn::Path) {
        statuses.push("404");
    }
    if has(ParameterIn::Query) || body.is_some() {
        statuses.push("400");
    }
    if let Some(body) = body {
        statuses.push("413");
        if body.content.contains_key("application/json") {
            statuses.push("415");
        }
    }
    statuses
}
