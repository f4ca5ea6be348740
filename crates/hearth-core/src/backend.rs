//! The ports through which services reach a model: [`ChatBackend`] for text
//! generation and [`EmbedBackend`] for embeddings. The local engine implements them
//! (in `hearth-engine`), later the upstream providers do too; the HTTP lanes only
//! ever see these traits.
//!
//! A generation is a stream of [`GenerationEvent`]s: text deltas (never splitting a
//! UTF-8 character) and one final `Done` with the statistics. Dropping the stream
//! cancels the generation: the backend must free the sequence at its next step.

use std::pin::Pin;
use std::time::Duration;

use async_trait::async_trait;
use futures::Stream;
use hearth_types::{Code, ErrorCode};
use serde::{Deserialize, Serialize};

/// Who a request is for; scheduling fairness and prefix-cache scoping key on it.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Principal(pub String);

impl Principal {
    /// The principal used when authentication is off or for internal work.
    pub fn anonymous() -> Self {
        Principal("anonymous".to_owned())
    }
}

/// One chat message given to a model's chat template.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ChatMessage {
    /// `system`, `user`, `assistant` or `tool`.
    pub role: String,
    /// The text of the message.
    pub content: String,
    /// Tool calls made by an assistant message, as the template expects them.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tool_calls: Vec<serde_json::Value>,
    /// For `tool` messages: the id of the call this answers.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tool_call_id: Option<String>,
    /// For `tool` messages: the tool's name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
}

impl ChatMessage {
    /// A plain text message.
    pub fn text(role: &str, content: impl Into<String>) -> Self {
        ChatMessage {
            role: role.to_owned(),
            content: content.into(),
            tool_calls: Vec::new(),
            tool_call_id: None,
            name: None,
        }
    }
}

/// What the model is asked to continue.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum Prompt {
    /// Messages rendered through the model's chat template (or `template`).
    Chat {
        /// The conversation so far.
        messages: Vec<ChatMessage>,
        /// Tool definitions (OpenAI function schema objects) given to the template.
        tools: Vec<serde_json::Value>,
        /// A Jinja chat template used instead of the model's own (a preset's
        /// template); `None` renders with the model's.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        template: Option<String>,
    },
    /// Raw text, tokenized as is (with the model's BOS when it wants one).
    Text(String),
    /// Fill-in-the-middle: the text between `prefix` and `suffix`, with the
    /// model's FIM tokens (models without them refuse it).
    Infill {
        /// Text before the gap.
        prefix: String,
        /// Text after the gap.
        suffix: String,
    },
}

/// Constraint on the generated text.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub enum OutputConstraint {
    /// Free text.
    #[default]
    None,
    /// Any JSON value (object at the top level).
    JsonObject,
    /// JSON valid against this JSON Schema.
    JsonSchema(serde_json::Value),
    /// A GBNF grammar, as llama.cpp reads it.
    Grammar(String),
}

/// Sampling parameters. `None` means "the model's or server's default".
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct SamplingParams {
    /// Maximum tokens to generate; `None` means up to the context end.
    pub max_tokens: Option<u32>,
    /// 0 means greedy.
    pub temperature: Option<f32>,
    /// Nucleus sampling threshold.
    pub top_p: Option<f32>,
    /// Top-k cut-off; 0 disables.
    pub top_k: Option<u32>,
    /// Minimum probability relative to the most likely token.
    pub min_p: Option<f32>,
    /// Multiplicative repetition penalty (1.0 = off).
    pub repeat_penalty: Option<f32>,
    /// Additive frequency penalty (OpenAI semantics).
    pub frequency_penalty: Option<f32>,
    /// Additive presence penalty (OpenAI semantics).
    pub presence_penalty: Option<f32>,
    /// Token id → bias added to its logit.
    pub logit_bias: Vec<(i32, f32)>,
    /// Same seed, same params, same prompt → same output.
    pub seed: Option<u64>,
    /// Generation stops before any of these strings; they are never emitted.
    pub stop: Vec<String>,
    /// Return this many most likely alternatives with each token (0 = none).
    pub top_logprobs: u8,
    /// Whether to return the chosen token's log-probability.
    pub logprobs: bool,
    /// Output constraint (JSON, schema, grammar).
    pub constraint: OutputConstraint,
    /// Keep generating past end-of-generation tokens until `max_tokens`
    /// (llama-server's and vLLM's `ignore_eos`, for benchmarks). Ignored under a
    /// constraint, whose grammar decides where the output ends.
    #[serde(default)]
    pub ignore_eos: bool,
}

/// A request to generate text.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GenerateRequest {
    /// Model name as the registry knows it.
    pub model: String,
    /// What to continue.
    pub prompt: Prompt,
    /// How to sample.
    pub params: SamplingParams,
    /// On whose behalf (fairness, cache scope).
    pub principal: Principal,
    /// The principal's admission weight: waiting requests are admitted by
    /// weighted round-robin across principals, `weight` in a row per turn.
    #[serde(default = "one")]
    pub weight: u32,
    /// Another choice of the same request (`n` > 1) carries this prompt:
    /// usage and quotas count it there, once.
    #[serde(default)]
    pub shares_prompt: bool,
}

fn one() -> u32 {
    1
}

/// Why a generation ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FinishReason {
    /// The model emitted an end-of-generation token or a stop string matched.
    Stop,
    /// `max_tokens` or the context end was reached.
    Length,
    /// The consumer cancelled.
    Cancelled,
}

/// Log-probability of one token and, optionally, its most likely alternatives.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TokenLogprob {
    /// The token's text.
    pub token: String,
    /// Natural-log probability.
    pub logprob: f32,
    /// The most likely alternatives at this position.
    pub top: Vec<(String, f32)>,
}

/// Figures of one finished generation.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct GenerationStats {
    /// Tokens in the prompt.
    pub prompt_tokens: u32,
    /// Prompt tokens whose state came from the prefix cache.
    pub cached_tokens: u32,
    /// Tokens generated.
    pub completion_tokens: u32,
    /// Time spent waiting for admission.
    pub queue_time: Duration,
    /// Time from admission to the first generated token.
    pub prompt_duration: Duration,
    /// Time from the first to the last generated token.
    pub generation_duration: Duration,
}

/// One item of a generation stream.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum GenerationEvent {
    /// New text (whole UTF-8 characters), with logprobs when asked.
    Delta {
        /// The text.
        text: String,
        /// One entry per token that produced this text, when logprobs were asked.
        logprobs: Vec<TokenLogprob>,
    },
    /// The end; no event follows.
    Done {
        /// Why it ended.
        finish_reason: FinishReason,
        /// Figures.
        stats: GenerationStats,
    },
}

/// A boxed stream of generation events.
pub type GenerationStream =
    Pin<Box<dyn Stream<Item = Result<GenerationEvent, BackendError>> + Send + 'static>>;

/// A request for embeddings.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EmbedRequest {
    /// Model name.
    pub model: String,
    /// Texts to embed, batched by the backend.
    pub inputs: Vec<String>,
    /// L2-normalize each vector.
    pub normalize: bool,
    /// On whose behalf.
    pub principal: Principal,
}

/// Embeddings, one per input, in input order.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EmbedResponse {
    /// The vectors.
    pub embeddings: Vec<Vec<f32>>,
    /// Tokens read across all inputs.
    pub prompt_tokens: u32,
}

/// What a model can do.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Capabilities {
    /// Has a chat template.
    pub chat: bool,
    /// Plain completion.
    pub completion: bool,
    /// Produces embeddings.
    pub embedding: bool,
    /// Its template understands tools.
    pub tools: bool,
    /// Supports fill-in-the-middle.
    pub insert: bool,
}

/// Errors a backend returns. Each maps to a row of the code table.
#[derive(Debug, Clone, PartialEq, thiserror::Error, Serialize, Deserialize)]
pub enum BackendError {
    /// The model is not known to this backend.
    #[error("model '{0}' not found")]
    ModelNotFound(String),
    /// The request cannot be served as asked (prompt too long, no chat template…).
    #[error("{0}")]
    InvalidRequest(String),
    /// The wait queue is full.
    #[error("the model is overloaded; retry in {retry_after_secs} s")]
    Overloaded {
        /// Suggested wait.
        retry_after_secs: u32,
    },
    /// The model could not be loaded or is not ready.
    #[error("model unavailable: {0}")]
    Unavailable(String),
    /// The backend failed while serving (runner crash, decode error, upstream error).
    #[error("model backend failed: {0}")]
    Failed(String),
}

impl ErrorCode for BackendError {
    fn code(&self) -> Code {
        match self {
            BackendError::ModelNotFound(_) => Code::ModelNotFound,
            BackendError::InvalidRequest(_) => Code::Validation,
            BackendError::Overloaded { .. } => Code::Overloaded,
            BackendError::Unavailable(_) => Code::ProviderUnavailable,
            BackendError::Failed(_) => Code::ProviderFailed,
        }
    }
}

/// Text generation.
#[async_trait]
pub trait ChatBackend: Send + Sync {
    /// Start a generation. Errors known before the first token (unknown model,
    /// prompt too long, queue full) are returned here; later ones in the stream.
    async fn generate(&self, request: GenerateRequest) -> Result<GenerationStream, BackendError>;

    /// Count the tokens of a prompt as this model would see it.
    async fn count_tokens(&self, model: &str, prompt: &Prompt) -> Result<u32, BackendError>;
}

/// Embeddings.
#[async_trait]
pub trait EmbedBackend: Send + Sync {
    /// Embed every input with one model.
    async fn embed(&self, request: EmbedRequest) -> Result<EmbedResponse, BackendError>;
}
