//! `POST /v1/completions` (legacy text completion).

use std::collections::{BTreeMap, HashMap};

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::{StreamOptions, StringOrList, TextOrTokens, Usage};

/// Body of `POST /v1/completions`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct CompletionRequest {
    /// Model name.
    pub model: String,
    /// A string or a list of strings (token ids are refused).
    #[serde(default)]
    pub prompt: Option<TextOrTokens>,
    /// Text after the insertion point (fill-in-the-middle).
    #[serde(default)]
    pub suffix: Option<String>,
    /// Most tokens to generate per choice (default 16, as OpenAI).
    #[serde(default)]
    pub max_tokens: Option<u32>,
    /// 0 to 2.
    #[serde(default)]
    pub temperature: Option<f32>,
    /// 0 to 1.
    #[serde(default)]
    pub top_p: Option<f32>,
    /// Choices per prompt, 1 to 16.
    #[serde(default)]
    pub n: Option<u32>,
    /// Stream as server-sent events.
    #[serde(default)]
    pub stream: Option<bool>,
    /// Stream options.
    #[serde(default)]
    pub stream_options: Option<StreamOptions>,
    /// Alternatives per token, 0 to 5 (presence turns logprobs on).
    #[serde(default)]
    pub logprobs: Option<u32>,
    /// Return the prompt before the completion.
    #[serde(default)]
    pub echo: Option<bool>,
    /// Up to 16 stop strings.
    #[serde(default)]
    pub stop: Option<StringOrList>,
    /// Generate exactly `max_tokens`, past end-of-generation tokens (extension,
    /// as llama-server and vLLM; for benchmarks).
    #[serde(default)]
    pub ignore_eos: Option<bool>,
    /// -2 to 2.
    #[serde(default)]
    pub presence_penalty: Option<f32>,
    /// -2 to 2.
    #[serde(default)]
    pub frequency_penalty: Option<f32>,
    /// Accepted only when equal to `n` (or absent).
    #[serde(default)]
    pub best_of: Option<u32>,
    /// Token id → bias.
    #[serde(default)]
    pub logit_bias: Option<BTreeMap<String, f32>>,
    /// Seed.
    #[serde(default)]
    pub seed: Option<i64>,
    /// End-user id.
    #[serde(default)]
    pub user: Option<String>,
    /// Parameters Hearth does not know: accepted, ignored, logged at debug.
    #[serde(flatten, skip_serializing_if = "BTreeMap::is_empty")]
    #[schema(ignore)]
    pub unknown: BTreeMap<String, serde_json::Value>,
}

/// Response of `POST /v1/completions` (also each streamed event).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Completion {
    /// `cmpl-…`.
    pub id: String,
    /// Always `text_completion`.
    pub object: String,
    /// Unix seconds.
    pub created: i64,
    /// Model name.
    pub model: String,
    /// Identifies the server build.
    pub system_fingerprint: String,
    /// Prompt-major: choice `i*n + j` is the j-th answer to prompt i.
    pub choices: Vec<CompletionChoice>,
    /// Token counts (absent in stream events but the last with include_usage).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub usage: Option<Usage>,
}

/// One completion choice.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct CompletionChoice {
    /// Generated text (with the prompt first when `echo`).
    pub text: String,
    /// Choice position.
    pub index: u32,
    /// Log-probabilities, when asked.
    pub logprobs: Option<CompletionLogprobs>,
    /// `stop` or `length`; null in stream events before the last.
    pub finish_reason: Option<String>,
}

/// Legacy log-probability layout.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct CompletionLogprobs {
    /// Token texts.
    pub tokens: Vec<String>,
    /// Log-probability of each token.
    pub token_logprobs: Vec<f32>,
    /// Alternatives per position.
    pub top_logprobs: Vec<HashMap<String, f32>>,
    /// Character offset of each token in `text`.
    pub text_offset: Vec<u32>,
}
