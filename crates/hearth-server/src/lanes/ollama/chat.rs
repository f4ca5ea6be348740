//! `POST /api/chat` and `POST /api/generate`.

use std::time::Instant;

use axum::Json;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use hearth_core::chat::ollama::ValidGenerate;
use hearth_core::chat::{
    ChatEvent, ChatService, ChatStream, ToolCall, Usage, ValidChatRequest, collect,
};
use hearth_types::ollama::{
    ChatRequest, ChatResponse, DoneStats, GenerateRequest, GenerateResponse, Message,
    ToolCall as WireToolCall, ToolCallFunction,
};

use super::{apply_keep_alive, done_reason, done_stats, loaded_name, now, unloads};
use crate::auth::Caller;
use crate::error::{ApiError, Lane};
use crate::extract::JsonBody;
use crate::lanes::stream::{self, Framer, ndjson_line};
use crate::state::AppState;

/// `POST /api/chat`
pub async fn chat(
    State(state): State<AppState>,
    caller: Caller,
    JsonBody(body): JsonBody<ChatRequest>,
) -> Result<Response, ApiError> {
    let started = Instant::now();
    let keep = apply_keep_alive(&state, &body.model, body.keep_alive.as_ref()).await?;
    if body.messages.is_empty() {
        let (model, reason) = load_or_unload(&state, &caller, &body.model, keep).await?;
        let line = Line::Chat.render(&model, "", Vec::new(), Some(load_stats(reason, started)));
        return Ok(line_response(line));
    }
    let request = ValidChatRequest::try_from(body)?;
    let model = request.model.clone();
    let is_stream = request.stream;
    caller.require_model(&request.model)?;
    let events = ChatService::new(state.chat.clone())
        .chat(request, caller.principal)
        .await?;
    answer(events, Lines::new(Line::Chat, model, started), is_stream).await
}

/// `POST /api/generate`
pub async fn generate(
    State(state): State<AppState>,
    caller: Caller,
    JsonBody(body): JsonBody<GenerateRequest>,
) -> Result<Response, ApiError> {
    let started = Instant::now();
    let service = ChatService::new(state.chat.clone());
    let keep = apply_keep_alive(&state, &body.model, body.keep_alive.as_ref()).await?;
    let (events, model, is_stream) = match ValidGenerate::try_from(body)? {
        ValidGenerate::Load(model) => {
            let (model, reason) = load_or_unload(&state, &caller, &model, keep).await?;
            let line =
                Line::Generate.render(&model, "", Vec::new(), Some(load_stats(reason, started)));
            return Ok(line_response(line));
        }
        ValidGenerate::Chat(request) => {
            let (model, is_stream) = (request.model.clone(), request.stream);
            caller.require_model(&request.model)?;
            (
                service.chat(request, caller.principal).await?,
                model,
                is_stream,
            )
        }
        ValidGenerate::Raw(request) => {
            let (model, is_stream) = (request.model.clone(), request.stream);
            caller.require_model(&request.model)?;
            (
                service.complete(request, caller.principal).await?,
                model,
                is_stream,
            )
        }
    };
    answer(
        events,
        Lines::new(Line::Generate, model, started),
        is_stream,
    )
    .await
}

fn load_stats(reason: &str, started: Instant) -> DoneStats {
    done_stats(reason, &Usage::default(), started)
}

/// A request without messages or prompt loads the model (Ollama's warm-up),
/// or unloads it when `keep_alive` is 0 (`ollama stop`). Returns the model's
/// name and the done reason.
async fn load_or_unload(
    state: &AppState,
    caller: &Caller,
    model: &str,
    keep: Option<hearth_core::models::KeepAlive>,
) -> Result<(String, &'static str), ApiError> {
    let name = state.models.get(model).await?.name;
    caller.require_model(&name)?;
    let target = loaded_name(state, &name);
    if unloads(keep) {
        state.models.unload(&target).await?;
        Ok((name, "unload"))
    } else {
        state.models.preload(&target).await?;
        Ok((name, "load"))
    }
}

fn line_response(line: serde_json::Value) -> Response {
    Json(line).into_response()
}

/// Stream NDJSON lines, or fold them into one answer.
async fn answer(
    events: ChatStream,
    mut lines: Lines,
    is_stream: bool,
) -> Result<Response, ApiError> {
    if is_stream {
        return Ok(stream::ndjson(stream::body(events, lines)));
    }
    let outcome = collect(events, 1).await?;
    let choice = outcome.choices.into_iter().next();
    let (text, calls, finish) = choice.map(|c| (c.text, c.tool_calls, c.finish)).unwrap_or((
        String::new(),
        Vec::new(),
        hearth_core::chat::ChatFinish::Stop,
    ));
    let stats = done_stats(done_reason(finish), &outcome.usage, lines.started);
    lines.usage = outcome.usage;
    Ok(line_response(lines.kind.render(
        &lines.model,
        &text,
        calls,
        Some(stats),
    )))
}

/// Which answer shape.
#[derive(Clone, Copy)]
enum Line {
    /// `message: {role, content, tool_calls}`.
    Chat,
    /// `response: "…"`.
    Generate,
}

impl Line {
    fn render(
        self,
        model: &str,
        text: &str,
        calls: Vec<ToolCall>,
        stats: Option<DoneStats>,
    ) -> serde_json::Value {
        let done = stats.is_some();
        let value = match self {
            Line::Chat => serde_json::to_value(ChatResponse {
                model: model.to_owned(),
                created_at: now(),
                message: Message {
                    role: "assistant".to_owned(),
                    content: text.to_owned(),
                    tool_calls: (!calls.is_empty()).then(|| wire_calls(calls)),
                    ..Message::default()
                },
                done,
                stats,
            }),
            Line::Generate => serde_json::to_value(GenerateResponse {
                model: model.to_owned(),
                created_at: now(),
                response: text.to_owned(),
                done,
                stats,
            }),
        };
        value.unwrap_or_default()
    }
}

fn wire_calls(calls: Vec<ToolCall>) -> Vec<WireToolCall> {
    calls
        .into_iter()
        .enumerate()
        .map(|(index, call)| WireToolCall {
            function: ToolCallFunction {
                index: Some(index as u32),
                name: call.name,
                arguments: call.arguments,
            },
        })
        .collect()
}

/// Frames a stream as Ollama's NDJSON lines.
struct Lines {
    kind: Line,
    model: String,
    started: Instant,
    usage: Usage,
}

impl Lines {
    fn new(kind: Line, model: String, started: Instant) -> Self {
        Lines {
            kind,
            model,
            started,
            usage: Usage::default(),
        }
    }
}

impl Framer for Lines {
    fn event(&mut self, event: ChatEvent) -> Vec<Bytes> {
        let line = match event {
            ChatEvent::Text { text, .. } => self.kind.render(&self.model, &text, Vec::new(), None),
            ChatEvent::ToolCall { index, call, .. } => {
                let mut line = self.kind.render(&self.model, "", vec![call], None);
                line["message"]["tool_calls"][0]["function"]["index"] = index.into();
                line
            }
            ChatEvent::Finish {
                reason,
                stats,
                counts_prompt,
                ..
            } => {
                self.usage.add(&stats, counts_prompt);
                let stats = done_stats(done_reason(reason), &self.usage, self.started);
                self.kind.render(&self.model, "", Vec::new(), Some(stats))
            }
        };
        vec![ndjson_line(&line)]
    }

    fn end(&mut self) -> Vec<Bytes> {
        Vec::new()
    }

    fn error(&mut self, error: &ApiError) -> Bytes {
        ndjson_line(&error.body(Lane::Ollama, ""))
    }
}
