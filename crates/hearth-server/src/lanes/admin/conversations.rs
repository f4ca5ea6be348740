//! `/admin/users/{user_id}/conversations…`: an admin reads a user's
//! conversations, only when `conversations.admin_can_read` allows it (else
//! `E_CAPABILITY_DISABLED`, 403). Every attempt is audited by the service.

use axum::Json;
use axum::extract::State;
use hearth_core::conversations::{ConversationId, ListCursor, ListFilter, OwnerId, TreeView};
use serde::Deserialize;

use crate::auth::Audit;
use crate::error::ApiError;
use crate::extract::{PathParams, QueryParams};
use crate::lanes::conversations::views::{ConversationDetailView, ConversationListView};
use crate::state::AppState;

/// Query of the list.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ListQuery {
    limit: Option<u32>,
    cursor: Option<String>,
}

/// `GET /admin/users/{user_id}/conversations`
pub async fn list(
    State(state): State<AppState>,
    Audit(ctx): Audit,
    PathParams(user_id): PathParams<String>,
    QueryParams(query): QueryParams<ListQuery>,
) -> Result<Json<ConversationListView>, ApiError> {
    let cursor = match query.cursor.as_deref() {
        None => None,
        Some(text) => Some(ListCursor::decode(text).ok_or_else(|| {
            ApiError::invalid("cursor", "cursor is malformed: pass next_cursor unchanged")
        })?),
    };
    let filter = ListFilter {
        cursor,
        archived: None,
        limit: query.limit.unwrap_or(50),
        ..ListFilter::default()
    };
    let page = state
        .conversations
        .admin_list(&ctx, &OwnerId(user_id), filter)
        .await?;
    Ok(Json(ConversationListView {
        conversations: page.items.into_iter().map(Into::into).collect(),
        next_cursor: page.next_cursor.map(|c| c.encode()),
    }))
}

/// Query of `get`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GetQuery {
    view: Option<String>,
}

/// `GET /admin/users/{user_id}/conversations/{id}?view=path|tree`
pub async fn get(
    State(state): State<AppState>,
    Audit(ctx): Audit,
    PathParams((user_id, id)): PathParams<(String, String)>,
    QueryParams(query): QueryParams<GetQuery>,
) -> Result<Json<ConversationDetailView>, ApiError> {
    let (view, name) = match query.view.as_deref() {
        None | Some("path") => (TreeView::Path, "path"),
        Some("tree") => (TreeView::Tree, "tree"),
        Some(_) => return Err(ApiError::invalid("view", "view is path or tree")),
    };
    let detail = state
        .conversations
        .admin_get(&ctx, &OwnerId(user_id), &ConversationId(id), view)
        .await?;
    Ok(Json(ConversationDetailView::new(detail, name)))
}
