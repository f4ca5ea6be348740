//! Wiring of the local engine: engine settings from the configuration, and the
//! model files it serves (configured files, then the models directory).

use std::sync::Arc;

use hearth_core::config::{Config, PrefixCacheScope};
use hearth_engine::{Engine, EngineConfig, LocalModels, PrefixScope, SchedulerConfig};

/// The local models of this server, registered but not loaded (each loads on
/// first use). A file whose header is invalid is reported and skipped.
pub fn local_models(config: &Config) -> anyhow::Result<Arc<LocalModels>> {
    let settings = &config.engine;
    let scheduler = SchedulerConfig {
        threads: settings.threads,
        context_tokens: settings.context_tokens,
        parallel: settings.parallel,
        max_queue: settings.max_queue as usize,
        prefix_scope: match settings.prefix_cache_scope {
            PrefixCacheScope::Principal => PrefixScope::Principal,
            PrefixCacheScope::Server => PrefixScope::Server,
        },
        ram_cache_bytes: settings.ram_cache_mb as usize * 1024 * 1024,
        ..SchedulerConfig::default()
    };
    let models = LocalModels::new(Engine::new(EngineConfig {
        scheduler,
        ..EngineConfig::default()
    }));
    for file in &config.models.files {
        let name = models
            .register_file(file)
            .map_err(|e| anyhow::anyhow!("model file {} (models.files): {e}", file.display()))?;
        tracing::info!(model = %name, path = %file.display(), "model registered");
    }
    if let Some(dir) = &config.models.dir {
        for (path, err) in models.scan_dir(dir) {
            tracing::warn!(path = %path.display(), error = %err, "model file skipped");
        }
    }
    Ok(Arc::new(models))
}
