//! Server-Sent Events of an answer. Events: `turn` (what a send created, first),
//! `delta` (`{"text"}`), then one of `done` (the final message: status
//! `complete` or `cancelled`, usage, timings) or `error` (the Hearth error
//! envelope plus the message as stored). The stream follows the generation; it
//! does not drive it, so closing it leaves the answer generating.

use std::convert::Infallible;

use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use futures::StreamExt;
use hearth_core::conversations::{LiveEvent, LiveStream};
use hearth_types::{Code, ErrorBody, ErrorEnvelope};
use serde::Serialize;

use super::views::{MessageView, TurnView, is_failure};

fn json_event<T: Serialize>(name: &str, data: &T) -> Event {
    Event::default()
        .event(name)
        .json_data(data)
        .unwrap_or_else(|_| Event::default().event(name).data("{}"))
}

fn to_event(event: LiveEvent, request_id: &str) -> Event {
    match event {
        LiveEvent::Delta(text) => json_event("delta", &serde_json::json!({ "text": text })),
        LiveEvent::End(message) if is_failure(message.status) => {
            let envelope = ErrorEnvelope {
                error: ErrorBody {
                    code: Code::ProviderFailed,
                    message: message
                        .error
                        .clone()
                        .unwrap_or_else(|| "the answer could not be generated".to_owned()),
                    detail: None,
                },
                request_id: request_id.to_owned(),
            };
            let mut body = serde_json::to_value(envelope).unwrap_or_default();
            body["message"] = serde_json::to_value(MessageView::from(*message)).unwrap_or_default();
            json_event("error", &body)
        }
        LiveEvent::End(message) => json_event("done", &MessageView::from(*message)),
    }
}

/// The SSE response: an optional `turn` event, then the live events.
pub fn respond(turn: Option<TurnView>, events: LiveStream, request_id: String) -> Response {
    let head = turn.map(|t| json_event("turn", &t));
    let body = futures::stream::iter(head)
        .chain(events.map(move |e| to_event(e, &request_id)))
        .map(Ok::<_, Infallible>);
    Sse::new(body)
        .keep_alive(KeepAlive::default())
        .into_response()
}
