//! Views and request bodies of the account routes, shared by the web lane
//! (`/ui`, a user's own account) and the admin lane (everyone's). Domain
//! records are projected here; secrets appear only in the `Created*` views,
//! once.

use hearth_core::auth::{ApiKey, AuditEvent, Invite, Role, Session, User};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::error::ApiError;

/// A user.
#[derive(Debug, Serialize, ToSchema)]
pub struct UserView {
    /// User id.
    pub id: String,
    /// Login name.
    pub username: String,
    /// `admin`, `user` or `readonly`.
    pub role: String,
    /// Disabled users cannot sign in; their keys stop working.
    pub disabled: bool,
    /// Creation time, Unix milliseconds.
    pub created_at_ms: i64,
}

impl From<&User> for UserView {
    fn from(u: &User) -> Self {
        UserView {
            id: u.id.0.clone(),
            username: u.username.clone(),
            role: u.role.as_str().to_owned(),
            disabled: u.is_disabled,
            created_at_ms: u.created_at_ms,
        }
    }
}

/// A list of users.
#[derive(Debug, Serialize, ToSchema)]
pub struct UserListView {
    /// By name.
    pub users: Vec<UserView>,
}

/// The signed-in caller.
#[derive(Debug, Serialize, ToSchema)]
pub struct MeView {
    /// The user.
    pub user: UserView,
    /// Scopes the caller holds.
    pub scopes: Vec<String>,
    /// Echo it in `x-csrf-token` on state-changing requests (sessions only).
    pub csrf_token: Option<String>,
}

/// An API key (never the key itself).
#[derive(Debug, Serialize, ToSchema)]
pub struct KeyView {
    /// Key id (the principal of requests made with it).
    pub id: String,
    /// Owner's user id.
    pub user_id: String,
    /// Label.
    pub name: String,
    /// First characters of the key, e.g. `hk_3f9a1c2b0`.
    pub prefix: String,
    /// Scopes granted.
    pub scopes: Vec<String>,
    /// Models allowed; absent means all.
    pub models: Option<Vec<String>>,
    /// Expiry, Unix milliseconds.
    pub expires_at_ms: Option<i64>,
    /// Last use, Unix milliseconds (updated at most once a minute).
    pub last_used_at_ms: Option<i64>,
    /// Creation time, Unix milliseconds.
    pub created_at_ms: i64,
    /// Revocation time, Unix milliseconds.
    pub revoked_at_ms: Option<i64>,
}

impl From<&ApiKey> for KeyView {
    fn from(k: &ApiKey) -> Self {
        KeyView {
            id: k.id.clone(),
            user_id: k.user_id.0.clone(),
            name: k.name.clone(),
            prefix: k.prefix.clone(),
            scopes: k.scopes.iter().map(|s| s.as_str().to_owned()).collect(),
            models: k.models.clone(),
            expires_at_ms: k.expires_at_ms,
            last_used_at_ms: k.last_used_at_ms,
            created_at_ms: k.created_at_ms,
            revoked_at_ms: k.revoked_at_ms,
        }
    }
}

/// A list of keys.
#[derive(Debug, Serialize, ToSchema)]
pub struct KeyListView {
    /// Newest first.
    pub keys: Vec<KeyView>,
}

/// A key just created: the only time the key is shown.
#[derive(Debug, Serialize, ToSchema)]
pub struct CreatedKeyView {
    /// The key record.
    pub key: KeyView,
    /// The key itself (`hk_…`); store it now, it cannot be shown again.
    pub secret: String,
}

/// A new key.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct KeyCreateRequest {
    /// Label, 1-100 characters.
    pub name: String,
    /// Scopes (`chat`, `embed`, `models:read`, `models:write`, `admin`); default:
    /// all the owner's role holds.
    #[serde(default)]
    pub scopes: Vec<String>,
    /// Models the key may use; omit for all.
    pub models: Option<Vec<String>>,
    /// Days until it expires; omit for never.
    pub expires_in_days: Option<u32>,
    /// Admin lane only: the owner's user id (default: the caller).
    pub user_id: Option<String>,
}

/// A web session.
#[derive(Debug, Serialize, ToSchema)]
pub struct SessionView {
    /// Session id (not the cookie value).
    pub id: String,
    /// Owner's user id.
    pub user_id: String,
    /// Sign-in time, Unix milliseconds.
    pub created_at_ms: i64,
    /// Last use, Unix milliseconds.
    pub last_seen_at_ms: i64,
    /// Absolute expiry, Unix milliseconds.
    pub expires_at_ms: i64,
    /// Address at sign-in.
    pub ip: Option<String>,
    /// User agent at sign-in.
    pub user_agent: Option<String>,
    /// Whether this is the session of the request.
    pub current: bool,
}

impl SessionView {
    /// Project a session; `current` marks the caller's own.
    pub fn new(s: &Session, current: Option<&str>) -> Self {
        SessionView {
            id: s.id.clone(),
            user_id: s.user_id.0.clone(),
            created_at_ms: s.created_at_ms,
            last_seen_at_ms: s.last_seen_at_ms,
            expires_at_ms: s.expires_at_ms,
            ip: s.ip.clone(),
            user_agent: s.user_agent.clone(),
            current: current == Some(s.id.as_str()),
        }
    }
}

/// A list of sessions.
#[derive(Debug, Serialize, ToSchema)]
pub struct SessionListView {
    /// Newest first.
    pub sessions: Vec<SessionView>,
}

/// An invite (never its token).
#[derive(Debug, Serialize, ToSchema)]
pub struct InviteView {
    /// Invite id.
    pub id: String,
    /// Role of the account it creates.
    pub role: String,
    /// Admin who created it.
    pub created_by: String,
    /// Creation time, Unix milliseconds.
    pub created_at_ms: i64,
    /// Expiry, Unix milliseconds.
    pub expires_at_ms: i64,
    /// When it was used.
    pub used_at_ms: Option<i64>,
    /// The user it created.
    pub used_by: Option<String>,
}

impl From<&Invite> for InviteView {
    fn from(i: &Invite) -> Self {
        InviteView {
            id: i.id.clone(),
            role: i.role.as_str().to_owned(),
            created_by: i.created_by.0.clone(),
            created_at_ms: i.created_at_ms,
            expires_at_ms: i.expires_at_ms,
            used_at_ms: i.used_at_ms,
            used_by: i.used_by.as_ref().map(|u| u.0.clone()),
        }
    }
}

/// A list of invites.
#[derive(Debug, Serialize, ToSchema)]
pub struct InviteListView {
    /// Newest first.
    pub invites: Vec<InviteView>,
}

/// An invite just created: the only time its token is shown.
#[derive(Debug, Serialize, ToSchema)]
pub struct CreatedInviteView {
    /// The invite.
    pub invite: InviteView,
    /// Single-use token.
    pub token: String,
    /// Where the invitee sends `{username, password}` (POST).
    pub accept_path: String,
}

/// An audit event.
#[derive(Debug, Serialize, ToSchema)]
pub struct AuditEventView {
    /// Event id (ordered by time).
    pub id: String,
    /// Time, Unix milliseconds.
    pub at_ms: i64,
    /// What happened (`login`, `key.create`, …).
    pub action: String,
    /// Who did it.
    pub principal: String,
    /// What it was done to.
    pub target: Option<String>,
    /// `success` or `failure`.
    pub outcome: String,
    /// Client address.
    pub ip: Option<String>,
    /// Client user agent.
    pub user_agent: Option<String>,
    /// Request id.
    pub request_id: Option<String>,
    /// Structured detail.
    #[schema(value_type = Object)]
    pub detail: serde_json::Value,
}

impl From<AuditEvent> for AuditEventView {
    fn from(e: AuditEvent) -> Self {
        AuditEventView {
            id: e.id,
            at_ms: e.at_ms,
            action: e.action,
            principal: e.principal,
            target: e.target,
            outcome: e.outcome,
            ip: e.ip,
            user_agent: e.user_agent,
            request_id: e.request_id,
            detail: e.detail,
        }
    }
}

/// A page of the audit log.
#[derive(Debug, Serialize, ToSchema)]
pub struct AuditListView {
    /// Newest first.
    pub events: Vec<AuditEventView>,
    /// Pass as `before` for the next page; absent at the end.
    pub next_before: Option<String>,
}

/// Name and password (login, registration, invite acceptance).
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CredentialsRequest {
    /// Login name.
    pub username: String,
    /// Password.
    pub password: String,
}

/// First-run setup.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SetupRequest {
    /// The token printed in the server log at startup.
    pub token: String,
    /// The admin's login name.
    pub username: String,
    /// The admin's password.
    pub password: String,
}

/// Change one's own password.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PasswordChangeRequest {
    /// The current password.
    pub current_password: String,
    /// The new password (at least 10 characters, not a common one).
    pub new_password: String,
}

/// A new user (admin).
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UserCreateRequest {
    /// Login name.
    pub username: String,
    /// Initial password.
    pub password: String,
    /// `admin`, `user` (default) or `readonly`.
    pub role: Option<String>,
}

/// Changes to a user (admin); absent fields stay.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UserUpdateRequest {
    /// New role.
    pub role: Option<String>,
    /// Disable or enable.
    pub disabled: Option<bool>,
}

/// A password set by an admin.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PasswordResetRequest {
    /// The new password.
    pub password: String,
}

/// A new invite (admin).
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct InviteCreateRequest {
    /// Role of the account it creates: `user` (default), `readonly` or `admin`.
    pub role: Option<String>,
}

/// Parse a role field.
pub fn parse_role(raw: Option<&str>) -> Result<Role, ApiError> {
    match raw {
        None => Ok(Role::User),
        Some(text) => Role::parse(text)
            .ok_or_else(|| ApiError::invalid("role", "role must be admin, user or readonly")),
    }
}

/// Register every view and body of this module.
pub fn schemas(c: utoipa::openapi::ComponentsBuilder) -> utoipa::openapi::ComponentsBuilder {
    c.schema_from::<UserView>()
        .schema_from::<UserListView>()
        .schema_from::<MeView>()
        .schema_from::<KeyView>()
        .schema_from::<KeyListView>()
        .schema_from::<CreatedKeyView>()
        .schema_from::<KeyCreateRequest>()
        .schema_from::<SessionView>()
        .schema_from::<SessionListView>()
        .schema_from::<InviteView>()
        .schema_from::<InviteListView>()
        .schema_from::<CreatedInviteView>()
        .schema_from::<AuditEventView>()
        .schema_from::<AuditListView>()
        .schema_from::<CredentialsRequest>()
        .schema_from::<SetupRequest>()
        .schema_from::<PasswordChangeRequest>()
        .schema_from::<UserCreateRequest>()
        .schema_from::<UserUpdateRequest>()
        .schema_from::<PasswordResetRequest>()
        .schema_from::<InviteCreateRequest>()
}

/// An account error as an API error (with `Retry-After` when rate-limited).
pub fn auth_error(err: hearth_core::auth::AuthError) -> ApiError {
    match err {
        hearth_core::auth::AuthError::RateLimited(secs) => {
            ApiError::from(hearth_core::auth::AuthError::RateLimited(secs)).with_retry_after(secs)
        }
        other => other.into(),
    }
}
