//! The model catalog port: which models exist, with the metadata clients list
//! (`/v1/models`, `/api/tags`, `/api/show`). The registry of the models issue
//! implements it over content-addressed blobs; until then a directory scan does.

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

use crate::backend::{BackendError, Capabilities};

/// A model as the catalog knows it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ModelInfo {
    /// Name clients use, `name:tag` (e.g. `smollm2:135m`).
    pub name: String,
    /// File size in bytes.
    pub size_bytes: u64,
    /// `sha256:…` of the file, when computed.
    pub digest: Option<String>,
    /// Architecture (`llama`, `gemma3`, `bert`).
    pub architecture: String,
    /// Parameter count, when known.
    pub parameter_count: Option<u64>,
    /// Quantization (`Q4_1`, `Q4_K_M`, `F16`).
    pub quantization: Option<String>,
    /// Trained context length.
    pub context_length: Option<u32>,
    /// Embedding width.
    pub embedding_length: Option<u32>,
    /// The chat template, if the model has one.
    pub chat_template: Option<String>,
    /// What it can do.
    pub capabilities: Capabilities,
    /// Last change, Unix milliseconds.
    pub modified_at_ms: i64,
}

/// Read access to the models.
#[async_trait]
pub trait ModelCatalog: Send + Sync {
    /// Every model, sorted by name.
    async fn list(&self) -> Result<Vec<ModelInfo>, BackendError>;
    /// One model; `BackendError::ModelNotFound` when absent.
    async fn get(&self, name: &str) -> Result<ModelInfo, BackendError>;
}

/// The backend of a server with no models: lists nothing, knows no model. Used
/// until a model source is configured, and in tests of routes that need none.
#[derive(Debug, Default, Clone, Copy)]
pub struct NoModels;

#[async_trait]
impl ModelCatalog for NoModels {
    async fn list(&self) -> Result<Vec<ModelInfo>, BackendError> {
        Ok(Vec::new())
    }

    async fn get(&self, name: &str) -> Result<ModelInfo, BackendError> {
        Err(BackendError::ModelNotFound(name.to_owned()))
    }
}

#[async_trait]
impl crate::backend::ChatBackend for NoModels {
    async fn generate(
        &self,
        request: crate::backend::GenerateRequest,
    ) -> Result<crate::backend::GenerationStream, BackendError> {
        Err(BackendError::ModelNotFound(request.model))
    }

    async fn count_tokens(
        &self,
        model: &str,
        _prompt: &crate::backend::Prompt,
    ) -> Result<u32, BackendError> {
        Err(BackendError::ModelNotFound(model.to_owned()))
    }
}

#[async_trait]
impl crate::backend::EmbedBackend for NoModels {
    async fn embed(
        &self,
        request: crate::backend::EmbedRequest,
    ) -> Result<crate::backend::EmbedResponse, BackendError> {
        Err(BackendError::ModelNotFound(request.model))
    }
}
