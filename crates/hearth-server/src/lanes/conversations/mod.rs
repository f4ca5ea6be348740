//! Conversations in the web lane (`/ui/conversations…`): persistent, branchable
//! chats whose answers stream as Server-Sent Events and keep generating when
//! the client goes away. Handlers are thin: each calls one method of
//! [`ConversationService`](hearth_core::conversations::ConversationService).
//!
//! Everything, reading included, needs the `chat` scope. A conversation of
//! another owner answers 404, exactly like a missing one.

pub mod handlers;
pub mod stream;
pub mod views;

use hearth_core::conversations::OwnerId;
use utoipa::openapi::ComponentsBuilder;

use crate::auth::Caller;
use crate::route;
use crate::routes::{Auth::Scope, Capability, Route};

/// The owner of the conversations a caller reaches. The one place that maps an
/// authenticated caller to an owner id.
pub fn owner(caller: &Caller) -> OwnerId {
    // Conversations belong to the user, whichever of their keys or sessions is used.
    match &caller.identity {
        Some(identity) => OwnerId(identity.user.id.0.clone()),
        None => OwnerId(caller.principal.0.clone()),
    }
}

const WEB: Option<Capability> = Some(Capability::WebUi);

/// Routes of conversations.
pub fn routes() -> Vec<Route> {
    use axum::routing::{delete, get, patch, post, put};
    use handlers as h;
    vec![
        route!(GET "/ui/conversations", Hearth, Scope("chat"), WEB, "listConversations",
            "The caller's conversations, newest activity first (`limit`, `cursor`, `q` full-text search, `pinned`, `archived`=false|true|any).",
            req: None, res: Some("ConversationListView"), get(h::list)),
        route!(POST "/ui/conversations", Hearth, Scope("chat"), WEB, "createConversation",
            "Start an empty conversation.",
            req: Some("CreateConversationRequest"), res: Some("ConversationView"), post(h::create)),
        route!(POST "/ui/conversations/import", Hearth, Scope("chat"), WEB, "importConversations",
            "Import a `hearth.conversation` document or ChatGPT's conversations.json.",
            req: None, res: Some("ImportView"), post(h::import)),
        route!(GET "/ui/personas", Hearth, Scope("chat"), WEB, "listPersonas",
            "Personas (versioned system-prompt templates with variables) a conversation can start from.",
            req: None, res: Some("PersonaListView"), get(h::personas)),
        route!(POST "/ui/personas", Hearth, Scope("chat"), WEB, "createPersona",
            "Create a persona of your own (version 1).",
            req: Some("PersonaRequest"), res: Some("PersonaView"), post(h::create_persona)),
        route!(GET "/ui/personas/{id}", Hearth, Scope("chat"), WEB, "getPersona",
            "A built-in or one of your personas; `version` picks an earlier version of yours.",
            req: None, res: Some("PersonaView"), get(h::get_persona)),
        route!(PUT "/ui/personas/{id}", Hearth, Scope("chat"), WEB, "updatePersona",
            "Change your persona: a new version (conversations keep the version they started from).",
            req: Some("PersonaRequest"), res: Some("PersonaView"), put(h::update_persona)),
        route!(DELETE "/ui/personas/{id}", Hearth, Scope("chat"), WEB, "deletePersona",
            "Delete your persona and all its versions (conversations keep their system prompt).",
            req: None, res: None, delete(h::delete_persona)),
        route!(GET "/ui/conversations/{id}", Hearth, Scope("chat"), WEB, "getConversation",
            "A conversation with its active path (`view=path`, default) or whole tree (`view=tree`).",
            req: None, res: Some("ConversationDetailView"), get(h::get)),
        route!(PATCH "/ui/conversations/{id}", Hearth, Scope("chat"), WEB, "updateConversation",
            "Rename, pin, archive, or change the default model, system prompt or parameters.",
            req: Some("UpdateConversationRequest"), res: Some("ConversationView"), patch(h::update)),
        route!(DELETE "/ui/conversations/{id}", Hearth, Scope("chat"), WEB, "deleteConversation",
            "Delete (soft, purged after the retention period; `purge=true` at once).",
            req: None, res: Some("DeletedView"), delete(h::delete)),
        route!(GET "/ui/conversations/{id}/export", Hearth, Scope("chat"), WEB, "exportConversation",
            "The whole tree as `hearth.conversation` JSON (`format=json`, default) or the active path as Markdown (`format=markdown`).",
            req: None, res: None, get(h::export)),
        route!(POST "/ui/conversations/{id}/fork", Hearth, Scope("chat"), WEB, "forkConversation",
            "Copy the active path (or the path to `message_id`) into a new conversation.",
            req: Some("ForkRequest"), res: Some("ConversationView"), post(h::fork)),
        route!(POST "/ui/conversations/{id}/switch", Hearth, Scope("chat"), WEB, "switchBranch",
            "Show the branch through a message: its newest leaf becomes the current leaf.",
            req: Some("SwitchBranchRequest"), res: Some("ConversationDetailView"), post(h::switch_branch)),
        route!(POST "/ui/conversations/{id}/messages", Hearth, Scope("chat"), WEB, "sendMessage",
            "Add a user message and generate the answer (JSON, or SSE with `stream`); `Idempotency-Key` makes retries safe.",
            req: Some("SendMessageRequest"), res: Some("TurnView"), post(h::send)),
        route!(POST "/ui/conversations/{id}/messages/{message_id}/edit", Hearth, Scope("chat"), WEB, "editMessage",
            "A new version of a user message (a new branch) and its answer.",
            req: Some("EditMessageRequest"), res: Some("TurnView"), post(h::edit)),
        route!(POST "/ui/conversations/{id}/messages/{message_id}/regenerate", Hearth, Scope("chat"), WEB, "regenerateMessage",
            "A new answer beside an assistant message.",
            req: Some("RegenerateRequest"), res: Some("TurnView"), post(h::regenerate)),
        route!(GET "/ui/conversations/{id}/messages/{message_id}/events", Hearth, Scope("chat"), WEB, "followMessage",
            "Re-attach: the answer from its start as SSE (`delta`…, then `done` or `error`), live while it is generated.",
            req: None, res: None, get(h::follow)),
        route!(POST "/ui/conversations/{id}/messages/{message_id}/cancel", Hearth, Scope("chat"), WEB, "cancelMessage",
            "Stop a generation now; the partial answer is kept as `cancelled`.",
            req: None, res: Some("MessageView"), post(h::cancel)),
    ]
}

/// Schemas of the conversation views and requests.
pub fn schemas(components: ComponentsBuilder) -> ComponentsBuilder {
    use views::*;
    components
        .schema_from::<ConversationView>()
        .schema_from::<PersonaRefView>()
        .schema_from::<PersonaView>()
        .schema_from::<PersonaVariableView>()
        .schema_from::<PersonaListView>()
        .schema_from::<PersonaRequest>()
        .schema_from::<ConversationListView>()
        .schema_from::<ConversationDetailView>()
        .schema_from::<MessageView>()
        .schema_from::<UsageView>()
        .schema_from::<TimingsView>()
        .schema_from::<ContextView>()
        .schema_from::<TurnView>()
        .schema_from::<ImportView>()
        .schema_from::<DeletedView>()
        .schema_from::<CreateConversationRequest>()
        .schema_from::<UpdateConversationRequest>()
        .schema_from::<SendMessageRequest>()
        .schema_from::<EditMessageRequest>()
        .schema_from::<RegenerateRequest>()
        .schema_from::<SwitchBranchRequest>()
        .schema_from::<ForkRequest>()
}
