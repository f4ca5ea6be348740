//! Model listing and inspection: `/api/tags`, `/api/show`, `/api/ps`.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::ModelInfoMap;

/// `details` of a model.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct ModelDetails {
    /// Model this one derives from (empty).
    pub parent_model: String,
    /// Always `gguf`.
    pub format: String,
    /// Architecture, e.g. `llama`.
    pub family: String,
    /// Architectures.
    pub families: Vec<String>,
    /// e.g. `135M`.
    pub parameter_size: String,
    /// e.g. `Q4_1`.
    pub quantization_level: String,
}

/// One entry of `GET /api/tags`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct ModelEntry {
    /// `name:tag`.
    pub name: String,
    /// Same as `name`.
    pub model: String,
    /// RFC 3339 time.
    pub modified_at: String,
    /// Bytes.
    pub size: u64,
    /// Hex sha256 (empty when not computed).
    pub digest: String,
    /// Details.
    pub details: ModelDetails,
}

/// `GET /api/tags`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct TagsResponse {
    /// Every model.
    pub models: Vec<ModelEntry>,
}

/// Body of `POST /api/show` (`name` is the older spelling of `model`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct ShowRequest {
    /// Model name.
    #[serde(default)]
    pub model: Option<String>,
    /// Older spelling of `model`.
    #[serde(default)]
    pub name: Option<String>,
    /// Accepted.
    #[serde(default)]
    pub verbose: Option<bool>,
}

/// `POST /api/show`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct ShowResponse {
    /// A Modelfile equivalent of the model.
    pub modelfile: String,
    /// Default parameters, one `key value` per line.
    pub parameters: String,
    /// The prompt template (Go-template syntax, as clients inspect it).
    pub template: String,
    /// Details.
    pub details: ModelDetails,
    /// GGUF-style metadata: `general.architecture`, `general.basename`,
    /// `<arch>.context_length`, …
    #[schema(value_type = Object)]
    pub model_info: ModelInfoMap,
    /// `completion`, `tools`, `insert`, `embedding`.
    pub capabilities: Vec<String>,
    /// The licence the model declares, when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub license: Option<String>,
    /// RFC 3339 time.
    pub modified_at: String,
}

/// One loaded model in `GET /api/ps`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct RunningModel {
    /// `name:tag`.
    pub name: String,
    /// Same as `name`.
    pub model: String,
    /// Bytes in memory.
    pub size: u64,
    /// Hex sha256.
    pub digest: String,
    /// Details.
    pub details: ModelDetails,
    /// RFC 3339 time it will be unloaded.
    pub expires_at: String,
    /// Bytes in GPU memory.
    pub size_vram: u64,
}

/// `GET /api/ps`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct PsResponse {
    /// Loaded models.
    pub models: Vec<RunningModel>,
}
