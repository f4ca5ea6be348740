//! The auth policy, driven by the route table: each route's handler is wrapped
//! with [`layer`] carrying the route's [`Auth`]. `Open` routes pass (state-
//! changing ones on Hearth's lane get an Origin check); `Authenticated` and
//! `Scope` routes need an API key (`Authorization: Bearer` or `x-api-key`) or,
//! on Hearth's own lane (`/ui`, `/admin`), a session cookie, whose
//! state-changing requests must echo the session's CSRF token and come from our
//! own Origin. Then the per-key and per-user request budgets are counted,
//! generating routes (scopes `chat` and `embed`) have their token budgets
//! checked, and generation routes take a concurrent-stream slot held until the
//! body ends. Every request runs inside a [`UsageContext`] naming its request
//! id, user, key and route, which the metered model ports record usage under.

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue, Method, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use futures::StreamExt;
use hearth_core::auth::{Identity, token::constant_time_eq};
use hearth_core::limits::{Permit, Verdict, acquire_permit};
use hearth_core::usage::UsageContext;
use hearth_types::{Code, Scope};
use std::time::Duration;

use crate::auth::{CSRF_HEADER, Caller, session_cookie};
use crate::error::{ApiError, Lane};
use crate::middleware::request_id::RequestId;
use crate::routes::Auth;
use crate::state::AppState;

/// What the layer of one route knows.
#[derive(Clone)]
pub struct Guard {
    /// Application state.
    pub state: AppState,
    /// The route's policy.
    pub auth: Auth,
    /// The route's operation id (usage records name it).
    pub operation: &'static str,
}

fn usage_context(guard: &Guard, req: &Request, identity: Option<&Identity>) -> UsageContext {
    UsageContext {
        request_id: req.extensions().get::<RequestId>().map(|r| r.0.clone()),
        user_id: identity.map(|i| i.user.id.0.clone()),
        key_id: identity.and_then(|i| i.key.as_ref()).map(|k| k.id.clone()),
        route: guard.operation.to_owned(),
        quotas: identity.map(|_| guard.state.quotas.clone()),
    }
}

fn is_state_changing(method: &Method) -> bool {
    !matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS)
}

/// Credentials found on a request.
enum Credential<'a> {
    Key(&'a str),
    Cookie(&'a str),
    Malformed,
    None,
}

fn credential<'a>(headers: &'a HeaderMap, is_cookie_lane: bool) -> Credential<'a> {
    if let Some(value) = headers.get(header::AUTHORIZATION) {
        let text = value.to_str().unwrap_or_default();
        return match text.split_once(' ') {
            Some((scheme, token)) if scheme.eq_ignore_ascii_case("bearer") => {
                Credential::Key(token.trim())
            }
            _ => Credential::Malformed,
        };
    }
    if let Some(value) = headers.get("x-api-key") {
        return match value.to_str() {
            Ok(token) => Credential::Key(token.trim()),
            Err(_) => Credential::Malformed,
        };
    }
    match session_cookie(headers) {
        Some(cookie) if is_cookie_lane => Credential::Cookie(cookie),
        _ => Credential::None,
    }
}

/// Same-origin check: an `Origin` header, when present, must name this host or
/// one of `server.cors_origins`.
fn origin_ok(headers: &HeaderMap, state: &AppState) -> bool {
    let Some(origin) = headers.get(header::ORIGIN) else {
        return true;
    };
    let Ok(origin) = origin.to_str() else {
        return false;
    };
    if state.config.server.cors_origins.iter().any(|o| o == origin) {
        return true;
    }
    let authority = origin
        .strip_prefix("https://")
        .or_else(|| origin.strip_prefix("http://"));
    let host = headers.get(header::HOST).and_then(|h| h.to_str().ok());
    matches!((authority, host), (Some(a), Some(h)) if a.eq_ignore_ascii_case(h))
}

fn forbidden(message: &str) -> Response {
    ApiError::new(Code::AuthForbidden, message).into_response()
}

fn unauthenticated(message: &str) -> Response {
    let mut response = ApiError::new(Code::AuthRequired, message).into_response();
    response
        .headers_mut()
        .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
    response
}

/// Authenticate, authorise and count the request.
pub async fn layer(State(guard): State<Guard>, mut req: Request, next: Next) -> Response {
    let state = &guard.state;
    if !state.config.auth.enabled {
        // A caller set by an outer layer (tests impersonating users) is kept.
        if req.extensions().get::<Caller>().is_none() {
            req.extensions_mut().insert(Caller::anonymous());
        }
        let usage = usage_context(&guard, &req, None);
        return UsageContext::scope(Some(usage), next.run(req)).await;
    }
    let is_cookie_lane = Lane::for_path(req.uri().path()) == Lane::Hearth;
    let scope = match guard.auth {
        Auth::Open => {
            if is_cookie_lane && is_state_changing(req.method()) && !origin_ok(req.headers(), state)
            {
                return forbidden("cross-origin request refused");
            }
            req.extensions_mut().insert(Caller::public());
            let usage = usage_context(&guard, &req, None);
            return UsageContext::scope(Some(usage), next.run(req)).await;
        }
        Auth::Authenticated => None,
        Auth::Scope(name) => match Scope::parse(name) {
            Some(scope) => Some(scope),
            None => {
                return ApiError::new(Code::Internal, "route names an unknown scope")
                    .into_response();
            }
        },
    };
    let identity = match authenticate(state, req.headers(), req.method(), is_cookie_lane).await {
        Ok(identity) => identity,
        Err(response) => return response,
    };
    if let Some(scope) = scope
        && !identity.scopes.contains(&scope)
    {
        return forbidden(&format!("this route needs the scope '{scope}'"));
    }
    let is_generating = is_state_changing(req.method());
    let permit = match count(state, &identity, scope, is_generating).await {
        Ok(permit) => permit,
        Err(err) => return err.into_response(),
    };
    let usage = usage_context(&guard, &req, Some(&identity));
    req.extensions_mut().insert(Caller::authenticated(identity));
    let response = UsageContext::scope(Some(usage), next.run(req)).await;
    match permit {
        Some(permit) => hold_until_body_ends(response, permit),
        None => response,
    }
}

async fn authenticate(
    state: &AppState,
    headers: &HeaderMap,
    method: &Method,
    is_cookie_lane: bool,
) -> Result<Identity, Response> {
    match credential(headers, is_cookie_lane) {
        Credential::Key(key) => state
            .auth
            .authenticate_key(key)
            .await
            .map_err(|e| auth_failure(e.into())),
        Credential::Cookie(cookie) => {
            let identity = state
                .auth
                .authenticate_session(cookie)
                .await
                .map_err(|e| auth_failure(e.into()))?;
            if is_state_changing(method) {
                let session = identity.session.as_ref().expect("session identity");
                let sent = headers.get(CSRF_HEADER).and_then(|v| v.to_str().ok());
                if !sent.is_some_and(|t| constant_time_eq(t, &session.csrf_token)) {
                    return Err(forbidden(
                        "missing or wrong x-csrf-token header (take it from /ui/auth/me)",
                    ));
                }
                if !origin_ok(headers, state) {
                    return Err(forbidden("cross-origin request refused"));
                }
            }
            Ok(identity)
        }
        Credential::Malformed => Err(unauthenticated(
            "malformed credentials: use `Authorization: Bearer hk_…` or `x-api-key: hk_…`",
        )),
        Credential::None => Err(unauthenticated(
            "authentication required: send an API key as `Authorization: Bearer hk_…`",
        )),
    }
}

fn auth_failure(err: ApiError) -> Response {
    if err.code == Code::AuthRequired {
        unauthenticated(&err.message)
    } else {
        err.into_response()
    }
}

/// Count the request against the key's and the user's budgets; state-changing
/// `chat`/`embed` requests also need token budget left, and generation routes
/// take a concurrent-stream slot.
async fn count(
    state: &AppState,
    identity: &Identity,
    scope: Option<Scope>,
    is_generating: bool,
) -> Result<Option<Permit>, ApiError> {
    let limits = &state.config.limits;
    let minute = Duration::from_secs(60);
    let credential = match (&identity.key, &identity.session) {
        (Some(key), _) => format!("rl:key:{}", key.id),
        (None, Some(session)) => format!("rl:session:{}", session.id),
        (None, None) => format!("rl:user:{}", identity.user.id),
    };
    let user = format!("rl:user:{}", identity.user.id);
    for (key, limit) in [
        (credential, limits.requests_per_minute_per_key),
        (user, limits.requests_per_minute_per_user),
    ] {
        if limit == 0 {
            continue;
        }
        if let Verdict::Denied { retry_after_secs } = state.limiter.hit(&key, limit, minute).await?
        {
            return Err(ApiError::new(
                Code::RateLimited,
                format!("rate limit of {limit} requests per minute reached; retry in {retry_after_secs} s"),
            )
            .with_retry_after(retry_after_secs));
        }
    }
    // Reads under `chat` (listing conversations) stay possible over budget.
    if is_generating && matches!(scope, Some(Scope::Chat | Scope::Embed)) {
        check_tokens(state, identity).await?;
    }
    let max = limits.concurrent_streams_per_user;
    if scope != Some(Scope::Chat) || max == 0 {
        return Ok(None);
    }
    let key = format!("streams:user:{}", identity.user.id);
    match acquire_permit(&state.limiter, &key, max).await? {
        Ok(permit) => Ok(Some(permit)),
        Err(retry_after_secs) => Err(ApiError::new(
            Code::RateLimited,
            format!("at most {max} generations may run at once for one user"),
        )
        .with_retry_after(retry_after_secs)),
    }
}

/// Refuse when the key's or the user's token budget (per minute, day, month)
/// is used up.
async fn check_tokens(state: &AppState, identity: &Identity) -> Result<(), ApiError> {
    let mut subjects = Vec::new();
    if let Some(key) = &identity.key {
        subjects.push(hearth_core::usage::Subject::Key(key.id.clone()));
    }
    subjects.push(hearth_core::usage::Subject::User(
        identity.user.id.0.clone(),
    ));
    match state.quotas.check(&subjects).await {
        Ok(Ok(())) => Ok(()),
        Ok(Err(denied)) => {
            Err(ApiError::new(denied.code, denied.message)
                .with_retry_after(denied.retry_after_secs))
        }
        Err(err) => {
            tracing::error!(%err, "token budgets could not be checked");
            Err(ApiError::from_error(&err))
        }
    }
}

/// Keep the slot until the response body is finished or dropped (a cut stream
/// gives it back too).
fn hold_until_body_ends(response: Response, permit: Permit) -> Response {
    let (parts, body) = response.into_parts();
    let stream = body.into_data_stream().map(move |chunk| {
        let _held = &permit;
        chunk
    });
    Response::from_parts(parts, Body::from_stream(stream))
}
