//! `/ui/sessions`: one's own live sessions.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;

use crate::auth::{Audit, Caller};
use crate::error::ApiError;
use crate::extract::PathParams;
use crate::lanes::views::{SessionListView, SessionView, auth_error};
use crate::state::AppState;

/// `GET /ui/sessions`
pub async fn list(
    State(state): State<AppState>,
    caller: Caller,
) -> Result<Json<SessionListView>, ApiError> {
    let user = caller.user()?;
    let current = caller
        .identity
        .as_deref()
        .and_then(|i| i.session.as_ref())
        .map(|s| s.id.as_str());
    let sessions = state
        .auth
        .list_sessions(Some(&user.id))
        .await
        .map_err(auth_error)?;
    Ok(Json(SessionListView {
        sessions: sessions
            .iter()
            .map(|s| SessionView::new(s, current))
            .collect(),
    }))
}

/// `DELETE /ui/sessions/{id}`
pub async fn revoke(
    State(state): State<AppState>,
    caller: Caller,
    Audit(ctx): Audit,
    PathParams(id): PathParams<String>,
) -> Result<StatusCode, ApiError> {
    let user = caller.user()?;
    state
        .auth
        .revoke_session(&id, Some(&user.id), &ctx)
        .await
        .map_err(auth_error)?;
    Ok(StatusCode::NO_CONTENT)
}
