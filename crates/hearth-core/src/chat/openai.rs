//! OpenAI wire requests → validated requests. Every error names the field (as
//! OpenAI's `param`) and what is accepted.

use std::collections::{BTreeMap, HashMap};

use hearth_types::openai::{
    ChatCompletionRequest, ChatMessageIn, CompletionRequest, MessageContent, ResponseFormat,
    TextOrTokens, Tool, ToolChoice as WireToolChoice,
};
use serde_json::{Value, json};

use super::{MAX_CHOICES, ToolChoice, ToolSpec, ValidChatRequest, ValidCompletionRequest};
use crate::backend::{ChatMessage, OutputConstraint, SamplingParams};
use crate::validate::{ValidationError, in_range_f32, in_range_u32, model_name, stop_strings};

/// Most prompts one `/v1/completions` request may hold.
pub const MAX_PROMPTS: usize = 64;

impl TryFrom<ChatCompletionRequest> for ValidChatRequest {
    type Error = ValidationError;

    fn try_from(r: ChatCompletionRequest) -> Result<Self, Self::Error> {
        let model = model_name(&r.model)?;
        let messages = messages(r.messages)?;
        let n = in_range_u32("n", r.n, 1, MAX_CHOICES)?.unwrap_or(1);
        let (field, max_tokens) = match (r.max_completion_tokens, r.max_tokens) {
            (Some(v), _) => ("max_completion_tokens", Some(v)),
            (None, v) => ("max_tokens", v),
        };
        in_range_u32(field, max_tokens, 1, u32::MAX)?;
        let top_logprobs = in_range_u32("top_logprobs", r.top_logprobs, 0, 20)?.unwrap_or(0);
        let params = SamplingParams {
            max_tokens,
            temperature: in_range_f32("temperature", r.temperature, 0.0, 2.0)?,
            top_p: in_range_f32("top_p", r.top_p, 0.0, 1.0)?,
            top_k: r.top_k,
            min_p: in_range_f32("min_p", r.min_p, 0.0, 1.0)?,
            repeat_penalty: in_range_f32("repetition_penalty", r.repetition_penalty, 0.0, 10.0)?,
            frequency_penalty: in_range_f32("frequency_penalty", r.frequency_penalty, -2.0, 2.0)?,
            presence_penalty: in_range_f32("presence_penalty", r.presence_penalty, -2.0, 2.0)?,
            logit_bias: logit_bias(r.logit_bias)?,
            seed: r.seed.map(|s| s as u64),
            stop: stop_strings("stop", r.stop.map(|s| s.into_vec()).unwrap_or_default())?,
            top_logprobs: top_logprobs as u8,
            logprobs: r.logprobs.unwrap_or(false) || top_logprobs > 0,
            constraint: response_format(r.response_format)?,
            ignore_eos: r.ignore_eos.unwrap_or(false),
        };
        let tools = tools(r.tools.unwrap_or_default())?;
        let tool_choice = tool_choice(r.tool_choice, &tools)?;
        let stream = r.stream.unwrap_or(false);
        Ok(ValidChatRequest {
            model,
            messages,
            tools,
            tool_choice,
            params,
            n,
            stream,
            include_usage: stream
                && r.stream_options
                    .and_then(|o| o.include_usage)
                    .unwrap_or(false),
        })
    }
}

impl TryFrom<CompletionRequest> for ValidCompletionRequest {
    type Error = ValidationError;

    fn try_from(r: CompletionRequest) -> Result<Self, Self::Error> {
        let model = model_name(&r.model)?;
        let prompts = match r.prompt {
            None => return Err(ValidationError::new("prompt", "prompt is required")),
            Some(TextOrTokens::Text(text)) => vec![text],
            Some(TextOrTokens::Texts(texts)) if !texts.is_empty() => texts,
            Some(TextOrTokens::Texts(_)) => {
                return Err(ValidationError::new(
                    "prompt",
                    "prompt must hold at least one string",
                ));
            }
            Some(_) => {
                return Err(ValidationError::new(
                    "prompt",
                    "token-id prompts are not supported; send the prompt as text",
                ));
            }
        };
        if prompts.len() > MAX_PROMPTS {
            return Err(ValidationError::new(
                "prompt",
                format!(
                    "prompt takes at most {MAX_PROMPTS} strings, got {}",
                    prompts.len()
                ),
            ));
        }
        let n = in_range_u32("n", r.n, 1, MAX_CHOICES)?.unwrap_or(1);
        if r.best_of.is_some_and(|b| b != n) {
            return Err(ValidationError::new(
                "best_of",
                "best_of is not supported (only best_of equal to n)",
            ));
        }
        let top = in_range_u32("logprobs", r.logprobs, 0, 5)?;
        let max_tokens = in_range_u32("max_tokens", r.max_tokens, 1, u32::MAX)?.unwrap_or(16);
        let params = SamplingParams {
            max_tokens: Some(max_tokens),
            temperature: in_range_f32("temperature", r.temperature, 0.0, 2.0)?,
            top_p: in_range_f32("top_p", r.top_p, 0.0, 1.0)?,
            frequency_penalty: in_range_f32("frequency_penalty", r.frequency_penalty, -2.0, 2.0)?,
            presence_penalty: in_range_f32("presence_penalty", r.presence_penalty, -2.0, 2.0)?,
            logit_bias: logit_bias(r.logit_bias)?,
            seed: r.seed.map(|s| s as u64),
            stop: stop_strings("stop", r.stop.map(|s| s.into_vec()).unwrap_or_default())?,
            logprobs: top.is_some(),
            top_logprobs: top.unwrap_or(0) as u8,
            ignore_eos: r.ignore_eos.unwrap_or(false),
            ..SamplingParams::default()
        };
        let stream = r.stream.unwrap_or(false);
        let suffix = r.suffix.filter(|s| !s.is_empty());
        if suffix.is_some() && r.echo == Some(true) {
            return Err(ValidationError::new(
                "echo",
                "echo cannot be combined with suffix (fill-in-the-middle)",
            ));
        }
        Ok(ValidCompletionRequest {
            model,
            prompts,
            suffix,
            echo: r.echo.unwrap_or(false),
            params,
            n,
            stream,
            include_usage: stream
                && r.stream_options
                    .and_then(|o| o.include_usage)
                    .unwrap_or(false),
        })
    }
}

fn messages(wire: Vec<ChatMessageIn>) -> Result<Vec<ChatMessage>, ValidationError> {
    if wire.is_empty() {
        return Err(ValidationError::new(
            "messages",
            "messages must hold at least one message",
        ));
    }
    let mut call_names = HashMap::new();
    wire.into_iter()
        .enumerate()
        .map(|(i, m)| message(i, m, &mut call_names))
        .collect()
}

fn message(
    i: usize,
    m: ChatMessageIn,
    call_names: &mut HashMap<String, String>,
) -> Result<ChatMessage, ValidationError> {
    let role = match m.role.as_str() {
        "system" | "developer" => "system",
        "user" => "user",
        "assistant" => "assistant",
        "tool" | "function" => "tool",
        other => {
            return Err(ValidationError::new(
                format!("messages[{i}].role"),
                format!(
                    "messages[{i}].role must be one of system, developer, user, assistant, \
                     tool; got '{other}'"
                ),
            ));
        }
    };
    let content = match m.content {
        None => None,
        Some(MessageContent::Text(text)) => Some(text),
        Some(MessageContent::Parts(parts)) => Some(text_parts(i, parts)?),
    };
    let tool_calls: Vec<Value> = m
        .tool_calls
        .unwrap_or_default()
        .into_iter()
        .map(|call| {
            call_names.insert(call.id.clone(), call.function.name.clone());
            let arguments = serde_json::from_str(&call.function.arguments)
                .unwrap_or(Value::String(call.function.arguments));
            json!({ "id": call.id, "type": "function",
                    "function": { "name": call.function.name, "arguments": arguments } })
        })
        .collect();
    let is_call_only = role == "assistant" && !tool_calls.is_empty();
    if content.is_none() && !is_call_only {
        return Err(ValidationError::new(
            format!("messages[{i}].content"),
            format!("messages[{i}].content is required for a {} message", m.role),
        ));
    }
    let name = match role {
        "tool" => m
            .tool_call_id
            .as_ref()
            .and_then(|id| call_names.get(id).cloned())
            .or(m.name),
        _ => None,
    };
    Ok(ChatMessage {
        role: role.to_owned(),
        content: content.unwrap_or_default(),
        tool_calls,
        tool_call_id: m.tool_call_id.filter(|_| role == "tool"),
        name,
    })
}

fn text_parts(
    i: usize,
    parts: Vec<hearth_types::openai::ContentPart>,
) -> Result<String, ValidationError> {
    let mut texts = Vec::with_capacity(parts.len());
    for (j, part) in parts.into_iter().enumerate() {
        match (part.kind.as_str(), part.text) {
            ("text" | "input_text", Some(text)) => texts.push(text),
            ("text" | "input_text", None) => {
                return Err(ValidationError::new(
                    format!("messages[{i}].content[{j}].text"),
                    format!("messages[{i}].content[{j}].text is required for a text part"),
                ));
            }
            (other, _) => {
                return Err(ValidationError::new(
                    format!("messages[{i}].content[{j}].type"),
                    format!(
                        "only text content parts are supported; got '{other}' \
                         (the models served here read text only)"
                    ),
                ));
            }
        }
    }
    Ok(texts.join("\n"))
}

fn logit_bias(bias: Option<BTreeMap<String, f32>>) -> Result<Vec<(i32, f32)>, ValidationError> {
    bias.unwrap_or_default()
        .into_iter()
        .map(|(token, value)| {
            let id = token.parse::<i32>().map_err(|_| {
                ValidationError::new(
                    "logit_bias",
                    format!("logit_bias keys must be token ids (integers); got '{token}'"),
                )
            })?;
            in_range_f32("logit_bias", Some(value), -100.0, 100.0)?;
            Ok((id, value))
        })
        .collect()
}

fn response_format(format: Option<ResponseFormat>) -> Result<OutputConstraint, ValidationError> {
    Ok(match format {
        None | Some(ResponseFormat::Text) => OutputConstraint::None,
        Some(ResponseFormat::JsonObject) => OutputConstraint::JsonObject,
        Some(ResponseFormat::JsonSchema { json_schema }) => match json_schema.schema {
            Some(schema @ Value::Object(_)) => OutputConstraint::JsonSchema(schema),
            _ => {
                return Err(ValidationError::new(
                    "response_format.json_schema.schema",
                    "response_format.json_schema.schema must be a JSON Schema object",
                ));
            }
        },
    })
}

/// Validate function tools (shared with the Ollama lane).
pub(crate) fn tool_spec(
    field: &str,
    name: String,
    description: Option<String>,
    parameters: Option<Value>,
) -> Result<ToolSpec, ValidationError> {
    let is_valid_name = !name.is_empty()
        && name.len() <= 64
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-' || c == '.');
    if !is_valid_name {
        return Err(ValidationError::new(
            format!("{field}.name"),
            format!("{field}.name must be 1 to 64 letters, digits, '_', '-' or '.'; got '{name}'"),
        ));
    }
    let parameters = match parameters {
        None | Some(Value::Null) => json!({ "type": "object", "properties": {} }),
        Some(p @ Value::Object(_)) => p,
        Some(_) => {
            return Err(ValidationError::new(
                format!("{field}.parameters"),
                format!("{field}.parameters must be a JSON Schema object"),
            ));
        }
    };
    Ok(ToolSpec {
        name,
        description,
        parameters,
    })
}

fn tools(wire: Vec<Tool>) -> Result<Vec<ToolSpec>, ValidationError> {
    wire.into_iter()
        .enumerate()
        .map(|(i, tool)| {
            if tool.kind != "function" {
                return Err(ValidationError::new(
                    format!("tools[{i}].type"),
                    format!("tools[{i}].type must be 'function'; got '{}'", tool.kind),
                ));
            }
            let f = tool.function;
            tool_spec(
                &format!("tools[{i}].function"),
                f.name,
                f.description,
                f.parameters,
            )
        })
        .collect()
}

fn tool_choice(
    wire: Option<WireToolChoice>,
    tools: &[ToolSpec],
) -> Result<ToolChoice, ValidationError> {
    let choice = match wire {
        None if tools.is_empty() => ToolChoice::None,
        None => ToolChoice::Auto,
        Some(WireToolChoice::Mode(mode)) => match mode.as_str() {
            "none" => ToolChoice::None,
            "auto" => ToolChoice::Auto,
            "required" => ToolChoice::Required,
            other => {
                return Err(ValidationError::new(
                    "tool_choice",
                    format!(
                        "tool_choice must be 'none', 'auto', 'required' or a named function; \
                         got '{other}'"
                    ),
                ));
            }
        },
        Some(WireToolChoice::Named(named)) => ToolChoice::Named(named.function.name),
    };
    check_tool_choice(&choice, tools, "tool_choice", "tool_choice.function.name")?;
    Ok(choice)
}

/// `required` needs tools; a named choice must name one of them.
pub(crate) fn check_tool_choice(
    choice: &ToolChoice,
    tools: &[ToolSpec],
    field: &str,
    name_field: &str,
) -> Result<(), ValidationError> {
    match choice {
        ToolChoice::Required if tools.is_empty() => Err(ValidationError::new(
            field,
            format!("{field} requires a tool call but tools is empty"),
        )),
        ToolChoice::Named(name) if !tools.iter().any(|t| &t.name == name) => {
            Err(ValidationError::new(
                name_field,
                format!("{name_field} names '{name}', which is not in tools"),
            ))
        }
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chat(body: Value) -> Result<ValidChatRequest, ValidationError> {
        let wire: ChatCompletionRequest = serde_json::from_value(body).unwrap();
        ValidChatRequest::try_from(wire)
    }

    fn base() -> Value {
        json!({"model": "m", "messages": [{"role": "user", "content": "hi"}]})
    }

    fn with(extra: Value) -> Value {
        let mut body = base();
        for (k, v) in extra.as_object().unwrap() {
            body[k] = v.clone();
        }
        body
    }

    #[test]
    fn sdk_shapes_are_accepted() {
        let v = chat(json!({
            "model": "m",
            "messages": [
                {"role": "developer", "content": [{"type": "text", "text": "be brief"}]},
                {"role": "user", "content": "weather?", "name": "ann"},
                {"role": "assistant", "content": null, "tool_calls": [
                    {"id": "c1", "type": "function",
                     "function": {"name": "get_weather", "arguments": "{\"city\":\"Oslo\"}"}}]},
                {"role": "tool", "tool_call_id": "c1", "content": "sunny"}
            ],
            "stop": "END", "n": 2, "seed": 7, "stream": true,
            "stream_options": {"include_usage": true},
            "max_completion_tokens": 20, "unknown_future_field": {"x": 1},
            "temperature": null, "response_format": {"type": "json_object"}
        }))
        .unwrap();
        assert_eq!(v.messages[0].role, "system");
        assert_eq!(v.messages[0].content, "be brief");
        assert_eq!(
            v.messages[2].tool_calls[0]["function"]["arguments"]["city"],
            "Oslo"
        );
        assert_eq!(v.messages[3].name.as_deref(), Some("get_weather"));
        assert_eq!(v.params.stop, vec!["END"]);
        assert_eq!(
            (v.n, v.params.seed, v.params.max_tokens),
            (2, Some(7), Some(20))
        );
        assert!(v.stream && v.include_usage);
        assert_eq!(v.params.constraint, OutputConstraint::JsonObject);
        assert_eq!(v.tool_choice, ToolChoice::None);
    }

    #[test]
    fn out_of_range_values_name_the_field() {
        for (extra, field) in [
            (json!({"temperature": 2.5}), "temperature"),
            (json!({"top_p": -0.1}), "top_p"),
            (json!({"n": 0}), "n"),
            (json!({"n": 17}), "n"),
            (json!({"max_tokens": 0}), "max_tokens"),
            (json!({"top_logprobs": 21}), "top_logprobs"),
            (json!({"presence_penalty": 3}), "presence_penalty"),
            (json!({"logit_bias": {"abc": 1}}), "logit_bias"),
            (json!({"stop": vec!["x"; 17]}), "stop"),
            (json!({"model": " "}), "model"),
            (json!({"messages": []}), "messages"),
            (
                json!({"messages": [{"role": "wizard", "content": "x"}]}),
                "messages[0].role",
            ),
            (
                json!({"messages": [{"role": "user"}]}),
                "messages[0].content",
            ),
            (
                json!({"messages": [{"role": "user", "content": [{"type": "image_url"}]}]}),
                "messages[0].content[0].type",
            ),
            (
                json!({"response_format": {"type": "json_schema", "json_schema": {"name": "x"}}}),
                "response_format.json_schema.schema",
            ),
            (json!({"tool_choice": "required"}), "tool_choice"),
            (json!({"tool_choice": "sometimes"}), "tool_choice"),
        ] {
            let err = chat(with(extra.clone())).unwrap_err();
            assert_eq!(err.field, field, "{extra}: {}", err.message);
        }
    }

    #[test]
    fn tools_and_tool_choice() {
        let tools = json!([{"type": "function", "function": {"name": "add",
            "parameters": {"type": "object", "properties": {"a": {"type": "number"}}}}}]);
        let v = chat(with(json!({"tools": tools}))).unwrap();
        assert_eq!(v.tool_choice, ToolChoice::Auto);
        assert_eq!(v.tools[0].name, "add");
        let v = chat(with(json!({"tools": tools,
            "tool_choice": {"type": "function", "function": {"name": "add"}}})))
        .unwrap();
        assert_eq!(v.tool_choice, ToolChoice::Named("add".into()));
        let err = chat(with(json!({"tools": tools,
            "tool_choice": {"type": "function", "function": {"name": "sub"}}})))
        .unwrap_err();
        assert_eq!(err.field, "tool_choice.function.name");
        let err = chat(with(
            json!({"tools": [{"type": "function", "function": {"name": "bad name"}}]}),
        ))
        .unwrap_err();
        assert_eq!(err.field, "tools[0].function.name");
    }

    #[test]
    fn completion_prompts_and_refusals() {
        let parse = |body: Value| {
            ValidCompletionRequest::try_from(
                serde_json::from_value::<CompletionRequest>(body).unwrap(),
            )
        };
        let v = parse(
            json!({"model": "m", "prompt": ["a", "b"], "n": 2, "logprobs": 2,
                             "echo": true}),
        )
        .unwrap();
        assert_eq!(v.prompts.len(), 2);
        assert!(v.echo && v.params.logprobs);
        assert_eq!((v.params.top_logprobs, v.params.max_tokens), (2, Some(16)));
        for (body, field) in [
            (json!({"model": "m"}), "prompt"),
            (json!({"model": "m", "prompt": [1, 2]}), "prompt"),
            (
                json!({"model": "m", "prompt": "a", "suffix": "b", "echo": true}),
                "echo",
            ),
            (
                json!({"model": "m", "prompt": "a", "best_of": 3}),
                "best_of",
            ),
            (
                json!({"model": "m", "prompt": "a", "logprobs": 9}),
                "logprobs",
            ),
        ] {
            assert_eq!(parse(body.clone()).unwrap_err().field, field, "{body}");
        }
    }
}
