//! Storage ports: what services need from the database, independent of the engine
//! behind it. `hearth-store` implements them for SQLite and PostgreSQL; one
//! contract test suite runs against both.

use async_trait::async_trait;
use hearth_types::{Code, ErrorCode};

use crate::auth::AccountRepo;
use crate::conversations::ConversationRepo;
use crate::jobs::JobRepo;
use crate::registry::RegistryRepo;
use crate::usage::UsageRepo;

/// Errors of any storage adapter.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The row does not exist.
    #[error("not found")]
    NotFound,
    /// A uniqueness or state rule was violated.
    #[error("conflict: {0}")]
    Conflict(String),
    /// The database cannot be reached or is busy beyond the timeout.
    #[error("storage unavailable: {0}")]
    Unavailable(String),
    /// Any other database failure (the message is for the log, not for clients).
    #[error("storage failure: {0}")]
    Internal(String),
}

impl ErrorCode for StoreError {
    fn code(&self) -> Code {
        match self {
            StoreError::NotFound => Code::NotFound,
            StoreError::Conflict(_) => Code::Conflict,
            StoreError::Unavailable(_) => Code::Unavailable,
            StoreError::Internal(_) => Code::Internal,
        }
    }
}

/// Which engine backs the store.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StoreKind {
    /// Embedded SQLite file.
    Sqlite,
    /// PostgreSQL server.
    Postgres,
}

impl StoreKind {
    /// Lower-case name for logs and `/v1/meta`.
    pub fn as_str(self) -> &'static str {
        match self {
            StoreKind::Sqlite => "sqlite",
            StoreKind::Postgres => "postgres",
        }
    }
}

/// The database as a whole: health, and each repository.
#[async_trait]
pub trait Store: Send + Sync {
    /// Which engine this is.
    fn kind(&self) -> StoreKind;
    /// Cheap round trip proving the database answers (for `/readyz`).
    async fn ping(&self) -> Result<(), StoreError>;
    /// Persisted jobs.
    fn jobs(&self) -> &dyn JobRepo;
    /// Users, keys, sessions, invites and the audit log.
    fn accounts(&self) -> &dyn AccountRepo;
    /// Conversations and their message trees.
    fn conversations(&self) -> &dyn ConversationRepo;
    /// Usage records and per-subject quota overrides.
    fn usage(&self) -> &dyn UsageRepo;
    /// Model manifests of the registry.
    fn registry(&self) -> &dyn RegistryRepo;
    /// Close connections, flushing what the engine buffers.
    async fn close(&self);
}
