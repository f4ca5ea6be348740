//! Model management: `/api/pull`, `/api/delete`, `/api/copy`, `/api/create`,
//! `/api/push`. `name` is accepted as the older spelling of `model`.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// Body of `POST /api/pull`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct PullRequest {
    /// What to pull: an `https://` URL or `hf.co/ORG/REPO:QUANT`.
    #[serde(default)]
    pub model: Option<String>,
    /// Older spelling of `model`.
    #[serde(default)]
    pub name: Option<String>,
    /// Accepted, ignored (TLS is always verified).
    #[serde(default)]
    pub insecure: Option<bool>,
    /// Stream progress lines (default true).
    #[serde(default)]
    pub stream: Option<bool>,
}

/// One line of the pull (and create) stream.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct ProgressResponse {
    /// `pulling manifest`, `pulling <digest>`, `verifying sha256 digest`,
    /// `writing manifest`, `success`.
    pub status: String,
    /// `sha256:…` while downloading.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub digest: Option<String>,
    /// Bytes in total.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub total: Option<u64>,
    /// Bytes received.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub completed: Option<u64>,
}

/// Body of `DELETE /api/delete`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct DeleteRequest {
    /// Model name.
    #[serde(default)]
    pub model: Option<String>,
    /// Older spelling of `model`.
    #[serde(default)]
    pub name: Option<String>,
}

/// Body of `POST /api/copy`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct CopyRequest {
    /// Existing model.
    pub source: String,
    /// New name.
    pub destination: String,
}

/// Body of `POST /api/create`: a new name for an existing model with its own
/// defaults (a preset). A `modelfile` with `FROM`, `SYSTEM`, `TEMPLATE` and
/// `PARAMETER` lines is accepted too.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct CreateRequest {
    /// Name to create.
    #[serde(default)]
    pub model: Option<String>,
    /// Older spelling of `model`.
    #[serde(default)]
    pub name: Option<String>,
    /// The existing model it is based on.
    #[serde(default)]
    pub from: Option<String>,
    /// Default system prompt.
    #[serde(default)]
    pub system: Option<String>,
    /// Chat template replacing the model's.
    #[serde(default)]
    pub template: Option<String>,
    /// Default options (`temperature`, `stop`, …).
    #[serde(default)]
    #[schema(value_type = Object)]
    pub parameters: Option<serde_json::Map<String, serde_json::Value>>,
    /// Older form: a Modelfile.
    #[serde(default)]
    pub modelfile: Option<String>,
    /// Not supported (quantization is not offered).
    #[serde(default)]
    pub quantize: Option<String>,
    /// Not supported (blobs are added with `hearth import`).
    #[serde(default)]
    #[schema(value_type = Object)]
    pub files: Option<serde_json::Value>,
    /// Stream status lines (default true).
    #[serde(default)]
    pub stream: Option<bool>,
}

/// Body of `POST /api/push` (refused: models are not published from Hearth).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct PushRequest {
    /// Model name.
    #[serde(default)]
    pub model: Option<String>,
    /// Older spelling of `model`.
    #[serde(default)]
    pub name: Option<String>,
}
