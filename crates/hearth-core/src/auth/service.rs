//! [`AuthService`]: every account operation, with its policy checks and audit
//! events. Handlers and the CLI call it; it reaches storage through the
//! [`AccountRepo`] port and counts login attempts through the [`Limiter`] port.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use hearth_types::Scope;
use serde_json::json;

use super::model::{ApiKey, AuditEvent, Invite, Role, Session, User, UserId};
use super::password::{PasswordHasher, check_policy};
use super::repo::{AccountRepo, NewUser};
use super::token::{
    KEY_SHOWN_PREFIX_LEN, constant_time_eq, hash_secret, is_key_shaped, is_token_shaped,
    new_api_key, random_token,
};
use super::valid::{valid_key_name, valid_models, valid_scopes, valid_username};
use super::{AuditContext, AuthError};
use crate::config::Config;
use crate::jobs::now_ms;
use crate::limits::{Limiter, Verdict};
use crate::store::{Store, StoreError};

/// A session or key use refreshes its stored "last seen" at most this often.
const TOUCH_EVERY_MS: i64 = 60_000;
/// Longest accepted key lifetime.
const MAX_KEY_DAYS: i64 = 3650;

/// Policy knobs, from `[auth]` and `[limits]`.
#[derive(Debug, Clone)]
pub struct AuthSettings {
    /// A session unused this long ends.
    pub session_idle: Duration,
    /// A session ends this long after login, used or not.
    pub session_absolute: Duration,
    /// How long an invite stays valid.
    pub invite_ttl: Duration,
    /// Whether anyone may create a `user` account.
    pub is_open_registration: bool,
    /// Failed or not, login attempts per minute per client address and per name.
    pub login_attempts_per_minute: u32,
}

impl AuthSettings {
    /// The settings of a configuration.
    pub fn from_config(config: &Config) -> Self {
        AuthSettings {
            session_idle: Duration::from_secs(config.auth.session_idle_secs),
            session_absolute: Duration::from_secs(config.auth.session_absolute_secs),
            invite_ttl: Duration::from_secs(config.auth.invite_ttl_secs),
            is_open_registration: config.auth.open_registration,
            login_attempts_per_minute: config.limits.login_attempts_per_minute,
        }
    }
}

/// An authenticated principal.
#[derive(Debug, Clone)]
pub struct Identity {
    /// The user acting (the key's owner for keys).
    pub user: User,
    /// Effective scopes: the key's scopes within the role's, or the role's.
    pub scopes: Vec<Scope>,
    /// The key used, for key authentication.
    pub key: Option<ApiKey>,
    /// The session used, for cookie authentication.
    pub session: Option<Session>,
}

/// A session just created, with its secret (the cookie value, shown once).
#[derive(Debug, Clone)]
pub struct NewSession {
    /// The stored session.
    pub session: Session,
    /// The cookie value.
    pub secret: String,
}

/// What a new key should carry (unvalidated).
#[derive(Debug, Clone, Default)]
pub struct KeyInput {
    /// Label.
    pub name: String,
    /// Scope names; empty means every scope the owner's role holds.
    pub scopes: Vec<String>,
    /// Model allowlist; `None` means all models.
    pub models: Option<Vec<String>>,
    /// Days until expiry; `None` means never.
    pub expires_in_days: Option<u32>,
}

/// The account service.
pub struct AuthService {
    store: Arc<dyn Store>,
    limiter: Arc<dyn Limiter>,
    hasher: PasswordHasher,
    settings: AuthSettings,
    setup_token_hash: Mutex<Option<String>>,
}

impl AuthService {
    /// A service over a store and a limiter.
    pub fn new(
        store: Arc<dyn Store>,
        limiter: Arc<dyn Limiter>,
        hasher: PasswordHasher,
        settings: AuthSettings,
    ) -> Self {
        AuthService {
            store,
            limiter,
            hasher,
            settings,
            setup_token_hash: Mutex::new(None),
        }
    }

    /// The policy knobs.
    pub fn settings(&self) -> &AuthSettings {
        &self.settings
    }

    fn repo(&self) -> &dyn AccountRepo {
        self.store.accounts()
    }

    async fn hash(&self, password: &str) -> String {
        let (hasher, password) = (self.hasher.clone(), password.to_owned());
        tokio::task::spawn_blocking(move || hasher.hash(&password))
            .await
            .expect("password hashing task does not panic")
    }

    async fn verify(&self, password: &str, phc: Option<&str>) -> bool {
        let (hasher, password, phc) = (
            self.hasher.clone(),
            password.to_owned(),
            phc.map(str::to_owned),
        );
        tokio::task::spawn_blocking(move || match phc {
            Some(phc) => hasher.verify(&password, &phc),
            None => {
                hasher.verify_dummy(&password);
                false
            }
        })
        .await
        .expect("password verification task does not panic")
    }

    /// Append an audit event; a failure to write it is logged, never hidden.
    pub async fn audit(
        &self,
        ctx: &AuditContext,
        action: &str,
        target: Option<&str>,
        is_success: bool,
        detail: serde_json::Value,
    ) {
        let event = AuditEvent {
            id: uuid::Uuid::now_v7().to_string(),
            at_ms: now_ms(),
            action: action.to_owned(),
            principal: ctx.principal.clone(),
            target: target.map(str::to_owned),
            outcome: if is_success { "success" } else { "failure" }.to_owned(),
            ip: ctx.ip.clone(),
            user_agent: ctx.user_agent.clone(),
            request_id: ctx.request_id.clone(),
            detail,
        };
        if let Err(err) = self.repo().append_audit(event).await {
            tracing::error!(%err, action, "could not write the audit log");
        }
    }

    async fn new_user(
        &self,
        username: &str,
        password: &str,
        role: Role,
    ) -> Result<NewUser, AuthError> {
        let username = valid_username(username)?;
        check_policy(password, &username)
            .map_err(|e| AuthError::invalid("password", e.to_string()))?;
        Ok(NewUser {
            password_hash: self.hash(password).await,
            username,
            role,
        })
    }

    fn name_taken(err: StoreError) -> AuthError {
        match err {
            StoreError::Conflict(_) => AuthError::Conflict("that username is taken".to_owned()),
            other => AuthError::Store(other),
        }
    }

    // ----- first run -------------------------------------------------------

    /// With no users, make (and return, once) a setup token that lets the first
    /// person create the admin account; `None` when users exist.
    pub async fn prepare_setup(&self) -> Result<Option<String>, AuthError> {
        if self.repo().count_users().await? > 0 {
            return Ok(None);
        }
        let token = random_token();
        *self
            .setup_token_hash
            .lock()
            .unwrap_or_else(|e| e.into_inner()) = Some(hash_secret(&token));
        Ok(Some(token))
    }

    /// Create the first admin with the setup token.
    pub async fn setup(
        &self,
        token: &str,
        username: &str,
        password: &str,
        ctx: &AuditContext,
    ) -> Result<User, AuthError> {
        let expected = self
            .setup_token_hash
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone();
        let is_valid = is_token_shaped(token)
            && expected.is_some_and(|h| constant_time_eq(&h, &hash_secret(token)));
        if !is_valid {
            self.audit(ctx, "setup", None, false, json!({})).await;
            return Err(AuthError::Unauthenticated(
                "invalid setup token; use the one printed in the server log at startup",
            ));
        }
        let new = self.new_user(username, password, Role::Admin).await?;
        let user = self
            .repo()
            .create_first_user(new)
            .await
            .map_err(|e| match e {
                StoreError::Conflict(_) => AuthError::Conflict("setup is already done".to_owned()),
                other => AuthError::Store(other),
            })?;
        *self
            .setup_token_hash
            .lock()
            .unwrap_or_else(|e| e.into_inner()) = None;
        self.audit(
            ctx,
            "setup",
            Some(&user.id.0),
            true,
            json!({ "username": user.username }),
        )
        .await;
        Ok(user)
    }

    // ----- users -----------------------------------------------------------

    /// Create a user (admin or CLI).
    pub async fn create_user(
        &self,
        username: &str,
        password: &str,
        role: Role,
        ctx: &AuditContext,
    ) -> Result<User, AuthError> {
        let new = self.new_user(username, password, role).await?;
        let user = self
            .repo()
            .create_user(new)
            .await
            .map_err(Self::name_taken)?;
        self.audit(
            ctx,
            "user.create",
            Some(&user.id.0),
            true,
            json!({ "username": user.username, "role": role.as_str() }),
        )
        .await;
        Ok(user)
    }

    /// Self-service registration, when `auth.open_registration` is on.
    pub async fn register(
        &self,
        username: &str,
        password: &str,
        ctx: &AuditContext,
    ) -> Result<User, AuthError> {
        if !self.settings.is_open_registration {
            return Err(AuthError::Forbidden(
                "registration is invite-only (auth.open_registration = false); ask an admin for an invite".to_owned(),
            ));
        }
        self.create_user(username, password, Role::User, ctx).await
    }

    /// Every user.
    pub async fn list_users(&self) -> Result<Vec<User>, AuthError> {
        Ok(self.repo().list_users().await?)
    }

    /// One user by id.
    pub async fn user(&self, id: &UserId) -> Result<User, AuthError> {
        self.repo()
            .user(id)
            .await
            .map_err(|e| AuthError::or_not_found(e, "user"))
    }

    /// One user by name.
    pub async fn user_by_name(&self, name: &str) -> Result<User, AuthError> {
        let name = valid_username(name).map_err(|_| AuthError::NotFound("user"))?;
        self.repo()
            .user_by_name(&name)
            .await
            .map_err(|e| AuthError::or_not_found(e, "user"))
    }

    async fn other_active_admins(&self, except: &UserId) -> Result<usize, AuthError> {
        Ok(self
            .repo()
            .list_users()
            .await?
            .iter()
            .filter(|u| u.role == Role::Admin && !u.is_disabled && u.id != *except)
            .count())
    }

    /// Change a user's role; the last active admin cannot be demoted.
    pub async fn set_role(
        &self,
        id: &UserId,
        role: Role,
        ctx: &AuditContext,
    ) -> Result<User, AuthError> {
        let user = self.user(id).await?;
        if user.role == Role::Admin
            && role != Role::Admin
            && self.other_active_admins(id).await? == 0
        {
            return Err(AuthError::Conflict(
                "cannot demote the last active admin".to_owned(),
            ));
        }
        self.repo().set_role(id, role).await?;
        self.audit(
            ctx,
            "user.role",
            Some(&id.0),
            true,
            json!({ "from": user.role.as_str(), "to": role.as_str() }),
        )
        .await;
        self.user(id).await
    }

    /// Disable (ending its sessions) or enable a user; the last active admin
    /// cannot be disabled.
    pub async fn set_disabled(
        &self,
        id: &UserId,
        is_disabled: bool,
        ctx: &AuditContext,
    ) -> Result<User, AuthError> {
        let user = self.user(id).await?;
        if is_disabled && user.role == Role::Admin && self.other_active_admins(id).await? == 0 {
            return Err(AuthError::Conflict(
                "cannot disable the last active admin".to_owned(),
            ));
        }
        self.repo().set_disabled(id, is_disabled).await?;
        if is_disabled {
            self.repo().revoke_user_sessions(id, now_ms()).await?;
        }
        let action = if is_disabled {
            "user.disable"
        } else {
            "user.enable"
        };
        self.audit(ctx, action, Some(&id.0), true, json!({})).await;
        self.user(id).await
    }

    /// Set a new password without the old one (admin or CLI); ends the user's
    /// sessions.
    pub async fn reset_password(
        &self,
        id: &UserId,
        password: &str,
        ctx: &AuditContext,
    ) -> Result<(), AuthError> {
        let user = self.user(id).await?;
        check_policy(password, &user.username)
            .map_err(|e| AuthError::invalid("password", e.to_string()))?;
        let hash = self.hash(password).await;
        self.repo().set_password_hash(id, &hash).await?;
        self.repo().revoke_user_sessions(id, now_ms()).await?;
        self.audit(ctx, "user.password_reset", Some(&id.0), true, json!({}))
            .await;
        Ok(())
    }

    /// Change one's own password (the current one is required); every session
    /// of the user ends and a fresh one is returned for the caller.
    pub async fn change_password(
        &self,
        user: &User,
        current: &str,
        new: &str,
        ctx: &AuditContext,
    ) -> Result<NewSession, AuthError> {
        if current.len() > super::MAX_PASSWORD_BYTES
            || !self.verify(current, Some(&user.password_hash)).await
        {
            self.audit(
                ctx,
                "user.password_change",
                Some(&user.id.0),
                false,
                json!({}),
            )
            .await;
            return Err(AuthError::Forbidden(
                "the current password is wrong".to_owned(),
            ));
        }
        check_policy(new, &user.username)
            .map_err(|e| AuthError::invalid("new_password", e.to_string()))?;
        let hash = self.hash(new).await;
        self.repo().set_password_hash(&user.id, &hash).await?;
        self.repo().revoke_user_sessions(&user.id, now_ms()).await?;
        self.audit(
            ctx,
            "user.password_change",
            Some(&user.id.0),
            true,
            json!({}),
        )
        .await;
        self.start_session(user, ctx).await
    }

    // ----- login and sessions ---------------------------------------------

    async fn count_login(&self, key: String) -> Result<(), AuthError> {
        let limit = self.settings.login_attempts_per_minute;
        match self
            .limiter
            .hit(&key, limit, Duration::from_secs(60))
            .await?
        {
            Verdict::Allowed => Ok(()),
            Verdict::Denied { retry_after_secs } => Err(AuthError::RateLimited(retry_after_secs)),
        }
    }

    /// Check a name and password and open a session. Unknown names, disabled
    /// users and wrong passwords take the same path (one Argon2id verification)
    /// and the same answer.
    pub async fn login(
        &self,
        username: &str,
        password: &str,
        ctx: &AuditContext,
    ) -> Result<(User, NewSession), AuthError> {
        let name = username.trim().to_ascii_lowercase();
        let name_key: String = name.chars().take(64).collect();
        self.count_login(format!("login:ip:{}", ctx.ip.as_deref().unwrap_or("-")))
            .await?;
        self.count_login(format!("login:user:{}", hash_secret(&name_key)))
            .await?;
        let user = match valid_username(&name) {
            Ok(name) => match self.repo().user_by_name(&name).await {
                Ok(user) => Some(user),
                Err(StoreError::NotFound) => None,
                Err(other) => return Err(other.into()),
            },
            Err(_) => None,
        };
        let password_ok = password.len() <= super::MAX_PASSWORD_BYTES
            && self
                .verify(password, user.as_ref().map(|u| u.password_hash.as_str()))
                .await;
        let user = match user {
            Some(user) if password_ok && !user.is_disabled => user,
            other => {
                let target = other.map(|u| u.id.0);
                self.audit(
                    ctx,
                    "login",
                    target.as_deref(),
                    false,
                    json!({ "username": name_key }),
                )
                .await;
                return Err(AuthError::Unauthenticated("wrong username or password"));
            }
        };
        if self.hasher.needs_rehash(&user.password_hash) {
            let hash = self.hash(password).await;
            self.repo().set_password_hash(&user.id, &hash).await?;
        }
        let session = self.start_session(&user, ctx).await?;
        let ctx = AuditContext {
            principal: user.id.0.clone(),
            user_id: Some(user.id.clone()),
            ..ctx.clone()
        };
        self.audit(
            &ctx,
            "login",
            Some(&session.session.id),
            true,
            json!({ "username": user.username }),
        )
        .await;
        Ok((user, session))
    }

    /// Open a session for a user.
    pub async fn start_session(
        &self,
        user: &User,
        ctx: &AuditContext,
    ) -> Result<NewSession, AuthError> {
        let secret = random_token();
        let now = now_ms();
        let session = Session {
            id: uuid::Uuid::now_v7().to_string(),
            hash: hash_secret(&secret),
            user_id: user.id.clone(),
            csrf_token: random_token(),
            created_at_ms: now,
            last_seen_at_ms: now,
            expires_at_ms: now + self.settings.session_absolute.as_millis() as i64,
            ip: ctx.ip.clone(),
            user_agent: ctx.user_agent.clone(),
            revoked_at_ms: None,
        };
        self.repo().create_session(session.clone()).await?;
        Ok(NewSession { session, secret })
    }

    /// The identity behind a session cookie.
    pub async fn authenticate_session(&self, secret: &str) -> Result<Identity, AuthError> {
        const EXPIRED: AuthError =
            AuthError::Unauthenticated("session expired or revoked; log in again");
        if !is_token_shaped(secret) {
            return Err(EXPIRED);
        }
        let session = match self.repo().session_by_hash(&hash_secret(secret)).await {
            Ok(s) => s,
            Err(StoreError::NotFound) => return Err(EXPIRED),
            Err(other) => return Err(other.into()),
        };
        let now = now_ms();
        let idle_ms = self.settings.session_idle.as_millis() as i64;
        if session.revoked_at_ms.is_some()
            || now >= session.expires_at_ms
            || now - session.last_seen_at_ms > idle_ms
        {
            return Err(EXPIRED);
        }
        let user = self.repo().user(&session.user_id).await?;
        if user.is_disabled {
            return Err(EXPIRED);
        }
        if now - session.last_seen_at_ms > TOUCH_EVERY_MS {
            self.repo().touch_session(&session.id, now).await?;
        }
        Ok(Identity {
            scopes: user.role.scopes().to_vec(),
            user,
            key: None,
            session: Some(session),
        })
    }

    /// End the caller's own session.
    pub async fn logout(&self, session: &Session, ctx: &AuditContext) -> Result<(), AuthError> {
        self.repo()
            .revoke_session(&session.id, Some(&session.user_id), now_ms())
            .await
            .map_err(|e| AuthError::or_not_found(e, "session"))?;
        self.audit(ctx, "logout", Some(&session.id), true, json!({}))
            .await;
        Ok(())
    }

    /// Live sessions of a user, or of everyone.
    pub async fn list_sessions(&self, owner: Option<&UserId>) -> Result<Vec<Session>, AuthError> {
        Ok(self.repo().list_sessions(owner, now_ms()).await?)
    }

    /// Revoke a session (only the owner's when `owner` is given).
    pub async fn revoke_session(
        &self,
        id: &str,
        owner: Option<&UserId>,
        ctx: &AuditContext,
    ) -> Result<(), AuthError> {
        self.repo()
            .revoke_session(id, owner, now_ms())
            .await
            .map_err(|e| AuthError::or_not_found(e, "session"))?;
        self.audit(ctx, "session.revoke", Some(id), true, json!({}))
            .await;
        Ok(())
    }

    // ----- API keys --------------------------------------------------------

    /// The identity behind an API key; a revoked or expired key, or one of a
    /// disabled user, stops working at once.
    pub async fn authenticate_key(&self, raw: &str) -> Result<Identity, AuthError> {
        const BAD: AuthError = AuthError::Unauthenticated("invalid, expired or revoked API key");
        if !is_key_shaped(raw) {
            return Err(BAD);
        }
        let hash = hash_secret(raw);
        let key = match self.repo().key_by_hash(&hash).await {
            Ok(k) if constant_time_eq(&k.hash, &hash) => k,
            Ok(_) | Err(StoreError::NotFound) => return Err(BAD),
            Err(other) => return Err(other.into()),
        };
        let now = now_ms();
        if key.revoked_at_ms.is_some() || key.expires_at_ms.is_some_and(|t| now >= t) {
            return Err(BAD);
        }
        let user = self.repo().user(&key.user_id).await?;
        if user.is_disabled {
            return Err(BAD);
        }
        if key.last_used_at_ms.is_none_or(|t| now - t > TOUCH_EVERY_MS) {
            self.repo().touch_key(&key.id, now).await?;
        }
        let scopes = key
            .scopes
            .iter()
            .copied()
            .filter(|s| user.role.has_scope(*s))
            .collect();
        Ok(Identity {
            user,
            scopes,
            key: Some(key),
            session: None,
        })
    }

    /// Create a key for `owner`; returns the record and the key (shown once).
    pub async fn create_key(
        &self,
        owner: &User,
        input: KeyInput,
        ctx: &AuditContext,
    ) -> Result<(ApiKey, String), AuthError> {
        let name = valid_key_name(&input.name)?;
        let scopes = if input.scopes.is_empty() {
            owner.role.scopes().to_vec()
        } else {
            valid_scopes(&input.scopes)?
        };
        if let Some(s) = scopes.iter().find(|s| !owner.role.has_scope(**s)) {
            return Err(AuthError::Forbidden(format!(
                "a {} cannot hold the scope {s}",
                owner.role.as_str()
            )));
        }
        let models = input.models.as_deref().map(valid_models).transpose()?;
        let now = now_ms();
        let expires_at_ms = match input.expires_in_days {
            None => None,
            Some(d) if (1..=MAX_KEY_DAYS).contains(&i64::from(d)) => {
                Some(now + i64::from(d) * 86_400_000)
            }
            Some(_) => {
                return Err(AuthError::invalid(
                    "expires_in_days",
                    format!("must be between 1 and {MAX_KEY_DAYS}"),
                ));
            }
        };
        let secret = new_api_key();
        let key = ApiKey {
            id: uuid::Uuid::now_v7().to_string(),
            user_id: owner.id.clone(),
            name,
            prefix: secret[..KEY_SHOWN_PREFIX_LEN].to_owned(),
            hash: hash_secret(&secret),
            scopes,
            models,
            expires_at_ms,
            last_used_at_ms: None,
            created_at_ms: now,
            revoked_at_ms: None,
        };
        self.repo().create_key(key.clone()).await?;
        let scope_names: Vec<&str> = key.scopes.iter().map(|s| s.as_str()).collect();
        self.audit(
            ctx,
            "key.create",
            Some(&key.id),
            true,
            json!({ "owner": owner.id.0, "name": key.name, "scopes": scope_names }),
        )
        .await;
        Ok((key, secret))
    }

    /// Keys of a user, or of everyone.
    pub async fn list_keys(&self, owner: Option<&UserId>) -> Result<Vec<ApiKey>, AuthError> {
        Ok(self.repo().list_keys(owner).await?)
    }

    /// Revoke a key (only the owner's when `owner` is given).
    pub async fn revoke_key(
        &self,
        id: &str,
        owner: Option<&UserId>,
        ctx: &AuditContext,
    ) -> Result<(), AuthError> {
        self.repo()
            .revoke_key(id, owner, now_ms())
            .await
            .map_err(|e| AuthError::or_not_found(e, "key"))?;
        self.audit(ctx, "key.revoke", Some(id), true, json!({}))
            .await;
        Ok(())
    }

    // ----- invites ---------------------------------------------------------

    /// Create a single-use invite; returns it and its token (shown once).
    pub async fn create_invite(
        &self,
        role: Role,
        by: &UserId,
        ctx: &AuditContext,
    ) -> Result<(Invite, String), AuthError> {
        let token = random_token();
        let now = now_ms();
        let invite = Invite {
            id: uuid::Uuid::now_v7().to_string(),
            hash: hash_secret(&token),
            role,
            created_by: by.clone(),
            created_at_ms: now,
            expires_at_ms: now + self.settings.invite_ttl.as_millis() as i64,
            used_at_ms: None,
            used_by: None,
        };
        self.repo().create_invite(invite.clone()).await?;
        self.audit(
            ctx,
            "invite.create",
            Some(&invite.id),
            true,
            json!({ "role": role.as_str() }),
        )
        .await;
        Ok((invite, token))
    }

    /// Every invite.
    pub async fn list_invites(&self) -> Result<Vec<Invite>, AuthError> {
        Ok(self.repo().list_invites().await?)
    }

    /// Delete an unused invite.
    pub async fn delete_invite(&self, id: &str, ctx: &AuditContext) -> Result<(), AuthError> {
        self.repo()
            .delete_invite(id)
            .await
            .map_err(|e| AuthError::or_not_found(e, "invite"))?;
        self.audit(ctx, "invite.delete", Some(id), true, json!({}))
            .await;
        Ok(())
    }

    /// Accept an invite: create the account with the invite's role.
    pub async fn accept_invite(
        &self,
        token: &str,
        username: &str,
        password: &str,
        ctx: &AuditContext,
    ) -> Result<User, AuthError> {
        const GONE: AuthError = AuthError::NotFound("invite (or it was used or expired)");
        if !is_token_shaped(token) {
            return Err(GONE);
        }
        let new = self.new_user(username, password, Role::User).await?;
        let user = self
            .repo()
            .accept_invite(&hash_secret(token), new, now_ms())
            .await
            .map_err(|e| match e {
                StoreError::NotFound => GONE,
                other => Self::name_taken(other),
            })?;
        self.audit(
            ctx,
            "invite.accept",
            Some(&user.id.0),
            true,
            json!({ "username": user.username, "role": user.role.as_str() }),
        )
        .await;
        Ok(user)
    }

    // ----- audit -----------------------------------------------------------

    /// Audit events older than `before` (newest first).
    pub async fn audit_log(
        &self,
        before: Option<&str>,
        limit: u32,
    ) -> Result<Vec<AuditEvent>, AuthError> {
        Ok(self
            .repo()
            .list_audit(before, limit.clamp(1, 10_000))
            .await?)
    }
}
