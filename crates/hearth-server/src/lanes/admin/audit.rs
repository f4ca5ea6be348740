//! `/admin/audit`: the append-only audit log, paged or exported as JSON lines.

use axum::Json;
use axum::body::Body;
use axum::extract::State;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;

use crate::error::ApiError;
use crate::extract::QueryParams;
use crate::lanes::views::{AuditEventView, AuditListView, auth_error};
use crate::state::AppState;

/// Query of the list.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ListQuery {
    before: Option<String>,
    limit: Option<u32>,
}

/// `GET /admin/audit?before=&limit=`
pub async fn list(
    State(state): State<AppState>,
    QueryParams(query): QueryParams<ListQuery>,
) -> Result<Json<AuditListView>, ApiError> {
    let limit = query.limit.unwrap_or(100);
    if !(1..=1000).contains(&limit) {
        return Err(ApiError::invalid(
            "limit",
            "limit must be between 1 and 1000",
        ));
    }
    let events = state
        .auth
        .audit_log(query.before.as_deref(), limit)
        .await
        .map_err(auth_error)?;
    let next_before = (events.len() == limit as usize)
        .then(|| events.last().map(|e| e.id.clone()))
        .flatten();
    Ok(Json(AuditListView {
        events: events.into_iter().map(AuditEventView::from).collect(),
        next_before,
    }))
}

/// `GET /admin/audit/export`: every event, newest first, one JSON object per
/// line, streamed page by page.
pub async fn export(State(state): State<AppState>) -> Response {
    let pages = futures::stream::unfold(Some(None::<String>), move |cursor| {
        let state = state.clone();
        async move {
            let before = cursor?;
            match state.auth.audit_log(before.as_deref(), 500).await {
                Ok(events) if events.is_empty() => None,
                Ok(events) => {
                    let next = (events.len() == 500).then(|| events.last().map(|e| e.id.clone()));
                    let mut text = String::new();
                    for event in events {
                        let line = serde_json::to_string(&AuditEventView::from(event))
                            .expect("views serialize");
                        text.push_str(&line);
                        text.push('\n');
                    }
                    Some((Ok::<_, std::io::Error>(text), next.flatten().map(Some)))
                }
                Err(err) => {
                    tracing::error!(%err, "audit export failed");
                    Some((Err(std::io::Error::other("audit export failed")), None))
                }
            }
        }
    });
    (
        [(header::CONTENT_TYPE, "application/x-ndjson")],
        Body::from_stream(pages),
    )
        .into_response()
}
