//! [`Registry`]: the registry service. Runs on the caller's task; file work
//! (copying, hashing, header reading) on the blocking pool. One async lock
//! (`ops`) orders the steps that move blobs and manifests together (commit +
//! manifest write, removal + blob deletion, garbage collection), so a blob is
//! never collected between its commit and its manifest.

use std::collections::{BTreeSet, HashMap};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, RwLock};

use tokio::sync::watch;

use super::blobs::BlobStore;
use super::pull::{Fetcher, PullProgress};
use super::{
    Inspected, LoadedModel, LoadedModels, ModelInspector, ModelRef, PRESET_PARAMETERS, Preset,
    Provenance, RegistryError, RegistryModel, ServedModels,
};
use crate::jobs::now_ms;
use crate::store::{Store, StoreError};

/// Where and how much.
#[derive(Debug, Clone)]
pub struct RegistryOptions {
    /// The registry directory (`DATA_DIR/registry`).
    pub dir: PathBuf,
    /// Largest total size of blobs and partial downloads; `None`: no limit.
    pub quota_bytes: Option<u64>,
}

/// Turns a checkpoint (e.g. a BERT-family safetensors directory) into a GGUF
/// file. Implemented by the `hearth-convert` crate; the registry imports what
/// it writes ([`Registry::import_converted`]).
pub trait ConvertHook: Send + Sync {
    /// Convert `checkpoint` into the GGUF file `out` (blocking).
    fn convert(&self, checkpoint: &Path, out: &Path) -> Result<(), String>;
}

/// What `import` brings in.
#[derive(Debug, Clone)]
pub struct ImportFile {
    /// The GGUF file.
    pub path: PathBuf,
    /// Name to record; default: the file stem.
    pub name: Option<String>,
    /// Hard-link instead of copying (same file system only).
    pub link: bool,
}

/// What a garbage collection removed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct GcReport {
    /// Blobs no manifest pointed at.
    pub blobs: u64,
    /// Bytes freed.
    pub bytes: u64,
}

/// The model registry service.
pub struct Registry {
    pub(super) store: Arc<dyn Store>,
    pub(super) blobs: BlobStore,
    pub(super) quota_bytes: Option<u64>,
    inspector: Arc<dyn ModelInspector>,
    pub(super) fetcher: Option<Arc<dyn Fetcher>>,
    converter: Option<Arc<dyn ConvertHook>>,
    pub(super) quantizer: Option<Arc<dyn super::quantize::QuantizeHook>>,
    served: RwLock<Option<Arc<dyn ServedModels>>>,
    loaded: RwLock<Option<Arc<dyn LoadedModels>>>,
    pub(super) ops: tokio::sync::Mutex<()>,
    pub(super) pulls: Mutex<HashMap<String, watch::Sender<PullProgress>>>,
    /// Registry names published to `served` (served form).
    published: Mutex<BTreeSet<String>>,
    /// Served name → where requests go and the preset they get.
    pub(super) routes: RwLock<HashMap<String, Route>>,
}

/// Where requests for a registry name go.
#[derive(Debug, Clone, PartialEq)]
pub struct Route {
    /// The served name that loads the blob (one per blob, so copies and
    /// presets share one loaded model).
    pub target: String,
    /// Defaults applied to requests on this name.
    pub preset: Option<Preset>,
}

impl std::fmt::Debug for Registry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Registry")
            .field("blobs", &self.blobs)
            .field("quota_bytes", &self.quota_bytes)
            .finish_non_exhaustive()
    }
}

fn join_err(e: tokio::task::JoinError) -> RegistryError {
    RegistryError::Io(format!("file task failed: {e}"))
}

impl Registry {
    /// A registry over `store` and the blob directory of `options`, reading
    /// headers with `inspector`. No pulls until [`Registry::with_fetcher`].
    pub fn new(
        store: Arc<dyn Store>,
        options: &RegistryOptions,
        inspector: Arc<dyn ModelInspector>,
    ) -> Registry {
        Registry {
            store,
            blobs: BlobStore::new(&options.dir),
            quota_bytes: options.quota_bytes,
            inspector,
            fetcher: None,
            converter: None,
            quantizer: None,
            served: RwLock::default(),
            loaded: RwLock::default(),
            ops: tokio::sync::Mutex::new(()),
            pulls: Mutex::default(),
            published: Mutex::default(),
            routes: RwLock::default(),
        }
    }

    /// Pull over HTTP with `fetcher`.
    pub fn with_fetcher(mut self, fetcher: Arc<dyn Fetcher>) -> Registry {
        self.fetcher = Some(fetcher);
        self
    }

    /// Convert checkpoints with `converter`.
    pub fn with_converter(mut self, converter: Arc<dyn ConvertHook>) -> Registry {
        self.converter = Some(converter);
        self
    }

    /// Quantize models with `quantizer`.
    pub fn with_quantizer(mut self, quantizer: Arc<dyn super::quantize::QuantizeHook>) -> Registry {
        self.quantizer = Some(quantizer);
        self
    }

    /// Publish manifests to `served`; ask `loaded` what is in memory.
    pub fn set_serving(&self, served: Arc<dyn ServedModels>, loaded: Arc<dyn LoadedModels>) {
        *self.served.write().unwrap_or_else(|e| e.into_inner()) = Some(served);
        *self.loaded.write().unwrap_or_else(|e| e.into_inner()) = Some(loaded);
    }

    /// The blob directory.
    pub fn blobs(&self) -> &BlobStore {
        &self.blobs
    }

    /// The disk quota, if any.
    pub fn quota_bytes(&self) -> Option<u64> {
        self.quota_bytes
    }

    fn served(&self) -> Option<Arc<dyn ServedModels>> {
        self.served
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// Bytes the registry may still take under the quota (`u64::MAX` without one).
    pub fn available_bytes(&self) -> u64 {
        match self.quota_bytes {
            None => u64::MAX,
            Some(quota) => quota.saturating_sub(self.blobs.usage()),
        }
    }

    /// Refuse `needed` more bytes when they would exceed the quota.
    pub fn check_quota(&self, needed: u64) -> Result<(), RegistryError> {
        let available = self.available_bytes();
        match self.quota_bytes {
            Some(quota) if needed > available => Err(RegistryError::Quota {
                needed,
                available,
                quota,
            }),
            _ => Ok(()),
        }
    }

    /// Every manifest, by name.
    pub async fn list(&self) -> Result<Vec<RegistryModel>, RegistryError> {
        Ok(self.store.registry().list().await?)
    }

    /// One manifest.
    pub async fn get(&self, name: &str) -> Result<RegistryModel, RegistryError> {
        let model = ModelRef::parse(name)?;
        match self.store.registry().get(&model.full()).await {
            Err(StoreError::NotFound) => Err(RegistryError::NotFound(model.full())),
            other => Ok(other?),
        }
    }

    /// The blob file of a manifest.
    pub fn path_of(&self, model: &RegistryModel) -> PathBuf {
        self.blobs.path_of(&model.digest)
    }

    /// Import a local GGUF file (copied, or hard-linked with `link`).
    pub async fn import_file(&self, file: ImportFile) -> Result<RegistryModel, RegistryError> {
        let name = match &file.name {
            Some(name) => ModelRef::parse(name)?,
            None => ModelRef::parse(&crate::registry::pull::default_file_name(&file.path))?,
        };
        let meta = std::fs::metadata(&file.path).map_err(|e| RegistryError::io(&file.path, e))?;
        if !meta.is_file() {
            return Err(RegistryError::Invalid {
                field: "file",
                message: format!("{} is not a file", file.path.display()),
            });
        }
        // Refuse a file that is no model before copying gigabytes.
        let inspector = self.inspector.clone();
        let path = file.path.clone();
        tokio::task::spawn_blocking(move || inspector.inspect(&path))
            .await
            .map_err(join_err)?
            .map_err(RegistryError::BadModel)?;
        self.check_quota(meta.len())?;
        let blobs = self.blobs.clone();
        let (path, link) = (file.path.clone(), file.link);
        let (digest, _) = tokio::task::spawn_blocking(move || blobs.ingest(&path, link, None))
            .await
            .map_err(join_err)??;
        let source = Provenance {
            kind: "import".to_owned(),
            file: Some(
                std::path::absolute(&file.path)
                    .unwrap_or(file.path.clone())
                    .display()
                    .to_string(),
            ),
            ..Provenance::default()
        };
        self.record_blob(&name, &digest, source).await
    }

    /// Convert a checkpoint with the configured [`ConvertHook`] and import the
    /// result under `name`.
    pub async fn import_converted(
        &self,
        checkpoint: &Path,
        name: &str,
    ) -> Result<RegistryModel, RegistryError> {
        let name = ModelRef::parse(name)?;
        let converter = self.converter.clone().ok_or_else(|| {
            RegistryError::Unsupported(
                "this build has no checkpoint converter (hearth convert)".to_owned(),
            )
        })?;
        self.blobs.ensure_dirs()?;
        let out = self
            .blobs
            .partial_dir()
            .join(format!("convert-{}.tmp", uuid::Uuid::new_v4()));
        let (from, to) = (checkpoint.to_owned(), out.clone());
        let converted = tokio::task::spawn_blocking(move || converter.convert(&from, &to))
            .await
            .map_err(join_err)?;
        let imported = match converted {
            Ok(()) => {
                self.import_file(ImportFile {
                    path: out.clone(),
                    name: Some(name.full()),
                    link: true,
                })
                .await
            }
            Err(e) => Err(RegistryError::BadModel(format!("conversion failed: {e}"))),
        };
        let _ = std::fs::remove_file(&out);
        let mut model = imported?;
        model.source = Provenance {
            kind: "convert".to_owned(),
            file: Some(checkpoint.display().to_string()),
            license: model.source.license.clone(),
            ..Provenance::default()
        };
        self.store.registry().put(&model).await?;
        Ok(model)
    }

    /// Record `name` → the existing blob `digest` (header read again).
    pub(super) async fn record_blob(
        &self,
        name: &ModelRef,
        digest: &str,
        source: Provenance,
    ) -> Result<RegistryModel, RegistryError> {
        let _guard = self.ops.lock().await;
        self.record_blob_locked(name, digest, source).await
    }

    /// [`Registry::record_blob`] with `ops` held by the caller. A blob that is
    /// no model is removed unless another manifest uses it.
    pub(super) async fn record_blob_locked(
        &self,
        name: &ModelRef,
        digest: &str,
        mut source: Provenance,
    ) -> Result<RegistryModel, RegistryError> {
        let path = self.blobs.path_of(digest);
        let inspector = self.inspector.clone();
        let inspected = tokio::task::spawn_blocking({
            let path = path.clone();
            move || inspector.inspect(&path)
        })
        .await
        .map_err(join_err)?;
        let Inspected { mut info, license } = match inspected {
            Ok(inspected) => inspected,
            Err(e) => {
                if self.store.registry().count_digest(digest).await? == 0 {
                    self.blobs.remove(digest)?;
                }
                return Err(RegistryError::BadModel(e));
            }
        };
        let size_bytes = std::fs::metadata(&path)
            .map_err(|e| RegistryError::io(&path, e))?
            .len();
        let now = now_ms();
        info.name = name.full();
        info.digest = Some(digest.to_owned());
        info.size_bytes = size_bytes;
        info.modified_at_ms = now;
        if source.license.is_none() {
            source.license = license;
        }
        let model = RegistryModel {
            name: name.full(),
            digest: digest.to_owned(),
            size_bytes,
            info,
            source,
            preset: None,
            created_at_ms: now,
            updated_at_ms: now,
        };
        self.put_locked(&model).await?;
        Ok(model)
    }

    /// Write a manifest, publish it, and collect the blob it replaced.
    pub(super) async fn put_locked(&self, model: &RegistryModel) -> Result<(), RegistryError> {
        let registry = self.store.registry();
        let previous = match registry.get(&model.name).await {
            Ok(previous) => Some(previous),
            Err(StoreError::NotFound) => None,
            Err(e) => return Err(e.into()),
        };
        registry.put(model).await?;
        self.refresh_quietly().await;
        if let Some(previous) = previous
            && previous.digest != model.digest
            && registry.count_digest(&previous.digest).await? == 0
        {
            self.blobs.remove(&previous.digest)?;
        }
        Ok(())
    }

    /// Bring the serving side in step with the manifests: publish every name
    /// whose blob exists, withdraw names that are gone (changed by the CLI or
    /// another replica), and recompute where each name's requests go. Returns
    /// how many names are served. A no-op without a serving side.
    pub async fn refresh(&self) -> Result<usize, RegistryError> {
        let Some(sink) = self.served() else {
            return Ok(0);
        };
        let models = self.list().await?;
        let mut now = BTreeSet::new();
        let mut primary: HashMap<&str, String> = HashMap::new();
        let mut present: Vec<(&RegistryModel, String)> = models
            .iter()
            .filter(|m| self.blobs.exists(&m.digest))
            .filter_map(|m| ModelRef::parse(&m.name).ok().map(|r| (m, r.served())))
            .collect();
        // One loading name per blob: an original (not a preset, not a copy)
        // before copies before presets, the oldest first.
        let rank = |m: &RegistryModel| {
            (
                m.preset.is_some(),
                m.source.parent.is_some(),
                m.created_at_ms,
                m.name.clone(),
            )
        };
        present.sort_by_key(|(m, _)| rank(m));
        for (model, served) in &present {
            primary
                .entry(model.digest.as_str())
                .or_insert_with(|| served.clone());
        }
        let mut routes = HashMap::new();
        for (model, served) in &present {
            sink.publish(served, &self.blobs.path_of(&model.digest), &model.info);
            now.insert(served.clone());
            let target = primary
                .get(model.digest.as_str())
                .cloned()
                .unwrap_or_else(|| served.clone());
            if target != *served || model.preset.is_some() {
                let route = Route {
                    target,
                    preset: model.preset.clone(),
                };
                routes.insert(served.clone(), route);
            }
        }
        for model in models.iter().filter(|m| !self.blobs.exists(&m.digest)) {
            tracing::warn!(model = %model.name, digest = %model.digest, "model blob is missing; not served");
        }
        let mut published = self.published.lock().unwrap_or_else(|e| e.into_inner());
        for gone in published.difference(&now) {
            sink.withdraw(gone);
        }
        *published = now;
        let count = published.len();
        *self.routes.write().unwrap_or_else(|e| e.into_inner()) = routes;
        Ok(count)
    }

    /// [`Registry::refresh`] after a change; a failure is logged (the periodic
    /// refresh repairs it).
    async fn refresh_quietly(&self) {
        if let Err(err) = self.refresh().await {
            tracing::warn!(%err, "cannot refresh the served models");
        }
    }

    /// Where requests for `name` go, when it is a registry name with a preset
    /// or sharing its blob with another name.
    pub fn route(&self, name: &str) -> Option<Route> {
        let served = ModelRef::parse(name).ok()?.served();
        let routes = self.routes.read().unwrap_or_else(|e| e.into_inner());
        routes.get(&served).cloned()
    }

    /// What is loaded in memory (empty when nothing serves models here).
    pub async fn loaded(&self) -> Vec<LoadedModel> {
        let loaded = self
            .loaded
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone();
        match loaded {
            Some(loaded) => loaded.loaded().await,
            None => Vec::new(),
        }
    }

    /// Remove a manifest, and its blob when no other manifest uses it. A loaded
    /// model is refused unless `force`.
    pub async fn remove(&self, name: &str, force: bool) -> Result<RegistryModel, RegistryError> {
        let model = self.get(name).await?;
        let served = ModelRef::parse(&model.name)?.served();
        if !force && self.loaded().await.iter().any(|m| m.name == served) {
            return Err(RegistryError::Conflict(format!(
                "model '{}' is loaded; remove it once it is unloaded, or force the removal",
                model.name
            )));
        }
        let _guard = self.ops.lock().await;
        let registry = self.store.registry();
        match registry.delete(&model.name).await {
            Err(StoreError::NotFound) => return Err(RegistryError::NotFound(model.name)),
            other => other?,
        }
        self.refresh_quietly().await;
        if registry.count_digest(&model.digest).await? == 0 {
            self.blobs.remove(&model.digest)?;
        }
        Ok(model)
    }

    /// Another name for the same blob (replaces `to` if it exists).
    pub async fn copy(&self, from: &str, to: &str) -> Result<RegistryModel, RegistryError> {
        let source = self.get(from).await?;
        let target = ModelRef::parse(to)?;
        if target.full() == source.name {
            return Err(RegistryError::Invalid {
                field: "destination",
                message: "the destination is the source".to_owned(),
            });
        }
        let now = now_ms();
        let parent = source.source.parent.clone().unwrap_or(source.name.clone());
        let mut model = RegistryModel {
            name: target.full(),
            created_at_ms: now,
            updated_at_ms: now,
            ..source
        };
        model.info.name = target.full();
        model.source.parent = Some(parent);
        let _guard = self.ops.lock().await;
        self.put_locked(&model).await?;
        Ok(model)
    }

    /// A preset: `name` serves the blob of `from` with default parameters,
    /// system prompt and optionally another template. Parameters merge over
    /// those of `from` when it is a preset itself.
    pub async fn create_preset(
        &self,
        name: &str,
        from: &str,
        preset: Preset,
    ) -> Result<RegistryModel, RegistryError> {
        let base = self.get(from).await?;
        let target = ModelRef::parse(name)?;
        if let Some(template) = &preset.template {
            self.inspector
                .check_template(template)
                .map_err(|message| RegistryError::Invalid {
                    field: "template",
                    message: format!(
                        "the chat template does not compile (templates are Jinja, as in a \
                         GGUF's tokenizer.chat_template): {message}"
                    ),
                })?;
        }
        if let Some(unknown) = preset
            .parameters
            .keys()
            .find(|k| !PRESET_PARAMETERS.contains(&k.as_str()))
        {
            return Err(RegistryError::Invalid {
                field: "parameters",
                message: format!(
                    "unknown parameter '{unknown}'; known: {}",
                    PRESET_PARAMETERS.join(", ")
                ),
            });
        }
        let mut merged = base.preset.clone().unwrap_or_default();
        merged.parameters.extend(preset.parameters);
        if preset.system.is_some() {
            merged.system = preset.system;
        }
        if preset.template.is_some() {
            merged.template = preset.template;
        }
        let now = now_ms();
        let mut info = base.info.clone();
        info.name = target.full();
        if let Some(template) = &merged.template {
            info.chat_template = Some(template.clone());
        }
        let model = RegistryModel {
            name: target.full(),
            digest: base.digest.clone(),
            size_bytes: base.size_bytes,
            info,
            source: Provenance {
                kind: "preset".to_owned(),
                parent: Some(base.name.clone()),
                ..base.source.clone()
            },
            preset: Some(merged),
            created_at_ms: now,
            updated_at_ms: now,
        };
        let _guard = self.ops.lock().await;
        self.put_locked(&model).await?;
        Ok(model)
    }

    /// Remove blobs no manifest points at, and leftovers of interrupted
    /// imports. Partial downloads stay (pulls resume from them).
    pub async fn gc(&self) -> Result<GcReport, RegistryError> {
        let _guard = self.ops.lock().await;
        let registry = self.store.registry();
        let mut report = GcReport::default();
        for (digest, size) in self.blobs.list() {
            if registry.count_digest(&digest).await? == 0 {
                self.blobs.remove(&digest)?;
                report.blobs += 1;
                report.bytes += size;
            }
        }
        self.blobs.remove_stale_imports();
        Ok(report)
    }
}
