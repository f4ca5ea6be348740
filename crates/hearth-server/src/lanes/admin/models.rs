//! `/admin/models*`: the model registry for operators: list, show, pull (a
//! persisted job, `202` or an NDJSON progress stream), copy, delete, presets,
//! what is loaded, garbage collection.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use hearth_core::registry::pull::{PullProgress, PullRequest};
use hearth_core::registry::{LoadedModel, Preset, RegistryModel};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use utoipa::ToSchema;

use super::jobs::JobView;
use crate::auth::Audit;
use crate::error::ApiError;
use crate::extract::{JsonBody, QueryParams};
use crate::lanes::pulls;
use crate::lanes::stream::ndjson;
use crate::state::AppState;

/// A registry model as operators see it.
#[derive(Debug, Serialize, ToSchema)]
pub struct RegistryModelView {
    /// `name:tag`.
    pub name: String,
    /// `sha256:…` of the file.
    pub digest: String,
    /// File size in bytes.
    pub size_bytes: u64,
    /// Architecture (`llama`, `gemma3`, `bert`).
    pub architecture: String,
    /// Parameter count, when known.
    pub parameter_count: Option<u64>,
    /// Quantization (`Q4_K_M`).
    pub quantization: Option<String>,
    /// Trained context length.
    pub context_length: Option<u32>,
    /// `chat`, `completion`, `embedding`, `tools`.
    pub capabilities: Vec<String>,
    /// The chat template.
    pub chat_template: Option<String>,
    /// Provenance: kind, url, hf_repo, hf_revision, file, license, parent.
    #[schema(value_type = Object)]
    pub source: Value,
    /// Preset defaults: system, template, parameters.
    #[schema(value_type = Object)]
    pub preset: Option<Value>,
    /// Creation time, Unix milliseconds.
    pub created_at_ms: i64,
    /// Last change, Unix milliseconds.
    pub updated_at_ms: i64,
}

impl From<RegistryModel> for RegistryModelView {
    fn from(m: RegistryModel) -> Self {
        let caps = &m.info.capabilities;
        let capabilities = [
            (caps.chat, "chat"),
            (caps.completion, "completion"),
            (caps.embedding, "embedding"),
            (caps.tools, "tools"),
        ]
        .into_iter()
        .filter(|(has, _)| *has)
        .map(|(_, name)| name.to_owned())
        .collect();
        RegistryModelView {
            capabilities,
            architecture: m.info.architecture,
            parameter_count: m.info.parameter_count,
            quantization: m.info.quantization,
            context_length: m.info.context_length,
            chat_template: m.info.chat_template,
            source: serde_json::to_value(&m.source).unwrap_or(Value::Null),
            preset: m
                .preset
                .map(|p| serde_json::to_value(p).unwrap_or(Value::Null)),
            name: m.name,
            digest: m.digest,
            size_bytes: m.size_bytes,
            created_at_ms: m.created_at_ms,
            updated_at_ms: m.updated_at_ms,
        }
    }
}

/// Every registry model.
#[derive(Debug, Serialize, ToSchema)]
pub struct RegistryModelListView {
    /// By name.
    pub models: Vec<RegistryModelView>,
    /// Bytes the registry uses on disk.
    pub used_bytes: u64,
    /// The disk quota, if any.
    pub quota_bytes: Option<u64>,
}

/// `GET /admin/models`
pub async fn list(State(state): State<AppState>) -> Result<Json<RegistryModelListView>, ApiError> {
    let registry = pulls::registry(&state)?;
    let models = registry.list().await?;
    Ok(Json(RegistryModelListView {
        models: models.into_iter().map(RegistryModelView::from).collect(),
        used_bytes: registry.blobs().usage(),
        quota_bytes: registry.quota_bytes(),
    }))
}

/// Query naming one model.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NameQuery {
    name: String,
}

/// `GET /admin/models/show?name=`
pub async fn show(
    State(state): State<AppState>,
    QueryParams(query): QueryParams<NameQuery>,
) -> Result<Json<RegistryModelView>, ApiError> {
    let model = pulls::registry(&state)?.get(&query.name).await?;
    Ok(Json(model.into()))
}

/// Body of `POST /admin/models/pull`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PullBody {
    /// `https://…` URL or Hugging Face reference (`hf.co/ORG/REPO:QUANT`).
    pub source: String,
    /// Name to record (`name:tag`); default: from the source.
    #[serde(default)]
    pub name: Option<String>,
    /// Expected `sha256:…`.
    #[serde(default)]
    pub digest: Option<String>,
    /// Answer with an NDJSON progress stream instead of `202` and the job.
    #[serde(default)]
    pub stream: bool,
}

fn progress_line(p: &PullProgress) -> Value {
    json!({
        "status": p.status, "digest": p.digest, "total": p.total,
        "completed": p.completed, "error": p.error,
    })
}

/// `POST /admin/models/pull`
pub async fn pull(
    State(state): State<AppState>,
    JsonBody(body): JsonBody<PullBody>,
) -> Result<Response, ApiError> {
    let registry = pulls::registry(&state)?;
    let job = registry
        .start_pull(PullRequest {
            source: body.source,
            name: body.name,
            digest: body.digest,
        })
        .await?;
    if body.stream {
        let body = pulls::ndjson_body(&registry, state.store.clone(), job.id, progress_line);
        return Ok(ndjson(body));
    }
    Ok((StatusCode::ACCEPTED, Json(JobView::from(job))).into_response())
}

/// Body of `POST /admin/models/copy`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CopyBody {
    /// Existing model.
    pub source: String,
    /// New name.
    pub destination: String,
}

/// `POST /admin/models/copy`
pub async fn copy(
    State(state): State<AppState>,
    JsonBody(body): JsonBody<CopyBody>,
) -> Result<Json<RegistryModelView>, ApiError> {
    let model = pulls::registry(&state)?
        .copy(&body.source, &body.destination)
        .await?;
    Ok(Json(model.into()))
}

/// Body of `POST /admin/models/delete`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DeleteBody {
    /// Model name.
    pub name: String,
    /// Remove even when loaded.
    #[serde(default)]
    pub force: bool,
}

/// `POST /admin/models/delete`
pub async fn delete(
    State(state): State<AppState>,
    JsonBody(body): JsonBody<DeleteBody>,
) -> Result<Json<RegistryModelView>, ApiError> {
    let model = pulls::registry(&state)?
        .remove(&body.name, body.force)
        .await?;
    Ok(Json(model.into()))
}

/// Body of `POST /admin/models/presets`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PresetBody {
    /// Name of the preset.
    pub name: String,
    /// The model it is based on.
    pub from: String,
    /// Default system prompt.
    #[serde(default)]
    pub system: Option<String>,
    /// Chat template replacing the model's.
    #[serde(default)]
    pub template: Option<String>,
    /// Default options (`temperature`, `top_p`, `stop`, …).
    #[serde(default)]
    #[schema(value_type = Object)]
    pub parameters: serde_json::Map<String, Value>,
}

/// `POST /admin/models/presets`
pub async fn create_preset(
    State(state): State<AppState>,
    JsonBody(body): JsonBody<PresetBody>,
) -> Result<(StatusCode, Json<RegistryModelView>), ApiError> {
    let preset = Preset {
        system: body.system,
        template: body.template,
        parameters: body.parameters,
    };
    let model = pulls::registry(&state)?
        .create_preset(&body.name, &body.from, preset)
        .await?;
    Ok((StatusCode::CREATED, Json(model.into())))
}

/// Models in memory.
#[derive(Debug, Serialize, ToSchema)]
pub struct LoadedListView {
    /// Loaded models (memory and expiry are null until the engine reports them).
    #[schema(value_type = Vec<Object>)]
    pub models: Vec<LoadedModel>,
}

/// `GET /admin/models/loaded`
pub async fn loaded(State(state): State<AppState>) -> Result<Json<LoadedListView>, ApiError> {
    let models = pulls::registry(&state)?.loaded().await;
    Ok(Json(LoadedListView { models }))
}

/// Body of `POST /admin/models/unload`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UnloadBody {
    /// Model name.
    pub name: String,
}

/// What `POST /admin/models/unload` did.
#[derive(Debug, Serialize, ToSchema)]
pub struct UnloadView {
    /// The model.
    pub name: String,
    /// Whether it was loaded (it leaves memory once its running requests end).
    pub was_loaded: bool,
}

/// `POST /admin/models/unload`
pub async fn unload(
    State(state): State<AppState>,
    Audit(ctx): Audit,
    JsonBody(body): JsonBody<UnloadBody>,
) -> Result<Json<UnloadView>, ApiError> {
    let name = state.models.get(&body.name).await?.name;
    let target = crate::lanes::ollama::loaded_name(&state, &name);
    let was_loaded = state.models.unload(&target).await?;
    state
        .auth
        .audit(
            &ctx,
            "model.unload",
            Some(&name),
            true,
            json!({ "was_loaded": was_loaded }),
        )
        .await;
    Ok(Json(UnloadView { name, was_loaded }))
}

/// What garbage collection removed.
#[derive(Debug, Serialize, ToSchema)]
pub struct GcView {
    /// Unreferenced blobs removed.
    pub removed_blobs: u64,
    /// Bytes freed.
    pub freed_bytes: u64,
}

/// `POST /admin/models/gc`
pub async fn gc(State(state): State<AppState>) -> Result<Json<GcView>, ApiError> {
    let report = pulls::registry(&state)?.gc().await?;
    Ok(Json(GcView {
        removed_blobs: report.blobs,
        freed_bytes: report.bytes,
    }))
}

/// Body of `POST /admin/models/quantize`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct QuantizeBody {
    /// The model to quantize.
    pub model: String,
    /// Target type (`Q8_0`, `Q4_K_M`, …).
    #[serde(rename = "type")]
    pub file_type: String,
    /// Name of the result; default `NAME:TAG-TYPE`.
    #[serde(default)]
    pub name: Option<String>,
}

/// `POST /admin/models/quantize`
pub async fn quantize(
    State(state): State<AppState>,
    JsonBody(body): JsonBody<QuantizeBody>,
) -> Result<(StatusCode, Json<JobView>), ApiError> {
    let job = pulls::registry(&state)?
        .start_quantize(&body.model, &body.file_type, body.name.as_deref())
        .await?;
    Ok((StatusCode::ACCEPTED, Json(JobView::from(job))))
}
