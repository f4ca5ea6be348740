//! `POST /v1/chat/completions`.

use axum::extract::State;
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use bytes::Bytes;
use hearth_core::backend::TokenLogprob;
use hearth_core::chat::{
    ChatEvent, ChatOutcome, ChatService, ToolCall, Usage, ValidChatRequest, collect,
};
use hearth_types::openai::{
    AssistantMessage, ChatChoice, ChatCompletion, ChatCompletionChunk, ChatCompletionRequest,
    ChoiceLogprobs, ChunkChoice, Delta, FunctionCall, FunctionCallDelta, TokenLogprobView,
    ToolCall as WireToolCall, ToolCallDelta, TopLogprob,
};

use super::{fingerprint, finish_reason, usage};
use crate::auth::Caller;
use crate::error::{ApiError, Lane};
use crate::extract::JsonBody;
use crate::lanes::stream::{self, Framer, sse_data};
use crate::middleware::request_id::RequestId;
use crate::state::AppState;

/// `POST /v1/chat/completions`
pub async fn create(
    State(state): State<AppState>,
    caller: Caller,
    Extension(request_id): Extension<RequestId>,
    JsonBody(body): JsonBody<ChatCompletionRequest>,
) -> Result<Response, ApiError> {
    super::ignore_unknown("/v1/chat/completions", &body.unknown);
    let request = ValidChatRequest::try_from(body)?;
    let head = Head {
        id: stream::new_id("chatcmpl-"),
        created: stream::unix_now(),
        model: request.model.clone(),
        has_logprobs: request.params.logprobs,
    };
    let (n, is_stream, include_usage) = (request.n, request.stream, request.include_usage);
    caller.require_model(&request.model)?;
    let events = ChatService::new(state.chat.clone())
        .chat(request, caller.principal)
        .await?;
    if is_stream {
        let framer = Chunks {
            head,
            n,
            include_usage,
            usage: Usage::default(),
            request_id: request_id.0,
        };
        return Ok(stream::sse(stream::body(events, framer)));
    }
    let outcome = collect(events, n as usize).await?;
    Ok(Json(completion(head, outcome)).into_response())
}

/// What every chunk of one response repeats.
struct Head {
    id: String,
    created: i64,
    model: String,
    has_logprobs: bool,
}

fn completion(head: Head, outcome: ChatOutcome) -> ChatCompletion {
    let choices = outcome
        .choices
        .into_iter()
        .enumerate()
        .map(|(index, choice)| {
            let tool_calls = (!choice.tool_calls.is_empty())
                .then(|| choice.tool_calls.iter().map(wire_call).collect());
            let content = match (&tool_calls, choice.text.is_empty()) {
                (Some(_), true) => None,
                _ => Some(choice.text),
            };
            ChatChoice {
                index: index as u32,
                message: AssistantMessage {
                    role: "assistant".to_owned(),
                    content,
                    refusal: None,
                    tool_calls,
                },
                logprobs: head.has_logprobs.then(|| logprobs(&choice.logprobs)),
                finish_reason: finish_reason(choice.finish).to_owned(),
            }
        })
        .collect();
    ChatCompletion {
        id: head.id,
        object: "chat.completion".to_owned(),
        created: head.created,
        model: head.model,
        system_fingerprint: fingerprint(),
        choices,
        usage: usage(&outcome.usage),
    }
}

fn wire_call(call: &ToolCall) -> WireToolCall {
    WireToolCall {
        id: call.id.clone(),
        kind: "function".to_owned(),
        function: FunctionCall {
            name: call.name.clone(),
            arguments: call.arguments_text(),
        },
    }
}

/// OpenAI's logprobs layout.
pub fn logprobs(tokens: &[TokenLogprob]) -> ChoiceLogprobs {
    ChoiceLogprobs {
        content: tokens
            .iter()
            .map(|t| TokenLogprobView {
                token: t.token.clone(),
                logprob: t.logprob,
                bytes: t.token.as_bytes().to_vec(),
                top_logprobs: t
                    .top
                    .iter()
                    .map(|(token, logprob)| TopLogprob {
                        token: token.clone(),
                        logprob: *logprob,
                        bytes: token.as_bytes().to_vec(),
                    })
                    .collect(),
            })
            .collect(),
    }
}

/// Frames a chat stream as `chat.completion.chunk` events.
struct Chunks {
    head: Head,
    n: u32,
    include_usage: bool,
    usage: Usage,
    request_id: String,
}

impl Chunks {
    fn chunk(
        &self,
        choices: Vec<ChunkChoice>,
        usage: Option<hearth_types::openai::Usage>,
    ) -> Bytes {
        sse_data(&ChatCompletionChunk {
            id: self.head.id.clone(),
            object: "chat.completion.chunk".to_owned(),
            created: self.head.created,
            model: self.head.model.clone(),
            system_fingerprint: fingerprint(),
            choices,
            usage,
        })
    }

    fn delta(&self, index: u32, delta: Delta, tokens: Option<&[TokenLogprob]>) -> Bytes {
        let logprobs = tokens.filter(|_| self.head.has_logprobs).map(logprobs);
        self.chunk(
            vec![ChunkChoice {
                index,
                delta,
                logprobs,
                finish_reason: None,
            }],
            None,
        )
    }
}

impl Framer for Chunks {
    fn start(&mut self) -> Vec<Bytes> {
        (0..self.n)
            .map(|index| {
                let delta = Delta {
                    role: Some("assistant".to_owned()),
                    content: Some(String::new()),
                    tool_calls: None,
                };
                self.delta(index, delta, None)
            })
            .collect()
    }

    fn event(&mut self, event: ChatEvent) -> Vec<Bytes> {
        match event {
            ChatEvent::Text {
                choice,
                text,
                logprobs,
            } => {
                let delta = Delta {
                    content: Some(text),
                    ..Delta::default()
                };
                vec![self.delta(choice, delta, Some(&logprobs))]
            }
            ChatEvent::ToolCall {
                choice,
                index,
                call,
            } => {
                let delta = Delta {
                    tool_calls: Some(vec![ToolCallDelta {
                        index,
                        id: Some(call.id.clone()),
                        kind: Some("function".to_owned()),
                        function: FunctionCallDelta {
                            name: Some(call.name.clone()),
                            arguments: Some(call.arguments_text()),
                        },
                    }]),
                    ..Delta::default()
                };
                vec![self.delta(choice, delta, None)]
            }
            ChatEvent::Finish {
                choice,
                reason,
                stats,
                counts_prompt,
            } => {
                self.usage.add(&stats, counts_prompt);
                vec![self.chunk(
                    vec![ChunkChoice {
                        index: choice,
                        delta: Delta::default(),
                        logprobs: None,
                        finish_reason: Some(finish_reason(reason).to_owned()),
                    }],
                    None,
                )]
            }
        }
    }

    fn end(&mut self) -> Vec<Bytes> {
        let mut frames = Vec::new();
        if self.include_usage {
            frames.push(self.chunk(Vec::new(), Some(usage(&self.usage))));
        }
        frames.push(Bytes::from_static(b"data: [DONE]\n\n"));
        frames
    }

    fn error(&mut self, error: &ApiError) -> Bytes {
        sse_data(&error.body(Lane::OpenAi, &self.request_id))
    }
}
