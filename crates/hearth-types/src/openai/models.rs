//! `GET /v1/models` and `GET /v1/models/{id}`.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// A model as OpenAI lists it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Model {
    /// The name to pass as `model`.
    pub id: String,
    /// Always `model`.
    pub object: String,
    /// Unix seconds of the last change.
    pub created: i64,
    /// Always `hearth`.
    pub owned_by: String,
}

/// `GET /v1/models`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct ModelList {
    /// Always `list`.
    pub object: String,
    /// Every model.
    pub data: Vec<Model>,
}
