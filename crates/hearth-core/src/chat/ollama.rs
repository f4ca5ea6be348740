//! Ollama wire requests → validated requests. `options` become sampling
//! parameters, `format` an output constraint; `stream` defaults to true as in
//! Ollama. An empty prompt or message list is Ollama's "load the model" request.

use hearth_types::ollama::{ChatRequest, GenerateRequest, Message, Options, Tool};
use serde_json::{Value, json};

use super::openai::tool_spec;
use super::{ToolChoice, ToolSpec, ValidChatRequest, ValidCompletionRequest};
use crate::backend::{ChatMessage, OutputConstraint, SamplingParams};
use crate::validate::{ValidationError, in_range_f32, model_name, stop_strings};

/// What an `/api/generate` request asks for.
#[derive(Debug, Clone, PartialEq)]
pub enum ValidGenerate {
    /// Empty prompt: only load the model (answered at once with `done_reason: load`).
    Load(String),
    /// The prompt (and `system`) through the chat template.
    Chat(ValidChatRequest),
    /// `raw`: the prompt as is.
    Raw(ValidCompletionRequest),
}

/// `options` → sampling parameters.
pub fn sampling(options: Option<Options>) -> Result<SamplingParams, ValidationError> {
    let o = options.unwrap_or_default();
    let max_tokens = match o.num_predict {
        None => None,
        Some(n) if n < 0 => None,
        Some(0) => {
            return Err(ValidationError::new(
                "options.num_predict",
                "options.num_predict must be positive, or -1 for no limit",
            ));
        }
        Some(n) => Some(u32::try_from(n).unwrap_or(u32::MAX)),
    };
    Ok(SamplingParams {
        max_tokens,
        temperature: in_range_f32("options.temperature", o.temperature, 0.0, 2.0)?,
        top_p: in_range_f32("options.top_p", o.top_p, 0.0, 1.0)?,
        top_k: o.top_k,
        min_p: in_range_f32("options.min_p", o.min_p, 0.0, 1.0)?,
        repeat_penalty: in_range_f32("options.repeat_penalty", o.repeat_penalty, 0.0, 10.0)?,
        frequency_penalty: in_range_f32(
            "options.frequency_penalty",
            o.frequency_penalty,
            -2.0,
            2.0,
        )?,
        presence_penalty: in_range_f32("options.presence_penalty", o.presence_penalty, -2.0, 2.0)?,
        seed: o.seed.map(|s| s as u64),
        stop: stop_strings("options.stop", o.stop.unwrap_or_default())?,
        ..SamplingParams::default()
    })
}

/// `format`: absent or empty → free text, `"json"` → JSON, an object → its schema.
pub fn format(format: Option<Value>) -> Result<OutputConstraint, ValidationError> {
    match format {
        None | Some(Value::Null) => Ok(OutputConstraint::None),
        Some(Value::String(s)) if s.is_empty() => Ok(OutputConstraint::None),
        Some(Value::String(s)) if s == "json" => Ok(OutputConstraint::JsonObject),
        Some(schema @ Value::Object(_)) => Ok(OutputConstraint::JsonSchema(schema)),
        Some(_) => Err(ValidationError::new(
            "format",
            "format must be \"json\" or a JSON Schema object",
        )),
    }
}

impl TryFrom<ChatRequest> for ValidChatRequest {
    type Error = ValidationError;

    fn try_from(r: ChatRequest) -> Result<Self, Self::Error> {
        let model = model_name(&r.model)?;
        if r.messages.is_empty() {
            return Err(ValidationError::new(
                "messages",
                "messages must hold at least one message",
            ));
        }
        let messages = r
            .messages
            .into_iter()
            .enumerate()
            .map(|(i, m)| message(i, m))
            .collect::<Result<Vec<_>, _>>()?;
        let mut params = sampling(r.options)?;
        params.constraint = format(r.format)?;
        let tools = tools(r.tools.unwrap_or_default())?;
        Ok(ValidChatRequest {
            model,
            messages,
            tool_choice: if tools.is_empty() {
                ToolChoice::None
            } else {
                ToolChoice::Auto
            },
            tools,
            params,
            n: 1,
            stream: r.stream.unwrap_or(true),
            include_usage: false,
        })
    }
}

impl TryFrom<GenerateRequest> for ValidGenerate {
    type Error = ValidationError;

    fn try_from(r: GenerateRequest) -> Result<Self, Self::Error> {
        let model = model_name(&r.model)?;
        if r.images.as_ref().is_some_and(|i| !i.is_empty()) {
            return Err(no_images("images"));
        }
        if r.template.as_deref().is_some_and(|t| !t.is_empty()) {
            return Err(ValidationError::new(
                "template",
                "template overrides are not supported; the model's own template is used",
            ));
        }
        let prompt = r.prompt.unwrap_or_default();
        if prompt.is_empty() {
            return Ok(ValidGenerate::Load(model));
        }
        let mut params = sampling(r.options)?;
        params.constraint = format(r.format)?;
        let stream = r.stream.unwrap_or(true);
        let suffix = r.suffix.filter(|s| !s.is_empty());
        // With a suffix, the model's FIM tokens frame the prompt (no chat template).
        if r.raw.unwrap_or(false) || suffix.is_some() {
            return Ok(ValidGenerate::Raw(ValidCompletionRequest {
                model,
                prompts: vec![prompt],
                suffix,
                echo: false,
                params,
                n: 1,
                stream,
                include_usage: false,
            }));
        }
        let mut messages = Vec::new();
        if let Some(system) = r.system.filter(|s| !s.is_empty()) {
            messages.push(ChatMessage::text("system", system));
        }
        messages.push(ChatMessage::text("user", prompt));
        Ok(ValidGenerate::Chat(ValidChatRequest {
            model,
            messages,
            tools: Vec::new(),
            tool_choice: ToolChoice::None,
            params,
            n: 1,
            stream,
            include_usage: false,
        }))
    }
}

fn no_images(field: &str) -> ValidationError {
    ValidationError::new(
        field,
        format!("{field}: images are not supported (the models served here read text only)"),
    )
}

fn message(i: usize, m: Message) -> Result<ChatMessage, ValidationError> {
    if !matches!(m.role.as_str(), "system" | "user" | "assistant" | "tool") {
        return Err(ValidationError::new(
            format!("messages[{i}].role"),
            format!(
                "messages[{i}].role must be one of system, user, assistant, tool; got '{}'",
                m.role
            ),
        ));
    }
    if m.images.as_ref().is_some_and(|i| !i.is_empty()) {
        return Err(no_images(&format!("messages[{i}].images")));
    }
    let tool_calls = m
        .tool_calls
        .unwrap_or_default()
        .into_iter()
        .map(|c| {
            json!({ "type": "function",
                    "function": { "name": c.function.name, "arguments": c.function.arguments } })
        })
        .collect();
    Ok(ChatMessage {
        name: m.tool_name.filter(|_| m.role == "tool"),
        role: m.role,
        content: m.content,
        tool_calls,
        tool_call_id: None,
    })
}

fn tools(wire: Vec<Tool>) -> Result<Vec<ToolSpec>, ValidationError> {
    wire.into_iter()
        .enumerate()
        .map(|(i, t)| {
            let f = t.function;
            tool_spec(
                &format!("tools[{i}].function"),
                f.name,
                f.description,
                f.parameters,
            )
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chat_defaults_to_streaming_and_maps_options() {
        let r: ChatRequest = serde_json::from_value(json!({
            "model": "m", "messages": [{"role": "user", "content": "hi"}],
            "options": {"num_predict": 5, "temperature": 0, "stop": ["x"], "mirostat": 1},
            "format": "json", "keep_alive": "5m", "think": false
        }))
        .unwrap();
        let v = ValidChatRequest::try_from(r).unwrap();
        assert!(v.stream);
        assert_eq!(v.params.max_tokens, Some(5));
        assert_eq!(v.params.temperature, Some(0.0));
        assert_eq!(v.params.constraint, OutputConstraint::JsonObject);
    }

    #[test]
    fn generate_variants() {
        let parse = |body: Value| {
            ValidGenerate::try_from(serde_json::from_value::<GenerateRequest>(body).unwrap())
        };
        assert_eq!(
            parse(json!({"model": "m"})).unwrap(),
            ValidGenerate::Load("m".into())
        );
        let ValidGenerate::Raw(raw) = parse(json!({"model": "m", "prompt": "p", "raw": true,
            "options": {"num_predict": -1}, "stream": false}))
        .unwrap() else {
            panic!("raw expected")
        };
        assert_eq!((raw.params.max_tokens, raw.stream), (None, false));
        let ValidGenerate::Chat(chat) = parse(json!({"model": "m", "prompt": "p", "system": "s",
            "format": {"type": "object"}}))
        .unwrap() else {
            panic!("chat expected")
        };
        assert_eq!(chat.messages.len(), 2);
        assert!(matches!(
            chat.params.constraint,
            OutputConstraint::JsonSchema(_)
        ));
        match ValidGenerate::try_from(
            serde_json::from_value::<GenerateRequest>(
                json!({"model": "m", "prompt": "def f(", "suffix": "    return x"}),
            )
            .unwrap(),
        )
        .unwrap()
        {
            ValidGenerate::Raw(r) => assert_eq!(r.suffix.as_deref(), Some("    return x")),
            _ => panic!("a suffix makes a fill-in-the-middle completion"),
        }
        for (body, field) in [
            (json!({"model": "m", "prompt": "p", "format": 3}), "format"),
            (
                json!({"model": "m", "prompt": "p", "options": {"num_predict": 0}}),
                "options.num_predict",
            ),
            (
                json!({"model": "m", "prompt": "p", "options": {"top_p": 3}}),
                "options.top_p",
            ),
            (
                json!({"model": "m", "prompt": "p", "images": ["aGk="]}),
                "images",
            ),
        ] {
            assert_eq!(parse(body.clone()).unwrap_err().field, field, "{body}");
        }
    }
}
