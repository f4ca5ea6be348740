//! Import of ChatGPT's export (`conversations.json`): an array of
//! conversations, each a `mapping` of node id → `{message, parent, children}`
//! with `current_node` the leaf of the branch shown last.
//!
//! Nodes without a usable message (the synthetic root, hidden system messages,
//! custom-instruction context, reasoning traces, empty texts) are skipped; their
//! children hang from the nearest kept ancestor, so the branching is kept.
//! Text is taken from `parts` (strings; images become `[image]`), from `text`
//! (code is fenced), and execution output becomes a `tool` message.

use std::collections::{HashMap, HashSet};

use serde::Deserialize;
use serde_json::Value;

use super::error::ConversationError;
use super::model::{
    Conversation, ConversationId, DEFAULT_TITLE, Message, MessageId, MessageStatus, OwnerId, Role,
};
use super::service::check_title;
use super::tree::{Shape, newest_leaf_under};
use crate::jobs::now_ms;

#[derive(Debug, Deserialize)]
struct GptConversation {
    #[serde(default)]
    title: Option<String>,
    #[serde(default)]
    create_time: Option<f64>,
    #[serde(default)]
    update_time: Option<f64>,
    mapping: HashMap<String, GptNode>,
    #[serde(default)]
    current_node: Option<String>,
    #[serde(default)]
    default_model_slug: Option<String>,
    #[serde(default)]
    is_archived: Option<bool>,
}

#[derive(Debug, Deserialize)]
struct GptNode {
    #[serde(default)]
    message: Option<GptMessage>,
    #[serde(default)]
    parent: Option<String>,
    #[serde(default)]
    children: Vec<String>,
}

#[derive(Debug, Deserialize)]
struct GptMessage {
    author: GptAuthor,
    #[serde(default)]
    create_time: Option<f64>,
    #[serde(default)]
    update_time: Option<f64>,
    #[serde(default)]
    content: Value,
    #[serde(default)]
    status: Option<String>,
    #[serde(default)]
    metadata: Value,
}

#[derive(Debug, Deserialize)]
struct GptAuthor {
    role: String,
}

/// Convert one ChatGPT conversation.
pub fn from_chatgpt(
    owner: &OwnerId,
    value: Value,
) -> Result<(Conversation, Vec<Message>), ConversationError> {
    let gpt: GptConversation = serde_json::from_value(value)
        .map_err(|e| ConversationError::invalid("mapping", format!("not a ChatGPT export: {e}")))?;
    if gpt.mapping.len() > super::export::MAX_IMPORT_MESSAGES {
        return Err(ConversationError::invalid(
            "mapping",
            "too many messages in one conversation",
        ));
    }
    let conversation_id = ConversationId::new();
    let started_ms = gpt.create_time.map(secs_to_ms).unwrap_or_else(now_ms);
    let mut kept: HashMap<String, MessageId> = HashMap::new();
    let mut messages: Vec<Message> = Vec::new();
    // Depth-first from the roots, children in their listed order; each stack item
    // carries the nearest kept ancestor and its time.
    let mut roots: Vec<&String> = gpt
        .mapping
        .iter()
        .filter(|(_, n)| {
            n.parent
                .as_ref()
                .is_none_or(|p| !gpt.mapping.contains_key(p))
        })
        .map(|(id, _)| id)
        .collect();
    roots.sort();
    let mut stack: Vec<(&String, Option<MessageId>, i64)> = roots
        .into_iter()
        .rev()
        .map(|id| (id, None, started_ms))
        .collect();
    let mut visited: HashSet<&String> = HashSet::new();
    while let Some((node_id, parent, parent_ms)) = stack.pop() {
        if !visited.insert(node_id) {
            continue;
        }
        let Some(node) = gpt.mapping.get(node_id) else {
            continue;
        };
        let (next_parent, next_ms) = match node.message.as_ref().and_then(convert) {
            Some(converted) => {
                let created = converted.created_ms.unwrap_or(parent_ms).max(parent_ms);
                let id = MessageId::new();
                messages.push(Message {
                    model: converted.model.or_else(|| {
                        (converted.role == Role::Assistant)
                            .then(|| gpt.default_model_slug.clone())
                            .flatten()
                    }),
                    status: converted.status,
                    updated_at_ms: converted.updated_ms.unwrap_or(created).max(created),
                    ..Message::new(
                        &conversation_id,
                        parent.clone(),
                        converted.role,
                        converted.text,
                        created,
                    )
                });
                messages.last_mut().expect("just pushed").id = id.clone();
                kept.insert(node_id.clone(), id.clone());
                (Some(id), created)
            }
            None => (parent, parent_ms),
        };
        for child in node.children.iter().rev() {
            stack.push((child, next_parent.clone(), next_ms));
        }
    }
    let current_leaf_id = gpt
        .current_node
        .as_ref()
        .and_then(|node| nearest_kept(&gpt.mapping, &kept, node))
        .or_else(|| {
            let shape = Shape::new(
                messages
                    .iter()
                    .map(|m| (m.id.clone(), m.parent_id.clone()))
                    .collect(),
            );
            shape
                .children(None)
                .last()
                .map(|root| newest_leaf_under(&shape, root))
        });
    let title = gpt
        .title
        .as_deref()
        .and_then(|t| check_title(t).ok())
        .unwrap_or_else(|| DEFAULT_TITLE.to_owned());
    let last_ms = messages
        .iter()
        .map(|m| m.updated_at_ms)
        .max()
        .unwrap_or(started_ms);
    let conversation = Conversation {
        id: conversation_id,
        owner: owner.clone(),
        title,
        model: gpt.default_model_slug.clone(),
        system_prompt: None,
        persona: None,
        params: serde_json::json!({}),
        is_pinned: false,
        is_archived: gpt.is_archived.unwrap_or(false),
        current_leaf_id,
        created_at_ms: started_ms,
        updated_at_ms: gpt
            .update_time
            .map(secs_to_ms)
            .unwrap_or(last_ms)
            .max(started_ms),
        deleted_at_ms: None,
    };
    // Messages were produced parents first; sort stably by time for storage
    // order, which keeps parents first because a child is never older.
    messages.sort_by_key(|m| m.created_at_ms);
    Ok((conversation, messages))
}

fn nearest_kept(
    mapping: &HashMap<String, GptNode>,
    kept: &HashMap<String, MessageId>,
    start: &str,
) -> Option<MessageId> {
    let mut at = Some(start.to_owned());
    for _ in 0..=mapping.len() {
        let id = at?;
        if let Some(kept) = kept.get(&id) {
            return Some(kept.clone());
        }
        at = mapping.get(&id).and_then(|n| n.parent.clone());
    }
    None
}

struct Converted {
    role: Role,
    text: String,
    model: Option<String>,
    status: MessageStatus,
    created_ms: Option<i64>,
    updated_ms: Option<i64>,
}

fn convert(m: &GptMessage) -> Option<Converted> {
    if m.metadata
        .get("is_visually_hidden_from_conversation")
        .and_then(Value::as_bool)
        == Some(true)
    {
        return None;
    }
    let content_type = m
        .content
        .get("content_type")
        .and_then(Value::as_str)
        .unwrap_or("text");
    let mut role = match m.author.role.as_str() {
        "user" => Role::User,
        "assistant" => Role::Assistant,
        "system" => Role::System,
        "tool" => Role::Tool,
        _ => return None,
    };
    let text = match content_type {
        "text" | "multimodal_text" => parts_text(&m.content),
        "code" => {
            let code = m.content.get("text").and_then(Value::as_str)?;
            let lang = m
                .content
                .get("language")
                .and_then(Value::as_str)
                .filter(|l| *l != "unknown")
                .unwrap_or("");
            format!("```{lang}\n{code}\n```")
        }
        "execution_output" => {
            role = Role::Tool;
            m.content.get("text").and_then(Value::as_str)?.to_owned()
        }
        // Custom instructions, reasoning traces, browsing displays: not conversation text.
        "user_editable_context"
        | "thoughts"
        | "reasoning_recap"
        | "model_editable_context"
        | "tether_browsing_display" => return None,
        _ => {
            let parts = parts_text(&m.content);
            if parts.is_empty() {
                m.content.get("text").and_then(Value::as_str)?.to_owned()
            } else {
                parts
            }
        }
    };
    if text.trim().is_empty() {
        return None;
    }
    // Text columns cannot hold NUL on PostgreSQL.
    let text = text.replace('\0', "\u{FFFD}");
    let status = match m.status.as_deref() {
        Some("finished_partial_completion") => MessageStatus::Cancelled,
        Some("in_progress") => MessageStatus::Error,
        _ => MessageStatus::Complete,
    };
    Some(Converted {
        role,
        text,
        model: m
            .metadata
            .get("model_slug")
            .and_then(Value::as_str)
            .map(str::to_owned),
        status,
        created_ms: m.create_time.map(secs_to_ms),
        updated_ms: m.update_time.map(secs_to_ms),
    })
}

fn parts_text(content: &Value) -> String {
    let Some(parts) = content.get("parts").and_then(Value::as_array) else {
        return String::new();
    };
    parts
        .iter()
        .filter_map(|p| match p {
            Value::String(s) => Some(s.clone()),
            Value::Object(o) => match o.get("content_type").and_then(Value::as_str) {
                Some("image_asset_pointer") => Some("[image]".to_owned()),
                Some("audio_transcription") => {
                    o.get("text").and_then(Value::as_str).map(str::to_owned)
                }
                _ => None,
            },
            _ => None,
        })
        .filter(|s| !s.is_empty())
        .collect::<Vec<_>>()
        .join("\n\n")
}

fn secs_to_ms(secs: f64) -> i64 {
    (secs * 1000.0).round() as i64
}
