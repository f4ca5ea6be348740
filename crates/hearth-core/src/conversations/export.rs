//! Export and import. The JSON format (`hearth.conversation`, version 1) is
//! documented in `docs/CONVERSATION-FORMAT.md`: the whole tree, parents before
//! children, with every message's metadata. The active path can also be
//! exported as Markdown. Import reads our format and ChatGPT's
//! `conversations.json` (see [`chatgpt`](super::chatgpt)); imported
//! conversations get fresh ids and belong to the importer.

use std::collections::{HashMap, HashSet};

use serde::{Deserialize, Serialize};

use super::error::ConversationError;
use super::model::{
    Conversation, ConversationId, Message, MessageId, MessageStatus, OwnerId, Role, Timings, Usage,
};
use super::params::ChatParams;
use super::personas::PersonaRef;
use super::service::{ConversationService, check_model, check_system_prompt, check_title};
use super::tree::parents_first;
use crate::jobs::now_ms;

/// Value of the `format` field.
pub const FORMAT: &str = "hearth.conversation";
/// Current version of the format.
pub const VERSION: u32 = 1;
/// Most messages one imported conversation may have.
pub const MAX_IMPORT_MESSAGES: usize = 100_000;
/// Most conversations one import may carry.
pub const MAX_IMPORT_CONVERSATIONS: usize = 10_000;

/// A conversation with its whole tree, as exported.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ExportDocument {
    /// Always `hearth.conversation`.
    pub format: String,
    /// Format version (1).
    pub version: u32,
    /// When the export was made, Unix milliseconds.
    pub exported_at_ms: i64,
    /// The conversation's metadata.
    pub conversation: ExportConversation,
    /// Every message, parents before children, siblings oldest first.
    pub messages: Vec<ExportMessage>,
}

/// Metadata of an exported conversation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ExportConversation {
    /// Id at the source (ids are reassigned on import).
    pub id: String,
    /// Title.
    pub title: String,
    /// Default model.
    #[serde(default)]
    pub model: Option<String>,
    /// System prompt.
    #[serde(default)]
    pub system_prompt: Option<String>,
    /// The persona (id and version) the system prompt came from.
    #[serde(default)]
    pub persona: Option<PersonaRef>,
    /// Default sampling parameters.
    #[serde(default)]
    pub params: serde_json::Value,
    /// Pinned.
    #[serde(default)]
    pub pinned: bool,
    /// Archived.
    #[serde(default)]
    pub archived: bool,
    /// Leaf of the active branch (a message id of this document).
    #[serde(default)]
    pub current_leaf_id: Option<String>,
    /// Creation time, Unix milliseconds.
    pub created_at_ms: i64,
    /// Last change, Unix milliseconds.
    pub updated_at_ms: i64,
}

/// One exported message.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ExportMessage {
    /// Id, unique in the document.
    pub id: String,
    /// Parent's id; `null` for a root.
    #[serde(default)]
    pub parent_id: Option<String>,
    /// `system`, `user`, `assistant` or `tool`.
    pub role: Role,
    /// Text.
    pub content: String,
    /// Model that produced or was asked.
    #[serde(default)]
    pub model: Option<String>,
    /// Sampling parameters used.
    #[serde(default)]
    pub params: serde_json::Value,
    /// `complete`, `streaming`, `cancelled` or `error`.
    pub status: MessageStatus,
    /// Failure message.
    #[serde(default)]
    pub error: Option<String>,
    /// `stop`, `length` or `cancelled`.
    #[serde(default)]
    pub finish_reason: Option<String>,
    /// Token counts.
    #[serde(default)]
    pub usage: Usage,
    /// Durations.
    #[serde(default)]
    pub timings: Timings,
    /// Creation time, Unix milliseconds.
    pub created_at_ms: i64,
    /// Last change, Unix milliseconds.
    pub updated_at_ms: i64,
}

/// Build the document of a conversation and its tree.
pub fn to_document(conversation: &Conversation, tree: Vec<Message>) -> ExportDocument {
    ExportDocument {
        format: FORMAT.to_owned(),
        version: VERSION,
        exported_at_ms: now_ms(),
        conversation: ExportConversation {
            id: conversation.id.0.clone(),
            title: conversation.title.clone(),
            model: conversation.model.clone(),
            system_prompt: conversation.system_prompt.clone(),
            persona: conversation.persona.clone(),
            params: conversation.params.clone(),
            pinned: conversation.is_pinned,
            archived: conversation.is_archived,
            current_leaf_id: conversation.current_leaf_id.as_ref().map(|i| i.0.clone()),
            created_at_ms: conversation.created_at_ms,
            updated_at_ms: conversation.updated_at_ms,
        },
        messages: parents_first(tree)
            .into_iter()
            .map(|m| ExportMessage {
                id: m.id.0,
                parent_id: m.parent_id.map(|p| p.0),
                role: m.role,
                content: m.content,
                model: m.model,
                params: m.params,
                status: m.status,
                error: m.error,
                finish_reason: m.finish_reason,
                usage: m.usage,
                timings: m.timings,
                created_at_ms: m.created_at_ms,
                updated_at_ms: m.updated_at_ms,
            })
            .collect(),
    }
}

/// Turn a document into a new conversation of `owner` with fresh ids, after
/// checking it (known format, unique ids, parents present, no cycles).
pub fn from_document(
    owner: &OwnerId,
    doc: ExportDocument,
) -> Result<(Conversation, Vec<Message>), ConversationError> {
    if doc.format != FORMAT || doc.version != VERSION {
        return Err(ConversationError::invalid(
            "format",
            format!(
                "unsupported document: expected format '{FORMAT}' version {VERSION}, \
                 got '{}' version {}",
                doc.format, doc.version
            ),
        ));
    }
    if doc.messages.len() > MAX_IMPORT_MESSAGES {
        return Err(ConversationError::invalid(
            "messages",
            format!("a conversation may have at most {MAX_IMPORT_MESSAGES} messages"),
        ));
    }
    let c = doc.conversation;
    let conversation_id = ConversationId::new();
    let mut ids: HashMap<String, MessageId> = HashMap::new();
    for m in &doc.messages {
        if m.content.contains('\0') {
            return Err(ConversationError::invalid(
                "messages",
                format!("message '{}' contains a NUL character", m.id),
            ));
        }
        if ids.insert(m.id.clone(), MessageId::new()).is_some() {
            return Err(ConversationError::invalid(
                "messages",
                format!("message id '{}' appears twice", m.id),
            ));
        }
    }
    let mut messages = Vec::with_capacity(doc.messages.len());
    for m in doc.messages {
        let parent_id = match &m.parent_id {
            None => None,
            Some(p) => Some(ids.get(p).cloned().ok_or_else(|| {
                ConversationError::invalid(
                    "messages",
                    format!("message '{}' has an unknown parent '{p}'", m.id),
                )
            })?),
        };
        let (status, error) = match m.status {
            MessageStatus::Streaming => (
                MessageStatus::Error,
                Some("the answer was still being generated when it was exported".to_owned()),
            ),
            other => (other, m.error),
        };
        messages.push(Message {
            id: ids[&m.id].clone(),
            conversation_id: conversation_id.clone(),
            parent_id,
            role: m.role,
            content: m.content,
            model: m.model,
            params: object_or_empty(m.params),
            status,
            error,
            finish_reason: m.finish_reason,
            usage: m.usage,
            timings: m.timings,
            idempotency_key: None,
            // Notes name messages by their old ids; they describe past prompts.
            context: None,
            created_at_ms: m.created_at_ms,
            updated_at_ms: m.updated_at_ms,
        });
    }
    let count = messages.len();
    let messages = parents_first(messages);
    if messages.len() != count || has_cycle(&messages) {
        return Err(ConversationError::invalid(
            "messages",
            "the messages' parents form a cycle",
        ));
    }
    let current_leaf_id = match &c.current_leaf_id {
        None => None,
        Some(leaf) => Some(ids.get(leaf).cloned().ok_or_else(|| {
            ConversationError::invalid(
                "conversation.current_leaf_id",
                format!("current_leaf_id '{leaf}' is not a message of the document"),
            )
        })?),
    };
    let conversation = Conversation {
        id: conversation_id,
        owner: owner.clone(),
        title: check_title(&c.title)?,
        model: check_model(c.model)?,
        system_prompt: check_system_prompt(c.system_prompt)?,
        persona: c.persona,
        params: ChatParams::from_json(&c.params)?.to_json(),
        is_pinned: c.pinned,
        is_archived: c.archived,
        current_leaf_id,
        created_at_ms: c.created_at_ms,
        updated_at_ms: c.updated_at_ms,
        deleted_at_ms: None,
    };
    Ok((conversation, messages))
}

fn object_or_empty(v: serde_json::Value) -> serde_json::Value {
    if v.is_object() {
        v
    } else {
        serde_json::json!({})
    }
}

/// `parents_first` keeps a message only once its parent was placed, so a cycle
/// drops messages; this double-checks that every parent precedes its child.
fn has_cycle(ordered: &[Message]) -> bool {
    let mut seen = HashSet::new();
    for m in ordered {
        if let Some(p) = &m.parent_id
            && !seen.contains(p)
        {
            return true;
        }
        seen.insert(m.id.clone());
    }
    false
}

/// The active path as Markdown: a heading per message, the text verbatim.
pub fn to_markdown(conversation: &Conversation, path: &[Message]) -> String {
    let mut out = format!("# {}\n\n", conversation.title.trim());
    if let Some(model) = &conversation.model {
        out.push_str(&format!("Model: `{model}`\n\n"));
    }
    if let Some(system) = &conversation.system_prompt {
        out.push_str(&format!("## System\n\n{}\n\n", system.trim_end()));
    }
    for m in path {
        let who = match m.role {
            Role::System => "System",
            Role::User => "User",
            Role::Assistant => "Assistant",
            Role::Tool => "Tool",
        };
        let note = match m.status {
            MessageStatus::Complete => String::new(),
            other => format!(" ({})", other.as_str()),
        };
        out.push_str(&format!("## {who}{note}\n\n{}\n\n", m.content.trim_end()));
    }
    out.truncate(out.trim_end().len());
    out.push('\n');
    out
}

impl ConversationService {
    /// The whole tree in the `hearth.conversation` format.
    pub async fn export(
        &self,
        owner: &OwnerId,
        id: &ConversationId,
    ) -> Result<ExportDocument, ConversationError> {
        let conversation = self.conversation(owner, id).await?;
        let tree = self.repo().tree(&conversation.id).await?;
        Ok(to_document(&conversation, tree))
    }

    /// The active path as Markdown.
    pub async fn export_markdown(
        &self,
        owner: &OwnerId,
        id: &ConversationId,
    ) -> Result<String, ConversationError> {
        let conversation = self.conversation(owner, id).await?;
        let path = self.active_path(&conversation).await?;
        Ok(to_markdown(&conversation, &path))
    }

    /// Import a `hearth.conversation` document, a ChatGPT `conversations.json`
    /// (an array) or one ChatGPT conversation. Every conversation is checked
    /// before any is stored; each is stored atomically.
    pub async fn import(
        &self,
        owner: &OwnerId,
        body: serde_json::Value,
    ) -> Result<Vec<Conversation>, ConversationError> {
        let parsed = parse_import(owner, body)?;
        let mut created = Vec::with_capacity(parsed.len());
        for (conversation, messages) in parsed {
            self.repo().insert(&conversation, &messages).await?;
            created.push(conversation);
        }
        Ok(created)
    }
}

/// Recognize the format of an import body and convert it.
pub fn parse_import(
    owner: &OwnerId,
    body: serde_json::Value,
) -> Result<Vec<(Conversation, Vec<Message>)>, ConversationError> {
    let items = match body {
        serde_json::Value::Array(items) => items,
        other => vec![other],
    };
    if items.is_empty() || items.len() > MAX_IMPORT_CONVERSATIONS {
        return Err(ConversationError::invalid(
            "body",
            format!("an import carries 1 to {MAX_IMPORT_CONVERSATIONS} conversations"),
        ));
    }
    items
        .into_iter()
        .enumerate()
        .map(|(i, item)| {
            if item.get("format").is_some() {
                let doc: ExportDocument = serde_json::from_value(item).map_err(|e| {
                    ConversationError::invalid("body", format!("conversation {i}: {e}"))
                })?;
                from_document(owner, doc)
            } else if item.get("mapping").is_some() {
                super::chatgpt::from_chatgpt(owner, item).map_err(|e| match e {
                    ConversationError::Invalid { field, message } => ConversationError::Invalid {
                        field,
                        message: format!("conversation {i}: {message}"),
                    },
                    other => other,
                })
            } else {
                Err(ConversationError::invalid(
                    "body",
                    format!(
                        "conversation {i}: neither a '{FORMAT}' document (no `format`) nor a \
                         ChatGPT export (no `mapping`)"
                    ),
                ))
            }
        })
        .collect()
}
