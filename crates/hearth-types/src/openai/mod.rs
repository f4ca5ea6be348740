//! OpenAI wire types (`/v1/*`): requests as the official SDKs send them and the
//! responses they parse. Lenient on input (unknown fields ignored, `null` accepted
//! wherever OpenAI accepts it, strings or lists where OpenAI takes either); strict
//! checks (bounds, cross-field rules) happen when core validates them into `Valid*`
//! requests.

pub mod chat;
pub mod completions;
pub mod embeddings;
pub mod models;

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

pub use chat::*;
pub use completions::*;
pub use embeddings::*;
pub use models::*;

/// A string or a list of strings (`stop`, `input`, `prompt`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(untagged)]
pub enum StringOrList {
    /// One string.
    One(String),
    /// Several strings.
    Many(Vec<String>),
}

impl StringOrList {
    /// The strings, in order.
    pub fn into_vec(self) -> Vec<String> {
        match self {
            StringOrList::One(s) => vec![s],
            StringOrList::Many(v) => v,
        }
    }
}

/// A prompt or embedding input: text, texts, or token ids.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(untagged)]
pub enum TextOrTokens {
    /// One text.
    Text(String),
    /// Several texts.
    Texts(Vec<String>),
    /// One sequence of token ids.
    Tokens(Vec<u32>),
    /// Several sequences of token ids.
    TokenLists(Vec<Vec<u32>>),
}

/// `stream_options`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct StreamOptions {
    /// Send a last chunk with `usage` and empty `choices`.
    #[serde(default)]
    pub include_usage: Option<bool>,
}

/// Token counts of a request.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Usage {
    /// Tokens in the prompt (counted once even when `n` > 1).
    pub prompt_tokens: u32,
    /// Tokens generated across all choices.
    pub completion_tokens: u32,
    /// Sum of both.
    pub total_tokens: u32,
    /// Breakdown of the prompt tokens.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prompt_tokens_details: Option<PromptTokensDetails>,
}

/// `usage.prompt_tokens_details`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct PromptTokensDetails {
    /// Prompt tokens served from the prefix cache.
    pub cached_tokens: u32,
}
