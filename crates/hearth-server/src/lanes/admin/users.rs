//! `/admin/users`: list, create, change role, disable, reset password.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use hearth_core::auth::UserId;

use crate::auth::Audit;
use crate::error::ApiError;
use crate::extract::{JsonBody, PathParams};
use crate::lanes::views::{
    PasswordResetRequest, UserCreateRequest, UserListView, UserUpdateRequest, UserView, auth_error,
    parse_role,
};
use crate::state::AppState;

/// `GET /admin/users`
pub async fn list(State(state): State<AppState>) -> Result<Json<UserListView>, ApiError> {
    let users = state.auth.list_users().await.map_err(auth_error)?;
    Ok(Json(UserListView {
        users: users.iter().map(UserView::from).collect(),
    }))
}

/// `POST /admin/users`
pub async fn create(
    State(state): State<AppState>,
    Audit(ctx): Audit,
    JsonBody(body): JsonBody<UserCreateRequest>,
) -> Result<(StatusCode, Json<UserView>), ApiError> {
    let role = parse_role(body.role.as_deref())?;
    let user = state
        .auth
        .create_user(&body.username, &body.password, role, &ctx)
        .await
        .map_err(auth_error)?;
    Ok((StatusCode::CREATED, Json(UserView::from(&user))))
}

/// `PATCH /admin/users/{id}`
pub async fn update(
    State(state): State<AppState>,
    Audit(ctx): Audit,
    PathParams(id): PathParams<String>,
    JsonBody(body): JsonBody<UserUpdateRequest>,
) -> Result<Json<UserView>, ApiError> {
    let id = UserId(id);
    let mut user = state.auth.user(&id).await.map_err(auth_error)?;
    if let Some(role) = body.role.as_deref() {
        let role = parse_role(Some(role))?;
        user = state
            .auth
            .set_role(&id, role, &ctx)
            .await
            .map_err(auth_error)?;
    }
    if let Some(disabled) = body.disabled {
        user = state
            .auth
            .set_disabled(&id, disabled, &ctx)
            .await
            .map_err(auth_error)?;
    }
    Ok(Json(UserView::from(&user)))
}

/// `POST /admin/users/{id}/password`
pub async fn reset_password(
    State(state): State<AppState>,
    Audit(ctx): Audit,
    PathParams(id): PathParams<String>,
    JsonBody(body): JsonBody<PasswordResetRequest>,
) -> Result<StatusCode, ApiError> {
    state
        .auth
        .reset_password(&UserId(id), &body.password, &ctx)
        .await
        .map_err(auth_error)?;
    Ok(StatusCode::NO_CONTENT)
}
