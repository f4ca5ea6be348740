//! [`ApiError`]: what handlers return on failure, and how each lane renders it.
//!
//! A handler's error becomes a response carrying the [`ApiError`] as an extension
//! and no body; the error middleware then writes the body in the lane's shape
//! with the request id. Bare error responses from lower layers (unknown route,
//! wrong method, body too large, timeouts) are rendered the same way.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use hearth_types::{Code, ErrorBody, ErrorCode, ErrorEnvelope, ErrorKind};
use serde_json::{Value, json};

/// The API families, each with its own error shape.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Lane {
    /// Hearth's own routes: meta, health, web app, admin.
    Hearth,
    /// OpenAI-compatible `/v1/*`.
    OpenAi,
    /// Ollama-compatible `/api/*`.
    Ollama,
    /// Anthropic-compatible `/v1/messages*`.
    Anthropic,
}

impl Lane {
    /// The lane a path belongs to (used for unmatched routes too).
    pub fn for_path(path: &str) -> Lane {
        if path == "/v1/meta" {
            Lane::Hearth
        } else if path.starts_with("/v1/messages") {
            Lane::Anthropic
        } else if path.starts_with("/v1/") || path == "/v1" {
            Lane::OpenAi
        } else if path.starts_with("/api/") || path == "/api" {
            Lane::Ollama
        } else {
            Lane::Hearth
        }
    }

    /// Name used in the OpenAPI tags.
    pub fn as_str(self) -> &'static str {
        match self {
            Lane::Hearth => "hearth",
            Lane::OpenAi => "openai",
            Lane::Ollama => "ollama",
            Lane::Anthropic => "anthropic",
        }
    }
}

/// An error answered to a client.
#[derive(Debug, Clone)]
pub struct ApiError {
    /// Row of the code table.
    pub code: Code,
    /// What went wrong and what to do.
    pub message: String,
    /// Structured detail (field, bounds, hint).
    pub detail: Option<Value>,
    /// The request parameter at fault (OpenAI's `param`).
    pub param: Option<String>,
    /// Seconds to wait before retrying (429/503).
    pub retry_after_secs: Option<u32>,
}

impl ApiError {
    /// An error with a code and message.
    pub fn new(code: Code, message: impl Into<String>) -> Self {
        ApiError {
            code,
            message: message.into(),
            detail: None,
            param: None,
            retry_after_secs: None,
        }
    }

    /// A validation error naming the field at fault.
    pub fn invalid(param: impl Into<String>, message: impl Into<String>) -> Self {
        let param = param.into();
        ApiError {
            detail: Some(json!({ "field": param })),
            param: Some(param),
            ..ApiError::new(Code::Validation, message)
        }
    }

    /// Attach structured detail.
    pub fn with_detail(mut self, detail: Value) -> Self {
        self.detail = Some(detail);
        self
    }

    /// Attach a `Retry-After`.
    pub fn with_retry_after(mut self, secs: u32) -> Self {
        self.retry_after_secs = Some(secs);
        self
    }

    /// From any layer's error. 5xx messages are replaced by a generic sentence:
    /// internals stay in the log (which the caller writes, with the request id).
    pub fn from_error<E: ErrorCode>(err: &E) -> Self {
        let code = err.code();
        let message = if code.status() >= 500 && code.kind() == ErrorKind::Internal {
            generic_message(code).to_owned()
        } else {
            err.to_string()
        };
        let detail = err.detail();
        let param = detail
            .as_ref()
            .and_then(|d| d.get("field"))
            .and_then(|f| f.as_str())
            .map(str::to_owned);
        ApiError {
            detail,
            param,
            ..ApiError::new(code, message)
        }
    }

    /// The HTTP status.
    pub fn status(&self) -> StatusCode {
        StatusCode::from_u16(self.code.status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
    }

    /// The body in the lane's shape.
    pub fn body(&self, lane: Lane, request_id: &str) -> Value {
        match lane {
            Lane::Hearth => serde_json::to_value(ErrorEnvelope {
                error: ErrorBody {
                    code: self.code,
                    message: self.message.clone(),
                    detail: self.detail.clone(),
                },
                request_id: request_id.to_owned(),
            })
            .unwrap_or(Value::Null),
            Lane::OpenAi => json!({ "error": {
                "message": self.message,
                "type": openai_type(self.code),
                "param": self.param,
                "code": openai_code(self.code),
            }}),
            Lane::Ollama => json!({ "error": self.message }),
            Lane::Anthropic => json!({
                "type": "error",
                "error": { "type": anthropic_type(self.code), "message": self.message },
                "request_id": request_id,
            }),
        }
    }

    /// Render fully (used where no middleware runs after, e.g. inside streams).
    pub fn render(&self, lane: Lane, request_id: &str) -> Response {
        let mut response = (self.status(), axum::Json(self.body(lane, request_id))).into_response();
        if let Some(secs) = self.retry_after_secs
            && let Ok(value) = HeaderValue::from_str(&secs.to_string())
        {
            response.headers_mut().insert(header::RETRY_AFTER, value);
        }
        response
    }
}

impl<E: ErrorCode> From<E> for ApiError {
    fn from(err: E) -> Self {
        let api = ApiError::from_error(&err);
        if api.code.status() >= 500 {
            tracing::error!(code = api.code.as_str(), error = %err, "request failed");
        }
        api
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut response = self.status().into_response();
        response.extensions_mut().insert(self);
        response
    }
}

fn generic_message(code: Code) -> &'static str {
    match code {
        Code::ProviderFailed => "the model backend failed; see the server log for this request id",
        _ => "internal error; see the server log for this request id",
    }
}

/// The code for a bare error status from a lower layer.
pub fn code_for_status(status: StatusCode) -> Code {
    match status.as_u16() {
        400 | 422 => Code::Validation,
        401 => Code::AuthRequired,
        403 => Code::AuthForbidden,
        404 => Code::NotFound,
        405 => Code::MethodNotAllowed,
        408 | 504 => Code::Timeout,
        413 => Code::PayloadTooLarge,
        415 => Code::UnsupportedMediaType,
        429 => Code::RateLimited,
        503 => Code::Unavailable,
        _ => Code::Internal,
    }
}

fn openai_type(code: Code) -> &'static str {
    match code.kind() {
        ErrorKind::InvalidRequest => "invalid_request_error",
        ErrorKind::Auth if code == Code::AuthForbidden => "permission_error",
        ErrorKind::Auth => "authentication_error",
        ErrorKind::RateLimit => "rate_limit_error",
        ErrorKind::Internal | ErrorKind::Unavailable => "server_error",
    }
}

fn openai_code(code: Code) -> &'static str {
    match code {
        Code::ModelNotFound => "model_not_found",
        Code::AuthRequired => "invalid_api_key",
        Code::RateLimited => "rate_limit_exceeded",
        Code::QuotaExceeded => "insufficient_quota",
        other => other.as_str(),
    }
}

fn anthropic_type(code: Code) -> &'static str {
    match code {
        Code::AuthRequired => "authentication_error",
        Code::AuthForbidden | Code::CapabilityDisabled => "permission_error",
        Code::NotFound | Code::ModelNotFound => "not_found_error",
        Code::PayloadTooLarge => "request_too_large",
        Code::RateLimited | Code::QuotaExceeded => "rate_limit_error",
        Code::Overloaded | Code::Unavailable | Code::ProviderUnavailable => "overloaded_error",
        _ if code.kind() == ErrorKind::InvalidRequest => "invalid_request_error",
        _ => "api_error",
    }
}
