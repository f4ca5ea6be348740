//! Extractors that turn malformed input into [`ApiError`]s naming the field,
//! instead of axum's plain-text rejections.

use axum::extract::rejection::{JsonRejection, PathRejection, QueryRejection};
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use hearth_types::Code;
use serde::de::DeserializeOwned;

use crate::error::ApiError;

/// A JSON body; a bad body answers 400 (413 when too large) naming the field.
pub struct JsonBody<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for JsonBody<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        match axum::Json::<T>::from_request(req, state).await {
            Ok(axum::Json(value)) => Ok(JsonBody(value)),
            Err(rejection) => Err(json_rejection(rejection)),
        }
    }
}

fn json_rejection(rejection: JsonRejection) -> ApiError {
    match rejection {
        JsonRejection::JsonDataError(e) => {
            // axum formats "Failed to deserialize ...: PATH: MESSAGE"; keep the tail.
            let text = e.body_text();
            let detail = text
                .split_once(": ")
                .map(|(_, rest)| rest)
                .unwrap_or(&text)
                .to_owned();
            let field = field_of(&detail);
            let mut err =
                ApiError::new(Code::Validation, format!("invalid request body: {detail}"));
            if let Some(field) = field {
                err.param = Some(field.clone());
                err.detail = Some(serde_json::json!({ "field": field }));
            }
            err
        }
        JsonRejection::JsonSyntaxError(e) => ApiError::new(
            Code::Validation,
            format!("malformed JSON: {}", e.body_text()),
        ),
        JsonRejection::MissingJsonContentType(_) => ApiError::new(
            Code::UnsupportedMediaType,
            "expected a JSON body with `Content-Type: application/json`",
        ),
        JsonRejection::BytesRejection(e) if e.status().as_u16() == 413 => ApiError::new(
            Code::PayloadTooLarge,
            "request body is larger than server.body_limit_bytes",
        ),
        other => ApiError::new(Code::Validation, other.body_text()),
    }
}

/// The field a serde error is about: its path (`messages[0].role: …`), extended
/// with the name of a missing field (`missing field `model``).
fn field_of(detail: &str) -> Option<String> {
    let (path, message) = match detail.split_once(": ") {
        Some((path, message)) if !path.contains(' ') => (Some(path), message),
        _ => (None, detail),
    };
    let missing = message
        .strip_prefix("missing field `")
        .and_then(|rest| rest.split_once('`'))
        .map(|(name, _)| name);
    match (path.filter(|p| *p != "."), missing) {
        (Some(path), Some(name)) => Some(format!("{path}.{name}")),
        (Some(path), None) => Some(path.to_owned()),
        (None, Some(name)) => Some(name.to_owned()),
        (None, None) => None,
    }
}

/// Path parameters; a bad one answers 400.
pub struct PathParams<T>(pub T);

impl<T: DeserializeOwned + Send, S: Send + Sync> FromRequestParts<S> for PathParams<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        axum::extract::Path::<T>::from_request_parts(parts, state)
            .await
            .map(|axum::extract::Path(v)| PathParams(v))
            .map_err(|e: PathRejection| ApiError::new(Code::Validation, e.body_text()))
    }
}

/// Query parameters; a bad one answers 400.
pub struct QueryParams<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequestParts<S> for QueryParams<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        axum::extract::Query::<T>::from_request_parts(parts, state)
            .await
            .map(|axum::extract::Query(v)| QueryParams(v))
            .map_err(|e: QueryRejection| ApiError::new(Code::Validation, e.body_text()))
    }
}
