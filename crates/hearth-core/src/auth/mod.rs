//! Accounts and authentication: users and roles, Argon2id passwords, scoped API
//! keys, server-side web sessions with CSRF tokens, first-run setup, invites and
//! the append-only audit log. [`AuthService`] is the one entry point; it runs on
//! the caller's task (hashing goes to the blocking pool) and keeps no state but
//! the first-run setup token.

mod model;
mod password;
mod repo;
mod service;
pub mod token;
mod valid;

pub use model::{ApiKey, AuditEvent, Invite, Role, Session, User, UserId};
pub use password::{
    MAX_PASSWORD_BYTES, MIN_PASSWORD_CHARS, PasswordHasher, PasswordRejection, check_policy,
};
pub use repo::{AccountRepo, NewUser};
pub use service::{AuthService, AuthSettings, Identity, KeyInput, NewSession};
pub use valid::{valid_key_name, valid_models, valid_scopes, valid_username};

use hearth_types::{Code, ErrorCode};

use crate::store::StoreError;

/// Errors of the account services.
#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    /// Unknown user, wrong password, unknown/expired/revoked key or session.
    #[error("{0}")]
    Unauthenticated(&'static str),
    /// Authenticated, but not allowed.
    #[error("{0}")]
    Forbidden(String),
    /// An input is out of bounds.
    #[error("{message}")]
    Invalid {
        /// The field at fault.
        field: &'static str,
        /// What is wrong and what is allowed.
        message: String,
    },
    /// The named thing does not exist (or is not the caller's).
    #[error("{0} does not exist")]
    NotFound(&'static str),
    /// Duplicate name or a state that forbids the change.
    #[error("{0}")]
    Conflict(String),
    /// Too many attempts.
    #[error("too many attempts; retry in {0} s")]
    RateLimited(u32),
    /// Storage failed.
    #[error(transparent)]
    Store(StoreError),
    /// The rate limiter's backend failed.
    #[error(transparent)]
    Limiter(#[from] crate::limits::LimitError),
}

impl From<StoreError> for AuthError {
    fn from(err: StoreError) -> Self {
        AuthError::Store(err)
    }
}

impl AuthError {
    /// An invalid-input error.
    pub fn invalid(field: &'static str, message: impl Into<String>) -> Self {
        AuthError::Invalid {
            field,
            message: message.into(),
        }
    }

    /// Map `NotFound` from storage to a named not-found.
    fn or_not_found(err: StoreError, what: &'static str) -> Self {
        match err {
            StoreError::NotFound => AuthError::NotFound(what),
            other => AuthError::Store(other),
        }
    }
}

impl ErrorCode for AuthError {
    fn code(&self) -> Code {
        match self {
            AuthError::Unauthenticated(_) => Code::AuthRequired,
            AuthError::Forbidden(_) => Code::AuthForbidden,
            AuthError::Invalid { .. } => Code::Validation,
            AuthError::NotFound(_) => Code::NotFound,
            AuthError::Conflict(_) => Code::Conflict,
            AuthError::RateLimited(_) => Code::RateLimited,
            AuthError::Store(e) => e.code(),
            AuthError::Limiter(e) => e.code(),
        }
    }

    fn detail(&self) -> Option<serde_json::Value> {
        match self {
            AuthError::Invalid { field, .. } => Some(serde_json::json!({ "field": field })),
            _ => None,
        }
    }
}

/// Who acts and from where, recorded with every audit event.
#[derive(Debug, Clone, Default)]
pub struct AuditContext {
    /// A user id, a key id, `cli`, `setup` or `anonymous`.
    pub principal: String,
    /// The acting user, when known.
    pub user_id: Option<UserId>,
    /// Client address.
    pub ip: Option<String>,
    /// Client user agent (truncated).
    pub user_agent: Option<String>,
    /// Request id.
    pub request_id: Option<String>,
}

impl AuditContext {
    /// The context of a command-line action on the data directory.
    pub fn cli() -> Self {
        AuditContext {
            principal: "cli".to_owned(),
            ..Default::default()
        }
    }
}
