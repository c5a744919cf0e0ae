//! Request extractors whose rejections speak the admin API's error format.

use std::error::Error as _;

use axum::extract::rejection::{JsonRejection, QueryRejection};
use axum::extract::{FromRequest, FromRequestParts, Query, Request};
use axum::http::request::Parts;
use axum::http::{StatusCode, header};
use midship_api::codes;
use midship_control::Principal;
use midship_core::PageRequest;
use midship_core::page::{DEFAULT_PAGE_LIMIT, MAX_PAGE_LIMIT};
use serde::Deserialize;
use serde::de::DeserializeOwned;

use crate::AppState;
use crate::error::ApiError;

/// A JSON object body. Malformed JSON, another JSON value than an object, and unknown or
/// mistyped fields answer 400 naming the field; a body over the limit answers 413.
#[derive(Debug)]
pub struct ApiJson<T>(pub T);

impl<S, T> FromRequest<S> for ApiJson<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &S) -> Result<Self, Self::Rejection> {
        let value = json_value(request, state).await?;
        if !value.is_object() {
            return Err(ApiError::invalid("invalid request body: expected a JSON object"));
        }
        object(value).map(Self)
    }
}

/// The body as any JSON value (the content type and size checked).
async fn json_value<S: Send + Sync>(request: Request, state: &S) -> Result<serde_json::Value, ApiError> {
    match axum::Json::<serde_json::Value>::from_request(request, state).await {
        Ok(axum::Json(value)) => Ok(value),
        Err(rejection) => Err(json_rejection(rejection)),
    }
}

/// `T` read from a JSON object; a wrong field answers 400 naming it.
fn object<T: DeserializeOwned>(mut value: serde_json::Value) -> Result<T, ApiError> {
    whole_numbers_as_integers(&mut value);
    serde_path_to_error::deserialize(value).map_err(|error| ApiError::invalid(format!("invalid request body: {error}")))
}

/// JSON has one number type: `5.0` is the integer 5 (as JSON Schema says), so integer fields take
/// it. serde would refuse a float for an integer field; whole floats become integers first.
fn whole_numbers_as_integers(value: &mut serde_json::Value) {
    match value {
        serde_json::Value::Number(number) if number.is_f64() => {
            let float = number.as_f64().unwrap_or(f64::NAN);
            if float.fract() == 0.0 && float.abs() < 9.0e15 {
                *number = serde_json::Number::from(float as i64);
            }
        }
        serde_json::Value::Array(items) => items.iter_mut().for_each(whole_numbers_as_integers),
        serde_json::Value::Object(fields) => fields.values_mut().for_each(whole_numbers_as_integers),
        _ => {}
    }
}

fn json_rejection(rejection: JsonRejection) -> ApiError {
    let detail = rejection.source().map(ToString::to_string).unwrap_or_else(|| rejection.body_text());
    match rejection {
        JsonRejection::JsonDataError(_) => ApiError::invalid(format!("invalid request body: {detail}")),
        JsonRejection::JsonSyntaxError(_) => ApiError::invalid(format!("malformed JSON: {detail}")),
        JsonRejection::MissingJsonContentType(_) => ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            codes::UNSUPPORTED_MEDIA_TYPE,
            "expected `Content-Type: application/json`",
        ),
        other if other.status() == StatusCode::PAYLOAD_TOO_LARGE => {
            ApiError::new(StatusCode::PAYLOAD_TOO_LARGE, codes::PAYLOAD_TOO_LARGE, "request body is too large")
        }
        other => ApiError::new(other.status(), codes::INVALID_REQUEST, other.body_text()),
    }
}

/// Query parameters; unknown or mistyped ones answer 400.
#[derive(Debug)]
pub struct ApiQuery<T>(pub T);

impl<S, T> FromRequestParts<S> for ApiQuery<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        match Query::<T>::from_request_parts(parts, state).await {
            Ok(Query(value)) => Ok(Self(value)),
            Err(QueryRejection::FailedToDeserializeQueryString(error)) => {
                let detail = error.source().map(ToString::to_string).unwrap_or_else(|| error.body_text());
                Err(ApiError::invalid(format!("invalid query string: {detail}")))
            }
            Err(other) => Err(ApiError::invalid(other.body_text())),
        }
    }
}

/// `?limit=&cursor=` on the lists keyed by id.
#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct PageQuery {
    #[param(schema_with = midship_api::rules::page_limit)]
    pub limit: Option<u32>,
    /// `next_cursor` of the previous page.
    pub cursor: Option<String>,
}

/// `?limit=&cursor=` on the lists keyed by a number (configuration versions).
#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct NumberPageQuery {
    #[param(schema_with = midship_api::rules::page_limit)]
    pub limit: Option<u32>,
    #[param(schema_with = midship_api::rules::number_cursor)]
    pub cursor: Option<String>,
}

impl PageQuery {
    pub fn page(&self) -> Result<PageRequest, ApiError> {
        page(self.limit, self.cursor.clone())
    }
}

impl NumberPageQuery {
    pub fn page(&self) -> Result<PageRequest, ApiError> {
        page(self.limit, self.cursor.clone())
    }
}

/// A page of a list; a `limit` outside 1 to 200 is refused.
pub fn page(limit: Option<u32>, cursor: Option<String>) -> Result<PageRequest, ApiError> {
    let limit = checked_limit(limit, DEFAULT_PAGE_LIMIT, MAX_PAGE_LIMIT)?;
    Ok(PageRequest::new(Some(limit), cursor))
}

/// A list's `limit`: `default` when absent, refused outside `1..=max` (as the document states).
pub fn checked_limit(limit: Option<u32>, default: u32, max: u32) -> Result<u32, ApiError> {
    match limit {
        None => Ok(default),
        Some(limit) if (1..=max).contains(&limit) => Ok(limit),
        Some(_) => Err(ApiError::invalid(format!("invalid limit: must be 1 to {max}"))),
    }
}

/// The caller of an admin API endpoint, from `Authorization: Bearer <token>`.
#[derive(Debug, Clone)]
pub struct Caller(pub Principal);

impl FromRequestParts<AppState> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        let token = parts
            .headers
            .get(header::AUTHORIZATION)
            .and_then(|value| value.to_str().ok())
            .and_then(|value| value.strip_prefix("Bearer ").or_else(|| value.strip_prefix("bearer ")))
            .map(str::trim)
            .ok_or_else(|| {
                ApiError::new(
                    StatusCode::UNAUTHORIZED,
                    codes::UNAUTHORIZED,
                    "missing `Authorization: Bearer <token>` header",
                )
            })?;
        Ok(Self(state.control.authenticate(token).await?))
    }
}

/// Like [`ApiJson`], but a request without a body, or with the body `null`, means `T::default()`
/// (optional bodies).
#[derive(Debug)]
pub struct ApiJsonOrDefault<T>(pub T);

impl<S, T> FromRequest<S> for ApiJsonOrDefault<T>
where
    T: DeserializeOwned + Default,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &S) -> Result<Self, Self::Rejection> {
        let headers = request.headers();
        let declared_length = headers.get(header::CONTENT_LENGTH).and_then(|value| value.to_str().ok());
        let has_no_body = !headers.contains_key(header::CONTENT_TYPE)
            && !headers.contains_key(header::TRANSFER_ENCODING)
            && declared_length.is_none_or(|length| length.trim() == "0");
        if has_no_body {
            return Ok(Self(T::default()));
        }
        match json_value(request, state).await? {
            serde_json::Value::Null => Ok(Self(T::default())),
            value @ serde_json::Value::Object(_) => object(value).map(Self),
            _ => Err(ApiError::invalid("invalid request body: expected a JSON object or null")),
        }
    }
}

/// Refuses a request whose `Content-Length` is over `limit` before reading any of its body, so a
/// client announcing 300 MiB gets 413 at once instead of being read until the limit. Layered
/// (with `axum::middleware::from_fn_with_state`) on the routes that take large bodies, beside
/// their `DefaultBodyLimit`.
pub async fn refuse_announced_over(
    axum::extract::State(limit): axum::extract::State<usize>,
    request: Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    let announced = request
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|value| value.to_str().ok())
        .and_then(|text| text.parse::<u64>().ok());
    match announced {
        Some(length) if length > limit as u64 => axum::response::IntoResponse::into_response(ApiError::of_kind(
            midship_core::ErrorKind::TooLarge,
            format!("the body announces {length} bytes; at most {limit} are accepted"),
        )),
        _ => next.run(request).await,
    }
}
