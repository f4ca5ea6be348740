//! `POST /api/pull`, `DELETE /api/delete`, `POST /api/copy`, `POST /api/create`
//! (a preset: an existing model with its own defaults), `POST /api/push`
//! (refused). Pulls run as persisted jobs; the stream follows the job and
//! closing it does not stop the pull.

use std::convert::Infallible;

use axum::Json;
use axum::body::Body;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use hearth_core::registry::Preset;
use hearth_core::registry::pull::{PullProgress, PullRequest as Pull};
use hearth_types::Code;
use hearth_types::ollama::{
    CopyRequest, CreateRequest, DeleteRequest, ProgressResponse, PullRequest, PushRequest,
};
use serde_json::{Map, Value, json};

use crate::error::ApiError;
use crate::extract::JsonBody;
use crate::lanes::pulls;
use crate::lanes::stream::{ndjson, ndjson_line};
use crate::state::AppState;

fn required(value: Option<String>, field: &str) -> Result<String, ApiError> {
    value
        .filter(|v| !v.trim().is_empty())
        .ok_or_else(|| ApiError::invalid(field, format!("{field} is required")))
}

/// One line of Ollama's pull stream.
fn pull_line(p: &PullProgress) -> Value {
    if let Some(error) = &p.error {
        return json!({ "error": error });
    }
    let line = match p.status.as_str() {
        "downloading" => {
            let hex = p.digest.as_deref().unwrap_or_default();
            let hex = hex.trim_start_matches("sha256:");
            ProgressResponse {
                status: format!("pulling {}", &hex[..hex.len().min(12)])
                    .trim_end()
                    .to_owned(),
                digest: p.digest.clone(),
                total: p.total,
                completed: Some(p.completed),
            }
        }
        "failed" => return json!({ "error": "the pull failed" }),
        status => ProgressResponse {
            status: status.to_owned(),
            ..ProgressResponse::default()
        },
    };
    serde_json::to_value(line).unwrap_or(Value::Null)
}

/// `POST /api/pull`: `model` is an `https://` URL or `hf.co/ORG/REPO:QUANT`.
pub async fn pull(
    State(state): State<AppState>,
    JsonBody(body): JsonBody<PullRequest>,
) -> Result<Response, ApiError> {
    let source = required(body.model.or(body.name), "model")?;
    let registry = pulls::registry(&state)?;
    let job = registry
        .start_pull(Pull {
            source,
            name: None,
            digest: None,
        })
        .await?;
    if body.stream.unwrap_or(true) {
        let body = pulls::ndjson_body(&registry, state.store.clone(), job.id, pull_line);
        return Ok(ndjson(body));
    }
    let last = pulls::last(&registry, state.store.clone(), job.id).await;
    match last.error {
        Some(error) => Err(ApiError::new(Code::ProviderUnavailable, error)),
        None => Ok(Json(json!({ "status": "success" })).into_response()),
    }
}

/// `DELETE /api/delete`. Like Ollama, a loaded model is deleted too (its
/// loaded copy serves on until unloaded); Hearth's own `rm` and
/// `/admin/models/delete` refuse that unless forced.
pub async fn delete(
    State(state): State<AppState>,
    JsonBody(body): JsonBody<DeleteRequest>,
) -> Result<Response, ApiError> {
    let name = required(body.model.or(body.name), "model")?;
    pulls::registry(&state)?.remove(&name, true).await?;
    Ok(().into_response())
}

/// `POST /api/copy`
pub async fn copy(
    State(state): State<AppState>,
    JsonBody(body): JsonBody<CopyRequest>,
) -> Result<Response, ApiError> {
    pulls::registry(&state)?
        .copy(&body.source, &body.destination)
        .await?;
    Ok(().into_response())
}

/// What a Modelfile says (`FROM`, `SYSTEM`, `TEMPLATE`, `PARAMETER`).
#[derive(Debug, Default, PartialEq)]
struct Modelfile {
    from: Option<String>,
    system: Option<String>,
    template: Option<String>,
    parameters: Map<String, Value>,
}

/// Parse the Modelfile subset presets need; other instructions are refused.
fn parse_modelfile(text: &str) -> Result<Modelfile, ApiError> {
    let mut out = Modelfile::default();
    let mut lines = text.lines();
    while let Some(line) = lines.next() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let (command, rest) = line.split_once(char::is_whitespace).unwrap_or((line, ""));
        let mut rest = rest.trim().to_owned();
        // """ … """ may span lines.
        if let Some(start) = rest.strip_prefix("\"\"\"") {
            let mut value = start.to_owned();
            while !value.ends_with("\"\"\"") {
                let Some(next) = lines.next() else {
                    return Err(ApiError::invalid(
                        "modelfile",
                        "unterminated \"\"\" in the modelfile",
                    ));
                };
                value.push('\n');
                value.push_str(next);
            }
            rest = value.trim_end_matches("\"\"\"").to_owned();
        } else if rest.len() >= 2 && rest.starts_with('"') && rest.ends_with('"') {
            rest = rest[1..rest.len() - 1].to_owned();
        }
        match command.to_ascii_uppercase().as_str() {
            "FROM" => out.from = Some(rest),
            "SYSTEM" => out.system = Some(rest),
            "TEMPLATE" => out.template = Some(rest),
            "PARAMETER" => {
                let (key, value) = rest.split_once(char::is_whitespace).ok_or_else(|| {
                    ApiError::invalid(
                        "modelfile",
                        format!("PARAMETER needs a name and a value: '{line}'"),
                    )
                })?;
                let value = value.trim().trim_matches('"');
                let parsed = serde_json::from_str::<Value>(value)
                    .ok()
                    .filter(|v| v.is_number() || v.is_boolean())
                    .unwrap_or_else(|| Value::String(value.to_owned()));
                if key == "stop" {
                    let stops = out
                        .parameters
                        .entry("stop")
                        .or_insert_with(|| Value::Array(Vec::new()));
                    if let Value::Array(list) = stops {
                        list.push(Value::String(value.to_owned()));
                    }
                } else {
                    out.parameters.insert(key.to_owned(), parsed);
                }
            }
            other => {
                return Err(ApiError::new(
                    Code::NotSupported,
                    format!(
                        "the Modelfile instruction {other} is not supported (use FROM, SYSTEM, TEMPLATE, PARAMETER)"
                    ),
                ));
            }
        }
    }
    Ok(out)
}

/// `POST /api/create`: a preset of an existing model.
pub async fn create(
    State(state): State<AppState>,
    JsonBody(body): JsonBody<CreateRequest>,
) -> Result<Response, ApiError> {
    let name = required(body.model.or(body.name), "model")?;
    if body.quantize.is_some() {
        return Err(ApiError::new(
            Code::NotSupported,
            "quantization is not offered by this server",
        ));
    }
    if body
        .files
        .as_ref()
        .is_some_and(|f| !f.is_null() && f != &json!({}))
    {
        return Err(ApiError::new(
            Code::NotSupported,
            "creating a model from uploaded files is not supported; import GGUF files with `hearth import`",
        ));
    }
    let file = match body.modelfile.as_deref() {
        Some(text) => parse_modelfile(text)?,
        None => Modelfile::default(),
    };
    let from = required(body.from.or(file.from), "from")?;
    let mut parameters = file.parameters;
    parameters.extend(body.parameters.unwrap_or_default());
    // Ollama's templates are Go templates, which Hearth does not render: the
    // model keeps its own (Jinja) template, and the client is told so.
    let (template, skipped) = match body.template.or(file.template) {
        Some(t) if is_go_template(&t) => (None, true),
        other => (other, false),
    };
    let model = pulls::registry(&state)?
        .create_preset(
            &name,
            &from,
            Preset {
                system: body.system.or(file.system),
                template,
                parameters,
            },
        )
        .await?;
    let mut lines = vec![format!("using existing layer {}", model.digest)];
    if skipped {
        tracing::info!(model = %name, "Ollama (Go) TEMPLATE ignored; the model's own chat template is used");
        lines.push(
            "ignoring TEMPLATE: Go templates are not supported, the model's own chat template is used"
                .to_owned(),
        );
    }
    lines.extend(["writing manifest".to_owned(), "success".to_owned()]);
    if body.stream.unwrap_or(true) {
        let frames = lines
            .into_iter()
            .map(|status| Ok::<_, Infallible>(ndjson_line(&json!({ "status": status }))));
        return Ok(ndjson(Body::from_stream(futures::stream::iter(frames))));
    }
    Ok(Json(json!({ "status": "success" })).into_response())
}

/// Whether `template` is written in Go's template language (Ollama's
/// Modelfiles: `{{ .System }}`, `{{ range .Messages }}`, `{{ end }}`) rather
/// than Jinja.
fn is_go_template(template: &str) -> bool {
    let compact: String = template.split_whitespace().collect();
    [
        "{{.", "{{-.", "{{end", "{{-end", "{{range", "{{-range", "{{if.", "{{-if.",
    ]
    .iter()
    .any(|marker| compact.contains(marker))
}

/// `POST /api/push`: refused.
pub async fn push(JsonBody(_body): JsonBody<PushRequest>) -> ApiError {
    ApiError::new(
        Code::NotSupported,
        "push is not supported: Hearth keeps models on this machine and does not publish them to a registry",
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn modelfiles_parse_presets() {
        let file = parse_modelfile(
            "# a preset\nFROM smollm2\nSYSTEM \"\"\"You are terse.\nVery.\"\"\"\n\
             PARAMETER temperature 0.2\nPARAMETER stop <|im_end|>\nPARAMETER stop \"###\"\n",
        )
        .unwrap();
        assert_eq!(file.from.as_deref(), Some("smollm2"));
        assert_eq!(file.system.as_deref(), Some("You are terse.\nVery."));
        assert_eq!(file.parameters["temperature"], json!(0.2));
        assert_eq!(file.parameters["stop"], json!(["<|im_end|>", "###"]));
        assert!(parse_modelfile("ADAPTER x.bin").is_err());
        assert!(parse_modelfile("SYSTEM \"\"\"open").is_err());
        assert!(parse_modelfile("PARAMETER temperature").is_err());
    }

    #[test]
    fn go_templates_are_told_from_jinja() {
        assert!(is_go_template(
            "{{ if .System }}<|im_start|>system\n{{ .System }}<|im_end|>{{ end }}"
        ));
        assert!(is_go_template(
            "{{- range .Messages }}{{ .Content }}{{- end }}"
        ));
        assert!(!is_go_template(
            "{% for m in messages %}{{ m['content'] }}{% endfor %}"
        ));
        assert!(!is_go_template("{{ bos_token }}{{ messages[-1].content }}"));
    }
}
