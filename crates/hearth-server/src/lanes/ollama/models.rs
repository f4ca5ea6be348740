//! `GET /api/tags`, `POST /api/show`, `GET /api/ps`, `GET /api/version`.

use axum::Json;
use axum::extract::State;
use hearth_core::models::ModelInfo;
use hearth_types::ollama::{
    COMPAT_VERSION, ModelDetails, ModelEntry, ModelInfoMap, PsResponse, RunningModel, ShowRequest,
    ShowResponse, TagsResponse, VersionResponse,
};
use serde_json::json;

use super::rfc3339;
use crate::error::ApiError;
use crate::extract::JsonBody;
use crate::state::AppState;

/// `135M`, `1.7B`: Ollama's parameter-size label.
fn parameter_size(count: Option<u64>) -> String {
    match count {
        None => String::new(),
        Some(n) if n >= 1_000_000_000 => format!("{:.1}B", n as f64 / 1e9),
        Some(n) if n >= 1_000_000 => format!("{}M", (n as f64 / 1e6).round()),
        Some(n) => format!("{}K", (n as f64 / 1e3).round()),
    }
}

fn details(model: &ModelInfo) -> ModelDetails {
    ModelDetails {
        parent_model: String::new(),
        format: "gguf".to_owned(),
        family: model.architecture.clone(),
        families: vec![model.architecture.clone()],
        parameter_size: parameter_size(model.parameter_count),
        quantization_level: model.quantization.clone().unwrap_or_default(),
    }
}

fn digest(model: &ModelInfo) -> String {
    let digest = model.digest.as_deref().unwrap_or_default();
    digest.strip_prefix("sha256:").unwrap_or(digest).to_owned()
}

/// `GET /api/tags`
pub async fn tags(State(state): State<AppState>) -> Result<Json<TagsResponse>, ApiError> {
    let models = state.models.list().await?;
    Ok(Json(TagsResponse {
        models: models
            .iter()
            .map(|m| ModelEntry {
                name: m.name.clone(),
                model: m.name.clone(),
                modified_at: rfc3339(m.modified_at_ms),
                size: m.size_bytes,
                digest: digest(m),
                details: details(m),
            })
            .collect(),
    }))
}

/// The capability names Ollama clients read (VS Code enables tool calling on
/// `tools`, Continue enables fill-in-the-middle on `insert`).
fn capabilities(model: &ModelInfo) -> Vec<String> {
    let caps = &model.capabilities;
    [
        (caps.completion || caps.chat, "completion"),
        (caps.tools, "tools"),
        (caps.insert, "insert"),
        (caps.embedding, "embedding"),
    ]
    .into_iter()
    .filter(|(has, _)| *has)
    .map(|(_, name)| name.to_owned())
    .collect()
}

fn model_info(model: &ModelInfo) -> ModelInfoMap {
    let arch = &model.architecture;
    let basename = model.name.split(':').next().unwrap_or(&model.name);
    let mut info = ModelInfoMap::new();
    info.insert("general.architecture".into(), json!(arch));
    info.insert("general.basename".into(), json!(basename));
    if let Some(count) = model.parameter_count {
        info.insert("general.parameter_count".into(), json!(count));
    }
    if let Some(ctx) = model.context_length {
        info.insert(format!("{arch}.context_length"), json!(ctx));
    }
    if let Some(width) = model.embedding_length {
        info.insert(format!("{arch}.embedding_length"), json!(width));
    }
    info
}

/// Ollama's `PARAMETER` lines of a preset: `key value`, one stop per line.
fn parameter_lines(parameters: &serde_json::Map<String, serde_json::Value>) -> String {
    let mut out = String::new();
    for (key, value) in parameters {
        let values = match value {
            serde_json::Value::Array(list) => list.clone(),
            other => vec![other.clone()],
        };
        for value in values {
            let text = match &value {
                serde_json::Value::String(s) => format!("{s:?}"),
                other => other.to_string(),
            };
            out.push_str(&format!("{key:<15} {text}\n"));
        }
    }
    out
}

/// `POST /api/show`
pub async fn show(
    State(state): State<AppState>,
    JsonBody(body): JsonBody<ShowRequest>,
) -> Result<Json<ShowResponse>, ApiError> {
    let Some(name) = body.model.or(body.name).filter(|n| !n.trim().is_empty()) else {
        return Err(ApiError::invalid("model", "model is required"));
    };
    let model = state.models.get(&name).await?;
    // The registry adds what a file alone does not say: preset and licence.
    let manifest = match &state.registry {
        Some(registry) => registry.get(&name).await.ok(),
        None => None,
    };
    let preset = manifest
        .as_ref()
        .and_then(|m| m.preset.clone())
        .unwrap_or_default();
    let mut template = preset
        .template
        .clone()
        .or_else(|| model.chat_template.clone())
        .unwrap_or_else(|| "{{ .Prompt }}".to_owned());
    if model.capabilities.insert {
        // Clients that predate `capabilities` (Continue) look for `.Suffix` in
        // the template to offer fill-in-the-middle; the FIM framing itself is
        // the model's own tokens.
        template.push_str("\n{{- /* fill-in-the-middle: .Prompt, then .Suffix */ -}}");
    }
    let parameters = parameter_lines(&preset.parameters);
    let mut modelfile = format!(
        "# Modelfile generated by Hearth\nFROM {}\nTEMPLATE \"\"\"{template}\"\"\"\n",
        model.name
    );
    if let Some(system) = &preset.system {
        modelfile.push_str(&format!("SYSTEM \"\"\"{system}\"\"\"\n"));
    }
    for line in parameters.lines() {
        modelfile.push_str(&format!("PARAMETER {line}\n"));
    }
    Ok(Json(ShowResponse {
        modelfile,
        parameters,
        template,
        details: details(&model),
        model_info: model_info(&model),
        capabilities: capabilities(&model),
        license: manifest.and_then(|m| m.source.license),
        modified_at: rfc3339(model.modified_at_ms),
    }))
}

/// Unload time reported for models that stay loaded until unloaded (Ollama
/// reports a far-future time for `keep_alive: -1`).
const NEVER_MS: i64 = 253_402_300_799_000; // 9999-12-31T23:59:59Z

/// `GET /api/ps`: the models in memory, with their estimated footprint and
/// when they will be unloaded.
pub async fn ps(State(state): State<AppState>) -> Result<Json<PsResponse>, ApiError> {
    let loaded: Vec<(String, Option<u64>, Option<i64>)> = match &state.registry {
        Some(registry) => registry
            .loaded()
            .await
            .into_iter()
            .map(|m| (m.name, m.memory_bytes, m.expires_at_ms))
            .collect(),
        None => state
            .models
            .loaded()
            .await?
            .into_iter()
            .map(|m| (m.name, Some(m.memory_bytes), m.expires_at_ms))
            .collect(),
    };
    let mut models = Vec::new();
    for (name, memory_bytes, expires_at_ms) in loaded {
        let Ok(info) = state.models.get(&name).await else {
            continue;
        };
        models.push(RunningModel {
            name: name.clone(),
            model: name,
            // Weights are mapped from the file: its size when no estimate is known.
            size: memory_bytes.unwrap_or(info.size_bytes),
            digest: digest(&info),
            details: details(&info),
            expires_at: rfc3339(expires_at_ms.unwrap_or(NEVER_MS)),
            size_vram: 0,
        });
    }
    Ok(Json(PsResponse { models }))
}

/// `GET /api/version`
pub async fn version() -> Json<VersionResponse> {
    Json(VersionResponse {
        version: COMPAT_VERSION.to_owned(),
    })
}

#[cfg(test)]
mod tests {
    use super::parameter_size;

    #[test]
    fn parameter_size_labels() {
        assert_eq!(parameter_size(Some(134_515_008)), "135M");
        assert_eq!(parameter_size(Some(8_030_261_248)), "8.0B");
        assert_eq!(parameter_size(None), "");
    }
}
