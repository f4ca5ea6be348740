//! Anthropic Messages wire requests → validated requests. `system` becomes a
//! system message; `tool_use` blocks become the assistant's tool calls and
//! `tool_result` blocks become `tool` messages, as chat templates expect them.

use std::collections::HashMap;

use hearth_types::anthropic::{
    Block, Content, CountTokensRequest, Message, MessagesRequest, Tool, ToolResultContent,
};
use serde_json::json;

use super::openai::{check_tool_choice, tool_spec};
use super::{ToolChoice, ToolSpec, ValidChatRequest};
use crate::backend::{ChatMessage, SamplingParams};
use crate::validate::{ValidationError, in_range_f32, in_range_u32, model_name, stop_strings};

/// A conversation validated for `count_tokens`.
#[derive(Debug, Clone, PartialEq)]
pub struct ValidCountTokens {
    /// Model name.
    pub model: String,
    /// The conversation with the system prompt first.
    pub messages: Vec<ChatMessage>,
    /// Tools shown to the model.
    pub tools: Vec<ToolSpec>,
}

impl TryFrom<MessagesRequest> for ValidChatRequest {
    type Error = ValidationError;

    fn try_from(r: MessagesRequest) -> Result<Self, Self::Error> {
        let model = model_name(&r.model)?;
        in_range_u32("max_tokens", Some(r.max_tokens), 1, u32::MAX)?;
        let messages = conversation(r.system, r.messages)?;
        let tools = tools(r.tools.unwrap_or_default())?;
        let tool_choice = match r.tool_choice {
            None if tools.is_empty() => ToolChoice::None,
            None => ToolChoice::Auto,
            Some(choice) => match (choice.kind.as_str(), choice.name) {
                ("auto", _) => ToolChoice::Auto,
                ("any", _) => ToolChoice::Required,
                ("none", _) => ToolChoice::None,
                ("tool", Some(name)) => ToolChoice::Named(name),
                ("tool", None) => {
                    return Err(ValidationError::new(
                        "tool_choice.name",
                        "tool_choice.name is required when tool_choice.type is 'tool'",
                    ));
                }
                (other, _) => {
                    return Err(ValidationError::new(
                        "tool_choice.type",
                        format!("tool_choice.type must be auto, any, tool or none; got '{other}'"),
                    ));
                }
            },
        };
        check_tool_choice(&tool_choice, &tools, "tool_choice", "tool_choice.name")?;
        let params = SamplingParams {
            max_tokens: Some(r.max_tokens),
            temperature: in_range_f32("temperature", r.temperature, 0.0, 1.0)?,
            top_p: in_range_f32("top_p", r.top_p, 0.0, 1.0)?,
            top_k: r.top_k,
            stop: stop_strings("stop_sequences", r.stop_sequences.unwrap_or_default())?,
            ..SamplingParams::default()
        };
        Ok(ValidChatRequest {
            model,
            messages,
            tools,
            tool_choice,
            params,
            n: 1,
            stream: r.stream.unwrap_or(false),
            include_usage: false,
        })
    }
}

impl TryFrom<CountTokensRequest> for ValidCountTokens {
    type Error = ValidationError;

    fn try_from(r: CountTokensRequest) -> Result<Self, Self::Error> {
        Ok(ValidCountTokens {
            model: model_name(&r.model)?,
            messages: conversation(r.system, r.messages)?,
            tools: tools(r.tools.unwrap_or_default())?,
        })
    }
}

fn conversation(
    system: Option<Content>,
    messages: Vec<Message>,
) -> Result<Vec<ChatMessage>, ValidationError> {
    if messages.is_empty() {
        return Err(ValidationError::new(
            "messages",
            "messages must hold at least one message",
        ));
    }
    let mut out = Vec::new();
    if let Some(system) = system {
        let text = match system {
            Content::Text(text) => text,
            Content::Blocks(blocks) => blocks_text("system", blocks)?,
        };
        if !text.is_empty() {
            out.push(ChatMessage::text("system", text));
        }
    }
    let mut call_names = HashMap::new();
    for (i, m) in messages.into_iter().enumerate() {
        let role = match m.role.as_str() {
            "user" | "assistant" => m.role.clone(),
            other => {
                return Err(ValidationError::new(
                    format!("messages[{i}].role"),
                    format!("messages[{i}].role must be user or assistant; got '{other}'"),
                ));
            }
        };
        match m.content {
            Content::Text(text) => out.push(ChatMessage::text(&role, text)),
            Content::Blocks(blocks) => {
                out.extend(blocks_message(i, &role, blocks, &mut call_names)?);
            }
        }
    }
    Ok(out)
}

/// One Anthropic message of blocks → tool messages first, then the text (and
/// calls) of the message itself.
fn blocks_message(
    i: usize,
    role: &str,
    blocks: Vec<Block>,
    call_names: &mut HashMap<String, String>,
) -> Result<Vec<ChatMessage>, ValidationError> {
    let mut out = Vec::new();
    let mut texts = Vec::new();
    let mut calls = Vec::new();
    for (j, block) in blocks.into_iter().enumerate() {
        let field = format!("messages[{i}].content[{j}]");
        match block {
            Block::Text { text } => texts.push(text),
            Block::ToolUse { id, name, input } if role == "assistant" => {
                call_names.insert(id.clone(), name.clone());
                calls.push(json!({ "id": id, "type": "function",
                                   "function": { "name": name, "arguments": input } }));
            }
            Block::ToolResult {
                tool_use_id,
                content,
                is_error,
            } if role == "user" => {
                let mut text = match content {
                    None => String::new(),
                    Some(ToolResultContent::Text(text)) => text,
                    Some(ToolResultContent::Blocks(blocks)) => {
                        blocks_text(&format!("{field}.content"), blocks)?
                    }
                };
                if is_error == Some(true) {
                    text = format!("Error: {text}");
                }
                out.push(ChatMessage {
                    role: "tool".to_owned(),
                    content: text,
                    tool_calls: Vec::new(),
                    name: call_names.get(&tool_use_id).cloned(),
                    tool_call_id: Some(tool_use_id),
                });
            }
            Block::ToolUse { .. } | Block::ToolResult { .. } => {
                return Err(ValidationError::new(
                    format!("{field}.type"),
                    format!(
                        "{field}: tool_use blocks belong in assistant messages and \
                         tool_result blocks in user messages"
                    ),
                ));
            }
            Block::Unsupported => return Err(unsupported_block(&field)),
        }
    }
    if !texts.is_empty() || !calls.is_empty() {
        out.push(ChatMessage {
            role: role.to_owned(),
            content: texts.join("\n"),
            tool_calls: calls,
            tool_call_id: None,
            name: None,
        });
    }
    Ok(out)
}

fn blocks_text(field: &str, blocks: Vec<Block>) -> Result<String, ValidationError> {
    let mut texts = Vec::new();
    for (j, block) in blocks.into_iter().enumerate() {
        match block {
            Block::Text { text } => texts.push(text),
            _ => return Err(unsupported_block(&format!("{field}[{j}]"))),
        }
    }
    Ok(texts.join("\n"))
}

fn unsupported_block(field: &str) -> ValidationError {
    ValidationError::new(
        format!("{field}.type"),
        format!(
            "{field}: only text, tool_use and tool_result blocks are supported \
             (the models served here read text only)"
        ),
    )
}

fn tools(wire: Vec<Tool>) -> Result<Vec<ToolSpec>, ValidationError> {
    wire.into_iter()
        .enumerate()
        .map(|(i, t)| {
            tool_spec(
                &format!("tools[{i}]"),
                t.name,
                t.description,
                t.input_schema,
            )
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::Value;

    fn parse(body: Value) -> Result<ValidChatRequest, ValidationError> {
        ValidChatRequest::try_from(serde_json::from_value::<MessagesRequest>(body).unwrap())
    }

    #[test]
    fn blocks_become_template_messages() {
        let v = parse(json!({
            "model": "m", "max_tokens": 50, "system": [{"type": "text", "text": "sys"}],
            "messages": [
                {"role": "user", "content": "weather in Oslo?"},
                {"role": "assistant", "content": [
                    {"type": "text", "text": "checking"},
                    {"type": "tool_use", "id": "tu1", "name": "get_weather", "input": {"city": "Oslo"}}]},
                {"role": "user", "content": [
                    {"type": "tool_result", "tool_use_id": "tu1", "content": "sunny"},
                    {"type": "text", "text": "thanks"}]}
            ],
            "tools": [{"name": "get_weather", "input_schema": {"type": "object"}}],
            "tool_choice": {"type": "any"},
            "stop_sequences": ["\n\n"]
        }))
        .unwrap();
        let roles: Vec<&str> = v.messages.iter().map(|m| m.role.as_str()).collect();
        assert_eq!(roles, ["system", "user", "assistant", "tool", "user"]);
        assert_eq!(
            v.messages[2].tool_calls[0]["function"]["arguments"]["city"],
            "Oslo"
        );
        assert_eq!(v.messages[3].name.as_deref(), Some("get_weather"));
        assert_eq!(v.tool_choice, ToolChoice::Required);
        assert_eq!(v.params.max_tokens, Some(50));
    }

    #[test]
    fn errors_name_the_field() {
        let base = |extra: Value| {
            let mut body = json!({"model": "m", "max_tokens": 5,
                                  "messages": [{"role": "user", "content": "x"}]});
            for (k, v) in extra.as_object().unwrap() {
                body[k] = v.clone();
            }
            body
        };
        for (extra, field) in [
            (json!({"max_tokens": 0}), "max_tokens"),
            (json!({"temperature": 1.5}), "temperature"),
            (
                json!({"messages": [{"role": "system", "content": "x"}]}),
                "messages[0].role",
            ),
            (
                json!({"messages": [{"role": "user", "content": [{"type": "image", "source": {}}]}]}),
                "messages[0].content[0].type",
            ),
            (json!({"tool_choice": {"type": "tool"}}), "tool_choice.name"),
            (json!({"tool_choice": {"type": "any"}}), "tool_choice"),
        ] {
            assert_eq!(
                parse(base(extra.clone())).unwrap_err().field,
                field,
                "{extra}"
            );
        }
    }
}
