//! The Ollama-compatible lane (`/api/*`): chat, generate, embeddings and model
//! inspection as the `ollama` clients (CLI, Python, JavaScript, VS Code, Continue)
//! use them. Streams are NDJSON and `stream` defaults to true. Errors are
//! `{"error": "…"}`. Model management (`pull`, `create`, `copy`, `delete`) acts
//! on the model registry; `push` is refused.

pub mod chat;
pub mod embed;
pub mod manage;
pub mod models;

use std::time::{Duration, Instant};

use hearth_core::chat::{ChatFinish, Usage};
use hearth_core::models::KeepAlive;
use hearth_types::ollama::{self, DoneStats};
use utoipa::openapi::ComponentsBuilder;

use crate::error::ApiError;
use crate::route;
use crate::routes::{
    Auth::{Open, Scope},
    Capability, Route,
};
use crate::state::AppState;

/// Routes of the Ollama lane.
pub fn routes() -> Vec<Route> {
    use axum::routing::{delete, get, post};
    let api = Some(Capability::OllamaApi);
    let embed = Some(Capability::Embeddings);
    vec![
        route!(POST "/api/chat", Ollama, Scope("chat"), api, "ollamaChat",
            "Chat; NDJSON stream unless `stream: false`.",
            req: Some("OllamaChatRequest"), res: Some("OllamaChatResponse"), post(chat::chat)),
        route!(POST "/api/generate", Ollama, Scope("chat"), api, "ollamaGenerate",
            "Generate from a prompt (`raw` skips the chat template); NDJSON stream unless `stream: false`.",
            req: Some("OllamaGenerateRequest"), res: Some("OllamaGenerateResponse"), post(chat::generate)),
        route!(POST "/api/embed", Ollama, Scope("embed"), embed, "ollamaEmbed",
            "Embeddings of one or more texts (L2-normalized).",
            req: Some("OllamaEmbedRequest"), res: Some("OllamaEmbedResponse"), post(embed::embed)),
        route!(POST "/api/embeddings", Ollama, Scope("embed"), embed, "ollamaEmbeddings",
            "Legacy: the embedding of one text.",
            req: Some("OllamaEmbeddingsRequest"), res: Some("OllamaEmbeddingsResponse"), post(embed::embeddings)),
        route!(GET "/api/tags", Ollama, Scope("models:read"), api, "ollamaTags",
            "Every model.", req: None, res: Some("OllamaTagsResponse"), get(models::tags)),
        route!(POST "/api/show", Ollama, Scope("models:read"), api, "ollamaShow",
            "Details, template, model_info and capabilities of a model.",
            req: Some("OllamaShowRequest"), res: Some("OllamaShowResponse"), post(models::show)),
        route!(GET "/api/ps", Ollama, Scope("models:read"), api, "ollamaPs",
            "Models loaded in memory.", req: None, res: Some("OllamaPsResponse"), get(models::ps)),
        route!(POST "/api/pull", Ollama, Scope("models:write"), api, "ollamaPull",
            "Pull an `https://` URL or `hf.co/ORG/REPO:QUANT` into the registry; NDJSON progress unless `stream: false`.",
            req: Some("OllamaPullRequest"), res: Some("OllamaProgressResponse"), post(manage::pull)),
        route!(DELETE "/api/delete", Ollama, Scope("models:write"), api, "ollamaDelete",
            "Remove a model (also when loaded, as Ollama does).",
            req: Some("OllamaDeleteRequest"), res: None, delete(manage::delete)),
        route!(POST "/api/copy", Ollama, Scope("models:write"), api, "ollamaCopy",
            "Another name for a model.",
            req: Some("OllamaCopyRequest"), res: None, post(manage::copy)),
        route!(POST "/api/create", Ollama, Scope("models:write"), api, "ollamaCreate",
            "A preset: an existing model (`from`) with its own system prompt, template and parameters.",
            req: Some("OllamaCreateRequest"), res: Some("OllamaProgressResponse"), post(manage::create)),
        route!(POST "/api/push", Ollama, Scope("models:write"), api, "ollamaPush",
            "Refused: models are not published from Hearth.",
            req: Some("OllamaPushRequest"), res: None, post(manage::push)),
        route!(GET "/api/version", Ollama, Open, api, "ollamaVersion",
            "The Ollama API version this server is compatible with.",
            req: None, res: Some("OllamaVersionResponse"), get(models::version)),
    ]
}

/// Schemas of the Ollama lane, prefixed `Ollama` to keep names apart from the
/// other lanes'.
pub fn schemas(components: ComponentsBuilder) -> ComponentsBuilder {
    use utoipa::PartialSchema;
    [
        ("OllamaChatRequest", ollama::ChatRequest::schema()),
        ("OllamaChatResponse", ollama::ChatResponse::schema()),
        ("OllamaGenerateRequest", ollama::GenerateRequest::schema()),
        ("OllamaGenerateResponse", ollama::GenerateResponse::schema()),
        ("OllamaEmbedRequest", ollama::EmbedRequest::schema()),
        ("OllamaEmbedResponse", ollama::EmbedResponse::schema()),
        (
            "OllamaEmbeddingsRequest",
            ollama::EmbeddingsRequest::schema(),
        ),
        (
            "OllamaEmbeddingsResponse",
            ollama::EmbeddingsResponse::schema(),
        ),
        ("OllamaTagsResponse", ollama::TagsResponse::schema()),
        ("OllamaShowRequest", ollama::ShowRequest::schema()),
        ("OllamaShowResponse", ollama::ShowResponse::schema()),
        ("OllamaPsResponse", ollama::PsResponse::schema()),
        ("OllamaVersionResponse", ollama::VersionResponse::schema()),
        ("OllamaPullRequest", ollama::PullRequest::schema()),
        ("OllamaProgressResponse", ollama::ProgressResponse::schema()),
        ("OllamaDeleteRequest", ollama::DeleteRequest::schema()),
        ("OllamaCopyRequest", ollama::CopyRequest::schema()),
        ("OllamaCreateRequest", ollama::CreateRequest::schema()),
        ("OllamaPushRequest", ollama::PushRequest::schema()),
    ]
    .into_iter()
    .fold(components, |c, (name, schema)| c.schema(name, schema))
}

/// Apply a request's `keep_alive` to `model` before it runs: as in Ollama,
/// every request sets how long the model stays loaded once idle, and one
/// without it goes back to the default. Returns the parsed value.
pub async fn apply_keep_alive(
    state: &AppState,
    model: &str,
    value: Option<&serde_json::Value>,
) -> Result<Option<KeepAlive>, ApiError> {
    let keep = value
        .filter(|v| !v.is_null())
        .map(KeepAlive::parse)
        .transpose()
        .map_err(|message| ApiError::invalid("keep_alive", message))?;
    match state
        .models
        .keep_alive(&loaded_name(state, model), keep)
        .await
    {
        // An unknown model gets its 404 from the request itself.
        Ok(()) | Err(hearth_core::backend::BackendError::ModelNotFound(_)) => Ok(keep),
        Err(err) => Err(err.into()),
    }
}

/// The name that loads `model`'s file: registry copies and presets share the
/// model of the name they point to.
pub fn loaded_name(state: &AppState, model: &str) -> String {
    state
        .registry
        .as_ref()
        .and_then(|registry| registry.route(model))
        .map_or_else(|| model.to_owned(), |route| route.target)
}

/// Whether `keep` asks to unload as soon as the model is idle.
pub fn unloads(keep: Option<KeepAlive>) -> bool {
    keep == Some(KeepAlive::For(Duration::ZERO))
}

/// Ollama's name for a finish reason (tool calls end with `stop` in Ollama).
pub fn done_reason(finish: ChatFinish) -> &'static str {
    match finish {
        ChatFinish::Length => "length",
        ChatFinish::Stop | ChatFinish::ToolCalls => "stop",
    }
}

fn nanos(d: Duration) -> u64 {
    u64::try_from(d.as_nanos()).unwrap_or(u64::MAX)
}

/// The figures of the last line.
pub fn done_stats(reason: &str, usage: &Usage, started: Instant) -> DoneStats {
    DoneStats {
        done_reason: reason.to_owned(),
        total_duration: nanos(started.elapsed()),
        load_duration: 0,
        prompt_eval_count: usage.prompt_tokens,
        prompt_eval_duration: nanos(usage.prompt_duration),
        eval_count: usage.completion_tokens,
        eval_duration: nanos(usage.generation_duration),
    }
}

/// RFC 3339 UTC time (millisecond precision) of Unix milliseconds.
pub fn rfc3339(unix_ms: i64) -> String {
    let secs = unix_ms.div_euclid(1000);
    let millis = unix_ms.rem_euclid(1000);
    let (days, sod) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    // Howard Hinnant's days → civil date.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{millis:03}Z",
        sod / 3600,
        sod % 3600 / 60,
        sod % 60
    )
}

/// Now, RFC 3339.
pub fn now() -> String {
    let ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0);
    rfc3339(ms)
}

#[cfg(test)]
mod tests {
    use super::rfc3339;

    #[test]
    fn rfc3339_of_known_instants() {
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00.000Z");
        assert_eq!(rfc3339(1_700_000_000_123), "2023-11-14T22:13:20.123Z");
        assert_eq!(rfc3339(951_782_400_000), "2000-02-29T00:00:00.000Z");
    }
}
