//! `POST /v1/messages` and `POST /v1/messages/count_tokens`.

use axum::extract::State;
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use bytes::Bytes;
use hearth_core::chat::anthropic::ValidCountTokens;
use hearth_core::chat::{
    ChatEvent, ChatFinish, ChatOutcome, ChatService, ToolCall, Usage, ValidChatRequest, collect,
};
use hearth_types::anthropic::{
    BlockDelta, CountTokensRequest, CountTokensResponse, MessageDeltaBody, MessageResponse,
    MessageUsage, MessagesRequest, ResponseBlock, StreamEvent,
};

use crate::auth::Caller;
use crate::error::{ApiError, Lane};
use crate::extract::JsonBody;
use crate::lanes::stream::{self, Framer, sse_event};
use crate::middleware::request_id::RequestId;
use crate::state::AppState;

/// `POST /v1/messages`
pub async fn create(
    State(state): State<AppState>,
    caller: Caller,
    Extension(request_id): Extension<RequestId>,
    JsonBody(body): JsonBody<MessagesRequest>,
) -> Result<Response, ApiError> {
    let request = ValidChatRequest::try_from(body)?;
    let (model, is_stream) = (request.model.clone(), request.stream);
    caller.require_model(&request.model)?;
    let events = ChatService::new(state.chat.clone())
        .chat(request, caller.principal)
        .await?;
    let id = stream::new_id("msg_");
    if is_stream {
        let framer = Events {
            id,
            model,
            open: None,
            next_index: 0,
            usage: Usage::default(),
            finish: ChatFinish::Stop,
            request_id: request_id.0,
        };
        return Ok(stream::sse(stream::body(events, framer)));
    }
    let outcome = collect(events, 1).await?;
    Ok(Json(message(id, model, outcome)).into_response())
}

/// `POST /v1/messages/count_tokens`
pub async fn count_tokens(
    State(state): State<AppState>,
    JsonBody(body): JsonBody<CountTokensRequest>,
) -> Result<Json<CountTokensResponse>, ApiError> {
    let request = ValidCountTokens::try_from(body)?;
    let input_tokens = ChatService::new(state.chat.clone())
        .count_tokens(&request.model, request.messages, &request.tools)
        .await?;
    Ok(Json(CountTokensResponse { input_tokens }))
}

fn stop_reason(finish: ChatFinish) -> &'static str {
    match finish {
        ChatFinish::Stop => "end_turn",
        ChatFinish::Length => "max_tokens",
        ChatFinish::ToolCalls => "tool_use",
    }
}

fn message_usage(usage: &Usage) -> MessageUsage {
    MessageUsage {
        input_tokens: usage.prompt_tokens.saturating_sub(usage.cached_tokens),
        output_tokens: usage.completion_tokens,
        cache_read_input_tokens: usage.cached_tokens,
        cache_creation_input_tokens: 0,
    }
}

/// Anthropic ids use a `toolu_` prefix.
fn tool_use(call: &ToolCall) -> ResponseBlock {
    let suffix = call.id.strip_prefix("call_").unwrap_or(&call.id);
    ResponseBlock::ToolUse {
        id: format!("toolu_{suffix}"),
        name: call.name.clone(),
        input: call.arguments.clone(),
    }
}

fn message(id: String, model: String, outcome: ChatOutcome) -> MessageResponse {
    let choice = outcome.choices.into_iter().next();
    let mut content = Vec::new();
    let mut finish = ChatFinish::Stop;
    if let Some(choice) = choice {
        finish = choice.finish;
        if !choice.text.is_empty() {
            content.push(ResponseBlock::Text { text: choice.text });
        }
        content.extend(choice.tool_calls.iter().map(tool_use));
    }
    MessageResponse {
        id,
        kind: "message".to_owned(),
        role: "assistant".to_owned(),
        model,
        content,
        stop_reason: Some(stop_reason(finish).to_owned()),
        stop_sequence: None,
        usage: message_usage(&outcome.usage),
    }
}

/// Frames a stream as Anthropic's events.
struct Events {
    id: String,
    model: String,
    /// Index of the text block being written, if one is open.
    open: Option<u32>,
    next_index: u32,
    usage: Usage,
    finish: ChatFinish,
    request_id: String,
}

fn frame(event: StreamEvent) -> Bytes {
    sse_event(event.name(), &event)
}

impl Events {
    fn close_text(&mut self) -> Option<Bytes> {
        self.open
            .take()
            .map(|index| frame(StreamEvent::ContentBlockStop { index }))
    }
}

impl Framer for Events {
    fn start(&mut self) -> Vec<Bytes> {
        let message = MessageResponse {
            id: self.id.clone(),
            kind: "message".to_owned(),
            role: "assistant".to_owned(),
            model: self.model.clone(),
            content: Vec::new(),
            stop_reason: None,
            stop_sequence: None,
            usage: MessageUsage::default(),
        };
        vec![
            frame(StreamEvent::MessageStart { message }),
            frame(StreamEvent::Ping),
        ]
    }

    fn event(&mut self, event: ChatEvent) -> Vec<Bytes> {
        let mut frames = Vec::new();
        match event {
            ChatEvent::Text { text, .. } => {
                let index = match self.open {
                    Some(index) => index,
                    None => {
                        let index = self.next_index;
                        self.next_index += 1;
                        self.open = Some(index);
                        frames.push(frame(StreamEvent::ContentBlockStart {
                            index,
                            content_block: ResponseBlock::Text {
                                text: String::new(),
                            },
                        }));
                        index
                    }
                };
                frames.push(frame(StreamEvent::ContentBlockDelta {
                    index,
                    delta: BlockDelta::TextDelta { text },
                }));
            }
            ChatEvent::ToolCall { call, .. } => {
                frames.extend(self.close_text());
                let index = self.next_index;
                self.next_index += 1;
                let ResponseBlock::ToolUse { id, name, .. } = tool_use(&call) else {
                    return frames;
                };
                frames.push(frame(StreamEvent::ContentBlockStart {
                    index,
                    content_block: ResponseBlock::ToolUse {
                        id,
                        name,
                        input: serde_json::json!({}),
                    },
                }));
                frames.push(frame(StreamEvent::ContentBlockDelta {
                    index,
                    delta: BlockDelta::InputJsonDelta {
                        partial_json: call.arguments_text(),
                    },
                }));
                frames.push(frame(StreamEvent::ContentBlockStop { index }));
            }
            ChatEvent::Finish {
                reason,
                stats,
                counts_prompt,
                ..
            } => {
                self.usage.add(&stats, counts_prompt);
                self.finish = reason;
            }
        }
        frames
    }

    fn end(&mut self) -> Vec<Bytes> {
        let mut frames: Vec<Bytes> = self.close_text().into_iter().collect();
        frames.push(frame(StreamEvent::MessageDelta {
            delta: MessageDeltaBody {
                stop_reason: Some(stop_reason(self.finish).to_owned()),
                stop_sequence: None,
            },
            usage: message_usage(&self.usage),
        }));
        frames.push(frame(StreamEvent::MessageStop));
        frames
    }

    fn error(&mut self, error: &ApiError) -> Bytes {
        sse_event("error", &error.body(Lane::Anthropic, &self.request_id))
    }
}
