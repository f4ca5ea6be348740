//! `/admin/invites`: single-use, expiring invites.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;

use crate::auth::{Audit, Caller};
use crate::error::ApiError;
use crate::extract::{JsonBody, PathParams};
use crate::lanes::views::{
    CreatedInviteView, InviteCreateRequest, InviteListView, InviteView, auth_error, parse_role,
};
use crate::state::AppState;

/// `GET /admin/invites`
pub async fn list(State(state): State<AppState>) -> Result<Json<InviteListView>, ApiError> {
    let invites = state.auth.list_invites().await.map_err(auth_error)?;
    Ok(Json(InviteListView {
        invites: invites.iter().map(InviteView::from).collect(),
    }))
}

/// `POST /admin/invites`
pub async fn create(
    State(state): State<AppState>,
    caller: Caller,
    Audit(ctx): Audit,
    JsonBody(body): JsonBody<InviteCreateRequest>,
) -> Result<(StatusCode, Json<CreatedInviteView>), ApiError> {
    let admin = caller.user()?;
    let role = parse_role(body.role.as_deref())?;
    let (invite, token) = state
        .auth
        .create_invite(role, &admin.id, &ctx)
        .await
        .map_err(auth_error)?;
    let view = CreatedInviteView {
        invite: InviteView::from(&invite),
        accept_path: format!("/ui/invites/{token}"),
        token,
    };
    Ok((StatusCode::CREATED, Json(view)))
}

/// `DELETE /admin/invites/{id}`
pub async fn delete(
    State(state): State<AppState>,
    Audit(ctx): Audit,
    PathParams(id): PathParams<String>,
) -> Result<StatusCode, ApiError> {
    state
        .auth
        .delete_invite(&id, &ctx)
        .await
        .map_err(auth_error)?;
    Ok(StatusCode::NO_CONTENT)
}
