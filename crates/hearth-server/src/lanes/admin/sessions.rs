//! `/admin/sessions`: everyone's live web sessions.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;

use crate::auth::Audit;
use crate::error::ApiError;
use crate::extract::PathParams;
use crate::lanes::views::{SessionListView, SessionView, auth_error};
use crate::state::AppState;

/// `GET /admin/sessions`
pub async fn list(State(state): State<AppState>) -> Result<Json<SessionListView>, ApiError> {
    let sessions = state.auth.list_sessions(None).await.map_err(auth_error)?;
    Ok(Json(SessionListView {
        sessions: sessions.iter().map(|s| SessionView::new(s, None)).collect(),
    }))
}

/// `DELETE /admin/sessions/{id}`
pub async fn revoke(
    State(state): State<AppState>,
    Audit(ctx): Audit,
    PathParams(id): PathParams<String>,
) -> Result<StatusCode, ApiError> {
    state
        .auth
        .revoke_session(&id, None, &ctx)
        .await
        .map_err(auth_error)?;
    Ok(StatusCode::NO_CONTENT)
}
