//! `/ui/keys`: one's own API keys.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use hearth_core::auth::KeyInput;

use crate::auth::{Audit, Caller};
use crate::error::ApiError;
use crate::extract::{JsonBody, PathParams};
use crate::lanes::views::{CreatedKeyView, KeyCreateRequest, KeyListView, KeyView, auth_error};
use crate::state::AppState;

/// `GET /ui/keys`
pub async fn list(
    State(state): State<AppState>,
    caller: Caller,
) -> Result<Json<KeyListView>, ApiError> {
    let user = caller.user()?;
    let keys = state
        .auth
        .list_keys(Some(&user.id))
        .await
        .map_err(auth_error)?;
    Ok(Json(KeyListView {
        keys: keys.iter().map(KeyView::from).collect(),
    }))
}

/// `POST /ui/keys`
pub async fn create(
    State(state): State<AppState>,
    caller: Caller,
    Audit(ctx): Audit,
    JsonBody(body): JsonBody<KeyCreateRequest>,
) -> Result<(StatusCode, Json<CreatedKeyView>), ApiError> {
    let user = caller.user()?;
    if body.user_id.is_some() {
        return Err(ApiError::invalid(
            "user_id",
            "user_id is for /admin/keys only",
        ));
    }
    let input = KeyInput {
        name: body.name,
        scopes: body.scopes,
        models: body.models,
        expires_in_days: body.expires_in_days,
    };
    let (key, secret) = state
        .auth
        .create_key(user, input, &ctx)
        .await
        .map_err(auth_error)?;
    let view = CreatedKeyView {
        key: KeyView::from(&key),
        secret,
    };
    Ok((StatusCode::CREATED, Json(view)))
}

/// `DELETE /ui/keys/{id}`
pub async fn revoke(
    State(state): State<AppState>,
    caller: Caller,
    Audit(ctx): Audit,
    PathParams(id): PathParams<String>,
) -> Result<StatusCode, ApiError> {
    let user = caller.user()?;
    state
        .auth
        .revoke_key(&id, Some(&user.id), &ctx)
        .await
        .map_err(auth_error)?;
    Ok(StatusCode::NO_CONTENT)
}
