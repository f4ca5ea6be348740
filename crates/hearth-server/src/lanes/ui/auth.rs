//! `/ui/auth/*`: first-run setup, sign-in, registration, sign-out, profile and
//! password.

use axum::Json;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};

use super::signed_in;
use crate::auth::{Audit, Caller, set_cookie};
use crate::error::ApiError;
use crate::extract::JsonBody;
use crate::lanes::views::{
    CredentialsRequest, MeView, PasswordChangeRequest, SetupRequest, UserView, auth_error,
};
use crate::state::AppState;

/// `POST /ui/auth/setup`
pub async fn setup(
    State(state): State<AppState>,
    Audit(ctx): Audit,
    JsonBody(body): JsonBody<SetupRequest>,
) -> Result<Response, ApiError> {
    let auth = &state.auth;
    let user = auth
        .setup(&body.token, &body.username, &body.password, &ctx)
        .await
        .map_err(auth_error)?;
    let session = auth.start_session(&user, &ctx).await.map_err(auth_error)?;
    Ok(signed_in(&state, StatusCode::CREATED, &user, &session))
}

/// `POST /ui/auth/login`
pub async fn login(
    State(state): State<AppState>,
    Audit(ctx): Audit,
    JsonBody(body): JsonBody<CredentialsRequest>,
) -> Result<Response, ApiError> {
    let (user, session) = state
        .auth
        .login(&body.username, &body.password, &ctx)
        .await
        .map_err(auth_error)?;
    Ok(signed_in(&state, StatusCode::OK, &user, &session))
}

/// `POST /ui/auth/register`
pub async fn register(
    State(state): State<AppState>,
    Audit(ctx): Audit,
    JsonBody(body): JsonBody<CredentialsRequest>,
) -> Result<Response, ApiError> {
    let auth = &state.auth;
    let user = auth
        .register(&body.username, &body.password, &ctx)
        .await
        .map_err(auth_error)?;
    let session = auth.start_session(&user, &ctx).await.map_err(auth_error)?;
    Ok(signed_in(&state, StatusCode::CREATED, &user, &session))
}

/// `POST /ui/auth/logout`
pub async fn logout(
    State(state): State<AppState>,
    caller: Caller,
    Audit(ctx): Audit,
) -> Result<Response, ApiError> {
    let session = caller
        .identity
        .as_deref()
        .and_then(|i| i.session.as_ref())
        .ok_or_else(|| ApiError::invalid("session", "only a session can sign out"))?;
    state.auth.logout(session, &ctx).await.map_err(auth_error)?;
    let cookie = set_cookie(None, 0, &state.config.auth);
    Ok((StatusCode::NO_CONTENT, [(header::SET_COOKIE, cookie)]).into_response())
}

/// `GET /ui/auth/me`
pub async fn me(caller: Caller) -> Result<Json<MeView>, ApiError> {
    let user = caller.user()?;
    let csrf_token = caller
        .identity
        .as_deref()
        .and_then(|i| i.session.as_ref())
        .map(|s| s.csrf_token.clone());
    Ok(Json(MeView {
        user: UserView::from(user),
        scopes: caller
            .scopes
            .iter()
            .map(|s| s.as_str().to_owned())
            .collect(),
        csrf_token,
    }))
}

/// `POST /ui/auth/password`
pub async fn change_password(
    State(state): State<AppState>,
    caller: Caller,
    Audit(ctx): Audit,
    JsonBody(body): JsonBody<PasswordChangeRequest>,
) -> Result<Response, ApiError> {
    let user = caller.user()?;
    let session = state
        .auth
        .change_password(user, &body.current_password, &body.new_password, &ctx)
        .await
        .map_err(auth_error)?;
    Ok(signed_in(&state, StatusCode::OK, user, &session))
}
