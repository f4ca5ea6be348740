//! Chat templates: renders a model's own Jinja template (`tokenizer.chat_template`)
//! with minijinja, configured like Hugging Face `transformers` does it
//! (`trim_blocks`, `lstrip_blocks`, loop controls, Python string/dict methods via
//! `minijinja-contrib`'s pycompat, `raise_exception`, `strftime_now`, and a
//! `tojson` that prints like Python's `json.dumps`).
//!
//! A [`ChatTemplate`] is compiled once per model and is `Send + Sync`; rendering
//! runs on the caller's thread, never on the scheduler thread.

mod pyjson;
mod strftime;

use hearth_core::backend::ChatMessage;
use minijinja::value::{Kwargs, Serde, Value};
use minijinja::{Environment, Error, ErrorKind, context};

use crate::error::{EngineError, Result};

const TEMPLATE_NAME: &str = "chat";

/// A compiled chat template with the model's BOS/EOS token strings.
#[derive(Debug)]
pub struct ChatTemplate {
    env: Environment<'static>,
    bos_token: String,
    eos_token: String,
}

/// What to render.
#[derive(Debug, Clone, Copy)]
pub struct RenderInput<'a> {
    /// The conversation.
    pub messages: &'a [ChatMessage],
    /// Tool definitions (`None` in the template when empty).
    pub tools: &'a [serde_json::Value],
    /// End with the opening of an assistant turn.
    pub add_generation_prompt: bool,
}

impl ChatTemplate {
    /// Compile `source`; a syntax error is an [`EngineError::Template`].
    pub fn new(source: &str, bos_token: &str, eos_token: &str) -> Result<ChatTemplate> {
        let mut env = Environment::new();
        env.set_syntax(
            minijinja::syntax::SyntaxConfig::builder()
                .trim_blocks(true)
                .lstrip_blocks(true)
                .build()
                .map_err(template_error)?,
        );
        env.set_unknown_method_callback(minijinja_contrib::pycompat::unknown_method_callback);
        env.add_function("raise_exception", raise_exception);
        env.add_function("strftime_now", |format: String| strftime::now(&format));
        env.add_filter("tojson", tojson);
        env.add_template_owned(TEMPLATE_NAME, source.to_owned())
            .map_err(template_error)?;
        Ok(ChatTemplate {
            env,
            bos_token: bos_token.to_owned(),
            eos_token: eos_token.to_owned(),
        })
    }

    /// Render a conversation to the prompt text the model expects.
    pub fn render(&self, input: RenderInput<'_>) -> Result<String> {
        let template = self
            .env
            .get_template(TEMPLATE_NAME)
            .map_err(template_error)?;
        let tools = if input.tools.is_empty() {
            Value::from(())
        } else {
            Value::from(Serde(input.tools))
        };
        let ctx = context! {
            messages => Value::from(Serde(input.messages)),
            tools => tools,
            add_generation_prompt => input.add_generation_prompt,
            bos_token => self.bos_token.clone(),
            eos_token => self.eos_token.clone(),
        };
        template.render(ctx).map_err(template_error)
    }
}

fn raise_exception(message: String) -> Result<Value, Error> {
    Err(Error::new(ErrorKind::InvalidOperation, message))
}

fn tojson(value: Value, kwargs: Kwargs) -> Result<Value, Error> {
    let indent: Option<usize> = kwargs.get("indent")?;
    let sort_keys: Option<bool> = kwargs.get("sort_keys")?;
    let _ensure_ascii: Option<bool> = kwargs.get("ensure_ascii")?;
    let _separators: Option<Value> = kwargs.get("separators")?;
    kwargs.assert_all_used()?;
    let json = serde_json::to_value(&value)
        .map_err(|e| Error::new(ErrorKind::InvalidOperation, format!("tojson: {e}")))?;
    let _ = sort_keys; // serde_json maps are ordered by key already
    Ok(Value::from_safe_string(pyjson::dumps(&json, indent)))
}

/// Keeps the template's own message (e.g. a `raise_exception` text) and drops
/// minijinja's source excerpt, which would leak the template into API errors.
fn template_error(error: Error) -> EngineError {
    let message = match error.detail() {
        Some(detail) => detail.to_owned(),
        None => error.to_string(),
    };
    EngineError::Template(message)
}

#[cfg(test)]
mod tests;
