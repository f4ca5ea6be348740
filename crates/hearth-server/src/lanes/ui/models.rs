//! `GET /ui/models`: the models for the web app's picker. The web app signs in
//! with a session cookie, which the OpenAI lane's `/v1/models` does not accept
//! (that lane takes API keys only), so the web lane lists them itself.

use axum::Json;
use axum::extract::State;
use hearth_core::models::ModelInfo;
use serde::Serialize;
use utoipa::ToSchema;
use utoipa::openapi::ComponentsBuilder;

use crate::error::ApiError;
use crate::route;
use crate::routes::{Auth::Scope, Capability, Route};
use crate::state::AppState;

/// Routes of this module.
pub fn routes() -> Vec<Route> {
    use axum::routing::get;
    vec![
        route!(GET "/ui/models", Hearth, Scope("chat"), Some(Capability::WebUi), "listUiModels",
        "Models for the web app's picker, with what each can do.",
        req: None, res: Some("UiModelListView"), get(list)),
    ]
}

/// Schemas of this module's views.
pub fn schemas(components: ComponentsBuilder) -> ComponentsBuilder {
    components
        .schema_from::<UiModelView>()
        .schema_from::<UiModelListView>()
}

/// One model as the picker shows it.
#[derive(Debug, Serialize, ToSchema)]
pub struct UiModelView {
    /// Name to send as `model`.
    pub id: String,
    /// Architecture (`llama`, `gemma3`).
    pub architecture: String,
    /// File size in bytes.
    pub size_bytes: u64,
    /// Quantization, when known.
    pub quantization: Option<String>,
    /// Trained context length, when known.
    pub context_length: Option<u32>,
    /// Has a chat template (can answer conversations).
    pub chat: bool,
    /// Produces embeddings.
    pub embedding: bool,
    /// In memory now (answers without a load first).
    pub loaded: bool,
}

/// The models, sorted by name.
#[derive(Debug, Serialize, ToSchema)]
pub struct UiModelListView {
    /// The models.
    pub data: Vec<UiModelView>,
}

impl From<ModelInfo> for UiModelView {
    fn from(m: ModelInfo) -> Self {
        UiModelView {
            id: m.name,
            architecture: m.architecture,
            size_bytes: m.size_bytes,
            quantization: m.quantization,
            context_length: m.context_length,
            chat: m.capabilities.chat,
            embedding: m.capabilities.embedding,
            loaded: false,
        }
    }
}

/// `GET /ui/models`
pub async fn list(State(state): State<AppState>) -> Result<Json<UiModelListView>, ApiError> {
    let models = state.models.list().await?;
    // A listing still answers if residency cannot be read.
    let loaded: std::collections::HashSet<String> = state
        .models
        .loaded()
        .await
        .unwrap_or_default()
        .into_iter()
        .map(|m| m.name)
        .collect();
    Ok(Json(UiModelListView {
        data: models
            .into_iter()
            .map(|m| {
                let target = crate::lanes::ollama::loaded_name(&state, &m.name);
                let is_loaded = loaded.contains(&target) || loaded.contains(&m.name);
                UiModelView {
                    loaded: is_loaded,
                    ..UiModelView::from(m)
                }
            })
            .collect(),
    }))
}
