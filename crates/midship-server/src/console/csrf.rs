//! Anti-forgery: every form post to the console carries a field derived from the visitor's own
//! HttpOnly cookie (the session, the half-done sign-in, or before that the pre-session cookie),
//! which another site can neither read nor guess. Together with SameSite=Strict cookies and the
//! origin check, a page elsewhere cannot make a signed-in browser change anything.

use axum::body::{Body, to_bytes};
use axum::extract::{Request, State};
use axum::http::{Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::Response;
use midship_core::secrets::csrf_token;
use subtle::ConstantTimeEq;

use super::layout;
use super::session::{PENDING_COOKIE, PRESESSION_COOKIE, SESSION_COOKIE, cookie};
use crate::AppState;

/// The form field (or query parameter, for file uploads) that carries the token.
pub const FIELD: &str = "_csrf";
/// The header a script may send instead.
pub const HEADER: &str = "x-csrf-token";

const REFUSED: &str = "this form has expired or did not come from this console; reload the page and try again";

pub async fn require_token(State(state): State<AppState>, request: Request, next: Next) -> Response {
    if request.method() != Method::POST {
        return next.run(request).await;
    }
    let expected: Vec<String> = [SESSION_COOKIE, PENDING_COOKIE, PRESESSION_COOKIE]
        .into_iter()
        .filter_map(|name| cookie(request.headers(), name))
        .map(csrf_token)
        .collect();
    let from_header = request.headers().get(HEADER).and_then(|value| value.to_str().ok()).map(str::to_owned);
    let from_query = request.uri().query().and_then(|query| field_of(query.as_bytes()));
    let is_form = request
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .is_some_and(|value| value.starts_with("application/x-www-form-urlencoded"));
    let (request, sent) = match from_header.or(from_query) {
        Some(sent) => (request, Some(sent)),
        None if is_form => {
            let (parts, body) = request.into_parts();
            let Ok(bytes) = to_bytes(body, state.settings.max_body_bytes).await else {
                return layout::error_page(
                    StatusCode::PAYLOAD_TOO_LARGE,
                    "the form is larger than this server accepts",
                );
            };
            let sent = field_of(&bytes);
            (Request::from_parts(parts, Body::from(bytes)), sent)
        }
        None => (request, None),
    };
    let matches =
        sent.is_some_and(|sent| expected.iter().any(|expected| bool::from(expected.as_bytes().ct_eq(sent.as_bytes()))));
    if !matches {
        return layout::error_page(StatusCode::FORBIDDEN, REFUSED);
    }
    next.run(request).await
}

fn field_of(encoded: &[u8]) -> Option<String> {
    url::form_urlencoded::parse(encoded).find(|(name, _)| name == FIELD).map(|(_, value)| value.into_owned())
}
