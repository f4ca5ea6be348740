//! The storage port for accounts: users, API keys, sessions, invites and the
//! audit log. Implemented by `hearth-store` for SQLite and PostgreSQL; the
//! contract suite there runs every behaviour on both.

use async_trait::async_trait;

use super::model::{ApiKey, AuditEvent, Invite, Role, Session, User, UserId};
use crate::store::StoreError;

/// Input for a new user; the password is already hashed.
#[derive(Debug, Clone)]
pub struct NewUser {
    /// Login name (validated).
    pub username: String,
    /// Argon2id PHC string.
    pub password_hash: String,
    /// Role.
    pub role: Role,
}

/// Repository of accounts. Every write is durable when it returns.
#[async_trait]
pub trait AccountRepo: Send + Sync {
    /// Create a user; `Conflict` when the name is taken.
    async fn create_user(&self, user: NewUser) -> Result<User, StoreError>;
    /// Create a user only if no user exists yet (first-run setup);
    /// `Conflict` when one does.
    async fn create_first_user(&self, user: NewUser) -> Result<User, StoreError>;
    /// One user by id.
    async fn user(&self, id: &UserId) -> Result<User, StoreError>;
    /// One user by login name.
    async fn user_by_name(&self, username: &str) -> Result<User, StoreError>;
    /// Every user, by name.
    async fn list_users(&self) -> Result<Vec<User>, StoreError>;
    /// How many users exist.
    async fn count_users(&self) -> Result<u64, StoreError>;
    /// Replace a user's password hash.
    async fn set_password_hash(&self, id: &UserId, hash: &str) -> Result<(), StoreError>;
    /// Change a user's role.
    async fn set_role(&self, id: &UserId, role: Role) -> Result<(), StoreError>;
    /// Disable or enable a user.
    async fn set_disabled(&self, id: &UserId, is_disabled: bool) -> Result<(), StoreError>;

    /// Store a new key.
    async fn create_key(&self, key: ApiKey) -> Result<(), StoreError>;
    /// The key whose hash this is (revoked ones too: the caller decides).
    async fn key_by_hash(&self, hash: &str) -> Result<ApiKey, StoreError>;
    /// One key by id.
    async fn key(&self, id: &str) -> Result<ApiKey, StoreError>;
    /// Keys of one user, or of everyone; newest first.
    async fn list_keys(&self, owner: Option<&UserId>) -> Result<Vec<ApiKey>, StoreError>;
    /// Revoke a key (of `owner` when given); `NotFound` when there is no such
    /// live key.
    async fn revoke_key(
        &self,
        id: &str,
        owner: Option<&UserId>,
        at_ms: i64,
    ) -> Result<(), StoreError>;
    /// Record a successful use.
    async fn touch_key(&self, id: &str, at_ms: i64) -> Result<(), StoreError>;

    /// Store a new session.
    async fn create_session(&self, session: Session) -> Result<(), StoreError>;
    /// The session whose cookie hash this is.
    async fn session_by_hash(&self, hash: &str) -> Result<Session, StoreError>;
    /// Record a use (moves the idle expiry).
    async fn touch_session(&self, id: &str, at_ms: i64) -> Result<(), StoreError>;
    /// Live sessions of one user, or of everyone; newest first.
    async fn list_sessions(
        &self,
        owner: Option<&UserId>,
        now_ms: i64,
    ) -> Result<Vec<Session>, StoreError>;
    /// Revoke a session (of `owner` when given); `NotFound` when there is no such
    /// live session.
    async fn revoke_session(
        &self,
        id: &str,
        owner: Option<&UserId>,
        at_ms: i64,
    ) -> Result<(), StoreError>;
    /// Revoke every session of a user; returns how many.
    async fn revoke_user_sessions(&self, user: &UserId, at_ms: i64) -> Result<u64, StoreError>;

    /// Store a new invite.
    async fn create_invite(&self, invite: Invite) -> Result<(), StoreError>;
    /// Invites, newest first.
    async fn list_invites(&self) -> Result<Vec<Invite>, StoreError>;
    /// In one transaction: mark the live invite with this hash used and create
    /// the user with the invite's role. `NotFound` when the invite is unknown,
    /// used or expired; `Conflict` when the name is taken (the invite stays
    /// unused).
    async fn accept_invite(
        &self,
        hash: &str,
        user: NewUser,
        now_ms: i64,
    ) -> Result<User, StoreError>;
    /// Delete an unused invite.
    async fn delete_invite(&self, id: &str) -> Result<(), StoreError>;

    /// Append to the audit log (the table refuses updates and deletes).
    async fn append_audit(&self, event: AuditEvent) -> Result<(), StoreError>;
    /// Audit events older than `before_id` (newest first), at most `limit`.
    async fn list_audit(
        &self,
        before_id: Option<&str>,
        limit: u32,
    ) -> Result<Vec<AuditEvent>, StoreError>;
}
