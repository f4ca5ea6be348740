//! [`RegistryRouting`]: the chat and embedding backends seen through the
//! registry. A request on a copy or a preset goes to the one name that loads
//! its blob (so aliases share one loaded model), and a preset's defaults fill
//! what the request left unset: its system prompt when the conversation has
//! none, its sampling options when the request gives none. Other names pass
//! through unchanged. Runs on the caller's task; lookups read an in-memory
//! table the registry rebuilds on every change.

use std::sync::Arc;

use async_trait::async_trait;
use serde_json::Value;

use super::{Preset, Registry};
use crate::backend::{
    BackendError, ChatBackend, ChatMessage, EmbedBackend, EmbedRequest, EmbedResponse,
    GenerateRequest, GenerationStream, Prompt, SamplingParams,
};

/// The backends behind the registry's names.
pub struct RegistryRouting {
    chat: Arc<dyn ChatBackend>,
    embed: Arc<dyn EmbedBackend>,
    registry: Arc<Registry>,
}

impl RegistryRouting {
    /// Route `chat` and `embed` requests through `registry`'s names.
    pub fn new(
        chat: Arc<dyn ChatBackend>,
        embed: Arc<dyn EmbedBackend>,
        registry: Arc<Registry>,
    ) -> Self {
        RegistryRouting {
            chat,
            embed,
            registry,
        }
    }
}

fn f32_of(v: &Value) -> Option<f32> {
    v.as_f64().map(|n| n as f32)
}

fn u32_of(v: &Value) -> Option<u32> {
    v.as_u64().and_then(|n| u32::try_from(n).ok())
}

/// Fill the options the request left unset from the preset's parameters.
pub fn apply_parameters(preset: &Preset, params: &mut SamplingParams) {
    let p = &preset.parameters;
    let get = |key: &str| p.get(key);
    params.temperature = params
        .temperature
        .or_else(|| get("temperature").and_then(f32_of));
    params.top_p = params.top_p.or_else(|| get("top_p").and_then(f32_of));
    params.top_k = params.top_k.or_else(|| get("top_k").and_then(u32_of));
    params.min_p = params.min_p.or_else(|| get("min_p").and_then(f32_of));
    params.repeat_penalty = params
        .repeat_penalty
        .or_else(|| get("repeat_penalty").and_then(f32_of));
    params.presence_penalty = params
        .presence_penalty
        .or_else(|| get("presence_penalty").and_then(f32_of));
    params.frequency_penalty = params
        .frequency_penalty
        .or_else(|| get("frequency_penalty").and_then(f32_of));
    params.seed = params.seed.or_else(|| get("seed").and_then(Value::as_u64));
    params.max_tokens = params
        .max_tokens
        .or_else(|| get("num_predict").and_then(u32_of));
    if params.stop.is_empty() {
        params.stop = match get("stop") {
            Some(Value::String(s)) => vec![s.clone()],
            Some(Value::Array(list)) => list
                .iter()
                .filter_map(|v| v.as_str().map(str::to_owned))
                .collect(),
            _ => Vec::new(),
        };
    }
}

/// Put the preset's system prompt first when the conversation has none, and
/// render with the preset's chat template when it has one.
pub fn apply_preset_prompt(preset: &Preset, prompt: &mut Prompt) {
    let Prompt::Chat {
        messages, template, ..
    } = prompt
    else {
        return;
    };
    if let Some(system) = &preset.system
        && !messages.iter().any(|m| m.role == "system")
    {
        messages.insert(0, ChatMessage::text("system", system.clone()));
    }
    if template.is_none() {
        template.clone_from(&preset.template);
    }
}

#[async_trait]
impl ChatBackend for RegistryRouting {
    async fn generate(
        &self,
        mut request: GenerateRequest,
    ) -> Result<GenerationStream, BackendError> {
        if let Some(route) = self.registry.route(&request.model) {
            request.model = route.target;
            if let Some(preset) = &route.preset {
                apply_preset_prompt(preset, &mut request.prompt);
                apply_parameters(preset, &mut request.params);
            }
        }
        self.chat.generate(request).await
    }

    async fn count_tokens(&self, model: &str, prompt: &Prompt) -> Result<u32, BackendError> {
        match self.registry.route(model) {
            Some(route) => {
                let mut prompt = prompt.clone();
                if let Some(preset) = &route.preset {
                    apply_preset_prompt(preset, &mut prompt);
                }
                self.chat.count_tokens(&route.target, &prompt).await
            }
            None => self.chat.count_tokens(model, prompt).await,
        }
    }
}

#[async_trait]
impl EmbedBackend for RegistryRouting {
    async fn embed(&self, mut request: EmbedRequest) -> Result<EmbedResponse, BackendError> {
        if let Some(route) = self.registry.route(&request.model) {
            request.model = route.target;
        }
        self.embed.embed(request).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn preset() -> Preset {
        Preset {
            system: Some("Be terse.".to_owned()),
            template: None,
            parameters: serde_json::json!({
                "temperature": 0.2, "top_k": 5, "num_predict": 64, "stop": ["###"], "seed": 7
            })
            .as_object()
            .cloned()
            .unwrap_or_default(),
        }
    }

    #[test]
    fn preset_fills_only_what_the_request_left_unset() {
        let mut params = SamplingParams {
            temperature: Some(1.0),
            ..SamplingParams::default()
        };
        apply_parameters(&preset(), &mut params);
        assert_eq!(params.temperature, Some(1.0));
        assert_eq!(params.top_k, Some(5));
        assert_eq!(params.max_tokens, Some(64));
        assert_eq!(params.stop, ["###"]);
        assert_eq!(params.seed, Some(7));
        assert_eq!(params.top_p, None);
    }

    #[test]
    fn preset_system_prompt_only_when_there_is_none() {
        let mut prompt = Prompt::Chat {
            messages: vec![ChatMessage::text("user", "hi")],
            tools: Vec::new(),
            template: None,
        };
        apply_preset_prompt(&preset(), &mut prompt);
        let Prompt::Chat { messages, .. } = &prompt else {
            panic!("not chat")
        };
        assert_eq!(messages[0].role, "system");
        assert_eq!(messages[0].content, "Be terse.");
        let mut own = Prompt::Chat {
            messages: vec![
                ChatMessage::text("system", "mine"),
                ChatMessage::text("user", "hi"),
            ],
            tools: Vec::new(),
            template: None,
        };
        apply_preset_prompt(&preset(), &mut own);
        let Prompt::Chat {
            messages, template, ..
        } = &own
        else {
            panic!("not chat")
        };
        assert_eq!(messages.len(), 2);
        assert_eq!(messages[0].content, "mine");
        assert_eq!(template, &None, "the preset has no template");
    }

    #[test]
    fn preset_template_replaces_the_models() {
        let with_template = Preset {
            template: Some("{% for m in messages %}{{ m.content }}{% endfor %}".to_owned()),
            ..preset()
        };
        let mut prompt = Prompt::Chat {
            messages: vec![ChatMessage::text("user", "hi")],
            tools: Vec::new(),
            template: None,
        };
        apply_preset_prompt(&with_template, &mut prompt);
        let Prompt::Chat { template, .. } = &prompt else {
            panic!("not chat")
        };
        assert_eq!(template, &with_template.template);
        let mut text = Prompt::Text("raw".to_owned());
        apply_preset_prompt(&with_template, &mut text);
        assert_eq!(text, Prompt::Text("raw".to_owned()));
    }
}
