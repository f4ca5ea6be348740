//! [`LocalModels`]: the models of this machine, by name, loaded into the
//! [`Engine`] on first use. Implements the core ports [`ModelCatalog`],
//! [`ChatBackend`] and [`EmbedBackend`], so the server sees one backend.
//!
//! Names come from files: paths given in the configuration and the `*.gguf`
//! files of the models directory, named by file stem (`:latest` is accepted and
//! ignored, as Ollama clients add it). Each file's GGUF header is read once when
//! it is registered, so listings never load weights. Concurrent first requests
//! for one model load it once (a per-name async lock). A file that fails to load
//! fails the requests for that model with a clear error; the server and the other
//! models keep serving.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, RwLock};

use async_trait::async_trait;
use hearth_core::backend::{
    BackendError, Capabilities, ChatBackend, EmbedBackend, EmbedRequest, EmbedResponse,
    GenerateRequest, GenerationStream, Prompt,
};
use hearth_core::models::{LoadedModel, ModelCatalog, ModelInfo};

use crate::engine::Engine;
use crate::error::EngineError;
use crate::model::gguf::{self, GgufHeader};

/// A registered model file.
#[derive(Debug, Clone)]
pub struct ModelFile {
    /// Where the weights are.
    pub path: PathBuf,
    /// What the header says.
    pub info: ModelInfo,
    /// Bytes of KV cache one token takes (f16 keys and values, every layer).
    pub kv_bytes_per_token: u64,
}

impl ModelFile {
    /// Memory the model holds once loaded with `config`: the weights (mapped
    /// from the file), the KV cache of every slot, the prompt-cache RAM tier
    /// and a fixed allowance for compute buffers. An estimate, on the high side.
    pub fn memory_estimate(&self, config: &crate::SchedulerConfig) -> u64 {
        const COMPUTE_BUFFERS: u64 = 64 << 20;
        let context = match config.context_tokens {
            0 => self.info.context_length.unwrap_or(4096).clamp(256, 4096),
            n => n.max(256),
        }
        .div_ceil(256) as u64
            * 256;
        let cells = match config.kv_layout {
            crate::scheduler::KvLayout::PerSequence => context * u64::from(config.slot_count()),
            crate::scheduler::KvLayout::Shared => context,
        };
        self.info.size_bytes
            + cells * self.kv_bytes_per_token
            + config.ram_cache_bytes as u64
            + COMPUTE_BUFFERS
    }
}

/// The catalog part: model files by name, each header read once when it is
/// registered. Shared by [`LocalModels`] (in-process execution) and the runner
/// supervisor (one child process per model).
#[derive(Debug, Default)]
pub struct ModelFiles {
    entries: RwLock<BTreeMap<String, ModelFile>>,
}

impl ModelFiles {
    /// No files yet.
    pub fn new() -> Self {
        ModelFiles::default()
    }

    /// Register `path` under `name` after checking its header. Returns the name.
    pub fn register(&self, name: &str, path: &Path) -> Result<String, EngineError> {
        let header = gguf::read_header(path)?;
        let info = describe(name, path, &header);
        let kv_bytes_per_token = kv_bytes_per_token(&header);
        let mut entries = self.entries.write().unwrap_or_else(|e| e.into_inner());
        entries.insert(
            name.to_owned(),
            ModelFile {
                path: path.to_owned(),
                info,
                kv_bytes_per_token,
            },
        );
        Ok(name.to_owned())
    }

    /// Register a file under its default name (the file stem, lower-cased).
    pub fn register_file(&self, path: &Path) -> Result<String, EngineError> {
        self.register(&default_name(path), path)
    }

    /// Serve `path` under `name` with metadata already read (the registry's).
    pub fn insert(&self, name: &str, path: &Path, info: ModelInfo) {
        // The KV shape for memory estimates (a header read; 0 if it fails, and
        // then loading fails with the reason).
        let kv_bytes_per_token = gguf::read_header(path).map_or(0, |h| kv_bytes_per_token(&h));
        let mut entries = self.entries.write().unwrap_or_else(|e| e.into_inner());
        entries.insert(
            canonical(name).to_owned(),
            ModelFile {
                path: path.to_owned(),
                info,
                kv_bytes_per_token,
            },
        );
    }

    /// Stop serving `name`; returns whether it was there.
    pub fn remove(&self, name: &str) -> bool {
        let mut entries = self.entries.write().unwrap_or_else(|e| e.into_inner());
        entries.remove(canonical(name)).is_some()
    }

    /// Register every `*.gguf` in `dir` (not recursive). Files whose header is
    /// invalid are skipped and returned with their error, so one bad file never
    /// stops the others.
    pub fn scan_dir(&self, dir: &Path) -> Vec<(PathBuf, EngineError)> {
        let Ok(read) = std::fs::read_dir(dir) else {
            return Vec::new();
        };
        let mut failures = Vec::new();
        let mut paths: Vec<PathBuf> = read
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|x| x == "gguf"))
            .collect();
        paths.sort();
        for path in paths {
            if let Err(err) = self.register_file(&path) {
                failures.push((path, err));
            }
        }
        failures
    }

    /// The canonical name and the file registered under `name` (`:latest` ignored).
    pub fn entry(&self, name: &str) -> Result<(String, ModelFile), BackendError> {
        let key = canonical(name);
        let entries = self.entries.read().unwrap_or_else(|e| e.into_inner());
        entries
            .get(key)
            .cloned()
            .map(|entry| (key.to_owned(), entry))
            .ok_or_else(|| BackendError::ModelNotFound(name.to_owned()))
    }

    /// Every registered file, sorted by name.
    pub fn all(&self) -> Vec<ModelFile> {
        let entries = self.entries.read().unwrap_or_else(|e| e.into_inner());
        entries.values().cloned().collect()
    }
}

#[async_trait]
impl ModelCatalog for ModelFiles {
    async fn list(&self) -> Result<Vec<ModelInfo>, BackendError> {
        Ok(self.all().into_iter().map(|e| e.info).collect())
    }

    async fn get(&self, name: &str) -> Result<ModelInfo, BackendError> {
        Ok(self.entry(name)?.1.info)
    }
}

/// The local models, loaded on demand into an in-process engine.
#[derive(Debug)]
pub struct LocalModels {
    engine: Engine,
    files: Arc<ModelFiles>,
    load_locks: Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>,
}

impl LocalModels {
    /// No models yet, loading into `engine`.
    pub fn new(engine: Engine) -> Self {
        LocalModels::with_files(engine, Arc::default())
    }

    /// The models of `files`, loading into `engine`.
    pub fn with_files(engine: Engine, files: Arc<ModelFiles>) -> Self {
        LocalModels {
            engine,
            files,
            load_locks: Mutex::default(),
        }
    }

    /// The engine the models load into.
    pub fn engine(&self) -> &Engine {
        &self.engine
    }

    /// The registered files.
    pub fn files(&self) -> &Arc<ModelFiles> {
        &self.files
    }

    /// Register `path` under `name` after checking its header. Returns the name.
    pub fn register(&self, name: &str, path: &Path) -> Result<String, EngineError> {
        self.files.register(name, path)
    }

    /// Register a file under its default name (the file stem, lower-cased).
    pub fn register_file(&self, path: &Path) -> Result<String, EngineError> {
        self.files.register_file(path)
    }

    /// Register every `*.gguf` in `dir` (see [`ModelFiles::scan_dir`]).
    pub fn scan_dir(&self, dir: &Path) -> Vec<(PathBuf, EngineError)> {
        self.files.scan_dir(dir)
    }

    /// Load `name` unless it is loaded; concurrent callers wait for one load.
    async fn ensure_loaded(&self, name: &str) -> Result<String, BackendError> {
        let (key, entry) = self.files.entry(name)?;
        if self.engine.get(&key).is_ok() {
            return Ok(key);
        }
        let lock = {
            let mut locks = self.load_locks.lock().unwrap_or_else(|e| e.into_inner());
            locks.entry(key.clone()).or_default().clone()
        };
        let _guard = lock.lock().await;
        if self.engine.get(&key).is_ok() {
            return Ok(key);
        }
        tracing::info!(model = %key, path = %entry.path.display(), "loading model on first use");
        match self.engine.load(&key, &entry.path).await {
            Ok(_) | Err(EngineError::AlreadyLoaded(_)) => Ok(key),
            Err(err) => {
                tracing::warn!(model = %key, error = %err, "model failed to load");
                Err(err.into())
            }
        }
    }
}

#[async_trait]
impl ModelCatalog for LocalModels {
    async fn list(&self) -> Result<Vec<ModelInfo>, BackendError> {
        Ok(self.files.all().iter().map(|e| self.live_info(e)).collect())
    }

    async fn get(&self, name: &str) -> Result<ModelInfo, BackendError> {
        let (_, entry) = self.files.entry(name)?;
        Ok(self.live_info(&entry))
    }

    /// In process, models stay loaded until unloaded (no keep-alive, no budget).
    async fn loaded(&self) -> Result<Vec<LoadedModel>, BackendError> {
        let config = &self.engine.config().scheduler;
        Ok(self
            .engine
            .model_names()
            .into_iter()
            .filter_map(|name| {
                let (_, file) = self.files.entry(&name).ok()?;
                Some(LoadedModel {
                    memory_bytes: file.memory_estimate(config),
                    name,
                    expires_at_ms: None,
                    active_requests: 0,
                    pid: None,
                })
            })
            .collect())
    }

    async fn preload(&self, name: &str) -> Result<(), BackendError> {
        self.ensure_loaded(name).await.map(|_| ())
    }

    async fn unload(&self, name: &str) -> Result<bool, BackendError> {
        let (key, _) = self.files.entry(name)?;
        Ok(self.engine.unload(&key).is_ok())
    }
}

impl LocalModels {
    /// The registered info, refined by the loaded model when it is loaded.
    fn live_info(&self, entry: &ModelFile) -> ModelInfo {
        let mut info = entry.info.clone();
        if let Ok(loaded) = self.engine.get(&info.name) {
            info.capabilities = loaded.capabilities();
        }
        info
    }
}

#[async_trait]
impl ChatBackend for LocalModels {
    async fn generate(
        &self,
        mut request: GenerateRequest,
    ) -> Result<GenerationStream, BackendError> {
        request.model = self.ensure_loaded(&request.model).await?;
        self.engine.generate(request).await
    }

    async fn count_tokens(&self, model: &str, prompt: &Prompt) -> Result<u32, BackendError> {
        let key = self.ensure_loaded(model).await?;
        self.engine.count_tokens(&key, prompt).await
    }
}

#[async_trait]
impl EmbedBackend for LocalModels {
    async fn embed(&self, mut request: EmbedRequest) -> Result<EmbedResponse, BackendError> {
        request.model = self.ensure_loaded(&request.model).await?;
        self.engine.embed(request).await
    }
}

/// `name:latest` and `name` are the same model.
pub fn canonical(name: &str) -> &str {
    name.strip_suffix(":latest").unwrap_or(name)
}

/// The default name of a model file: its stem, lower-cased.
pub fn default_name(path: &Path) -> String {
    path.file_stem()
        .map(|s| s.to_string_lossy().to_lowercase())
        .unwrap_or_else(|| "model".to_owned())
}

/// KV bytes per token from the header: f16 keys and values for every layer
/// (`key_length`/`value_length` per head when given, else embedding / heads).
fn kv_bytes_per_token(header: &GgufHeader) -> u64 {
    let layers = header.arch_u64("block_count").unwrap_or(0);
    let embedding = header.arch_u64("embedding_length").unwrap_or(0);
    let heads = header.arch_u64("attention.head_count").unwrap_or(1).max(1);
    let kv_heads = header.arch_u64("attention.head_count_kv").unwrap_or(heads);
    let head_dim = embedding / heads;
    let key = header.arch_u64("attention.key_length").unwrap_or(head_dim);
    let value = header
        .arch_u64("attention.value_length")
        .unwrap_or(head_dim);
    layers * kv_heads * (key + value) * 2
}

/// What the header alone says, before any weights are loaded.
pub(crate) fn describe(name: &str, path: &Path, header: &GgufHeader) -> ModelInfo {
    let metadata = std::fs::metadata(path).ok();
    let template = header.string("tokenizer.chat_template").map(str::to_owned);
    let architecture = header.architecture().unwrap_or("unknown").to_owned();
    let pooling = header.arch_u64("pooling_type");
    let is_encoder = matches!(
        architecture.as_str(),
        "bert" | "nomic-bert" | "jina-bert-v2"
    );
    ModelInfo {
        name: name.to_owned(),
        size_bytes: metadata.as_ref().map_or(0, |m| m.len()),
        digest: None,
        capabilities: Capabilities {
            chat: template.is_some() && !is_encoder,
            completion: !is_encoder,
            embedding: is_encoder || pooling.is_some_and(|p| p > 0),
            tools: template.as_deref().is_some_and(|t| t.contains("tools")),
            insert: header.has_fim && !is_encoder,
        },
        architecture,
        parameter_count: Some(header.parameter_count).filter(|n| *n > 0),
        quantization: header
            .uint("general.file_type")
            .and_then(crate::model::file_type_name)
            .map(str::to_owned),
        context_length: header.arch_u64("context_length").map(|n| n as u32),
        embedding_length: header.arch_u64("embedding_length").map(|n| n as u32),
        chat_template: template,
        modified_at_ms: metadata
            .and_then(|m| m.modified().ok())
            .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
            .map_or(0, |d| d.as_millis() as i64),
    }
}
