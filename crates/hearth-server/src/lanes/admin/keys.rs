//! `/admin/keys`: everyone's API keys.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use hearth_core::auth::{KeyInput, UserId};

use crate::auth::{Audit, Caller};
use crate::error::ApiError;
use crate::extract::{JsonBody, PathParams};
use crate::lanes::views::{CreatedKeyView, KeyCreateRequest, KeyListView, KeyView, auth_error};
use crate::state::AppState;

/// `GET /admin/keys`
pub async fn list(State(state): State<AppState>) -> Result<Json<KeyListView>, ApiError> {
    let keys = state.auth.list_keys(None).await.map_err(auth_error)?;
    Ok(Json(KeyListView {
        keys: keys.iter().map(KeyView::from).collect(),
    }))
}

/// `POST /admin/keys`: a key for any user (`user_id`), or for the caller.
pub async fn create(
    State(state): State<AppState>,
    caller: Caller,
    Audit(ctx): Audit,
    JsonBody(body): JsonBody<KeyCreateRequest>,
) -> Result<(StatusCode, Json<CreatedKeyView>), ApiError> {
    let owner = match body.user_id {
        Some(id) => state.auth.user(&UserId(id)).await.map_err(auth_error)?,
        None => caller.user()?.clone(),
    };
    let input = KeyInput {
        name: body.name,
        scopes: body.scopes,
        models: body.models,
        expires_in_days: body.expires_in_days,
    };
    let (key, secret) = state
        .auth
        .create_key(&owner, input, &ctx)
        .await
        .map_err(auth_error)?;
    let view = CreatedKeyView {
        key: KeyView::from(&key),
        secret,
    };
    Ok((StatusCode::CREATED, Json(view)))
}

/// `DELETE /admin/keys/{id}`
pub async fn revoke(
    State(state): State<AppState>,
    Audit(ctx): Audit,
    PathParams(id): PathParams<String>,
) -> Result<StatusCode, ApiError> {
    state
        .auth
        .revoke_key(&id, None, &ctx)
        .await
        .map_err(auth_error)?;
    Ok(StatusCode::NO_CONTENT)
}
