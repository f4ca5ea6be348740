//! [`Engine`]: the in-process local backend. Owns the loaded models (by name,
//! loaded from a path) and implements the core ports [`ChatBackend`] and
//! [`EmbedBackend`] as an async facade over each model's scheduler thread.
//!
//! Request preparation (template rendering, tokenization, sampler and grammar
//! construction) runs on tokio's blocking pool, so every error known before
//! the first token is returned by `generate` itself. A stream holds its model
//! alive: unloading lets in-flight generations finish, then frees the model.

use std::collections::HashMap;
use std::path::Path;
use std::sync::{Arc, Mutex, RwLock};
use std::time::Instant;

use async_trait::async_trait;
use hearth_core::backend::{
    BackendError, Capabilities, ChatBackend, EmbedBackend, EmbedRequest, EmbedResponse,
    GenerateRequest, GenerationStream, Prompt,
};
use llama_cpp_2::token::LlamaToken;
use tokio::sync::{mpsc, oneshot};

use crate::embed::EmbedJob;
use crate::error::{EngineError, Result};
use crate::model::{LoadOptions, Model, ModelInfo};
use crate::sampling::{SamplingDefaults, SequenceSampler};
use crate::scheduler::{Job, SchedulerConfig, SchedulerHandle};
use crate::template::{ChatTemplate, RenderInput};

/// Defaults applied to every model the engine loads.
#[derive(Debug, Clone, Default)]
pub struct EngineConfig {
    /// How files are loaded.
    pub load: LoadOptions,
    /// How each model's scheduler runs.
    pub scheduler: SchedulerConfig,
    /// Sampling defaults for unset parameters.
    pub sampling: SamplingDefaults,
}

/// The local inference engine.
#[derive(Debug, Default)]
pub struct Engine {
    config: EngineConfig,
    models: RwLock<HashMap<String, Arc<LoadedModel>>>,
}

/// A model ready to serve: weights, template, scheduler thread.
#[derive(Debug)]
pub struct LoadedModel {
    name: String,
    model: Arc<Model>,
    /// `None` without a template; `Some(Err)` when the file's template does
    /// not compile (the model still serves plain completion).
    template: Option<std::result::Result<ChatTemplate, String>>,
    /// Templates given with requests (presets), compiled once; the most
    /// recently used last.
    overrides: Mutex<Vec<(String, Arc<ChatTemplate>)>>,
    scheduler: SchedulerHandle,
    sampling: SamplingDefaults,
}

impl Engine {
    /// An engine with no models.
    pub fn new(config: EngineConfig) -> Engine {
        Engine {
            config,
            models: RwLock::default(),
        }
    }

    /// The engine's settings.
    pub fn config(&self) -> &EngineConfig {
        &self.config
    }

    /// Load `path` under `name` with the engine's default scheduler settings.
    pub async fn load(&self, name: &str, path: &Path) -> Result<ModelInfo> {
        self.load_with(name, path, self.config.scheduler.clone())
            .await
    }

    /// Load `path` under `name` with its own scheduler settings.
    pub async fn load_with(
        &self,
        name: &str,
        path: &Path,
        scheduler: SchedulerConfig,
    ) -> Result<ModelInfo> {
        if self.get(name).is_ok() {
            return Err(EngineError::AlreadyLoaded(name.to_owned()));
        }
        let (name_owned, path, load) = (
            name.to_owned(),
            path.to_path_buf(),
            self.config.load.clone(),
        );
        let sampling = self.config.sampling.clone();
        let loaded = tokio::task::spawn_blocking(move || {
            LoadedModel::load(name_owned, &path, &load, scheduler, sampling)
        })
        .await
        .map_err(|e| EngineError::Failed(format!("model loading panicked: {e}")))??;
        let info = loaded.model.info().clone();
        let mut models = self.models.write().unwrap_or_else(|e| e.into_inner());
        if models.contains_key(name) {
            return Err(EngineError::AlreadyLoaded(name.to_owned()));
        }
        models.insert(name.to_owned(), Arc::new(loaded));
        Ok(info)
    }

    /// Unload `name`; running generations finish first.
    pub fn unload(&self, name: &str) -> Result<()> {
        let mut models = self.models.write().unwrap_or_else(|e| e.into_inner());
        models
            .remove(name)
            .map(drop)
            .ok_or_else(|| EngineError::ModelNotFound(name.to_owned()))
    }

    /// The loaded model `name`.
    pub fn get(&self, name: &str) -> Result<Arc<LoadedModel>> {
        let models = self.models.read().unwrap_or_else(|e| e.into_inner());
        models
            .get(name)
            .cloned()
            .ok_or_else(|| EngineError::ModelNotFound(name.to_owned()))
    }

    /// Names of the loaded models, sorted.
    pub fn model_names(&self) -> Vec<String> {
        let models = self.models.read().unwrap_or_else(|e| e.into_inner());
        let mut names: Vec<String> = models.keys().cloned().collect();
        names.sort();
        names
    }
}

/// Compile `source` with the model's BOS and EOS texts.
fn compile_template(info: &ModelInfo, source: &str) -> std::result::Result<ChatTemplate, String> {
    let text = |t: &Option<crate::model::SpecialToken>| {
        t.as_ref().map(|t| t.text.clone()).unwrap_or_default()
    };
    ChatTemplate::new(source, &text(&info.bos), &text(&info.eos)).map_err(|e| e.to_string())
}

impl LoadedModel {
    fn load(
        name: String,
        path: &Path,
        load: &LoadOptions,
        scheduler: SchedulerConfig,
        sampling: SamplingDefaults,
    ) -> Result<LoadedModel> {
        let model = Arc::new(Model::load(path, load)?);
        let info = model.info();
        let template = info.chat_template.as_ref().map(|source| {
            compile_template(info, source).map_err(|error| {
                tracing::warn!(model = %name, %error, "the chat template does not compile");
                error
            })
        });
        let scheduler = SchedulerHandle::spawn(Arc::clone(&model), scheduler, &name)?;
        Ok(LoadedModel {
            name,
            model,
            template,
            overrides: Mutex::new(Vec::new()),
            scheduler,
            sampling,
        })
    }

    /// The model's name in this engine.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// What the file declares.
    pub fn info(&self) -> &ModelInfo {
        self.model.info()
    }

    /// The scheduler (queue length, test hooks).
    pub fn scheduler(&self) -> &SchedulerHandle {
        &self.scheduler
    }

    /// What this model can do.
    pub fn capabilities(&self) -> Capabilities {
        let info = self.info();
        Capabilities {
            chat: matches!(self.template, Some(Ok(_))),
            completion: info.is_causal,
            embedding: !info.is_causal || info.pooling_type.is_some(),
            tools: info
                .chat_template
                .as_deref()
                .is_some_and(|t| t.contains("tools")),
            insert: self.model.fim_tokens().is_some(),
        }
    }

    /// The prompt's tokens, checked against the context size.
    pub fn tokenize_prompt(&self, prompt: &Prompt) -> Result<Vec<LlamaToken>> {
        let tokens = self.tokens(prompt)?;
        let context_tokens = self.scheduler.context_tokens();
        if tokens.is_empty() {
            return Err(EngineError::InvalidParams("the prompt is empty".into()));
        }
        if tokens.len() >= context_tokens as usize {
            return Err(EngineError::PromptTooLong {
                prompt_tokens: tokens.len() as u32,
                context_tokens,
            });
        }
        Ok(tokens)
    }

    /// The prompt as the model sees it (chat rendered through the template).
    fn tokens(&self, prompt: &Prompt) -> Result<Vec<LlamaToken>> {
        Ok(match prompt {
            Prompt::Chat {
                messages,
                tools,
                template: given,
            } => {
                let compiled;
                let template = match (given, &self.template) {
                    (Some(source), _) => {
                        compiled = self.override_template(source)?;
                        &*compiled
                    }
                    (None, Some(Ok(template))) => template,
                    (None, Some(Err(error))) => return Err(EngineError::Template(error.clone())),
                    (None, None) => return Err(EngineError::NoChatTemplate(self.name.clone())),
                };
                let text = template.render(RenderInput {
                    messages,
                    tools,
                    add_generation_prompt: true,
                })?;
                // Like `transformers`: the template writes BOS itself when the model wants it.
                self.model.tokenize(&text, false, true)
            }
            Prompt::Text(text) => self.model.tokenize(text, true, true),
            Prompt::Infill { prefix, suffix } => {
                let Some([pre, suf, mid]) = self.model.fim_tokens() else {
                    return Err(EngineError::InvalidParams(format!(
                        "model {} does not support fill-in-the-middle (suffix): its \
                         vocabulary has no FIM tokens",
                        self.name
                    )));
                };
                // Prefix-suffix-middle order; BOS when the model wants one. The
                // user's text is not parsed for special tokens.
                let mut tokens = self.model.tokenize("", true, false);
                tokens.push(pre);
                tokens.extend(self.model.tokenize(prefix, false, false));
                tokens.push(suf);
                tokens.extend(self.model.tokenize(suffix, false, false));
                tokens.push(mid);
                tokens
            }
        })
    }

    /// A request's own template, compiled once and kept among the last few.
    fn override_template(&self, source: &str) -> Result<Arc<ChatTemplate>> {
        const KEEP: usize = 8;
        let mut cache = self.overrides.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(at) = cache.iter().position(|(s, _)| s == source) {
            let entry = cache.remove(at);
            let template = Arc::clone(&entry.1);
            cache.push(entry);
            return Ok(template);
        }
        let template =
            Arc::new(compile_template(self.info(), source).map_err(EngineError::Template)?);
        if cache.len() == KEEP {
            cache.remove(0);
        }
        cache.push((source.to_owned(), Arc::clone(&template)));
        Ok(template)
    }

    /// Validate, tokenize, build the sampler and queue the generation.
    fn submit(&self, request: GenerateRequest) -> Result<mpsc::UnboundedReceiver<EventItem>> {
        if request.params.max_tokens == Some(0) {
            return Err(EngineError::InvalidParams(
                "max_tokens must be at least 1".into(),
            ));
        }
        let prompt = self.tokenize_prompt(&request.prompt)?;
        let sampler = SequenceSampler::new(&self.model, &request.params, &self.sampling)?;
        let (events, receiver) = mpsc::unbounded_channel();
        self.scheduler.submit(Job {
            prompt,
            sampler,
            max_tokens: request.params.max_tokens.unwrap_or(u32::MAX),
            ignore_eos: request.params.ignore_eos
                && request.params.constraint == hearth_core::backend::OutputConstraint::None,
            stop: request.params.stop,
            principal: request.principal,
            weight: request.weight.max(1),
            events,
            enqueued_at: Instant::now(),
        })?;
        Ok(receiver)
    }

    fn submit_embed(
        &self,
        request: &EmbedRequest,
    ) -> Result<oneshot::Receiver<Result<EmbedResponse>>> {
        if request.inputs.is_empty() {
            return Err(EngineError::InvalidParams(
                "inputs must not be empty".into(),
            ));
        }
        let inputs: Vec<Vec<LlamaToken>> = request
            .inputs
            .iter()
            .map(|t| self.model.tokenize(t, true, false))
            .collect();
        if inputs.iter().any(Vec::is_empty) {
            return Err(EngineError::InvalidParams("an input is empty".into()));
        }
        let (reply, receiver) = oneshot::channel();
        self.scheduler.submit_embed(EmbedJob {
            inputs,
            normalize: request.normalize,
            reply,
        })?;
        Ok(receiver)
    }
}

type EventItem = std::result::Result<hearth_core::backend::GenerationEvent, BackendError>;

async fn blocking<T: Send + 'static>(
    work: impl FnOnce() -> Result<T> + Send + 'static,
) -> Result<T> {
    tokio::task::spawn_blocking(work)
        .await
        .map_err(|e| EngineError::Failed(format!("request preparation failed: {e}")))?
}

#[async_trait]
impl ChatBackend for Engine {
    async fn generate(
        &self,
        request: GenerateRequest,
    ) -> std::result::Result<GenerationStream, BackendError> {
        let loaded = self.get(&request.model)?;
        let for_submit = Arc::clone(&loaded);
        let receiver = blocking(move || for_submit.submit(request)).await?;
        // The stream owns an `Arc` of the model so an unload waits for it.
        let stream =
            futures::stream::unfold((receiver, loaded), |(mut receiver, loaded)| async move {
                receiver.recv().await.map(|item| (item, (receiver, loaded)))
            });
        Ok(Box::pin(futures::StreamExt::fuse(stream)))
    }

    async fn count_tokens(
        &self,
        model: &str,
        prompt: &Prompt,
    ) -> std::result::Result<u32, BackendError> {
        let loaded = self.get(model)?;
        let prompt = prompt.clone();
        Ok(blocking(move || loaded.tokens(&prompt).map(|t| t.len() as u32)).await?)
    }
}

#[async_trait]
impl EmbedBackend for Engine {
    async fn embed(
        &self,
        request: EmbedRequest,
    ) -> std::result::Result<EmbedResponse, BackendError> {
        let loaded = self.get(&request.model)?;
        let receiver = blocking(move || loaded.submit_embed(&request)).await?;
        let result = receiver
            .await
            .map_err(|_| EngineError::Failed("the scheduler dropped the request".into()))?;
        Ok(result?)
    }
}
