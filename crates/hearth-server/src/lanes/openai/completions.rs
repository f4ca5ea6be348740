//! `POST /v1/completions` (legacy text completion).

use std::collections::HashMap;

use axum::extract::State;
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use bytes::Bytes;
use hearth_core::backend::TokenLogprob;
use hearth_core::chat::{ChatEvent, ChatService, Usage, ValidCompletionRequest, collect};
use hearth_types::openai::{Completion, CompletionChoice, CompletionLogprobs, CompletionRequest};

use super::{fingerprint, finish_reason, usage};
use crate::auth::Caller;
use crate::error::{ApiError, Lane};
use crate::extract::JsonBody;
use crate::lanes::stream::{self, Framer, sse_data};
use crate::middleware::request_id::RequestId;
use crate::state::AppState;

/// `POST /v1/completions`
pub async fn create(
    State(state): State<AppState>,
    caller: Caller,
    Extension(request_id): Extension<RequestId>,
    JsonBody(body): JsonBody<CompletionRequest>,
) -> Result<Response, ApiError> {
    super::ignore_unknown("/v1/completions", &body.unknown);
    let request = ValidCompletionRequest::try_from(body)?;
    let choices = request.prompts.len() * request.n as usize;
    let mut framer = Events {
        id: stream::new_id("cmpl-"),
        created: stream::unix_now(),
        model: request.model.clone(),
        has_logprobs: request.params.logprobs,
        include_usage: request.include_usage,
        usage: Usage::default(),
        offsets: vec![0; choices],
        request_id: request_id.0,
    };
    let is_stream = request.stream;
    caller.require_model(&request.model)?;
    let events = ChatService::new(state.chat.clone())
        .complete(request, caller.principal)
        .await?;
    if is_stream {
        return Ok(stream::sse(stream::body(events, framer)));
    }
    let outcome = collect(events, choices).await?;
    let choices = outcome
        .choices
        .into_iter()
        .enumerate()
        .map(|(index, choice)| CompletionChoice {
            logprobs: framer
                .has_logprobs
                .then(|| legacy_logprobs(&choice.logprobs, 0)),
            text: choice.text,
            index: index as u32,
            finish_reason: Some(finish_reason(choice.finish).to_owned()),
        })
        .collect();
    framer.usage = outcome.usage;
    Ok(Json(framer.completion(choices, true)).into_response())
}

/// The legacy layout: parallel lists, offsets counted from `start`.
fn legacy_logprobs(tokens: &[TokenLogprob], start: u32) -> CompletionLogprobs {
    let mut out = CompletionLogprobs::default();
    let mut offset = start;
    for t in tokens {
        out.tokens.push(t.token.clone());
        out.token_logprobs.push(t.logprob);
        out.top_logprobs
            .push(t.top.iter().cloned().collect::<HashMap<_, _>>());
        out.text_offset.push(offset);
        offset += t.token.chars().count() as u32;
    }
    out
}

/// Frames a completion stream as `text_completion` events.
struct Events {
    id: String,
    created: i64,
    model: String,
    has_logprobs: bool,
    include_usage: bool,
    usage: Usage,
    offsets: Vec<u32>,
    request_id: String,
}

impl Events {
    fn completion(&self, choices: Vec<CompletionChoice>, with_usage: bool) -> Completion {
        Completion {
            id: self.id.clone(),
            object: "text_completion".to_owned(),
            created: self.created,
            model: self.model.clone(),
            system_fingerprint: fingerprint(),
            choices,
            usage: with_usage.then(|| usage(&self.usage)),
        }
    }
}

impl Framer for Events {
    fn event(&mut self, event: ChatEvent) -> Vec<Bytes> {
        let choice = match event {
            ChatEvent::Text {
                choice,
                text,
                logprobs,
            } => {
                let offset = &mut self.offsets[choice as usize];
                let logprobs = self
                    .has_logprobs
                    .then(|| legacy_logprobs(&logprobs, *offset));
                *offset += text.chars().count() as u32;
                CompletionChoice {
                    text,
                    index: choice,
                    logprobs,
                    finish_reason: None,
                }
            }
            ChatEvent::Finish {
                choice,
                reason,
                stats,
                counts_prompt,
            } => {
                self.usage.add(&stats, counts_prompt);
                CompletionChoice {
                    text: String::new(),
                    index: choice,
                    logprobs: None,
                    finish_reason: Some(finish_reason(reason).to_owned()),
                }
            }
            ChatEvent::ToolCall { .. } => return Vec::new(),
        };
        vec![sse_data(&self.completion(vec![choice], false))]
    }

    fn end(&mut self) -> Vec<Bytes> {
        let mut frames = Vec::new();
        if self.include_usage {
            frames.push(sse_data(&self.completion(Vec::new(), true)));
        }
        frames.push(Bytes::from_static(b"data: [DONE]\n\n"));
        frames
    }

    fn error(&mut self, error: &ApiError) -> Bytes {
        sse_data(&error.body(Lane::OpenAi, &self.request_id))
    }
}
