//! `POST /api/embed` and the legacy `POST /api/embeddings`.

use std::time::Instant;

use axum::Json;
use axum::extract::State;
use hearth_core::embed::{EmbedService, ValidEmbedRequest};
use hearth_types::ollama::{EmbedRequest, EmbedResponse, EmbeddingsRequest, EmbeddingsResponse};

use crate::auth::Caller;
use crate::error::ApiError;
use crate::extract::JsonBody;
use crate::state::AppState;

/// `POST /api/embed`
pub async fn embed(
    State(state): State<AppState>,
    caller: Caller,
    JsonBody(body): JsonBody<EmbedRequest>,
) -> Result<Json<EmbedResponse>, ApiError> {
    let started = Instant::now();
    super::apply_keep_alive(&state, &body.model, body.keep_alive.as_ref()).await?;
    let request = ValidEmbedRequest::try_from(body)?;
    let model = request.model.clone();
    caller.require_model(&request.model)?;
    let outcome = EmbedService::new(state.embed.clone())
        .embed(request, caller.principal)
        .await?;
    Ok(Json(EmbedResponse {
        model,
        embeddings: outcome.vectors,
        total_duration: u64::try_from(started.elapsed().as_nanos()).unwrap_or(u64::MAX),
        load_duration: 0,
        prompt_eval_count: outcome.prompt_tokens,
    }))
}

/// `POST /api/embeddings` (legacy: one text, vector not normalized)
pub async fn embeddings(
    State(state): State<AppState>,
    caller: Caller,
    JsonBody(body): JsonBody<EmbeddingsRequest>,
) -> Result<Json<EmbeddingsResponse>, ApiError> {
    super::apply_keep_alive(&state, &body.model, body.keep_alive.as_ref()).await?;
    let request = ValidEmbedRequest::try_from(body)?;
    caller.require_model(&request.model)?;
    let outcome = EmbedService::new(state.embed.clone())
        .embed(request, caller.principal)
        .await?;
    Ok(Json(EmbeddingsResponse {
        embedding: outcome.vectors.into_iter().next().unwrap_or_default(),
    }))
}
