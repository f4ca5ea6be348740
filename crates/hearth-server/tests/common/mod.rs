//! Shared by the conversation tests: a deterministic fake [`ChatBackend`], app
//! state on SQLite or PostgreSQL, HTTP and SSE helpers. The fake answers
//! `echo: <last user text>` one word per token (a title request gets
//! `Fake Title`), can wait between tokens, fail at a given token, and reports
//! as cached the prompt words shared with an earlier request (a prefix cache).

#![allow(dead_code)]

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use axum::Router;
use axum::body::Body;
use axum::extract::Request;
use axum::http::{Method, StatusCode};
use axum::middleware::Next;
use hearth_core::backend::{
    BackendError, ChatBackend, ChatMessage, FinishReason, GenerateRequest, GenerationEvent,
    GenerationStats, GenerationStream, Principal, Prompt,
};
use hearth_core::config::Config;
use hearth_core::conversations::{ConversationService, ConversationSettings};
use hearth_core::models::NoModels;
use hearth_core::store::Store;
use hearth_server::auth::Caller;
use hearth_server::{AppState, Parts, router};
use http_body_util::BodyExt;
use serde_json::Value;
use tower::ServiceExt;

/// What the fake does on its next generations.
#[derive(Debug, Clone, Default)]
pub struct Script {
    /// Wait before each token.
    pub delay: Duration,
    /// Fail (stream error) when this many tokens were sent.
    pub fail_after: Option<usize>,
    /// Refuse at the start.
    pub fail_start: bool,
    /// Fail title requests.
    pub fail_titles: bool,
    /// Fail summary requests (context management).
    pub fail_summaries: bool,
    /// Fail token counting.
    pub fail_count: bool,
}

/// The fake backend.
#[derive(Default)]
pub struct FakeChat {
    pub script: Mutex<Script>,
    pub calls: AtomicUsize,
    pub dropped_early: Arc<AtomicUsize>,
    pub prompts: Mutex<Vec<Vec<ChatMessage>>>,
}

impl FakeChat {
    pub fn set(&self, script: Script) {
        *self.script.lock().unwrap() = script;
    }

    /// Prompts of answers (title requests excluded), in call order.
    pub fn answer_prompts(&self) -> Vec<Vec<ChatMessage>> {
        self.prompts
            .lock()
            .unwrap()
            .iter()
            .filter(|p| !is_title_request(p) && !is_summary_request(p))
            .cloned()
            .collect()
    }

    /// Prompts of summary requests, in call order.
    pub fn summary_prompts(&self) -> Vec<Vec<ChatMessage>> {
        self.prompts
            .lock()
            .unwrap()
            .iter()
            .filter(|p| is_summary_request(p))
            .cloned()
            .collect()
    }
}

fn is_summary_request(messages: &[ChatMessage]) -> bool {
    messages
        .last()
        .is_some_and(|m| m.content.starts_with("Summarize the conversation"))
}

fn is_title_request(messages: &[ChatMessage]) -> bool {
    messages
        .last()
        .is_some_and(|m| m.content.starts_with("Write a title"))
}

fn words(messages: &[ChatMessage]) -> usize {
    messages
        .iter()
        .map(|m| m.content.split_whitespace().count() + 1)
        .sum()
}

/// Ends the generation's bookkeeping: counts streams dropped before `Done`.
struct DropWatch {
    finished: bool,
    counter: Arc<AtomicUsize>,
}

impl Drop for DropWatch {
    fn drop(&mut self) {
        if !self.finished {
            self.counter.fetch_add(1, Ordering::SeqCst);
        }
    }
}

#[async_trait]
impl ChatBackend for FakeChat {
    async fn generate(&self, request: GenerateRequest) -> Result<GenerationStream, BackendError> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        let script = self.script.lock().unwrap().clone();
        if request.model != "fake" {
            return Err(BackendError::ModelNotFound(request.model));
        }
        let Prompt::Chat { messages, .. } = request.prompt else {
            return Err(BackendError::InvalidRequest("chat only".into()));
        };
        let is_title = is_title_request(&messages);
        let is_summary = is_summary_request(&messages);
        if script.fail_start
            || (is_title && script.fail_titles)
            || (is_summary && script.fail_summaries)
        {
            return Err(BackendError::Unavailable("scripted failure".into()));
        }
        let cached = {
            let mut prompts = self.prompts.lock().unwrap();
            let best = prompts
                .iter()
                .map(|p| {
                    let shared = p.iter().zip(&messages).take_while(|(a, b)| a == b).count();
                    words(&messages[..shared])
                })
                .max()
                .unwrap_or(0);
            prompts.push(messages.clone());
            best
        };
        let reply = if is_title {
            "Fake Title".to_owned()
        } else if is_summary {
            "Fake summary.".to_owned()
        } else {
            let last = messages
                .iter()
                .rev()
                .find(|m| m.role == "user")
                .map(|m| m.content.clone())
                .unwrap_or_default();
            format!("echo: {last}")
        };
        let tokens: Vec<String> = reply.split_inclusive(' ').map(str::to_owned).collect();
        let stats = GenerationStats {
            prompt_tokens: words(&messages) as u32,
            cached_tokens: cached as u32,
            completion_tokens: tokens.len() as u32,
            queue_time: Duration::from_millis(1),
            prompt_duration: Duration::from_millis(2),
            generation_duration: Duration::from_millis(3),
        };
        let watch = DropWatch {
            finished: false,
            counter: self.dropped_early.clone(),
        };
        let state = (0usize, tokens, script, stats, watch);
        let stream =
            futures::stream::unfold(state, |(i, tokens, script, stats, mut watch)| async move {
                if watch.finished {
                    return None;
                }
                if !script.delay.is_zero() {
                    tokio::time::sleep(script.delay).await;
                }
                if script.fail_after == Some(i) {
                    watch.finished = true;
                    let err = BackendError::Failed("scripted failure mid-answer".into());
                    return Some((Err(err), (i, tokens, script, stats, watch)));
                }
                let event = match tokens.get(i) {
                    Some(text) => GenerationEvent::Delta {
                        text: text.clone(),
                        logprobs: Vec::new(),
                    },
                    None => {
                        watch.finished = true;
                        GenerationEvent::Done {
                            finish_reason: FinishReason::Stop,
                            stats: stats.clone(),
                        }
                    }
                };
                Some((Ok(event), (i + 1, tokens, script, stats, watch)))
            });
        Ok(Box::pin(stream))
    }

    async fn count_tokens(&self, _model: &str, prompt: &Prompt) -> Result<u32, BackendError> {
        if self.script.lock().unwrap().fail_count {
            return Err(BackendError::Unavailable(
                "scripted counting failure".into(),
            ));
        }
        match prompt {
            Prompt::Chat { messages, .. } => Ok(words(messages) as u32),
            Prompt::Text(t) => Ok(t.split_whitespace().count() as u32),
            Prompt::Infill { prefix, suffix } => {
                Ok((prefix.split_whitespace().count() + suffix.split_whitespace().count()) as u32)
            }
        }
    }
}

/// A test world: state, the fake, and what keeps the database alive.
pub struct World {
    pub state: AppState,
    pub fake: Arc<FakeChat>,
    pub store: Arc<dyn Store>,
    pub url: String,
    _dir: Option<tempfile::TempDir>,
}

/// Which engine a test runs on.
#[derive(Debug, Clone, Copy)]
pub enum Engine {
    Sqlite,
    Postgres,
}

pub fn settings() -> ConversationSettings {
    ConversationSettings {
        flush_interval: Duration::from_millis(10),
        ..ConversationSettings::default()
    }
}

/// A world on this engine; `None` when PostgreSQL is not available.
pub async fn world(engine: Engine) -> Option<World> {
    let (url, dir) = match engine {
        Engine::Sqlite => {
            let dir = tempfile::tempdir().unwrap();
            let url = format!("sqlite://{}", dir.path().join("t.db").display());
            (url, Some(dir))
        }
        Engine::Postgres => {
            let admin = hearth_testkit::postgres::admin_url()?;
            let url = hearth_testkit::postgres::fresh_database(&admin)
                .await
                .unwrap();
            (url, None)
        }
    };
    Some(world_at(url, dir, settings()).await)
}

/// A world over an existing database URL.
pub async fn world_at(
    url: String,
    dir: Option<tempfile::TempDir>,
    settings: ConversationSettings,
) -> World {
    let store = hearth_store::open(&url, &Default::default()).await.unwrap();
    let fake = Arc::new(FakeChat::default());
    let none = Arc::new(NoModels);
    let mut state = AppState::new(Parts {
        // Users are impersonated through `x-test-user`; auth itself is tested in
        // tests/accounts.rs.
        config: Arc::new({
            let mut config = Config::default();
            config.auth.enabled = false;
            config
        }),
        store: store.clone(),
        chat: fake.clone(),
        embed: none.clone(),
        models: none,
        metrics: None,
    });
    // Over the state's metered backend, so conversations record usage too.
    state.conversations = Arc::new(ConversationService::new(
        store.clone(),
        state.chat.clone(),
        settings,
    ));
    World {
        state,
        fake,
        store,
        url,
        _dir: dir,
    }
}

impl World {
    /// The router, with the caller taken from the `x-test-user` header (what the
    /// accounts middleware will do from a session or key).
    pub fn app(&self) -> Router {
        router(self.state.clone()).layer(axum::middleware::from_fn(
            |mut req: Request, next: Next| async move {
                let user = req
                    .headers()
                    .get("x-test-user")
                    .and_then(|v| v.to_str().ok())
                    .map(str::to_owned);
                if let Some(user) = user {
                    req.extensions_mut().insert(Caller {
                        principal: Principal(user),
                        ..Caller::anonymous()
                    });
                }
                next.run(req).await
            },
        ))
    }

    /// Wait until no generation runs.
    pub async fn idle(&self) {
        assert!(
            self.state
                .conversations
                .wait_idle(Duration::from_secs(10))
                .await,
            "generations did not end"
        );
    }

    pub async fn call(
        &self,
        user: &str,
        method: Method,
        path: &str,
        body: Option<Value>,
    ) -> (StatusCode, Value) {
        self.call_with(user, method, path, body, &[]).await
    }

    pub async fn call_with(
        &self,
        user: &str,
        method: Method,
        path: &str,
        body: Option<Value>,
        headers: &[(&str, &str)],
    ) -> (StatusCode, Value) {
        let response = self
            .app()
            .oneshot(request(user, method, path, body, headers))
            .await
            .unwrap();
        let status = response.status();
        let bytes = response.into_body().collect().await.unwrap().to_bytes();
        let value = serde_json::from_slice(&bytes)
            .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&bytes).into()));
        (status, value)
    }

    pub async fn get(&self, user: &str, path: &str) -> (StatusCode, Value) {
        self.call(user, Method::GET, path, None).await
    }

    pub async fn post(&self, user: &str, path: &str, body: Value) -> (StatusCode, Value) {
        self.call(user, Method::POST, path, Some(body)).await
    }

    /// Create a conversation with the fake model; returns its id.
    pub async fn conversation(&self, user: &str) -> String {
        let (status, body) = self
            .post(
                user,
                "/ui/conversations",
                serde_json::json!({"model": "fake"}),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        body["id"].as_str().unwrap().to_owned()
    }

    /// Send and wait for the answer; returns the turn.
    pub async fn say(&self, user: &str, conversation: &str, text: &str) -> Value {
        self.say_under(user, conversation, text, None).await
    }

    pub async fn say_under(
        &self,
        user: &str,
        conversation: &str,
        text: &str,
        parent: Option<&str>,
    ) -> Value {
        let mut body = serde_json::json!({"content": text});
        if let Some(parent) = parent {
            body["parent_id"] = parent.into();
        }
        let (status, turn) = self
            .post(
                user,
                &format!("/ui/conversations/{conversation}/messages"),
                body,
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{turn}");
        self.idle().await;
        turn
    }

    /// The active path's (role, content, status).
    pub async fn path(&self, user: &str, conversation: &str) -> Vec<(String, String, String)> {
        let (status, detail) = self
            .get(user, &format!("/ui/conversations/{conversation}"))
            .await;
        assert_eq!(status, StatusCode::OK, "{detail}");
        triples(&detail["messages"])
    }

    /// Open an SSE response and return its body to read progressively.
    pub async fn open_sse(
        &self,
        user: &str,
        method: Method,
        path: &str,
        body: Option<Value>,
    ) -> (StatusCode, Body) {
        let response = self
            .app()
            .oneshot(request(user, method, path, body, &[]))
            .await
            .unwrap();
        (response.status(), response.into_body())
    }
}

pub fn triples(messages: &Value) -> Vec<(String, String, String)> {
    messages
        .as_array()
        .unwrap()
        .iter()
        .map(|m| {
            (
                m["role"].as_str().unwrap().to_owned(),
                m["content"].as_str().unwrap().to_owned(),
                m["status"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

pub fn request(
    user: &str,
    method: Method,
    path: &str,
    body: Option<Value>,
    headers: &[(&str, &str)],
) -> Request<Body> {
    let mut builder = Request::builder()
        .method(method)
        .uri(path)
        .header("x-test-user", user);
    for (name, value) in headers {
        builder = builder.header(*name, *value);
    }
    match body {
        Some(body) => builder
            .header("content-type", "application/json")
            .body(Body::from(body.to_string()))
            .unwrap(),
        None => builder.body(Body::empty()).unwrap(),
    }
}

/// One Server-Sent Event.
#[derive(Debug, Clone, PartialEq)]
pub struct SseEvent {
    pub event: String,
    pub data: Value,
}

/// Reads events from an SSE body as they arrive.
pub struct SseReader {
    body: Body,
    buffer: String,
}

impl SseReader {
    pub fn new(body: Body) -> Self {
        SseReader {
            body,
            buffer: String::new(),
        }
    }

    /// The next event, or `None` at the end of the body.
    pub async fn next(&mut self) -> Option<SseEvent> {
        loop {
            if let Some(at) = self.buffer.find("\n\n") {
                let block: String = self.buffer.drain(..at + 2).collect();
                let mut event = String::new();
                let mut data = String::new();
                for line in block.lines() {
                    if let Some(v) = line.strip_prefix("event: ") {
                        event = v.to_owned();
                    } else if let Some(v) = line.strip_prefix("data: ") {
                        data.push_str(v);
                    }
                }
                if event.is_empty() {
                    continue; // keep-alive comment
                }
                return Some(SseEvent {
                    event,
                    data: serde_json::from_str(&data).unwrap(),
                });
            }
            let frame = tokio::time::timeout(Duration::from_secs(10), self.body.frame())
                .await
                .expect("no SSE event within 10 s")?
                .unwrap();
            if let Ok(bytes) = frame.into_data() {
                self.buffer.push_str(&String::from_utf8_lossy(&bytes));
            }
        }
    }

    /// Every remaining event.
    pub async fn rest(&mut self) -> Vec<SseEvent> {
        let mut out = Vec::new();
        while let Some(e) = self.next().await {
            out.push(e);
        }
        out
    }
}

/// The text of the `delta` events.
pub fn text_of(events: &[SseEvent]) -> String {
    events
        .iter()
        .filter(|e| e.event == "delta")
        .map(|e| e.data["text"].as_str().unwrap().to_owned())
        .collect()
}
