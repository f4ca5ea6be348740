//! The conversation domain: conversations owned by one principal, and their
//! messages forming a tree (`parent_id`). A conversation remembers its current
//! leaf; the path from the root to that leaf is what the user sees and what the
//! model is prompted with. Pure data, no I/O.

use serde::{Deserialize, Serialize};

/// Who owns a conversation (the authenticated principal's id).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct OwnerId(pub String);

/// A conversation id (UUID v7 text: sortable by creation time).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct ConversationId(pub String);

/// A message id (UUID v7 text).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct MessageId(pub String);

macro_rules! id_helpers {
    ($t:ident) => {
        impl $t {
            /// A fresh, time-ordered id.
            pub fn new() -> Self {
                $t(uuid::Uuid::now_v7().to_string())
            }
        }

        impl Default for $t {
            fn default() -> Self {
                Self::new()
            }
        }

        impl std::fmt::Display for $t {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(&self.0)
            }
        }
    };
}

id_helpers!(ConversationId);
id_helpers!(MessageId);

/// Title a conversation has until it is renamed or a title is generated.
pub const DEFAULT_TITLE: &str = "New conversation";

/// A conversation's metadata (its messages are loaded separately).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Conversation {
    /// Id.
    pub id: ConversationId,
    /// Owner; nobody else sees it.
    pub owner: OwnerId,
    /// Title shown in lists.
    pub title: String,
    /// Model used when a send does not name one.
    pub model: Option<String>,
    /// System prompt put before the messages.
    pub system_prompt: Option<String>,
    /// The persona (and its version) the system prompt came from.
    pub persona: Option<super::personas::PersonaRef>,
    /// Sampling parameters (JSON object) used when a send gives none.
    pub params: serde_json::Value,
    /// Shown at the top of lists.
    pub is_pinned: bool,
    /// Hidden from the default list.
    pub is_archived: bool,
    /// Leaf of the active branch, `None` while empty.
    pub current_leaf_id: Option<MessageId>,
    /// Creation time, Unix milliseconds.
    pub created_at_ms: i64,
    /// Last activity (a message added), Unix milliseconds; lists sort on it.
    /// Renaming, pinning or archiving does not move a conversation.
    pub updated_at_ms: i64,
    /// Soft-deletion time; a deleted conversation is invisible and purged later.
    pub deleted_at_ms: Option<i64>,
}

/// Speaker of a message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// Instructions for the model.
    System,
    /// The person.
    User,
    /// The model.
    Assistant,
    /// A tool's output.
    Tool,
}

impl Role {
    /// Stable text stored in the database and in exports.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::System => "system",
            Role::User => "user",
            Role::Assistant => "assistant",
            Role::Tool => "tool",
        }
    }

    /// Parse the stored text.
    pub fn parse(s: &str) -> Option<Role> {
        [Role::System, Role::User, Role::Assistant, Role::Tool]
            .into_iter()
            .find(|r| r.as_str() == s)
    }
}

/// Where a message is in its life. Only assistant messages are ever anything
/// but `Complete`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MessageStatus {
    /// Final text.
    Complete,
    /// Being generated; the content grows.
    Streaming,
    /// Stopped on request; the content is the partial answer.
    Cancelled,
    /// Generation failed (or the server stopped); the content is what was kept.
    Error,
}

impl MessageStatus {
    /// Stable text stored in the database and in exports.
    pub fn as_str(self) -> &'static str {
        match self {
            MessageStatus::Complete => "complete",
            MessageStatus::Streaming => "streaming",
            MessageStatus::Cancelled => "cancelled",
            MessageStatus::Error => "error",
        }
    }

    /// Parse the stored text.
    pub fn parse(s: &str) -> Option<MessageStatus> {
        [
            MessageStatus::Complete,
            MessageStatus::Streaming,
            MessageStatus::Cancelled,
            MessageStatus::Error,
        ]
        .into_iter()
        .find(|st| st.as_str() == s)
    }
}

/// Token counts of a generated message.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Usage {
    /// Tokens in the prompt.
    pub prompt_tokens: i64,
    /// Prompt tokens served from the prefix cache.
    pub cached_tokens: i64,
    /// Tokens generated.
    pub completion_tokens: i64,
}

/// Durations of a generated message, milliseconds.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Timings {
    /// Waiting for admission.
    pub queue_ms: i64,
    /// Admission to first token.
    pub prompt_ms: i64,
    /// First to last token.
    pub generation_ms: i64,
}

/// One message of the tree.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Message {
    /// Id.
    pub id: MessageId,
    /// The conversation it belongs to.
    pub conversation_id: ConversationId,
    /// Previous message on its branch; `None` for a root.
    pub parent_id: Option<MessageId>,
    /// Speaker.
    pub role: Role,
    /// Text.
    pub content: String,
    /// Model that generated it (assistant) or was asked (user).
    pub model: Option<String>,
    /// Sampling parameters used (JSON object).
    pub params: serde_json::Value,
    /// Life state.
    pub status: MessageStatus,
    /// Why generation failed, for `Error`.
    pub error: Option<String>,
    /// `stop`, `length` or `cancelled`, once finished.
    pub finish_reason: Option<String>,
    /// Token counts.
    pub usage: Usage,
    /// Durations.
    pub timings: Timings,
    /// Key of the request that created it (exactly-once sends).
    pub idempotency_key: Option<String>,
    /// For an answer whose conversation outgrew the context: what its prompt
    /// left out or summarized.
    pub context: Option<ContextNote>,
    /// Creation time, Unix milliseconds.
    pub created_at_ms: i64,
    /// Last change, Unix milliseconds.
    pub updated_at_ms: i64,
}

/// What was done to older turns so that an answer's prompt fit the context.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ContextAction {
    /// They were left out.
    Dropped,
    /// They were replaced by a summary.
    Summarized,
}

/// A stored summary of a branch, from its root through one message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredSummary {
    /// The last message it covers.
    pub through: MessageId,
    /// The summary text.
    pub content: String,
    /// The model that wrote it.
    pub model: String,
}

/// How an answer's prompt was fitted into the model's context (stored with the
/// assistant message as JSON).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ContextNote {
    /// Dropped or summarized.
    pub action: ContextAction,
    /// Messages of the branch not given to the model verbatim.
    pub omitted_messages: u32,
    /// The first message given verbatim.
    pub first_kept_id: MessageId,
    /// For `Summarized`: the last message the summary covers.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub summary_through_id: Option<MessageId>,
    /// For `Summarized`: whether the summary was written for this answer
    /// (`false`: an earlier turn's was reused).
    #[serde(default)]
    pub summary_created: bool,
    /// Why the summary policy fell back to dropping, when it did.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fallback_reason: Option<String>,
    /// Prompt tokens as counted before generating.
    pub prompt_tokens: u32,
    /// The context window the prompt was fitted into (answer reserve included).
    pub context_tokens: u32,
}

impl Message {
    /// A message with defaults for everything but the tree position and text.
    pub fn new(
        conversation_id: &ConversationId,
        parent_id: Option<MessageId>,
        role: Role,
        content: impl Into<String>,
        now_ms: i64,
    ) -> Message {
        Message {
            id: MessageId::new(),
            conversation_id: conversation_id.clone(),
            parent_id,
            role,
            content: content.into(),
            model: None,
            params: serde_json::Value::Object(Default::default()),
            status: MessageStatus::Complete,
            error: None,
            finish_reason: None,
            usage: Usage::default(),
            timings: Timings::default(),
            idempotency_key: None,
            context: None,
            created_at_ms: now_ms,
            updated_at_ms: now_ms,
        }
    }
}

/// Filters and page of a conversation list.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ListFilter {
    /// Full-text query over titles and message contents (all words must match).
    pub search: Option<String>,
    /// Only pinned (`true`) or only unpinned (`false`).
    pub pinned: Option<bool>,
    /// Only archived (`true`) or only unarchived (`false`).
    pub archived: Option<bool>,
    /// Continue after this cursor (from the previous page).
    pub cursor: Option<ListCursor>,
    /// Page size.
    pub limit: u32,
}

/// Position in the newest-first order: (last change, id) of the last row seen.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListCursor {
    /// `updated_at_ms` of the last row of the previous page.
    pub updated_at_ms: i64,
    /// Id of that row.
    pub id: ConversationId,
}

impl ListCursor {
    /// Opaque text form given to clients.
    pub fn encode(&self) -> String {
        format!("{}_{}", self.updated_at_ms, self.id.0)
    }

    /// Parse the text form; `None` when malformed.
    pub fn decode(text: &str) -> Option<ListCursor> {
        let (ms, id) = text.split_once('_')?;
        let updated_at_ms = ms.parse().ok()?;
        (!id.is_empty()).then(|| ListCursor {
            updated_at_ms,
            id: ConversationId(id.to_owned()),
        })
    }
}

/// A page of conversations, newest change first.
#[derive(Debug, Clone, PartialEq)]
pub struct ConversationPage {
    /// The conversations.
    pub items: Vec<Conversation>,
    /// Cursor of the next page, when there may be one.
    pub next_cursor: Option<ListCursor>,
}

/// Changes to a conversation's metadata; `None` leaves a field as it is.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ConversationPatch {
    /// New title.
    pub title: Option<String>,
    /// New default model (`Some(None)` clears it).
    pub model: Option<Option<String>>,
    /// New system prompt (`Some(None)` clears it).
    pub system_prompt: Option<Option<String>>,
    /// New default parameters.
    pub params: Option<serde_json::Value>,
    /// Pin or unpin.
    pub is_pinned: Option<bool>,
    /// Archive or unarchive.
    pub is_archived: Option<bool>,
}

/// How a generation ended, written onto its assistant message.
#[derive(Debug, Clone, PartialEq)]
pub struct MessageFinish {
    /// Final (or partial) text.
    pub content: String,
    /// `Complete`, `Cancelled` or `Error`.
    pub status: MessageStatus,
    /// Failure message, for `Error`.
    pub error: Option<String>,
    /// `stop`, `length` or `cancelled`.
    pub finish_reason: Option<String>,
    /// Token counts.
    pub usage: Usage,
    /// Durations.
    pub timings: Timings,
    /// How the prompt was fitted into the context, when it had to be.
    pub context: Option<ContextNote>,
}
