//! Ollama wire types (`/api/*`), as the `ollama` clients (Go CLI, Python,
//! JavaScript) send and parse them. Streams are NDJSON: one of the response
//! objects per line, the last with `done: true`. Unknown fields are ignored.

pub mod manage;
pub mod models;

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

pub use manage::*;
pub use models::*;

/// The version `/api/version` reports. Clients gate features on it: VS Code's
/// Copilot Ollama provider requires ≥ 0.6.4. We claim exactly that minimum, not a
/// newer release, so clients do not expect endpoints added later.
pub const COMPAT_VERSION: &str = "0.6.4";

/// `options`: model parameters. Unknown keys are accepted and ignored.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Options {
    /// Most tokens to generate; -1 (unlimited) and -2 (fill the context) mean no cap.
    #[serde(default)]
    pub num_predict: Option<i64>,
    /// 0 is greedy.
    #[serde(default)]
    pub temperature: Option<f32>,
    /// Nucleus sampling.
    #[serde(default)]
    pub top_p: Option<f32>,
    /// Top-k.
    #[serde(default)]
    pub top_k: Option<u32>,
    /// Min-p.
    #[serde(default)]
    pub min_p: Option<f32>,
    /// Multiplicative repetition penalty.
    #[serde(default)]
    pub repeat_penalty: Option<f32>,
    /// Additive frequency penalty.
    #[serde(default)]
    pub frequency_penalty: Option<f32>,
    /// Additive presence penalty.
    #[serde(default)]
    pub presence_penalty: Option<f32>,
    /// Seed.
    #[serde(default)]
    pub seed: Option<i64>,
    /// Stop strings.
    #[serde(default)]
    pub stop: Option<Vec<String>>,
    /// Context size (accepted; the server manages contexts).
    #[serde(default)]
    pub num_ctx: Option<u32>,
}

/// A chat message (request and response).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Message {
    /// `system`, `user`, `assistant` or `tool`.
    pub role: String,
    /// The text.
    #[serde(default)]
    pub content: String,
    /// Base64 images (refused: no vision models yet).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub images: Option<Vec<String>>,
    /// Calls made by an assistant message.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tool_calls: Option<Vec<ToolCall>>,
    /// On `tool` messages: which tool answered.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tool_name: Option<String>,
    /// Reasoning text (accepted, not generated).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub thinking: Option<String>,
}

/// A tool call, arguments as an object.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct ToolCall {
    /// The call.
    pub function: ToolCallFunction,
}

/// Function name and arguments.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct ToolCallFunction {
    /// Position of the call in the answer.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub index: Option<u32>,
    /// Function name.
    pub name: String,
    /// Arguments object.
    #[serde(default)]
    #[schema(value_type = Object)]
    pub arguments: serde_json::Value,
}

/// A tool definition (OpenAI's function schema).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Tool {
    /// Always `function`.
    #[serde(rename = "type", default)]
    pub kind: Option<String>,
    /// The function: name, description, parameters.
    pub function: ToolFunction,
}

/// A function definition.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct ToolFunction {
    /// Name.
    pub name: String,
    /// What it does.
    #[serde(default)]
    pub description: Option<String>,
    /// JSON Schema of the arguments.
    #[serde(default)]
    #[schema(value_type = Object)]
    pub parameters: Option<serde_json::Value>,
}

/// Body of `POST /api/chat`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct ChatRequest {
    /// Model name.
    pub model: String,
    /// The conversation; empty only to load the model.
    #[serde(default)]
    pub messages: Vec<Message>,
    /// Functions the model may call.
    #[serde(default)]
    pub tools: Option<Vec<Tool>>,
    /// `"json"` or a JSON Schema object.
    #[serde(default)]
    #[schema(value_type = Object)]
    pub format: Option<serde_json::Value>,
    /// Model parameters.
    #[serde(default)]
    pub options: Option<Options>,
    /// Defaults to true.
    #[serde(default)]
    pub stream: Option<bool>,
    /// How long the model stays loaded (accepted).
    #[serde(default)]
    #[schema(value_type = Object)]
    pub keep_alive: Option<serde_json::Value>,
    /// Thinking switch (accepted; no reasoning is separated).
    #[serde(default)]
    #[schema(value_type = Object)]
    pub think: Option<serde_json::Value>,
}

/// A line of `POST /api/chat`'s answer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct ChatResponse {
    /// Model name.
    pub model: String,
    /// RFC 3339 time.
    pub created_at: String,
    /// The new text (or whole answer when not streaming).
    pub message: Message,
    /// True on the last line.
    pub done: bool,
    /// Timings and counts, on the last line.
    #[serde(flatten)]
    pub stats: Option<DoneStats>,
}

/// Figures on the last line of a generation.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct DoneStats {
    /// `stop`, `length` or `load`.
    pub done_reason: String,
    /// Nanoseconds, whole request.
    pub total_duration: u64,
    /// Nanoseconds spent loading the model.
    pub load_duration: u64,
    /// Prompt tokens.
    pub prompt_eval_count: u32,
    /// Nanoseconds reading the prompt.
    pub prompt_eval_duration: u64,
    /// Generated tokens.
    pub eval_count: u32,
    /// Nanoseconds generating.
    pub eval_duration: u64,
}

/// Body of `POST /api/generate`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct GenerateRequest {
    /// Model name.
    pub model: String,
    /// The prompt; empty only to load the model.
    #[serde(default)]
    pub prompt: Option<String>,
    /// Text after the insertion point (fill-in-the-middle).
    #[serde(default)]
    pub suffix: Option<String>,
    /// System message (ignored with `raw`).
    #[serde(default)]
    pub system: Option<String>,
    /// Template override (refused: templates come from the model).
    #[serde(default)]
    pub template: Option<String>,
    /// Token context from a previous answer (accepted, ignored).
    #[serde(default)]
    pub context: Option<Vec<i64>>,
    /// Send the prompt as is, without the chat template.
    #[serde(default)]
    pub raw: Option<bool>,
    /// `"json"` or a JSON Schema object.
    #[serde(default)]
    #[schema(value_type = Object)]
    pub format: Option<serde_json::Value>,
    /// Model parameters.
    #[serde(default)]
    pub options: Option<Options>,
    /// Defaults to true.
    #[serde(default)]
    pub stream: Option<bool>,
    /// Base64 images (refused).
    #[serde(default)]
    pub images: Option<Vec<String>>,
    /// Accepted.
    #[serde(default)]
    #[schema(value_type = Object)]
    pub keep_alive: Option<serde_json::Value>,
    /// Accepted.
    #[serde(default)]
    #[schema(value_type = Object)]
    pub think: Option<serde_json::Value>,
}

/// A line of `POST /api/generate`'s answer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct GenerateResponse {
    /// Model name.
    pub model: String,
    /// RFC 3339 time.
    pub created_at: String,
    /// The new text.
    pub response: String,
    /// True on the last line.
    pub done: bool,
    /// Timings and counts, on the last line.
    #[serde(flatten)]
    pub stats: Option<DoneStats>,
}

/// Body of `POST /api/embed`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct EmbedRequest {
    /// Model name.
    pub model: String,
    /// A string or a list of strings.
    pub input: crate::openai::StringOrList,
    /// Accepted (inputs longer than the context are an error either way).
    #[serde(default)]
    pub truncate: Option<bool>,
    /// Truncate each vector to this width and re-normalize.
    #[serde(default)]
    pub dimensions: Option<u32>,
    /// Accepted.
    #[serde(default)]
    pub options: Option<Options>,
    /// Accepted.
    #[serde(default)]
    #[schema(value_type = Object)]
    pub keep_alive: Option<serde_json::Value>,
}

/// Answer of `POST /api/embed`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct EmbedResponse {
    /// Model name.
    pub model: String,
    /// L2-normalized vectors, one per input.
    pub embeddings: Vec<Vec<f32>>,
    /// Nanoseconds.
    pub total_duration: u64,
    /// Nanoseconds.
    pub load_duration: u64,
    /// Tokens read.
    pub prompt_eval_count: u32,
}

/// Body of the legacy `POST /api/embeddings`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct EmbeddingsRequest {
    /// Model name.
    pub model: String,
    /// One text.
    pub prompt: String,
    /// Accepted.
    #[serde(default)]
    pub options: Option<Options>,
    /// Accepted.
    #[serde(default)]
    #[schema(value_type = Object)]
    pub keep_alive: Option<serde_json::Value>,
}

/// Answer of the legacy `POST /api/embeddings` (not normalized, as Ollama).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct EmbeddingsResponse {
    /// The vector.
    pub embedding: Vec<f32>,
}

/// `GET /api/version`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct VersionResponse {
    /// See [`COMPAT_VERSION`].
    pub version: String,
}

/// A map for `model_info` (ordered, for stable output).
pub type ModelInfoMap = BTreeMap<String, serde_json::Value>;
