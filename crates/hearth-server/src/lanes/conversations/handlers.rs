//! Handlers of `/ui/conversations…`: extract, call one service method, map the
//! result to a view.

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, header};
use axum::response::{IntoResponse, Response};
use hearth_core::conversations::{
    ConversationId, ConversationPatch, GenerateOptions, ListCursor, ListFilter, MessageId,
    NewConversation, PersonaInput, SendInput, TreeView, Turn,
};
use serde::Deserialize;

use super::owner;
use super::stream;
use super::views::*;
use crate::auth::Caller;
use crate::error::ApiError;
use crate::extract::{JsonBody, PathParams, QueryParams};
use crate::middleware::request_id::RequestId;
use crate::state::AppState;

/// Query of the list.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ListQuery {
    limit: Option<u32>,
    cursor: Option<String>,
    q: Option<String>,
    pinned: Option<bool>,
    archived: Option<String>,
}

/// `GET /ui/conversations`
pub async fn list(
    State(state): State<AppState>,
    caller: Caller,
    QueryParams(query): QueryParams<ListQuery>,
) -> Result<Json<ConversationListView>, ApiError> {
    let cursor = match query.cursor.as_deref() {
        None => None,
        Some(text) => Some(ListCursor::decode(text).ok_or_else(|| {
            ApiError::invalid("cursor", "cursor is malformed: pass next_cursor unchanged")
        })?),
    };
    let archived = match query.archived.as_deref() {
        None | Some("false") => Some(false),
        Some("true") => Some(true),
        Some("any") => None,
        Some(_) => {
            return Err(ApiError::invalid(
                "archived",
                "archived is false, true or any",
            ));
        }
    };
    let filter = ListFilter {
        search: query.q,
        pinned: query.pinned,
        archived,
        cursor,
        limit: query.limit.unwrap_or(50),
    };
    let page = state.conversations.list(&owner(&caller), filter).await?;
    Ok(Json(ConversationListView {
        conversations: page.items.into_iter().map(Into::into).collect(),
        next_cursor: page.next_cursor.map(|c| c.encode()),
    }))
}

/// `POST /ui/conversations`
pub async fn create(
    State(state): State<AppState>,
    caller: Caller,
    JsonBody(body): JsonBody<CreateConversationRequest>,
) -> Result<Json<ConversationView>, ApiError> {
    let input = NewConversation {
        title: body.title,
        model: body.model,
        system_prompt: body.system_prompt,
        persona_id: body.persona_id,
        persona_variables: body.persona_variables,
        params: body.params,
    };
    let created = state.conversations.create(&owner(&caller), input).await?;
    Ok(Json(created.into()))
}

/// `GET /ui/personas`
pub async fn personas(
    State(state): State<AppState>,
    caller: Caller,
) -> Result<Json<PersonaListView>, ApiError> {
    let all = state.conversations.personas(&owner(&caller)).await?;
    Ok(Json(PersonaListView {
        personas: all.into_iter().map(PersonaView::from).collect(),
    }))
}

/// Query of `get_persona`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PersonaQuery {
    version: Option<i64>,
}

/// `GET /ui/personas/{id}?version=N`
pub async fn get_persona(
    State(state): State<AppState>,
    caller: Caller,
    PathParams(id): PathParams<String>,
    QueryParams(query): QueryParams<PersonaQuery>,
) -> Result<Json<PersonaView>, ApiError> {
    let persona = state
        .conversations
        .persona(&owner(&caller), &id, query.version)
        .await?;
    Ok(Json(persona.into()))
}

/// `POST /ui/personas`
pub async fn create_persona(
    State(state): State<AppState>,
    caller: Caller,
    JsonBody(body): JsonBody<PersonaRequest>,
) -> Result<Json<PersonaView>, ApiError> {
    let created = state
        .conversations
        .create_persona(&owner(&caller), persona_input(body))
        .await?;
    Ok(Json(created.into()))
}

/// `PUT /ui/personas/{id}`
pub async fn update_persona(
    State(state): State<AppState>,
    caller: Caller,
    PathParams(id): PathParams<String>,
    JsonBody(body): JsonBody<PersonaRequest>,
) -> Result<Json<PersonaView>, ApiError> {
    let updated = state
        .conversations
        .update_persona(&owner(&caller), &id, persona_input(body))
        .await?;
    Ok(Json(updated.into()))
}

/// `DELETE /ui/personas/{id}`
pub async fn delete_persona(
    State(state): State<AppState>,
    caller: Caller,
    PathParams(id): PathParams<String>,
) -> Result<axum::http::StatusCode, ApiError> {
    state
        .conversations
        .delete_persona(&owner(&caller), &id)
        .await?;
    Ok(axum::http::StatusCode::NO_CONTENT)
}

fn persona_input(body: PersonaRequest) -> PersonaInput {
    PersonaInput {
        name: body.name,
        description: body.description,
        template: body.template,
    }
}

/// Query of `get`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GetQuery {
    view: Option<String>,
}

/// `GET /ui/conversations/{id}?view=path|tree`
pub async fn get(
    State(state): State<AppState>,
    caller: Caller,
    PathParams(id): PathParams<String>,
    QueryParams(query): QueryParams<GetQuery>,
) -> Result<Json<ConversationDetailView>, ApiError> {
    let (view, name) = match query.view.as_deref() {
        None | Some("path") => (TreeView::Path, "path"),
        Some("tree") => (TreeView::Tree, "tree"),
        Some(_) => return Err(ApiError::invalid("view", "view is path or tree")),
    };
    let detail = state
        .conversations
        .get(&owner(&caller), &ConversationId(id), view)
        .await?;
    Ok(Json(ConversationDetailView::new(detail, name)))
}

/// `PATCH /ui/conversations/{id}`
pub async fn update(
    State(state): State<AppState>,
    caller: Caller,
    PathParams(id): PathParams<String>,
    JsonBody(body): JsonBody<UpdateConversationRequest>,
) -> Result<Json<ConversationView>, ApiError> {
    let patch = ConversationPatch {
        title: body.title,
        model: body.model,
        system_prompt: body.system_prompt,
        params: body.params,
        is_pinned: body.pinned,
        is_archived: body.archived,
    };
    let updated = state
        .conversations
        .update(&owner(&caller), &ConversationId(id), patch)
        .await?;
    Ok(Json(updated.into()))
}

/// Query of `delete`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DeleteQuery {
    purge: Option<bool>,
}

/// `DELETE /ui/conversations/{id}?purge=true`
pub async fn delete(
    State(state): State<AppState>,
    caller: Caller,
    PathParams(id): PathParams<String>,
    QueryParams(query): QueryParams<DeleteQuery>,
) -> Result<Json<DeletedView>, ApiError> {
    let purged = query.purge.unwrap_or(false);
    state
        .conversations
        .delete(&owner(&caller), &ConversationId(id.clone()), purged)
        .await?;
    Ok(Json(DeletedView { id, purged }))
}

/// Query of `export`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExportQuery {
    format: Option<String>,
}

/// `GET /ui/conversations/{id}/export?format=json|markdown`
pub async fn export(
    State(state): State<AppState>,
    caller: Caller,
    PathParams(id): PathParams<String>,
    QueryParams(query): QueryParams<ExportQuery>,
) -> Result<Response, ApiError> {
    let (owner, id) = (owner(&caller), ConversationId(id));
    let service = &state.conversations;
    match query.format.as_deref() {
        None | Some("json") => Ok(Json(service.export(&owner, &id).await?).into_response()),
        Some("markdown") => Ok((
            [(header::CONTENT_TYPE, "text/markdown; charset=utf-8")],
            service.export_markdown(&owner, &id).await?,
        )
            .into_response()),
        Some(_) => Err(ApiError::invalid("format", "format is json or markdown")),
    }
}

/// `POST /ui/conversations/import`
pub async fn import(
    State(state): State<AppState>,
    caller: Caller,
    JsonBody(body): JsonBody<serde_json::Value>,
) -> Result<Json<ImportView>, ApiError> {
    let created = state.conversations.import(&owner(&caller), body).await?;
    Ok(Json(ImportView {
        conversations: created.into_iter().map(Into::into).collect(),
    }))
}

/// `POST /ui/conversations/{id}/fork`
pub async fn fork(
    State(state): State<AppState>,
    caller: Caller,
    PathParams(id): PathParams<String>,
    JsonBody(body): JsonBody<ForkRequest>,
) -> Result<Json<ConversationView>, ApiError> {
    let at = body.message_id.map(MessageId);
    let fork = state
        .conversations
        .fork(&owner(&caller), &ConversationId(id), at.as_ref())
        .await?;
    Ok(Json(fork.into()))
}

/// `POST /ui/conversations/{id}/switch`
pub async fn switch_branch(
    State(state): State<AppState>,
    caller: Caller,
    PathParams(id): PathParams<String>,
    JsonBody(body): JsonBody<SwitchBranchRequest>,
) -> Result<Json<ConversationDetailView>, ApiError> {
    let detail = state
        .conversations
        .switch_branch(
            &owner(&caller),
            &ConversationId(id),
            &MessageId(body.message_id),
        )
        .await?;
    Ok(Json(ConversationDetailView::new(detail, "path")))
}

/// The `Idempotency-Key` header, if sent.
fn idempotency_key(headers: &HeaderMap) -> Result<Option<String>, ApiError> {
    headers
        .get("idempotency-key")
        .map(|v| {
            v.to_str().map(str::to_owned).map_err(|_| {
                ApiError::invalid("Idempotency-Key", "Idempotency-Key must be visible ASCII")
            })
        })
        .transpose()
}

/// Answer a turn as JSON, or as SSE when asked.
async fn answer(
    state: &AppState,
    turn: Turn,
    is_stream: bool,
    request_id: Option<axum::Extension<RequestId>>,
) -> Result<Response, ApiError> {
    if !is_stream {
        return Ok(Json(TurnView::from(turn)).into_response());
    }
    let events = state.conversations.follow_turn(&turn).await?;
    let request_id = request_id.map(|r| r.0.0).unwrap_or_default();
    Ok(stream::respond(Some(turn.into()), events, request_id))
}

/// `POST /ui/conversations/{id}/messages`
pub async fn send(
    State(state): State<AppState>,
    caller: Caller,
    request_id: Option<axum::Extension<RequestId>>,
    PathParams(id): PathParams<String>,
    headers: HeaderMap,
    JsonBody(body): JsonBody<SendMessageRequest>,
) -> Result<Response, ApiError> {
    let input = SendInput {
        content: body.content,
        parent_id: body.parent_id.map(MessageId),
        options: GenerateOptions {
            model: body.model,
            params: body.params,
            idempotency_key: idempotency_key(&headers)?,
        },
    };
    let turn = state
        .conversations
        .send(&owner(&caller), &ConversationId(id), input)
        .await?;
    answer(&state, turn, body.stream, request_id).await
}

/// `POST /ui/conversations/{id}/messages/{message_id}/edit`
pub async fn edit(
    State(state): State<AppState>,
    caller: Caller,
    request_id: Option<axum::Extension<RequestId>>,
    PathParams((id, message_id)): PathParams<(String, String)>,
    headers: HeaderMap,
    JsonBody(body): JsonBody<EditMessageRequest>,
) -> Result<Response, ApiError> {
    let options = GenerateOptions {
        model: body.model,
        params: body.params,
        idempotency_key: idempotency_key(&headers)?,
    };
    let turn = state
        .conversations
        .edit(
            &owner(&caller),
            &ConversationId(id),
            &MessageId(message_id),
            body.content,
            options,
        )
        .await?;
    answer(&state, turn, body.stream, request_id).await
}

/// `POST /ui/conversations/{id}/messages/{message_id}/regenerate`
pub async fn regenerate(
    State(state): State<AppState>,
    caller: Caller,
    request_id: Option<axum::Extension<RequestId>>,
    PathParams((id, message_id)): PathParams<(String, String)>,
    headers: HeaderMap,
    JsonBody(body): JsonBody<RegenerateRequest>,
) -> Result<Response, ApiError> {
    let options = GenerateOptions {
        model: body.model,
        params: body.params,
        idempotency_key: idempotency_key(&headers)?,
    };
    let turn = state
        .conversations
        .regenerate(
            &owner(&caller),
            &ConversationId(id),
            &MessageId(message_id),
            options,
        )
        .await?;
    answer(&state, turn, body.stream, request_id).await
}

/// `GET /ui/conversations/{id}/messages/{message_id}/events`
pub async fn follow(
    State(state): State<AppState>,
    caller: Caller,
    request_id: Option<axum::Extension<RequestId>>,
    PathParams((id, message_id)): PathParams<(String, String)>,
) -> Result<Response, ApiError> {
    let events = state
        .conversations
        .attach(&owner(&caller), &ConversationId(id), &MessageId(message_id))
        .await?;
    let request_id = request_id.map(|r| r.0.0).unwrap_or_default();
    Ok(stream::respond(None, events, request_id))
}

/// `POST /ui/conversations/{id}/messages/{message_id}/cancel`
pub async fn cancel(
    State(state): State<AppState>,
    caller: Caller,
    PathParams((id, message_id)): PathParams<(String, String)>,
) -> Result<Json<MessageView>, ApiError> {
    let message = state
        .conversations
        .cancel(&owner(&caller), &ConversationId(id), &MessageId(message_id))
        .await?;
    Ok(Json(message.into()))
}
