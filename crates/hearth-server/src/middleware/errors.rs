//! Renders every error response in its lane's shape with the request id: errors
//! returned by handlers (an [`ApiError`] extension on a body-less response) and
//! bare error statuses from lower layers or axum itself (404, 405, 413, 408).
//! Also the handler for panics caught by `CatchPanicLayer`.

use std::any::Any;

use axum::body::Body;
use axum::extract::Request;
use axum::http::{HeaderValue, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use hearth_types::Code;

use crate::error::{ApiError, Lane, code_for_status};
use crate::middleware::request_id::RequestId;

/// Write error bodies.
pub async fn layer(req: Request, next: Next) -> Response {
    let lane = Lane::for_path(req.uri().path());
    let request_id = req
        .extensions()
        .get::<RequestId>()
        .map(|r| r.0.clone())
        .unwrap_or_default();
    let response = next.run(req).await;
    let status = response.status();
    if !(status.is_client_error() || status.is_server_error()) {
        return response;
    }
    if let Some(err) = response.extensions().get::<ApiError>().cloned() {
        return finish(err.render(lane, &request_id), response);
    }
    let is_json = response
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json"));
    if is_json {
        return response;
    }
    let code = code_for_status(status);
    let err = ApiError::new(code, bare_message(code, status.canonical_reason()));
    finish(err.render(lane, &request_id), response)
}

/// Keep headers the inner response set (Allow, Retry-After…) except those that
/// describe the replaced body (type, length, and the encoding the compression
/// layer chose for it).
fn finish(mut rendered: Response, original: Response) -> Response {
    for (name, value) in original.headers() {
        let describes_body = [
            header::CONTENT_TYPE,
            header::CONTENT_LENGTH,
            header::CONTENT_ENCODING,
        ]
        .contains(name);
        if !describes_body {
            rendered.headers_mut().entry(name).or_insert(value.clone());
        }
    }
    rendered
}

fn bare_message(code: Code, reason: Option<&str>) -> String {
    match code {
        Code::NotFound => "no route matches this path; see /openapi.json".to_owned(),
        Code::MethodNotAllowed => "this route does not accept that HTTP method".to_owned(),
        Code::PayloadTooLarge => "request body is larger than server.body_limit_bytes".to_owned(),
        Code::Timeout => "the request took longer than server.request_timeout_secs".to_owned(),
        _ => reason.unwrap_or("error").to_lowercase(),
    }
}

/// Turn a panic in a handler into a 500 error (rendered by [`layer`]).
pub fn on_panic(payload: Box<dyn Any + Send + 'static>) -> Response {
    let text = payload
        .downcast_ref::<String>()
        .map(String::as_str)
        .or_else(|| payload.downcast_ref::<&str>().copied())
        .unwrap_or("(non-text panic payload)");
    tracing::error!(panic = text, "handler panicked");
    let mut response = ApiError::new(
        Code::Internal,
        "internal error; see the server log for this request id",
    )
    .into_response();
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    *response.body_mut() = Body::empty();
    response
}
