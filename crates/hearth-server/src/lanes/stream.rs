//! Streaming bodies shared by the lanes: a [`Framer`] turns a chat event stream
//! into the lane's frames (SSE `data:` events, Anthropic's named events, Ollama's
//! NDJSON lines). An error after the stream started becomes one error frame in
//! the lane's shape, then the body ends. The body owns the event stream: when
//! the client goes away, hyper drops the body, which drops the generations.

use std::collections::VecDeque;
use std::convert::Infallible;

use axum::body::Body;
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use futures::StreamExt;
use hearth_core::backend::BackendError;
use hearth_core::chat::{ChatEvent, ChatStream};
use serde::Serialize;

use crate::error::ApiError;

/// Lane-specific framing of a chat event stream.
pub trait Framer: Send + 'static {
    /// Frames sent before the first event.
    fn start(&mut self) -> Vec<Bytes> {
        Vec::new()
    }
    /// Frames for one event.
    fn event(&mut self, event: ChatEvent) -> Vec<Bytes>;
    /// Frames after the last event.
    fn end(&mut self) -> Vec<Bytes>;
    /// The frame reporting a failure mid-stream (the body ends after it).
    fn error(&mut self, error: &ApiError) -> Bytes;
}

struct State<F> {
    events: ChatStream,
    framer: F,
    pending: VecDeque<Bytes>,
    is_done: bool,
}

/// The body of a framed stream.
pub fn body<F: Framer>(events: ChatStream, mut framer: F) -> Body {
    let pending = framer.start().into();
    let state = State {
        events,
        framer,
        pending,
        is_done: false,
    };
    let frames = futures::stream::unfold(state, |mut st| async move {
        loop {
            if let Some(frame) = st.pending.pop_front() {
                return Some((Ok::<_, Infallible>(frame), st));
            }
            if st.is_done {
                return None;
            }
            match st.events.next().await {
                Some(Ok(event)) => st.pending.extend(st.framer.event(event)),
                Some(Err(err)) => {
                    st.is_done = true;
                    let api = stream_error(&err);
                    st.pending.push_back(st.framer.error(&api));
                }
                None => {
                    st.is_done = true;
                    st.pending.extend(st.framer.end());
                }
            }
        }
    });
    Body::from_stream(frames)
}

fn stream_error(err: &BackendError) -> ApiError {
    let api = ApiError::from_error(err);
    tracing::warn!(code = api.code.as_str(), error = %err, "generation failed mid-stream");
    api
}

/// A `text/event-stream` response.
pub fn sse(body: Body) -> Response {
    with_type(body, "text/event-stream")
}

/// An `application/x-ndjson` response (Ollama).
pub fn ndjson(body: Body) -> Response {
    with_type(body, "application/x-ndjson")
}

fn with_type(body: Body, content_type: &'static str) -> Response {
    let mut response = body.into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    response
}

/// `data: <json>\n\n`.
pub fn sse_data(value: &impl Serialize) -> Bytes {
    let json = serde_json::to_string(value).unwrap_or_else(|_| "null".to_owned());
    Bytes::from(format!("data: {json}\n\n"))
}

/// `event: <name>\ndata: <json>\n\n`.
pub fn sse_event(name: &str, value: &impl Serialize) -> Bytes {
    let json = serde_json::to_string(value).unwrap_or_else(|_| "null".to_owned());
    Bytes::from(format!("event: {name}\ndata: {json}\n\n"))
}

/// `<json>\n`.
pub fn ndjson_line(value: &impl Serialize) -> Bytes {
    let mut line = serde_json::to_vec(value).unwrap_or_else(|_| b"null".to_vec());
    line.push(b'\n');
    Bytes::from(line)
}

/// Unix seconds now.
pub fn unix_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

/// A fresh id with a prefix (`chatcmpl-…`, `msg_…`).
pub fn new_id(prefix: &str) -> String {
    format!("{prefix}{}", uuid::Uuid::new_v4().simple())
}
