//! What clients see of conversations: `*View` projections of the domain types,
//! and the request bodies, each with its OpenAPI schema.

use hearth_core::conversations::personas;
use hearth_core::conversations::{
    AnyPersona, ContextAction, ContextNote, Conversation, ConversationDetail, Message,
    MessageStatus, Shape, Turn, UserPersona,
};
use serde::{Deserialize, Deserializer, Serialize};
use utoipa::ToSchema;

/// A conversation's metadata.
#[derive(Debug, Serialize, ToSchema)]
pub struct ConversationView {
    /// Id.
    pub id: String,
    /// Title.
    pub title: String,
    /// Default model for sends that name none.
    pub model: Option<String>,
    /// System prompt put before the messages.
    pub system_prompt: Option<String>,
    /// The persona the system prompt came from, and its version.
    pub persona: Option<PersonaRefView>,
    /// Default sampling parameters.
    #[schema(value_type = Object)]
    pub params: serde_json::Value,
    /// Pinned.
    pub pinned: bool,
    /// Archived (hidden from the default list).
    pub archived: bool,
    /// Leaf of the active branch.
    pub current_leaf_id: Option<String>,
    /// Creation time, Unix milliseconds.
    pub created_at_ms: i64,
    /// Last activity, Unix milliseconds (lists sort on it).
    pub updated_at_ms: i64,
}

impl From<Conversation> for ConversationView {
    fn from(c: Conversation) -> Self {
        ConversationView {
            id: c.id.0,
            title: c.title,
            model: c.model,
            system_prompt: c.system_prompt,
            persona: c.persona.map(|p| PersonaRefView {
                id: p.id,
                version: p.version,
            }),
            params: c.params,
            pinned: c.is_pinned,
            archived: c.is_archived,
            current_leaf_id: c.current_leaf_id.map(|l| l.0),
            created_at_ms: c.created_at_ms,
            updated_at_ms: c.updated_at_ms,
        }
    }
}

/// Which persona (and version) a conversation started from.
#[derive(Debug, Serialize, ToSchema)]
pub struct PersonaRefView {
    /// Persona id, e.g. `builtin:socratic`.
    pub id: String,
    /// Template version used.
    pub version: i64,
}

/// A variable of a persona's template.
#[derive(Debug, Serialize, ToSchema)]
pub struct PersonaVariableView {
    /// Name, as given in `persona_variables`.
    pub name: String,
    /// Value used when none is given.
    pub default: Option<String>,
}

/// A persona: a versioned system-prompt template, built in or the caller's own.
#[derive(Debug, Serialize, ToSchema)]
pub struct PersonaView {
    /// Id, given as `persona_id` when creating a conversation: `builtin:<name>`
    /// or `user:<uuid>`.
    pub id: String,
    /// Template version (a user persona gets a new one on every update).
    pub version: i64,
    /// Shipped with Hearth (read-only), else the caller's own.
    pub builtin: bool,
    /// Name.
    pub name: String,
    /// What it does.
    pub description: String,
    /// The system prompt, with `{{variable|default}}` placeholders.
    pub template: String,
    /// Its variables.
    pub variables: Vec<PersonaVariableView>,
    /// When this version was written (user personas), Unix milliseconds.
    pub created_at_ms: Option<i64>,
}

impl PersonaView {
    fn new(
        (id, version, builtin): (String, i64, bool),
        (name, description, template): (String, String, String),
        created_at_ms: Option<i64>,
    ) -> Self {
        let variables = personas::variables(&template)
            .into_iter()
            .map(|(name, default)| PersonaVariableView { name, default })
            .collect();
        PersonaView {
            id,
            version,
            builtin,
            name,
            description,
            template,
            variables,
            created_at_ms,
        }
    }
}

impl From<AnyPersona> for PersonaView {
    fn from(p: AnyPersona) -> Self {
        match p {
            AnyPersona::Builtin(p) => PersonaView::new(
                (p.id.to_owned(), p.version, true),
                (
                    p.name.to_owned(),
                    p.description.to_owned(),
                    p.template.to_owned(),
                ),
                None,
            ),
            AnyPersona::User(p) => p.into(),
        }
    }
}

impl From<UserPersona> for PersonaView {
    fn from(p: UserPersona) -> Self {
        PersonaView::new(
            (p.id, p.version, false),
            (p.name, p.description, p.template),
            Some(p.created_at_ms),
        )
    }
}

/// Body of `POST /ui/personas` and `PUT /ui/personas/{id}` (a new version).
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PersonaRequest {
    /// Name (1–100 characters).
    pub name: String,
    /// One line on what it does (up to 500 characters).
    #[serde(default)]
    pub description: String,
    /// The system prompt; `{{name}}` or `{{name|default}}` mark variables
    /// (letters, digits and `_`).
    pub template: String,
}

/// The personas.
#[derive(Debug, Serialize, ToSchema)]
pub struct PersonaListView {
    /// Built-ins first, then the caller's own by name.
    pub personas: Vec<PersonaView>,
}

/// A page of conversations, newest activity first.
#[derive(Debug, Serialize, ToSchema)]
pub struct ConversationListView {
    /// The conversations.
    pub conversations: Vec<ConversationView>,
    /// Pass as `cursor` to get the next page; absent on the last page.
    pub next_cursor: Option<String>,
}

/// Token counts of a message.
#[derive(Debug, Serialize, ToSchema)]
pub struct UsageView {
    /// Prompt tokens.
    pub prompt_tokens: i64,
    /// Prompt tokens reused from the prefix cache.
    pub cached_tokens: i64,
    /// Generated tokens.
    pub completion_tokens: i64,
}

/// Durations of a generated message, milliseconds.
#[derive(Debug, Serialize, ToSchema)]
pub struct TimingsView {
    /// Waiting for admission.
    pub queue_ms: i64,
    /// Admission to first token.
    pub prompt_ms: i64,
    /// First to last token.
    pub generation_ms: i64,
}

/// How an answer's prompt was fitted into the model's context.
#[derive(Debug, Serialize, ToSchema)]
pub struct ContextView {
    /// `dropped` (older turns left out) or `summarized` (replaced by a summary).
    pub action: String,
    /// Messages of the branch not given to the model verbatim.
    pub omitted_messages: u32,
    /// The first message given verbatim.
    pub first_kept_id: String,
    /// For `summarized`: the last message the summary covers.
    pub summary_through_id: Option<String>,
    /// For `summarized`: the summary was written for this answer (else reused).
    pub summary_created: bool,
    /// Why the summarize policy fell back to dropping, when it did.
    pub fallback_reason: Option<String>,
    /// Prompt tokens as counted before generating.
    pub prompt_tokens: u32,
    /// Context window (prompt and answer) the prompt was fitted into.
    pub context_tokens: u32,
}

impl From<ContextNote> for ContextView {
    fn from(n: ContextNote) -> Self {
        ContextView {
            action: match n.action {
                ContextAction::Dropped => "dropped",
                ContextAction::Summarized => "summarized",
            }
            .to_owned(),
            omitted_messages: n.omitted_messages,
            first_kept_id: n.first_kept_id.0,
            summary_through_id: n.summary_through_id.map(|id| id.0),
            summary_created: n.summary_created,
            fallback_reason: n.fallback_reason,
            prompt_tokens: n.prompt_tokens,
            context_tokens: n.context_tokens,
        }
    }
}

/// One message of a conversation's tree.
#[derive(Debug, Serialize, ToSchema)]
pub struct MessageView {
    /// Id.
    pub id: String,
    /// Conversation.
    pub conversation_id: String,
    /// Parent; absent for a root.
    pub parent_id: Option<String>,
    /// `system`, `user`, `assistant` or `tool`.
    pub role: String,
    /// Text (partial while `streaming`).
    pub content: String,
    /// Model used.
    pub model: Option<String>,
    /// Sampling parameters used.
    #[schema(value_type = Object)]
    pub params: serde_json::Value,
    /// `complete`, `streaming`, `cancelled` or `error`.
    pub status: String,
    /// Why it failed, for `error`.
    pub error: Option<String>,
    /// `stop`, `length` or `cancelled`.
    pub finish_reason: Option<String>,
    /// Token counts.
    pub usage: UsageView,
    /// Durations.
    pub timings: TimingsView,
    /// Set on an answer whose branch did not fit the model's context: what
    /// its prompt left out or summarized.
    pub context: Option<ContextView>,
    /// This message and its siblings (same parent), oldest first: the branches
    /// a client can switch between. Only in conversation details.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sibling_ids: Option<Vec<String>>,
    /// Creation time, Unix milliseconds.
    pub created_at_ms: i64,
    /// Last change, Unix milliseconds.
    pub updated_at_ms: i64,
}

impl MessageView {
    /// Add the siblings from the tree's shape.
    pub fn with_siblings(mut self, shape: &Shape) -> Self {
        let id = hearth_core::conversations::MessageId(self.id.clone());
        self.sibling_ids = Some(shape.siblings(&id).iter().map(|s| s.0.clone()).collect());
        self
    }
}

impl From<Message> for MessageView {
    fn from(m: Message) -> Self {
        MessageView {
            id: m.id.0,
            conversation_id: m.conversation_id.0,
            parent_id: m.parent_id.map(|p| p.0),
            role: m.role.as_str().to_owned(),
            content: m.content,
            model: m.model,
            params: m.params,
            status: m.status.as_str().to_owned(),
            error: m.error,
            finish_reason: m.finish_reason,
            usage: UsageView {
                prompt_tokens: m.usage.prompt_tokens,
                cached_tokens: m.usage.cached_tokens,
                completion_tokens: m.usage.completion_tokens,
            },
            timings: TimingsView {
                queue_ms: m.timings.queue_ms,
                prompt_ms: m.timings.prompt_ms,
                generation_ms: m.timings.generation_ms,
            },
            context: m.context.map(ContextView::from),
            sibling_ids: None,
            created_at_ms: m.created_at_ms,
            updated_at_ms: m.updated_at_ms,
        }
    }
}

/// A conversation with its active path (or whole tree).
#[derive(Debug, Serialize, ToSchema)]
pub struct ConversationDetailView {
    /// Metadata.
    pub conversation: ConversationView,
    /// `path` (root to current leaf) or `tree` (every message, oldest first).
    pub view: String,
    /// The messages, each with its `sibling_ids`.
    pub messages: Vec<MessageView>,
}

impl ConversationDetailView {
    /// Project a detail.
    pub fn new(detail: ConversationDetail, view: &str) -> Self {
        let shape = detail.shape;
        ConversationDetailView {
            conversation: detail.conversation.into(),
            view: view.to_owned(),
            messages: detail
                .messages
                .into_iter()
                .map(|m| MessageView::from(m).with_siblings(&shape))
                .collect(),
        }
    }
}

/// What a send, edit or regenerate created. The answer is generated in the
/// background: follow it at `…/messages/{assistant id}/events`.
#[derive(Debug, Serialize, ToSchema)]
pub struct TurnView {
    /// Conversation.
    pub conversation_id: String,
    /// The new user message (absent for a regenerate).
    pub user_message: Option<MessageView>,
    /// The answer, `streaming` until it ends.
    pub assistant_message: MessageView,
    /// `true` when this answers a retry with an already used `Idempotency-Key`.
    pub replayed: bool,
}

impl From<Turn> for TurnView {
    fn from(t: Turn) -> Self {
        TurnView {
            conversation_id: t.conversation_id.0,
            user_message: t.user.map(MessageView::from),
            assistant_message: t.assistant.into(),
            replayed: t.is_replay,
        }
    }
}

/// Conversations created by an import.
#[derive(Debug, Serialize, ToSchema)]
pub struct ImportView {
    /// The new conversations, in the order of the import.
    pub conversations: Vec<ConversationView>,
}

/// Answer of a delete.
#[derive(Debug, Serialize, ToSchema)]
pub struct DeletedView {
    /// The conversation.
    pub id: String,
    /// `true` when its rows are gone already; else they go after the retention period.
    pub purged: bool,
}

/// Body of `POST /ui/conversations`.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateConversationRequest {
    /// Title (default "New conversation", replaced by a generated one).
    #[serde(default)]
    pub title: Option<String>,
    /// Default model.
    #[serde(default)]
    pub model: Option<String>,
    /// System prompt (or give `persona_id`).
    #[serde(default)]
    pub system_prompt: Option<String>,
    /// Start from a persona's system prompt (see `GET /ui/personas`).
    #[serde(default)]
    pub persona_id: Option<String>,
    /// Values of the persona's variables (each has a default).
    #[serde(default)]
    pub persona_variables: std::collections::BTreeMap<String, String>,
    /// Default sampling parameters: max_tokens, temperature, top_p, top_k, min_p,
    /// repeat_penalty, seed, stop.
    #[serde(default)]
    #[schema(value_type = Object)]
    pub params: serde_json::Value,
}

/// Body of `PATCH /ui/conversations/{id}`: only the fields present change;
/// `null` clears `model` and `system_prompt`.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateConversationRequest {
    /// New title.
    #[serde(default)]
    pub title: Option<String>,
    /// New default model, or `null`.
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<String>)]
    pub model: Option<Option<String>>,
    /// New system prompt, or `null`.
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<String>)]
    pub system_prompt: Option<Option<String>>,
    /// New default parameters.
    #[serde(default)]
    #[schema(value_type = Option<Object>)]
    pub params: Option<serde_json::Value>,
    /// Pin or unpin.
    #[serde(default)]
    pub pinned: Option<bool>,
    /// Archive or unarchive.
    #[serde(default)]
    pub archived: Option<bool>,
}

/// A field that is present (possibly `null`) becomes `Some`.
fn present<'de, D: Deserializer<'de>, T: Deserialize<'de>>(
    d: D,
) -> Result<Option<Option<T>>, D::Error> {
    Option::<T>::deserialize(d).map(Some)
}

/// Body of `POST /ui/conversations/{id}/messages`. Send an `Idempotency-Key`
/// header to make retries safe.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SendMessageRequest {
    /// The user's text.
    pub content: String,
    /// Parent message (an assistant message); the current leaf by default.
    #[serde(default)]
    pub parent_id: Option<String>,
    /// Model for this answer; the conversation's by default.
    #[serde(default)]
    pub model: Option<String>,
    /// Sampling parameters for this answer; the conversation's by default.
    #[serde(default)]
    #[schema(value_type = Option<Object>)]
    pub params: Option<serde_json::Value>,
    /// Answer as Server-Sent Events (`turn`, `delta`…, `done` or `error`)
    /// instead of JSON.
    #[serde(default)]
    pub stream: bool,
}

/// Body of `POST …/messages/{message_id}/edit`: a new version of a user message.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EditMessageRequest {
    /// The new text.
    pub content: String,
    /// Model for the answer.
    #[serde(default)]
    pub model: Option<String>,
    /// Sampling parameters for the answer.
    #[serde(default)]
    #[schema(value_type = Option<Object>)]
    pub params: Option<serde_json::Value>,
    /// Answer as Server-Sent Events.
    #[serde(default)]
    pub stream: bool,
}

/// Body of `POST …/messages/{message_id}/regenerate` (may be `{}`).
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RegenerateRequest {
    /// Model for the new answer.
    #[serde(default)]
    pub model: Option<String>,
    /// Sampling parameters for the new answer.
    #[serde(default)]
    #[schema(value_type = Option<Object>)]
    pub params: Option<serde_json::Value>,
    /// Answer as Server-Sent Events.
    #[serde(default)]
    pub stream: bool,
}

/// Body of `POST /ui/conversations/{id}/switch`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SwitchBranchRequest {
    /// Any message of the branch to show; the newest leaf below it becomes current.
    pub message_id: String,
}

/// Body of `POST /ui/conversations/{id}/fork` (may be `{}`).
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ForkRequest {
    /// Last message to copy; the current leaf by default.
    #[serde(default)]
    pub message_id: Option<String>,
}

/// Whether a message status ends in an `error` event.
pub fn is_failure(status: MessageStatus) -> bool {
    status == MessageStatus::Error
}
