//! Who is calling: the [`Caller`] extractor and the session cookie. The auth
//! middleware ([`crate::middleware::auth`]) authenticates each request against
//! the route table's [`Auth`](crate::routes::Auth) and inserts a `Caller` into
//! the request's extensions; handlers only read it.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;

use axum::extract::{ConnectInfo, FromRequestParts};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, header};
use hearth_core::auth::{AuditContext, Identity, Role, User, UserId};
use hearth_core::backend::Principal;
use hearth_types::{Code, Scope};

use crate::error::ApiError;
use crate::middleware::request_id::RequestId;

/// Name of the session cookie.
pub const SESSION_COOKIE: &str = "hearth_session";
/// Header carrying the session's CSRF token on state-changing requests.
pub const CSRF_HEADER: &str = "x-csrf-token";

/// The principal a request acts for.
#[derive(Debug, Clone)]
pub struct Caller {
    /// Scheduling, cache scoping and usage accounting key on it: the key id for
    /// API keys, the user id for sessions, `anonymous` otherwise.
    pub principal: Principal,
    /// Effective scopes.
    pub scopes: Vec<Scope>,
    /// Who authenticated, and how (`None` when anonymous).
    pub identity: Option<Arc<Identity>>,
}

impl Caller {
    /// The caller when authentication is off: every scope, no user.
    pub fn anonymous() -> Self {
        Caller {
            principal: Principal::anonymous(),
            scopes: Scope::ALL.to_vec(),
            identity: None,
        }
    }

    /// The caller of an open route: no scope, no user.
    pub fn public() -> Self {
        Caller {
            principal: Principal::anonymous(),
            scopes: Vec::new(),
            identity: None,
        }
    }

    /// An authenticated caller.
    pub fn authenticated(identity: Identity) -> Self {
        let principal = match &identity.key {
            Some(key) => key.id.clone(),
            None => identity.user.id.0.clone(),
        };
        Caller {
            principal: Principal(principal),
            scopes: identity.scopes.clone(),
            identity: Some(Arc::new(identity)),
        }
    }

    /// Whether the caller holds a scope.
    pub fn has_scope(&self, scope: Scope) -> bool {
        self.scopes.contains(&scope)
    }

    /// The user behind the request; 401 when there is none (auth off).
    pub fn user(&self) -> Result<&User, ApiError> {
        self.identity.as_deref().map(|i| &i.user).ok_or_else(|| {
            ApiError::new(
                Code::AuthRequired,
                "this route needs a signed-in user (authentication is off or no credentials)",
            )
        })
    }

    /// The user's id, if any.
    pub fn user_id(&self) -> Option<&UserId> {
        self.identity.as_deref().map(|i| &i.user.id)
    }

    /// The user's role, if any.
    pub fn role(&self) -> Option<Role> {
        self.identity.as_deref().map(|i| i.user.role)
    }

    /// The API key id, for key-authenticated requests.
    pub fn key_id(&self) -> Option<&str> {
        self.identity
            .as_deref()
            .and_then(|i| i.key.as_ref())
            .map(|k| k.id.as_str())
    }

    /// Whether the key's model allowlist (if any) admits `model`. Lanes that
    /// name a model call [`Caller::require_model`] before serving.
    pub fn may_use_model(&self, model: &str) -> bool {
        match self.identity.as_deref().and_then(|i| i.key.as_ref()) {
            Some(key) => key
                .models
                .as_ref()
                .is_none_or(|models| models.iter().any(|m| m == model)),
            None => true,
        }
    }

    /// 403 unless the key's model allowlist admits `model`.
    pub fn require_model(&self, model: &str) -> Result<(), ApiError> {
        if self.may_use_model(model) {
            Ok(())
        } else {
            Err(ApiError::new(
                Code::AuthForbidden,
                format!("this API key may not use the model '{model}'"),
            ))
        }
    }
}

impl<S: Send + Sync> FromRequestParts<S> for Caller {
    type Rejection = Infallible;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        Ok(parts
            .extensions
            .get::<Caller>()
            .cloned()
            .unwrap_or_else(Caller::anonymous))
    }
}

/// The audit context of a request: caller, address, user agent, request id.
pub struct Audit(pub AuditContext);

impl<S: Send + Sync> FromRequestParts<S> for Audit {
    type Rejection = Infallible;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let caller = Caller::from_request_parts(parts, state).await?;
        Ok(Audit(audit_context(parts, &caller)))
    }
}

/// Build the audit context from request parts.
pub fn audit_context(parts: &Parts, caller: &Caller) -> AuditContext {
    AuditContext {
        principal: caller.principal.0.clone(),
        user_id: caller.user_id().cloned(),
        ip: client_ip(parts),
        user_agent: parts
            .headers
            .get(header::USER_AGENT)
            .and_then(|v| v.to_str().ok())
            .map(|ua| ua.chars().take(256).collect()),
        request_id: parts.extensions.get::<RequestId>().map(|r| r.0.clone()),
    }
}

/// The peer address (proxies are not trusted: no `X-Forwarded-For`).
pub fn client_ip(parts: &Parts) -> Option<String> {
    parts
        .extensions
        .get::<ConnectInfo<SocketAddr>>()
        .map(|ConnectInfo(addr)| addr.ip().to_string())
}

/// The session cookie's value, if the request carries one.
pub fn session_cookie(headers: &HeaderMap) -> Option<&str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(name, _)| *name == SESSION_COOKIE)
        .map(|(_, value)| value)
}

/// `Set-Cookie` for a new session (or, with `None`, one that clears it):
/// `SameSite=Lax`, or `SameSite=None; Secure` when `auth.cookie_cross_site`
/// (the config refuses that mode without `cookie_secure`).
pub fn set_cookie(
    secret: Option<&str>,
    max_age_secs: u64,
    auth: &hearth_core::config::AuthConfig,
) -> HeaderValue {
    let (value, max_age) = match secret {
        Some(s) => (s, max_age_secs),
        None => ("", 0),
    };
    let same_site = if auth.cookie_cross_site {
        "None"
    } else {
        "Lax"
    };
    let secure = if auth.cookie_secure || auth.cookie_cross_site {
        "; Secure"
    } else {
        ""
    };
    HeaderValue::from_str(&format!(
        "{SESSION_COOKIE}={value}; Path=/; HttpOnly; SameSite={same_site}; Max-Age={max_age}{secure}"
    ))
    .expect("cookie is ASCII")
}
