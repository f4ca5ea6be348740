//! Account records as the core and the storage adapters see them. Secrets never
//! appear here in clear: passwords are PHC strings, keys, session ids and invite
//! tokens are SHA-256 hashes.

use hearth_types::Scope;
use serde::{Deserialize, Serialize};

/// A user id (UUID v7 text).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct UserId(pub String);

impl UserId {
    /// A fresh, time-ordered id.
    pub fn new() -> Self {
        UserId(uuid::Uuid::now_v7().to_string())
    }
}

impl Default for UserId {
    fn default() -> Self {
        Self::new()
    }
}

impl std::fmt::Display for UserId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// What a user may do at most.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// Everything, including other users.
    Admin,
    /// Chat, embed, list models.
    User,
    /// Read own data and list models; never generate or change anything.
    Readonly,
}

impl Role {
    /// Stable text stored in the database.
    pub const fn as_str(self) -> &'static str {
        match self {
            Role::Admin => "admin",
            Role::User => "user",
            Role::Readonly => "readonly",
        }
    }

    /// Parse the stored text.
    pub fn parse(text: &str) -> Option<Role> {
        [Role::Admin, Role::User, Role::Readonly]
            .into_iter()
            .find(|r| r.as_str() == text)
    }

    /// The scopes this role holds; a key of the user never exceeds them.
    pub fn scopes(self) -> &'static [Scope] {
        match self {
            Role::Admin => Scope::ALL,
            Role::User => &[Scope::Chat, Scope::Embed, Scope::ModelsRead],
            Role::Readonly => &[Scope::ModelsRead],
        }
    }

    /// Whether the role holds `scope`.
    pub fn has_scope(self, scope: Scope) -> bool {
        self.scopes().contains(&scope)
    }
}

/// A stored user.
#[derive(Debug, Clone, PartialEq)]
pub struct User {
    /// Id.
    pub id: UserId,
    /// Unique login name (lower case, `[a-z0-9._-]`).
    pub username: String,
    /// Argon2id PHC string.
    pub password_hash: String,
    /// Role.
    pub role: Role,
    /// A disabled user cannot log in and its keys and sessions stop working.
    pub is_disabled: bool,
    /// Creation time, Unix milliseconds.
    pub created_at_ms: i64,
    /// Last change, Unix milliseconds.
    pub updated_at_ms: i64,
}

/// A stored API key (the secret itself is never stored).
#[derive(Debug, Clone, PartialEq)]
pub struct ApiKey {
    /// Public id (UUID v7 text), the principal of requests made with the key.
    pub id: String,
    /// Owner.
    pub user_id: UserId,
    /// Label chosen by the owner.
    pub name: String,
    /// First characters of the key (`hk_…`), for recognising it in lists.
    pub prefix: String,
    /// SHA-256 of the whole key, hex.
    pub hash: String,
    /// Scopes granted (never more than the owner's role holds at use time).
    pub scopes: Vec<Scope>,
    /// Models the key may use; `None` means all.
    pub models: Option<Vec<String>>,
    /// Expiry, Unix milliseconds.
    pub expires_at_ms: Option<i64>,
    /// Last successful use, Unix milliseconds.
    pub last_used_at_ms: Option<i64>,
    /// Creation time, Unix milliseconds.
    pub created_at_ms: i64,
    /// Revocation time, Unix milliseconds.
    pub revoked_at_ms: Option<i64>,
}

/// A stored web session.
#[derive(Debug, Clone, PartialEq)]
pub struct Session {
    /// Public id (UUID v7 text) used to list and revoke it; not the cookie value.
    pub id: String,
    /// SHA-256 of the cookie value, hex.
    pub hash: String,
    /// Owner.
    pub user_id: UserId,
    /// Token the client echoes in `x-csrf-token` on state-changing requests.
    pub csrf_token: String,
    /// Creation time, Unix milliseconds.
    pub created_at_ms: i64,
    /// Last use, Unix milliseconds (idle expiry counts from here).
    pub last_seen_at_ms: i64,
    /// Absolute expiry, Unix milliseconds.
    pub expires_at_ms: i64,
    /// Client address at login.
    pub ip: Option<String>,
    /// Client user agent at login.
    pub user_agent: Option<String>,
    /// Revocation time, Unix milliseconds.
    pub revoked_at_ms: Option<i64>,
}

/// A stored invite.
#[derive(Debug, Clone, PartialEq)]
pub struct Invite {
    /// Public id (UUID v7 text).
    pub id: String,
    /// SHA-256 of the invite token, hex.
    pub hash: String,
    /// Role the new user gets.
    pub role: Role,
    /// Admin who created it.
    pub created_by: UserId,
    /// Creation time, Unix milliseconds.
    pub created_at_ms: i64,
    /// Expiry, Unix milliseconds.
    pub expires_at_ms: i64,
    /// When it was accepted (single use).
    pub used_at_ms: Option<i64>,
    /// The user created by accepting it.
    pub used_by: Option<UserId>,
}

/// One entry of the append-only audit log.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AuditEvent {
    /// Id (UUID v7 text: ordered by time).
    pub id: String,
    /// Time, Unix milliseconds.
    pub at_ms: i64,
    /// What happened, e.g. `login.failure`, `key.create`.
    pub action: String,
    /// Who did it: a user id, a key id, `cli`, `setup` or `anonymous`.
    pub principal: String,
    /// What it was done to (user id, key id, session id), if anything.
    pub target: Option<String>,
    /// `success` or `failure`.
    pub outcome: String,
    /// Client address.
    pub ip: Option<String>,
    /// Client user agent.
    pub user_agent: Option<String>,
    /// Request id.
    pub request_id: Option<String>,
    /// Structured detail (never secrets).
    pub detail: serde_json::Value,
}
