//! `/ui/invites/{token}`: create an account with an invite.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;

use super::signed_in;
use crate::auth::Audit;
use crate::error::ApiError;
use crate::extract::{JsonBody, PathParams};
use crate::lanes::views::{CredentialsRequest, auth_error};
use crate::state::AppState;

/// `POST /ui/invites/{token}`
pub async fn accept(
    State(state): State<AppState>,
    Audit(ctx): Audit,
    PathParams(token): PathParams<String>,
    JsonBody(body): JsonBody<CredentialsRequest>,
) -> Result<Response, ApiError> {
    let auth = &state.auth;
    let user = auth
        .accept_invite(&token, &body.username, &body.password, &ctx)
        .await
        .map_err(auth_error)?;
    let session = auth.start_session(&user, &ctx).await.map_err(auth_error)?;
    Ok(signed_in(&state, StatusCode::CREATED, &user, &session))
}
