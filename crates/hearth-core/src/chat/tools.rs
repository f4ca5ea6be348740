//! Tool calling around a model that only produces text: the tool definitions
//! handed to the chat template, the JSON Schema that forces a call
//! (`tool_choice` required or named), and the parsers that recognise calls in the
//! output, for the common formats:
//!
//! - Hermes / Qwen: `<tool_call>{"name": …, "arguments": {…}}</tool_call>` (repeated),
//! - Llama 3: bare JSON `{"name": …, "parameters": {…}}` (also after `<|python_tag|>`,
//!   several separated by `;`), or a list of them,
//! - Mistral: `[TOOL_CALLS][{"name": …, "arguments": {…}}, …]` and the newer
//!   `[TOOL_CALLS]name[ARGS]{…}`.
//!
//! All formats are tried on every output rather than chosen from the template:
//! small models drift between them, and the markers do not collide with prose.
//! A parsed call only counts when its name is one of the request's tools.
//!
//! [`ToolCallSplitter`] does this on a stream: text before a call marker is let
//! through as it arrives (holding back only what could be the start of a marker);
//! from a marker on, or when the answer opens with JSON, the rest is held and
//! parsed at the end. Held text that turns out not to be a call is released then.

use serde_json::{Value, json};

/// A function the model may call.
#[derive(Debug, Clone, PartialEq)]
pub struct ToolSpec {
    /// Name the model calls it by.
    pub name: String,
    /// What it does.
    pub description: Option<String>,
    /// JSON Schema of the arguments (an object schema).
    pub parameters: Value,
}

impl ToolSpec {
    /// The OpenAI function-tool object chat templates expect.
    pub fn template_value(&self) -> Value {
        let mut function = json!({ "name": self.name, "parameters": self.parameters });
        if let Some(description) = &self.description {
            function["description"] = json!(description);
        }
        json!({ "type": "function", "function": function })
    }
}

/// Whether and how the model may call tools.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum ToolChoice {
    /// Never: tools are not even shown to the model.
    None,
    /// The model decides; calls are recognised in its output.
    #[default]
    Auto,
    /// The model must call one of the tools (enforced by a JSON Schema).
    Required,
    /// The model must call this tool (enforced by a JSON Schema).
    Named(String),
}

/// A call recognised in the output.
#[derive(Debug, Clone, PartialEq)]
pub struct ToolCall {
    /// Call id (`call_…`), unique within the response.
    pub id: String,
    /// Function name (one of the request's tools).
    pub name: String,
    /// Arguments, usually an object.
    pub arguments: Value,
}

impl ToolCall {
    /// A call with a fresh id.
    pub fn new(name: String, arguments: Value) -> Self {
        let id = uuid::Uuid::new_v4().simple().to_string();
        ToolCall {
            id: format!("call_{}", &id[..24]),
            name,
            arguments,
        }
    }

    /// Arguments as JSON text (OpenAI's `arguments` string).
    pub fn arguments_text(&self) -> String {
        self.arguments.to_string()
    }
}

/// The schema a forced call's output must follow: one JSON object
/// `{"name": <tool>, "arguments": <its parameters>}`; parsed back as a Llama-3
/// style call.
pub fn forced_call_schema(tools: &[&ToolSpec]) -> Value {
    let one = |tool: &&ToolSpec| {
        json!({
            "type": "object",
            "properties": {
                "name": { "type": "string", "const": tool.name },
                "arguments": tool.parameters,
            },
            "required": ["name", "arguments"],
            "additionalProperties": false,
        })
    };
    match tools {
        [tool] => one(tool),
        many => json!({ "anyOf": many.iter().map(one).collect::<Vec<_>>() }),
    }
}

const MARKERS: &[&str] = &["<tool_call>", "[TOOL_CALLS]", "<|python_tag|>"];

/// Every call found in `text` whose name is in `names`, in order; empty when the
/// text holds no recognisable call.
pub fn parse_tool_calls(text: &str, names: &[String]) -> Vec<ToolCall> {
    let candidates = if text.contains("<tool_call>") {
        parse_hermes(text)
    } else if let Some((_, rest)) = text.split_once("[TOOL_CALLS]") {
        parse_mistral(rest)
    } else if let Some((_, rest)) = text.split_once("<|python_tag|>") {
        json_calls(rest)
    } else {
        json_calls(strip_fence(text))
    };
    candidates
        .into_iter()
        .filter(|(name, _)| names.iter().any(|n| n == name))
        .map(|(name, arguments)| ToolCall::new(name, arguments))
        .collect()
}

fn parse_hermes(text: &str) -> Vec<(String, Value)> {
    text.split("<tool_call>")
        .skip(1)
        .flat_map(|part| {
            let body = part.split("</tool_call>").next().unwrap_or(part);
            json_calls(body)
        })
        .collect()
}

fn parse_mistral(rest: &str) -> Vec<(String, Value)> {
    let trimmed = rest.trim_start();
    if trimmed.starts_with('[') || trimmed.starts_with('{') {
        return json_calls(trimmed);
    }
    // Newer format: `name[ARGS]{json}`, repeated with `[TOOL_CALLS]` between calls.
    rest.split("[TOOL_CALLS]")
        .filter_map(|part| {
            let (name, args) = part.split_once("[ARGS]")?;
            let args = json_values(args).into_iter().next()?;
            Some((name.trim().to_owned(), normalize_arguments(args)))
        })
        .collect()
}

fn strip_fence(text: &str) -> &str {
    let trimmed = text.trim();
    let Some(inner) = trimmed.strip_prefix("```") else {
        return trimmed;
    };
    let inner = inner.strip_prefix("json").unwrap_or(inner);
    inner.strip_suffix("```").unwrap_or(inner).trim()
}

/// Calls in a run of JSON values (objects or lists of objects).
fn json_calls(text: &str) -> Vec<(String, Value)> {
    json_values(text)
        .into_iter()
        .flat_map(|value| -> Vec<(String, Value)> {
            match value {
                Value::Array(items) => items.into_iter().filter_map(call_from_value).collect(),
                other => call_from_value(other).into_iter().collect(),
            }
        })
        .collect()
}

/// Parse consecutive JSON values separated by whitespace, `;` or `,`; stops at
/// the first thing that is not JSON.
fn json_values(text: &str) -> Vec<Value> {
    let mut values = Vec::new();
    let mut rest = text;
    loop {
        rest = rest.trim_start_matches(|c: char| c.is_whitespace() || c == ';' || c == ',');
        if rest.is_empty() {
            break;
        }
        let mut iter = serde_json::Deserializer::from_str(rest).into_iter::<Value>();
        match iter.next() {
            Some(Ok(value)) => {
                values.push(value);
                rest = &rest[iter.byte_offset()..];
            }
            _ => break,
        }
    }
    values
}

fn call_from_value(value: Value) -> Option<(String, Value)> {
    let Value::Object(mut map) = value else {
        return None;
    };
    if let Some(function @ Value::Object(_)) = map.remove("function") {
        return call_from_value(function);
    }
    let Some(Value::String(name)) = map.remove("name") else {
        return None;
    };
    let arguments = map
        .remove("arguments")
        .or_else(|| map.remove("parameters"))
        .unwrap_or_else(|| json!({}));
    Some((name, normalize_arguments(arguments)))
}

/// Arguments given as a JSON string are decoded to the value they hold.
fn normalize_arguments(arguments: Value) -> Value {
    match arguments {
        Value::String(text) => serde_json::from_str(&text).unwrap_or(Value::String(text)),
        other => other,
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum SplitState {
    /// Nothing but whitespace seen yet.
    Start,
    /// Prose: passed through, watching for a marker.
    Text,
    /// A call may be under way: everything is held until the end.
    Capture,
}

/// Splits a streamed answer into prose (released as it comes) and tool calls
/// (parsed at the end). See the module documentation.
#[derive(Debug)]
pub struct ToolCallSplitter {
    names: Vec<String>,
    held: String,
    state: SplitState,
}

impl ToolCallSplitter {
    /// A splitter recognising calls to these tools.
    pub fn new(names: Vec<String>) -> Self {
        ToolCallSplitter {
            names,
            held: String::new(),
            state: SplitState::Start,
        }
    }

    /// Take new text; returns the prose that can be released now.
    pub fn push(&mut self, text: &str) -> String {
        self.held.push_str(text);
        loop {
            match self.state {
                SplitState::Capture => return String::new(),
                SplitState::Start => {
                    let trimmed = self.held.trim_start();
                    if trimmed.is_empty() {
                        return String::new();
                    }
                    let opens_call = trimmed.starts_with('{')
                        || trimmed.starts_with('[')
                        || trimmed.starts_with("```")
                        || MARKERS.iter().any(|m| trimmed.starts_with(m));
                    if opens_call {
                        self.state = SplitState::Capture;
                    } else if MARKERS.iter().any(|m| m.starts_with(trimmed))
                        || "```".starts_with(trimmed)
                    {
                        return String::new();
                    } else {
                        self.state = SplitState::Text;
                    }
                }
                SplitState::Text => {
                    let found = MARKERS.iter().filter_map(|m| self.held.find(m)).min();
                    if let Some(pos) = found {
                        let prose = self.held[..pos].to_owned();
                        self.held.drain(..pos);
                        self.state = SplitState::Capture;
                        return prose;
                    }
                    let keep = self.marker_prefix_len();
                    let cut = self.held.len() - keep;
                    let prose = self.held[..cut].to_owned();
                    self.held.drain(..cut);
                    return prose;
                }
            }
        }
    }

    /// The end of the answer: remaining prose and the calls found.
    pub fn finish(self) -> (String, Vec<ToolCall>) {
        match self.state {
            SplitState::Capture => {
                let calls = parse_tool_calls(&self.held, &self.names);
                if calls.is_empty() {
                    (self.held, calls)
                } else {
                    (String::new(), calls)
                }
            }
            SplitState::Start | SplitState::Text => (self.held, Vec::new()),
        }
    }

    /// Length of the longest tail of `held` that could begin a marker.
    fn marker_prefix_len(&self) -> usize {
        let held = &self.held;
        let longest = MARKERS.iter().map(|m| m.len()).max().unwrap_or(0);
        (1..longest.min(held.len() + 1))
            .rev()
            .find(|&k| {
                let start = held.len() - k;
                held.is_char_boundary(start)
                    && MARKERS.iter().any(|m| m.starts_with(&held[start..]))
            })
            .unwrap_or(0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names() -> Vec<String> {
        vec!["get_weather".into(), "add".into()]
    }

    fn parsed(text: &str) -> Vec<(String, Value)> {
        parse_tool_calls(text, &names())
            .into_iter()
            .map(|c| (c.name, c.arguments))
            .collect()
    }

    #[test]
    fn hermes_qwen_calls_are_parsed_in_order() {
        let text = "<tool_call>\n{\"name\": \"get_weather\", \"arguments\": {\"city\": \"Oslo\"}}\n</tool_call>\n<tool_call>{\"name\":\"add\",\"arguments\":{\"a\":1,\"b\":2}}</tool_call>";
        assert_eq!(
            parsed(text),
            vec![
                ("get_weather".into(), json!({"city": "Oslo"})),
                ("add".into(), json!({"a": 1, "b": 2})),
            ]
        );
        // An unterminated last call (cut by max_tokens after the JSON) still counts.
        assert_eq!(
            parsed("<tool_call>{\"name\":\"add\",\"arguments\":{}}").len(),
            1
        );
    }

    #[test]
    fn llama3_bare_json_with_parameters_and_python_tag() {
        assert_eq!(
            parsed("{\"name\": \"get_weather\", \"parameters\": {\"city\": \"Rome\"}}"),
            vec![("get_weather".into(), json!({"city": "Rome"}))]
        );
        assert_eq!(
            parsed("<|python_tag|>{\"name\":\"add\",\"parameters\":{\"a\":1}}; {\"name\":\"add\",\"parameters\":{\"a\":2}}").len(),
            2
        );
        assert_eq!(
            parsed(
                "```json\n{\"type\":\"function\",\"function\":{\"name\":\"add\",\"arguments\":\"{\\\"a\\\":3}\"}}\n```"
            ),
            vec![("add".into(), json!({"a": 3}))],
            "fenced, nested function object, arguments as a JSON string"
        );
    }

    #[test]
    fn mistral_both_formats() {
        assert_eq!(
            parsed("[TOOL_CALLS][{\"name\":\"add\",\"arguments\":{\"a\":1}},{\"name\":\"get_weather\",\"arguments\":{}}]").len(),
            2
        );
        assert_eq!(
            parsed("[TOOL_CALLS]add[ARGS]{\"a\": 5}"),
            vec![("add".into(), json!({"a": 5}))]
        );
    }

    #[test]
    fn unknown_names_and_prose_are_not_calls() {
        assert!(parsed("{\"name\": \"rm_rf\", \"arguments\": {}}").is_empty());
        assert!(parsed("The weather is nice.").is_empty());
        assert!(parsed("{\"answer\": 42}").is_empty());
    }

    #[test]
    fn call_ids_are_unique() {
        let calls = parse_tool_calls("[{\"name\":\"add\"},{\"name\":\"add\"}]", &names());
        assert_eq!(calls.len(), 2);
        assert_ne!(calls[0].id, calls[1].id);
        assert!(calls[0].id.starts_with("call_"));
        assert_eq!(calls[0].arguments_text(), "{}");
    }

    fn split(pieces: &[&str]) -> (String, String, Vec<ToolCall>) {
        let mut splitter = ToolCallSplitter::new(names());
        let streamed: String = pieces.iter().map(|p| splitter.push(p)).collect();
        let (rest, calls) = splitter.finish();
        (streamed, rest, calls)
    }

    #[test]
    fn splitter_streams_prose_and_holds_marker_prefixes() {
        let mut splitter = ToolCallSplitter::new(names());
        assert_eq!(splitter.push("Hello "), "Hello ");
        assert_eq!(splitter.push("world <tool"), "world ");
        assert_eq!(splitter.push("box>"), "<toolbox>");
        let (rest, calls) = splitter.finish();
        assert_eq!((rest.as_str(), calls.len()), ("", 0));
    }

    #[test]
    fn splitter_captures_calls_after_prose_and_at_start() {
        let (streamed, rest, calls) = split(&[
            "Let me check. <tool",
            "_call>{\"name\":\"get_weather\",",
            "\"arguments\":{\"city\":\"Oslo\"}}</tool_call>",
        ]);
        assert_eq!(streamed, "Let me check. ");
        assert_eq!(rest, "");
        assert_eq!(calls[0].name, "get_weather");

        let (streamed, _, calls) =
            split(&["  {\"name\": \"add\", ", "\"parameters\": {\"a\": 1}}"]);
        assert_eq!((streamed.as_str(), calls.len()), ("", 1));
    }

    #[test]
    fn splitter_releases_held_json_that_is_not_a_call() {
        let (streamed, rest, calls) = split(&["{\"answer\"", ": 42}"]);
        assert_eq!(streamed, "");
        assert_eq!(rest, "{\"answer\": 42}");
        assert!(calls.is_empty());
    }

    #[test]
    fn splitter_keeps_utf8_boundaries() {
        let (streamed, rest, _) = split(&["héllo wörld <", "é"]);
        assert_eq!(format!("{streamed}{rest}"), "héllo wörld <é");
    }

    #[test]
    fn forced_schema_pins_the_name() {
        let tool = ToolSpec {
            name: "add".into(),
            description: None,
            parameters: json!({"type": "object", "properties": {"a": {"type": "number"}}}),
        };
        let schema = forced_call_schema(&[&tool]);
        assert_eq!(schema["properties"]["name"]["const"], "add");
        assert_eq!(
            schema["properties"]["arguments"]["properties"]["a"]["type"],
            "number"
        );
        let both = forced_call_schema(&[&tool, &tool]);
        assert_eq!(both["anyOf"].as_array().unwrap().len(), 2);
        assert_eq!(tool.template_value()["function"]["name"], "add");
    }
}
