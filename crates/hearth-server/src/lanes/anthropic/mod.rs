//! The Anthropic-compatible lane: `POST /v1/messages` (streaming with
//! Anthropic's event sequence) and `POST /v1/messages/count_tokens`. Errors use
//! `{"type": "error", "error": {type, message}}`.

pub mod messages;

use hearth_types::anthropic;
use utoipa::openapi::ComponentsBuilder;

use crate::route;
use crate::routes::{Auth::Scope, Capability, Route};

/// Routes of the Anthropic lane.
pub fn routes() -> Vec<Route> {
    use axum::routing::post;
    let api = Some(Capability::AnthropicApi);
    vec![
        route!(POST "/v1/messages", Anthropic, Scope("chat"), api, "createMessage",
            "Anthropic Messages; `stream: true` answers with Anthropic's server-sent events.",
            req: Some("MessagesRequest"), res: Some("MessageResponse"), post(messages::create)),
        route!(POST "/v1/messages/count_tokens", Anthropic, Scope("chat"), api, "countMessageTokens",
            "Tokens a conversation takes for a model.",
            req: Some("CountTokensRequest"), res: Some("CountTokensResponse"), post(messages::count_tokens)),
    ]
}

/// Schemas of the Anthropic lane.
pub fn schemas(components: ComponentsBuilder) -> ComponentsBuilder {
    components
        .schema_from::<anthropic::MessagesRequest>()
        .schema_from::<anthropic::MessageResponse>()
        .schema_from::<anthropic::CountTokensRequest>()
        .schema_from::<anthropic::CountTokensResponse>()
        .schema_from::<anthropic::StreamEvent>()
}
