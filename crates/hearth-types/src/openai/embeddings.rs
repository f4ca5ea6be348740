//! `POST /v1/embeddings`.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::TextOrTokens;

/// Body of `POST /v1/embeddings`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct EmbeddingRequest {
    /// Model name.
    pub model: String,
    /// A string or a list of strings (token ids are refused).
    pub input: TextOrTokens,
    /// `float` (default) or `base64` (little-endian f32).
    #[serde(default)]
    pub encoding_format: Option<String>,
    /// Truncate each vector to this width and re-normalize.
    #[serde(default)]
    pub dimensions: Option<u32>,
    /// End-user id.
    #[serde(default)]
    pub user: Option<String>,
    /// Parameters Hearth does not know: accepted, ignored, logged at debug.
    #[serde(flatten, skip_serializing_if = "BTreeMap::is_empty")]
    #[schema(ignore)]
    pub unknown: BTreeMap<String, serde_json::Value>,
}

/// Response of `POST /v1/embeddings`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct EmbeddingList {
    /// Always `list`.
    pub object: String,
    /// One per input, in order.
    pub data: Vec<Embedding>,
    /// Model name.
    pub model: String,
    /// Token counts.
    pub usage: EmbeddingUsage,
}

/// One embedding.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Embedding {
    /// Always `embedding`.
    pub object: String,
    /// Input position.
    pub index: u32,
    /// The vector, as floats or base64.
    pub embedding: EmbeddingVector,
}

/// A vector in the asked encoding.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(untagged)]
pub enum EmbeddingVector {
    /// `encoding_format: float`.
    Float(Vec<f32>),
    /// `encoding_format: base64`: little-endian f32 bytes.
    Base64(String),
}

/// Token counts of an embedding request.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct EmbeddingUsage {
    /// Tokens read.
    pub prompt_tokens: u32,
    /// Same as `prompt_tokens`.
    pub total_tokens: u32,
}
