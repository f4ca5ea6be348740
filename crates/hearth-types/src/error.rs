//! The one table of error codes. Every error any layer returns maps to exactly one
//! [`Code`]; the code decides the HTTP status and the stable string clients match
//! on. Lanes render the same code in their own shape (Hearth envelope, OpenAI,
//! Ollama, Anthropic).

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// Broad class of an error, used by lanes that have their own error `type` field.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ErrorKind {
    /// The request is wrong; retrying it unchanged fails again.
    InvalidRequest,
    /// Credentials are missing, wrong or lack a right.
    Auth,
    /// A limit or quota was hit; retry later.
    RateLimit,
    /// Something failed on the server or an upstream; not the caller's fault.
    Internal,
    /// The server (or a model) cannot take more work right now.
    Unavailable,
}

macro_rules! codes {
    ($( $(#[doc = $doc:literal])* $variant:ident => ($name:literal, $status:literal, $kind:ident), )+) => {
        /// Stable error codes. The string form (e.g. `E_VALIDATION`) never changes
        /// once released; new codes may be added.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum Code {
            $( $(#[doc = $doc])* $variant, )+
        }

        impl Code {
            /// Every code, in table order (for docs and the OpenAPI registry).
            pub const ALL: &'static [Code] = &[ $( Code::$variant, )+ ];

            /// The stable string clients match on.
            pub const fn as_str(self) -> &'static str {
                match self { $( Code::$variant => $name, )+ }
            }

            /// The HTTP status this code is answered with.
            pub const fn status(self) -> u16 {
                match self { $( Code::$variant => $status, )+ }
            }

            /// The broad class of the code.
            pub const fn kind(self) -> ErrorKind {
                match self { $( Code::$variant => ErrorKind::$kind, )+ }
            }

            /// One line saying when the code is used (from its doc comment).
            pub fn description(self) -> &'static str {
                match self { $( Code::$variant => concat!($($doc),*).trim_ascii(), )+ }
            }
        }
    };
}

codes! {
    /// The request body or a parameter is malformed or out of range.
    Validation => ("E_VALIDATION", 400, InvalidRequest),
    /// The request body is larger than the configured limit.
    PayloadTooLarge => ("E_PAYLOAD_TOO_LARGE", 413, InvalidRequest),
    /// The content type of the body is not accepted by this route.
    UnsupportedMediaType => ("E_UNSUPPORTED_MEDIA_TYPE", 415, InvalidRequest),
    /// No route matches the path.
    NotFound => ("E_NOT_FOUND", 404, InvalidRequest),
    /// The route exists but not with this HTTP method.
    MethodNotAllowed => ("E_METHOD_NOT_ALLOWED", 405, InvalidRequest),
    /// The named model does not exist.
    ModelNotFound => ("E_MODEL_NOT_FOUND", 404, InvalidRequest),
    /// The request conflicts with the current state (duplicate name, busy resource).
    Conflict => ("E_CONFLICT", 409, InvalidRequest),
    /// No or unknown credentials.
    AuthRequired => ("E_AUTH_REQUIRED", 401, Auth),
    /// Credentials are valid but lack the right (scope, role, model allowlist).
    AuthForbidden => ("E_AUTH_FORBIDDEN", 403, Auth),
    /// The capability is switched off in the configuration.
    CapabilityDisabled => ("E_CAPABILITY_DISABLED", 403, InvalidRequest),
    /// A rate limit or quota was exceeded; see `Retry-After`.
    RateLimited => ("E_RATE_LIMITED", 429, RateLimit),
    /// A token quota (per day or per month) is used up; see `Retry-After`.
    QuotaExceeded => ("E_QUOTA_EXCEEDED", 429, RateLimit),
    /// The server or model queue is full; see `Retry-After`.
    Overloaded => ("E_OVERLOADED", 503, Unavailable),
    /// The request took longer than the configured timeout.
    Timeout => ("E_TIMEOUT", 504, Unavailable),
    /// The model backend (local runner or upstream) failed while serving the request.
    ProviderFailed => ("E_PROVIDER_FAILED", 502, Internal),
    /// The model backend is not reachable or not ready.
    ProviderUnavailable => ("E_PROVIDER_UNAVAILABLE", 503, Unavailable),
    /// The server is shutting down or a dependency (storage) is not ready.
    Unavailable => ("E_UNAVAILABLE", 503, Unavailable),
    /// The models would exceed the disk quota (`models.quota_mb`).
    StorageQuota => ("E_STORAGE_QUOTA", 507, InvalidRequest),
    /// The operation is not offered by this server.
    NotSupported => ("E_NOT_SUPPORTED", 501, InvalidRequest),
    /// An unexpected failure; details are in the server log under the request id.
    Internal => ("E_INTERNAL", 500, Internal),
}

impl Serialize for Code {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

/// Implemented by every error type of every layer: which row of the table it is.
pub trait ErrorCode: std::error::Error {
    /// The code this error is answered with.
    fn code(&self) -> Code;
    /// A hint for the caller, shown as `detail` where the lane has room for it.
    fn detail(&self) -> Option<serde_json::Value> {
        None
    }
}

/// Body of an error on Hearth's own lanes.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ErrorEnvelope {
    /// What went wrong.
    pub error: ErrorBody,
    /// The request id (also in the `x-request-id` header and the server log).
    pub request_id: String,
}

/// The `error` object of [`ErrorEnvelope`].
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ErrorBody {
    /// Stable code, e.g. `E_VALIDATION`.
    #[schema(value_type = String, example = "E_VALIDATION")]
    pub code: Code,
    /// Human-readable explanation that says what to do.
    pub message: String,
    /// Structured detail (field, bounds, hint) when there is any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub detail: Option<serde_json::Value>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn codes_are_unique_and_well_formed() {
        let mut seen = HashSet::new();
        for code in Code::ALL {
            assert!(seen.insert(code.as_str()), "duplicate {}", code.as_str());
            assert!(code.as_str().starts_with("E_"));
            assert!((400..600).contains(&code.status()));
            assert!(!code.description().is_empty());
        }
    }

    #[test]
    fn code_serializes_as_its_string() {
        assert_eq!(
            serde_json::to_string(&Code::RateLimited).unwrap(),
            "\"E_RATE_LIMITED\""
        );
    }
}
