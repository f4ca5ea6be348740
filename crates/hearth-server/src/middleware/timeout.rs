//! Time limit until a response starts. Streaming bodies, once their headers are
//! sent, are not cut (a long generation is not a hung request).

use std::time::Duration;

use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use hearth_types::Code;

use crate::error::ApiError;

/// Answer `E_TIMEOUT` when the handler has not produced a response in time.
pub async fn layer(State(limit): State<Duration>, req: Request, next: Next) -> Response {
    match tokio::time::timeout(limit, next.run(req)).await {
        Ok(response) => response,
        Err(_) => ApiError::new(
            Code::Timeout,
            format!(
                "no response within {} s (server.request_timeout_secs)",
                limit.as_secs()
            ),
        )
        .into_response(),
    }
}
