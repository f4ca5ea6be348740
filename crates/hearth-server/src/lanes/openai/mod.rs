//! The OpenAI-compatible lane (`/v1/*`): chat completions, legacy completions,
//! embeddings and the model list, in the shapes the official SDKs parse. Errors
//! use OpenAI's `{"error": {message, type, param, code}}` shape (see
//! [`crate::error`]).

pub mod chat;
pub mod completions;
pub mod embeddings;
pub mod models;

use hearth_core::chat::ChatFinish;
use hearth_types::openai;
use utoipa::openapi::ComponentsBuilder;

use crate::route;
use crate::routes::{Auth::Scope, Capability, Route};

/// Routes of the OpenAI lane.
pub fn routes() -> Vec<Route> {
    use axum::routing::{get, post};
    let api = Some(Capability::OpenAiApi);
    vec![
        route!(POST "/v1/chat/completions", OpenAi, Scope("chat"), api, "createChatCompletion",
            "Chat completion; `stream: true` answers with server-sent `chat.completion.chunk` events.",
            req: Some("ChatCompletionRequest"), res: Some("ChatCompletion"), post(chat::create)),
        route!(POST "/v1/completions", OpenAi, Scope("chat"), api, "createCompletion",
            "Legacy text completion of one or more prompts.",
            req: Some("CompletionRequest"), res: Some("Completion"), post(completions::create)),
        route!(POST "/v1/embeddings", OpenAi, Scope("embed"), Some(Capability::Embeddings), "createEmbedding",
            "Embeddings of one or more texts.",
            req: Some("EmbeddingRequest"), res: Some("EmbeddingList"), post(embeddings::create)),
        route!(GET "/v1/models", OpenAi, Scope("models:read"), api, "listModels",
            "Every model.", req: None, res: Some("ModelList"), get(models::list)),
        route!(GET "/v1/models/{id}", OpenAi, Scope("models:read"), api, "retrieveModel",
            "One model.", req: None, res: Some("Model"), get(models::get)),
    ]
}

/// Schemas of the OpenAI lane.
pub fn schemas(components: ComponentsBuilder) -> ComponentsBuilder {
    components
        .schema_from::<openai::ChatCompletionRequest>()
        .schema_from::<openai::ChatCompletion>()
        .schema_from::<openai::ChatCompletionChunk>()
        .schema_from::<openai::CompletionRequest>()
        .schema_from::<openai::Completion>()
        .schema_from::<openai::EmbeddingRequest>()
        .schema_from::<openai::EmbeddingList>()
        .schema_from::<openai::ModelList>()
        .schema_from::<openai::Model>()
}

/// OpenAI's name for a finish reason.
pub fn finish_reason(finish: ChatFinish) -> &'static str {
    match finish {
        ChatFinish::Stop => "stop",
        ChatFinish::Length => "length",
        ChatFinish::ToolCalls => "tool_calls",
    }
}

/// OpenAI's usage object.
pub fn usage(usage: &hearth_core::chat::Usage) -> openai::Usage {
    openai::Usage {
        prompt_tokens: usage.prompt_tokens,
        completion_tokens: usage.completion_tokens,
        total_tokens: usage.prompt_tokens + usage.completion_tokens,
        prompt_tokens_details: Some(openai::PromptTokensDetails {
            cached_tokens: usage.cached_tokens,
        }),
    }
}

/// Identifies this server build in `system_fingerprint`.
pub fn fingerprint() -> String {
    format!("hearth-{}", env!("CARGO_PKG_VERSION"))
}

/// OpenAI clients send parameters newer than Hearth knows: they are accepted
/// and ignored, and named in the debug log.
pub(crate) fn ignore_unknown(
    route: &str,
    unknown: &std::collections::BTreeMap<String, serde_json::Value>,
) {
    if !unknown.is_empty() {
        let names: Vec<&str> = unknown.keys().map(String::as_str).collect();
        tracing::debug!(route, ignored = ?names, "ignoring unknown request parameters");
    }
}
