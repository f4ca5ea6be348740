//! `hearth serve`: load the configuration, open storage, wire the adapters into
//! the application state, serve until SIGTERM/SIGINT, drain, exit 0.

use std::net::SocketAddr;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Instant;

use anyhow::Context;
use hearth_core::config::Config;
use hearth_server::{AppState, Parts, ShutdownSignal};
use tokio::net::TcpListener;

use crate::cli::ServeArgs;

/// Run the server; returns the process exit code.
pub fn run(args: ServeArgs) -> ExitCode {
    let mut extra = Vec::new();
    if !args.models.is_empty() {
        let files: Vec<String> = args
            .models
            .iter()
            .map(|p| p.display().to_string())
            .collect();
        extra.push(("models.files".to_owned(), files.join(",")));
    }
    let config = match super::load_config_with(&args.config, extra) {
        Ok(config) => config,
        Err(err) => return super::config_failure(&err),
    };
    if let Err(message) = crate::telemetry::init(&config.log) {
        eprintln!("hearth: {message}");
        return ExitCode::from(super::EXIT_CONFIG);
    }
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(err) => {
            eprintln!("hearth: cannot start the async runtime: {err}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(serve(config)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            tracing::error!("{err:#}");
            eprintln!("hearth: {err:#}");
            ExitCode::FAILURE
        }
    }
}

async fn serve(config: Config) -> anyhow::Result<()> {
    let started = Instant::now();
    let config = Arc::new(config);
    std::fs::create_dir_all(config.data_dir()).with_context(|| {
        format!(
            "cannot create data directory {}",
            config.data_dir().display()
        )
    })?;
    let store = hearth_store::open(
        &config.database_url(),
        &hearth_store::OpenOptions {
            max_connections: config.database.max_connections,
            sqlite_synchronous: config.database.sqlite_synchronous,
        },
    )
    .await
    .with_context(|| {
        format!(
            "cannot open the database {}",
            hearth_core::config::redact_url(&config.database_url())
        )
    })?;
    let requeued = store.jobs().requeue_interrupted().await?;
    if requeued > 0 {
        tracing::info!(
            requeued,
            "jobs interrupted by the last stop are queued again"
        );
    }
    let metrics = config
        .metrics
        .enabled
        .then(hearth_server::metrics::install_recorder);
    if let (Some(handle), Some(addr)) = (&metrics, config.metrics.bind) {
        spawn_metrics_listener(addr, handle.clone()).await?;
    }
    let tls = match (&config.server.tls_cert, &config.server.tls_key) {
        (Some(cert), Some(key)) => {
            let tls = hearth_server::tls::Tls::load(cert, key)?;
            hearth_server::tls::reload_on_sighup(tls.clone())
                .context("cannot install the SIGHUP handler")?;
            Some(tls)
        }
        _ => None,
    };
    let shutdown = shutdown_signal().context("cannot install signal handlers")?;
    let listener = TcpListener::bind(config.server.bind)
        .await
        .with_context(|| format!("cannot listen on {} (server.bind)", config.server.bind))?;
    let addr = listener.local_addr()?;
    tracing::info!(
        %addr,
        storage = store.kind().as_str(),
        data_dir = %config.data_dir().display(),
        startup_ms = started.elapsed().as_millis() as u64,
        "hearth {} listening on {}://{addr}",
        env!("CARGO_PKG_VERSION"),
        if tls.is_some() { "https" } else { "http" },
    );
    let models = super::engine::models(&config)?;
    let supervisor = models.supervisor.clone();
    let registry = super::models::serve_registry(&config, &store, &models).await?;
    // Copies and presets reach the model that loads their file, with the
    // preset's defaults.
    let routed = Arc::new(hearth_core::registry::RegistryRouting::new(
        models.chat,
        models.embed,
        registry.clone(),
    ));
    let state = AppState::new(Parts {
        config: config.clone(),
        store: store.clone(),
        chat: routed.clone(),
        embed: routed,
        models: models.catalog,
        metrics,
    });
    let state = super::accounts::wire(state.with_registry(registry), &config, addr).await?;
    // Before serving: answers left `streaming` by the last process are marked
    // `error` (no generation of this process exists yet).
    let interrupted = state.conversations.recover_interrupted().await?;
    if interrupted > 0 {
        tracing::info!(
            interrupted,
            "answers interrupted by the last stop are marked as errors"
        );
    }
    spawn_conversation_purge(state.conversations.clone());
    let stopped = hearth_server::serve(listener, state, tls, shutdown).await?;
    if let Some(supervisor) = supervisor {
        supervisor.shutdown().await;
    }
    store.close().await;
    tracing::info!(?stopped, "stopped");
    Ok(())
}

/// Purge soft-deleted conversations past their retention period, hourly.
fn spawn_conversation_purge(conversations: Arc<hearth_core::conversations::ConversationService>) {
    tokio::spawn(async move {
        let mut every = tokio::time::interval(std::time::Duration::from_secs(3600));
        loop {
            every.tick().await;
            match conversations.purge_expired().await {
                Ok(0) => {}
                Ok(purged) => tracing::info!(purged, "deleted conversations purged"),
                Err(err) => tracing::warn!(%err, "purging deleted conversations failed"),
            }
        }
    });
}

async fn spawn_metrics_listener(
    addr: SocketAddr,
    handle: metrics_exporter_prometheus::PrometheusHandle,
) -> anyhow::Result<()> {
    let listener = TcpListener::bind(addr)
        .await
        .with_context(|| format!("cannot listen on {addr} (metrics.bind)"))?;
    let app = axum_metrics_router(handle);
    tokio::spawn(async move {
        if let Err(err) = axum_serve(listener, app).await {
            tracing::error!(%err, "metrics listener stopped");
        }
    });
    tracing::info!(%addr, "metrics on http://{addr}/metrics");
    Ok(())
}

use hearth_server::metrics::{
    metrics_only_router as axum_metrics_router, serve_plain as axum_serve,
};

/// Register SIGTERM and SIGINT handlers now (before we announce readiness, so an
/// early signal is a clean stop and not the default kill), resolving on either.
fn shutdown_signal() -> std::io::Result<ShutdownSignal> {
    use tokio::signal::unix::{SignalKind, signal};
    let mut term = signal(SignalKind::terminate())?;
    let mut int = signal(SignalKind::interrupt())?;
    Ok(Box::pin(async move {
        tokio::select! {
            _ = term.recv() => tracing::info!("SIGTERM received"),
            _ = int.recv() => tracing::info!("SIGINT received"),
        }
    }))
}
