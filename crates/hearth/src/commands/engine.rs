//! Wiring of the local engine: engine settings from the configuration, the model
//! files it serves (configured files, then the models directory), and where they
//! execute: in supervised runner processes (`engine.isolation = "process"`, the
//! default) or in this process. Also the hidden `hearth runner` subcommand.

use std::path::Path;
use std::process::ExitCode;
use std::sync::Arc;

use hearth_core::backend::{ChatBackend, EmbedBackend};
use hearth_core::config::{Config, EngineSettings, Isolation, PrefixCacheScope};
use hearth_core::models::{KeepAlive, ModelCatalog};
use hearth_core::registry::LoadedModels;
use hearth_engine::{
    Engine, EngineConfig, LocalModels, ModelFiles, PrefixScope, Residency, RunnerCommand,
    SchedulerConfig, Supervisor,
};

use crate::cli::RunnerArgs;

/// The model backends of a server: one object behind the three ports.
pub struct Models {
    /// Text generation.
    pub chat: Arc<dyn ChatBackend>,
    /// Embeddings.
    pub embed: Arc<dyn EmbedBackend>,
    /// The catalog.
    pub catalog: Arc<dyn ModelCatalog>,
    /// The runner supervisor, when models run in processes (stopped at shutdown).
    pub supervisor: Option<Arc<Supervisor>>,
    /// The table of servable files (the registry publishes its models there).
    pub files: Arc<ModelFiles>,
    /// What is loaded.
    pub loaded: Arc<dyn LoadedModels>,
}

/// The engine settings of the configuration as the engine's own.
fn engine_config(settings: &EngineSettings) -> EngineConfig {
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
    EngineConfig {
        scheduler,
        ..EngineConfig::default()
    }
}

/// The model files of the configuration, registered (headers read, nothing
/// loaded). A configured file with an invalid header is an error; one in the
/// models directory is reported and skipped.
fn model_files(config: &Config) -> anyhow::Result<Arc<ModelFiles>> {
    let files = ModelFiles::new();
    for file in &config.models.files {
        let name = files
            .register_file(file)
            .map_err(|e| anyhow::anyhow!("model file {} (models.files): {e}", file.display()))?;
        tracing::info!(model = %name, path = %file.display(), "model registered");
    }
    if let Some(dir) = &config.models.dir {
        for (path, err) in files.scan_dir(dir) {
            tracing::warn!(path = %path.display(), error = %err, "model file skipped");
        }
    }
    Ok(Arc::new(files))
}

/// The local models of this server, registered but not loaded (each loads on
/// first use), in process.
pub fn local_models(config: &Config) -> anyhow::Result<Arc<LocalModels>> {
    Ok(Arc::new(LocalModels::with_files(
        Engine::new(engine_config(&config.engine)),
        model_files(config)?,
    )))
}

/// The models of this server, executing as `engine.isolation` says.
pub fn models(config: &Config) -> anyhow::Result<Models> {
    match config.engine.isolation {
        Isolation::InProcess => {
            let local = local_models(config)?;
            Ok(Models {
                chat: local.clone(),
                embed: local.clone(),
                catalog: local.clone(),
                supervisor: None,
                files: local.files().clone(),
                loaded: local,
            })
        }
        Isolation::Process => {
            let program = std::env::current_exe().map_err(|e| {
                anyhow::anyhow!("cannot find this executable to start runners: {e}")
            })?;
            let mut command = RunnerCommand::new(program);
            command.extra_args = runner_flags(&config.engine);
            let residency = residency(&config.engine);
            tracing::info!(
                memory_budget_mib = residency.budget_bytes / (1 << 20),
                keep_alive_secs = config.engine.keep_alive_secs,
                "models run in supervised runner processes"
            );
            let supervisor = Arc::new(Supervisor::with_residency(
                model_files(config)?,
                command,
                residency,
            ));
            supervisor.start_reaper();
            Ok(Models {
                chat: supervisor.clone(),
                embed: supervisor.clone(),
                catalog: supervisor.clone(),
                files: supervisor.files().clone(),
                loaded: supervisor.clone(),
                supervisor: Some(supervisor),
            })
        }
    }
}

/// Keep-alive and memory budget of the runners.
fn residency(settings: &EngineSettings) -> Residency {
    let budget_bytes = match settings.memory_budget_mb {
        0 => hearth_engine::model::total_memory_bytes().map_or(u64::MAX, |total| total / 4 * 3),
        mb => mb.saturating_mul(1 << 20),
    };
    Residency {
        keep_alive: KeepAlive::from_secs(settings.keep_alive_secs),
        budget_bytes,
        scheduler: engine_config(settings).scheduler,
    }
}

/// The engine settings as `hearth runner` flags.
fn runner_flags(settings: &EngineSettings) -> Vec<String> {
    let scope = match settings.prefix_cache_scope {
        PrefixCacheScope::Principal => "principal",
        PrefixCacheScope::Server => "server",
    };
    [
        ("--threads", settings.threads.to_string()),
        ("--context-tokens", settings.context_tokens.to_string()),
        ("--parallel", settings.parallel.to_string()),
        ("--max-queue", settings.max_queue.to_string()),
        ("--prefix-cache-scope", scope.to_owned()),
        ("--ram-cache-mb", settings.ram_cache_mb.to_string()),
    ]
    .into_iter()
    .flat_map(|(flag, value)| [flag.to_owned(), value])
    .collect()
}

/// `hearth runner`: serve one model over the supervisor's socket until it closes.
pub fn runner(args: RunnerArgs) -> ExitCode {
    let filter = tracing_subscriber::EnvFilter::try_new(&args.log_level)
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_target(false)
        .init();
    let settings = EngineSettings {
        threads: args.threads,
        context_tokens: args.context_tokens,
        parallel: args.parallel,
        max_queue: args.max_queue,
        prefix_cache_scope: match args.prefix_cache_scope.as_str() {
            "server" => PrefixCacheScope::Server,
            _ => PrefixCacheScope::Principal,
        },
        ram_cache_mb: args.ram_cache_mb,
        isolation: Isolation::InProcess,
        ..EngineSettings::default()
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(err) => {
            eprintln!("hearth runner: cannot start the async runtime: {err}");
            return ExitCode::FAILURE;
        }
    };
    let result = runtime.block_on(hearth_engine::runner::child::run(
        &args.socket,
        &args.model_name,
        Path::new(&args.model_file),
        engine_config(&settings),
    ));
    // The server closed the socket (or loading failed): do not wait for
    // in-flight work, it has no one to go to.
    runtime.shutdown_background();
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("hearth runner: {err}");
            ExitCode::FAILURE
        }
    }
}
