//! [`FakeBackend`]: a deterministic stand-in for the engine that implements
//! [`ChatBackend`], [`EmbedBackend`] and [`ModelCatalog`], for HTTP tests.
//!
//! It knows two models, [`FAKE_CHAT`] and [`FAKE_EMBED`]. A generation emits the
//! scripted reply one word per token (default [`DEFAULT_REPLY`]), honouring
//! `max_tokens` (→ `Length`) and stop strings (cut before the match, → `Stop`).
//! With a JSON constraint it emits a JSON value built from the schema (so forced
//! tool calls and `json_schema` outputs parse). It can fail after k tokens,
//! wait between tokens, and reports how many of its streams are alive, so tests
//! can prove that a client disconnect drops the generation.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use hearth_core::backend::{
    BackendError, Capabilities, ChatBackend, EmbedBackend, EmbedRequest, EmbedResponse,
    FinishReason, GenerateRequest, GenerationEvent, GenerationStats, GenerationStream,
    OutputConstraint, Prompt, TokenLogprob,
};
use hearth_core::models::{ModelCatalog, ModelInfo};
use serde_json::{Value, json};

/// The fake chat model.
pub const FAKE_CHAT: &str = "fake-chat";
/// The fake embedding model (8 dimensions).
pub const FAKE_EMBED: &str = "fake-embed";
/// What the chat model says unless scripted otherwise.
pub const DEFAULT_REPLY: &str = "The quick brown fox jumps over the lazy dog.";
/// Width of the fake embeddings.
pub const EMBED_WIDTH: usize = 8;

/// What the next generations do.
#[derive(Debug, Clone)]
pub struct Script {
    /// Text of every answer (unconstrained generations).
    pub reply: String,
    /// Emit this many tokens, then fail.
    pub fail_after: Option<usize>,
    /// Pause before each token.
    pub token_delay: Duration,
    /// When tools are offered, answer with a Hermes-style call of the first one.
    pub call_tools: bool,
}

impl Default for Script {
    fn default() -> Self {
        Script {
            reply: DEFAULT_REPLY.to_owned(),
            fail_after: None,
            token_delay: Duration::ZERO,
            call_tools: false,
        }
    }
}

#[derive(Default)]
struct Inner {
    script: Mutex<Script>,
    active: AtomicUsize,
    requests: Mutex<Vec<GenerateRequest>>,
}

/// The fake backend; clones share state.
#[derive(Clone, Default)]
pub struct FakeBackend {
    inner: Arc<Inner>,
}

impl FakeBackend {
    /// A backend answering [`DEFAULT_REPLY`].
    pub fn new() -> Self {
        FakeBackend::default()
    }

    /// Answer `text` from now on.
    pub fn reply(self, text: &str) -> Self {
        self.script().reply = text.to_owned();
        self
    }

    /// Fail every generation after `tokens` tokens.
    pub fn fail_after(self, tokens: usize) -> Self {
        self.script().fail_after = Some(tokens);
        self
    }

    /// Wait this long before each token.
    pub fn token_delay(self, delay: Duration) -> Self {
        self.script().token_delay = delay;
        self
    }

    /// Answer `<tool_call>{first tool, example arguments}</tool_call>` whenever
    /// tools are offered (and the output is not constrained).
    pub fn call_tools(self) -> Self {
        self.script().call_tools = true;
        self
    }

    /// Generation streams currently alive (not yet dropped).
    pub fn active_streams(&self) -> usize {
        self.inner.active.load(Ordering::SeqCst)
    }

    /// Every generation request received, in order.
    pub fn requests(&self) -> Vec<GenerateRequest> {
        self.inner
            .requests
            .lock()
            .map(|r| r.clone())
            .unwrap_or_default()
    }

    fn script(&self) -> std::sync::MutexGuard<'_, Script> {
        self.inner.script.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn known(name: &str) -> Option<ModelInfo> {
        let name = name.strip_suffix(":latest").unwrap_or(name);
        models().into_iter().find(|m| m.name == name)
    }
}

/// The fake catalog's models.
pub fn models() -> Vec<ModelInfo> {
    vec![
        ModelInfo {
            name: FAKE_CHAT.to_owned(),
            size_bytes: 1_000_000,
            digest: Some(format!("sha256:{}", "ab".repeat(32))),
            architecture: "llama".to_owned(),
            parameter_count: Some(135_000_000),
            quantization: Some("Q4_1".to_owned()),
            context_length: Some(2048),
            embedding_length: Some(576),
            chat_template: Some(
                "{% for m in messages %}<|im_start|>{{ m.role }}\n{{ m.content }}<|im_end|>\n\
                 {% endfor %}<|im_start|>assistant\n"
                    .to_owned(),
            ),
            capabilities: Capabilities {
                chat: true,
                completion: true,
                tools: true,
                ..Capabilities::default()
            },
            modified_at_ms: 1_700_000_000_000,
        },
        ModelInfo {
            name: FAKE_EMBED.to_owned(),
            size_bytes: 500_000,
            digest: None,
            architecture: "bert".to_owned(),
            parameter_count: Some(22_000_000),
            quantization: Some("F16".to_owned()),
            context_length: Some(512),
            embedding_length: Some(EMBED_WIDTH as u32),
            chat_template: None,
            capabilities: Capabilities {
                embedding: true,
                ..Capabilities::default()
            },
            modified_at_ms: 1_700_000_000_000,
        },
    ]
}

/// Words of a prompt, the fake's notion of tokens.
fn prompt_tokens(prompt: &Prompt) -> u32 {
    let text = match prompt {
        Prompt::Text(text) => text.clone(),
        Prompt::Infill { prefix, suffix } => format!("{prefix} {suffix}"),
        Prompt::Chat {
            messages, tools, ..
        } => {
            let mut text: String = messages
                .iter()
                .map(|m| format!("{} {} ", m.role, m.content))
                .collect();
            for tool in tools {
                text.push_str(&tool.to_string());
            }
            text
        }
    };
    text.split_whitespace().count() as u32
}

/// An example value valid against (the common subset of) a JSON Schema.
pub fn example_for_schema(schema: &Value) -> Value {
    if let Some(value) = schema.get("const") {
        return value.clone();
    }
    if let Some(first) = schema
        .get("enum")
        .and_then(Value::as_array)
        .and_then(|e| e.first())
    {
        return first.clone();
    }
    for key in ["anyOf", "oneOf", "allOf"] {
        if let Some(first) = schema
            .get(key)
            .and_then(Value::as_array)
            .and_then(|e| e.first())
        {
            return example_for_schema(first);
        }
    }
    let kind = match schema.get("type") {
        Some(Value::Array(kinds)) => kinds.first().and_then(Value::as_str).unwrap_or("null"),
        Some(Value::String(kind)) => kind.as_str(),
        _ if schema.get("properties").is_some() => "object",
        _ => "object",
    };
    match kind {
        "string" => json!("text"),
        "integer" => json!(1),
        "number" => json!(1.5),
        "boolean" => json!(true),
        "null" => Value::Null,
        "array" => json!([example_for_schema(
            schema.get("items").unwrap_or(&json!({}))
        )]),
        _ => {
            let mut object = serde_json::Map::new();
            if let Some(Value::Object(props)) = schema.get("properties") {
                for (name, prop) in props {
                    object.insert(name.clone(), example_for_schema(prop));
                }
            }
            Value::Object(object)
        }
    }
}

/// `<tool_call>` markup calling the prompt's first tool with example arguments.
fn first_tool_call(prompt: &Prompt) -> Option<String> {
    let Prompt::Chat { tools, .. } = prompt else {
        return None;
    };
    let function = &tools.first()?["function"];
    let call = json!({
        "name": function["name"],
        "arguments": example_for_schema(&function["parameters"]),
    });
    Some(format!("<tool_call>\n{call}\n</tool_call>"))
}

/// Split into tokens: each word with the whitespace after it.
fn tokens(text: &str) -> Vec<String> {
    text.split_inclusive(' ').map(str::to_owned).collect()
}

/// Decrements the live-stream count when the stream is dropped.
struct LiveGuard(Arc<Inner>);

impl Drop for LiveGuard {
    fn drop(&mut self) {
        self.0.active.fetch_sub(1, Ordering::SeqCst);
    }
}

struct Run {
    tokens: std::vec::IntoIter<String>,
    emitted: usize,
    total: usize,
    finish: FinishReason,
    fail_after: Option<usize>,
    delay: Duration,
    logprobs: Option<u8>,
    prompt_tokens: u32,
    is_done: bool,
    _guard: LiveGuard,
}

#[async_trait]
impl ChatBackend for FakeBackend {
    async fn generate(&self, request: GenerateRequest) -> Result<GenerationStream, BackendError> {
        let model = FakeBackend::known(&request.model)
            .ok_or_else(|| BackendError::ModelNotFound(request.model.clone()))?;
        if !model.capabilities.completion {
            return Err(BackendError::InvalidRequest(format!(
                "model '{}' does not generate text",
                request.model
            )));
        }
        if matches!(request.prompt, Prompt::Infill { .. }) && !model.capabilities.insert {
            return Err(BackendError::InvalidRequest(format!(
                "model {} does not support fill-in-the-middle (suffix)",
                request.model
            )));
        }
        if let Ok(mut log) = self.inner.requests.lock() {
            log.push(request.clone());
        }
        let script = self.script().clone();
        let mut text = match &request.params.constraint {
            OutputConstraint::JsonSchema(schema) => example_for_schema(schema).to_string(),
            OutputConstraint::JsonObject => json!({ "answer": "fake" }).to_string(),
            OutputConstraint::None | OutputConstraint::Grammar(_) => {
                first_tool_call(&request.prompt)
                    .filter(|_| script.call_tools)
                    .unwrap_or_else(|| script.reply.clone())
            }
        };
        let mut finish = FinishReason::Stop;
        if let Some(pos) = request
            .params
            .stop
            .iter()
            .filter_map(|s| text.find(s.as_str()))
            .min()
        {
            text.truncate(pos);
        }
        let mut all = tokens(&text);
        if let Some(max) = request.params.max_tokens
            && all.len() > max as usize
        {
            all.truncate(max as usize);
            finish = FinishReason::Length;
        }
        self.inner.active.fetch_add(1, Ordering::SeqCst);
        let run = Run {
            total: all.len(),
            tokens: all.into_iter(),
            emitted: 0,
            finish,
            fail_after: script.fail_after,
            delay: script.token_delay,
            logprobs: request
                .params
                .logprobs
                .then_some(request.params.top_logprobs),
            prompt_tokens: prompt_tokens(&request.prompt),
            is_done: false,
            _guard: LiveGuard(self.inner.clone()),
        };
        Ok(Box::pin(futures::stream::unfold(
            run,
            |mut run| async move {
                if run.is_done {
                    return None;
                }
                if !run.delay.is_zero() {
                    tokio::time::sleep(run.delay).await;
                }
                if run.fail_after == Some(run.emitted) {
                    run.is_done = true;
                    return Some((
                        Err(BackendError::Failed("injected failure".to_owned())),
                        run,
                    ));
                }
                match run.tokens.next() {
                    Some(token) => {
                        run.emitted += 1;
                        let logprobs = run
                            .logprobs
                            .map(|top| {
                                let alternatives =
                                    [(token.clone(), -0.25), ("alt".to_owned(), -2.0)];
                                vec![TokenLogprob {
                                    token: token.clone(),
                                    logprob: -0.25,
                                    top: alternatives.into_iter().take(top as usize).collect(),
                                }]
                            })
                            .unwrap_or_default();
                        Some((
                            Ok(GenerationEvent::Delta {
                                text: token,
                                logprobs,
                            }),
                            run,
                        ))
                    }
                    None => {
                        run.is_done = true;
                        let stats = GenerationStats {
                            prompt_tokens: run.prompt_tokens,
                            cached_tokens: 0,
                            completion_tokens: run.total as u32,
                            queue_time: Duration::ZERO,
                            prompt_duration: Duration::from_millis(2),
                            generation_duration: Duration::from_millis(run.total as u64),
                        };
                        let done = GenerationEvent::Done {
                            finish_reason: run.finish,
                            stats,
                        };
                        Some((Ok(done), run))
                    }
                }
            },
        )))
    }

    async fn count_tokens(&self, model: &str, prompt: &Prompt) -> Result<u32, BackendError> {
        FakeBackend::known(model).ok_or_else(|| BackendError::ModelNotFound(model.to_owned()))?;
        Ok(prompt_tokens(prompt))
    }
}

#[async_trait]
impl EmbedBackend for FakeBackend {
    async fn embed(&self, request: EmbedRequest) -> Result<EmbedResponse, BackendError> {
        let model = FakeBackend::known(&request.model)
            .ok_or_else(|| BackendError::ModelNotFound(request.model.clone()))?;
        if !model.capabilities.embedding {
            return Err(BackendError::InvalidRequest(format!(
                "model '{}' does not produce embeddings",
                request.model
            )));
        }
        let embeddings = request
            .inputs
            .iter()
            .map(|text| {
                let mut v: Vec<f32> = (0..EMBED_WIDTH as u64)
                    .map(|d| {
                        let h = text.bytes().fold(0xcbf2_9ce4_8422_2325_u64 ^ d, |h, b| {
                            (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3)
                        });
                        (h % 2000) as f32 / 1000.0 - 1.0
                    })
                    .collect();
                if request.normalize {
                    let norm = v
                        .iter()
                        .map(|x| x * x)
                        .sum::<f32>()
                        .sqrt()
                        .max(f32::EPSILON);
                    v.iter_mut().for_each(|x| *x /= norm);
                }
                v
            })
            .collect();
        let prompt_tokens = request
            .inputs
            .iter()
            .map(|t| t.split_whitespace().count() as u32)
            .sum();
        Ok(EmbedResponse {
            embeddings,
            prompt_tokens,
        })
    }
}

#[async_trait]
impl ModelCatalog for FakeBackend {
    async fn list(&self) -> Result<Vec<ModelInfo>, BackendError> {
        Ok(models())
    }

    async fn get(&self, name: &str) -> Result<ModelInfo, BackendError> {
        FakeBackend::known(name).ok_or_else(|| BackendError::ModelNotFound(name.to_owned()))
    }
}

#[cfg(test)]
mod tests {
    use futures::StreamExt;
    use hearth_core::backend::{Principal, SamplingParams};

    use super::*;

    fn request(params: SamplingParams) -> GenerateRequest {
        GenerateRequest {
            model: FAKE_CHAT.to_owned(),
            prompt: Prompt::Text("hello there".to_owned()),
            params,
            principal: Principal::anonymous(),
            weight: 1,
            shares_prompt: false,
        }
    }

    async fn run(fake: &FakeBackend, params: SamplingParams) -> (String, Option<FinishReason>) {
        let mut stream = fake.generate(request(params)).await.unwrap();
        let mut text = String::new();
        let mut finish = None;
        while let Some(event) = stream.next().await {
            match event.unwrap() {
                GenerationEvent::Delta { text: t, .. } => text.push_str(&t),
                GenerationEvent::Done { finish_reason, .. } => finish = Some(finish_reason),
            }
        }
        (text, finish)
    }

    #[tokio::test]
    async fn honours_max_tokens_and_stop() {
        let fake = FakeBackend::new();
        let (text, finish) = run(&fake, SamplingParams::default()).await;
        assert_eq!(
            (text.as_str(), finish),
            (DEFAULT_REPLY, Some(FinishReason::Stop))
        );
        let params = SamplingParams {
            max_tokens: Some(2),
            ..Default::default()
        };
        assert_eq!(
            run(&fake, params).await,
            ("The quick ".to_owned(), Some(FinishReason::Length))
        );
        let params = SamplingParams {
            stop: vec!["fox".into()],
            ..Default::default()
        };
        assert_eq!(run(&fake, params).await.0, "The quick brown ");
        assert_eq!(fake.active_streams(), 0);
    }

    #[tokio::test]
    async fn schema_constraint_yields_matching_json() {
        let schema = json!({"type": "object", "properties": {
            "name": {"const": "add"}, "arguments": {"type": "object",
            "properties": {"a": {"type": "integer"}, "tags": {"type": "array", "items": {"type": "string"}}}}}});
        let params = SamplingParams {
            constraint: OutputConstraint::JsonSchema(schema),
            ..Default::default()
        };
        let (text, _) = run(&FakeBackend::new(), params).await;
        let value: Value = serde_json::from_str(&text).unwrap();
        assert_eq!(
            value,
            json!({"name": "add", "arguments": {"a": 1, "tags": ["text"]}})
        );
    }

    #[tokio::test]
    async fn fails_after_k_tokens_and_tracks_live_streams() {
        let fake = FakeBackend::new().fail_after(1);
        let mut stream = fake
            .generate(request(SamplingParams::default()))
            .await
            .unwrap();
        assert_eq!(fake.active_streams(), 1);
        assert!(stream.next().await.unwrap().is_ok());
        assert!(stream.next().await.unwrap().is_err());
        drop(stream);
        assert_eq!(fake.active_streams(), 0);
        let err = fake
            .count_tokens("nope", &Prompt::Text(String::new()))
            .await
            .unwrap_err();
        assert!(matches!(err, BackendError::ModelNotFound(_)));
    }
}
