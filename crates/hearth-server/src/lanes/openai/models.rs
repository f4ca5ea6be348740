//! `GET /v1/models` and `GET /v1/models/{id}`.

use axum::Json;
use axum::extract::State;
use hearth_core::models::ModelInfo;
use hearth_types::openai::{Model, ModelList};

use crate::error::ApiError;
use crate::extract::PathParams;
use crate::state::AppState;

fn view(model: ModelInfo) -> Model {
    Model {
        id: model.name,
        object: "model".to_owned(),
        created: model.modified_at_ms / 1000,
        owned_by: "hearth".to_owned(),
    }
}

/// `GET /v1/models`
pub async fn list(State(state): State<AppState>) -> Result<Json<ModelList>, ApiError> {
    let models = state.models.list().await?;
    Ok(Json(ModelList {
        object: "list".to_owned(),
        data: models.into_iter().map(view).collect(),
    }))
}

/// `GET /v1/models/{id}`
pub async fn get(
    State(state): State<AppState>,
    PathParams(id): PathParams<String>,
) -> Result<Json<Model>, ApiError> {
    Ok(Json(view(state.models.get(&id).await?)))
}
