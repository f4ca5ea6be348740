//! The typed application state every handler receives. Holds ports as
//! `Arc<dyn Trait>`; the binary picks the adapters once, at startup.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

use hearth_core::auth::{AuthService, AuthSettings, PasswordHasher};
use hearth_core::backend::{ChatBackend, EmbedBackend};
use hearth_core::config::Config;
use hearth_core::conversations::{ConversationService, ConversationSettings};
use hearth_core::limits::{InProcessLimiter, Limiter};
use hearth_core::models::ModelCatalog;
use hearth_core::registry::Registry;
use hearth_core::store::Store;
use hearth_core::usage::{MeteredChat, MeteredEmbed, QuotaSettings, Quotas, UsageRecorder};
use metrics_exporter_prometheus::PrometheusHandle;

/// Shared state of the server (cheap to clone).
#[derive(Clone)]
pub struct AppState {
    /// The effective configuration.
    pub config: Arc<Config>,
    /// The database.
    pub store: Arc<dyn Store>,
    /// Text generation (local engine, later also upstream providers), metered.
    pub chat: Arc<dyn ChatBackend>,
    /// Embeddings, metered.
    pub embed: Arc<dyn EmbedBackend>,
    /// Which models exist.
    pub models: Arc<dyn ModelCatalog>,
    /// Writes usage records in the background; flushed at shutdown.
    pub usage: UsageRecorder,
    /// Token limits and quotas per key and user.
    pub quotas: Arc<Quotas>,
    /// Conversations (over `store` and `chat`), with the generations in progress.
    pub conversations: Arc<ConversationService>,
    /// Renders `/metrics`; `None` when metrics are off.
    pub metrics: Option<PrometheusHandle>,
    /// Set when shutdown began: `/readyz` turns 503 so load balancers drain us.
    pub shutting_down: Arc<AtomicBool>,
    /// When the process started serving.
    pub started_at: Instant,
    /// Accounts, keys, sessions, audit.
    pub auth: Arc<AuthService>,
    /// Request budgets (in-process unless replaced with [`AppState::with_accounts`]).
    pub limiter: Arc<dyn Limiter>,
    /// The model registry (pull, copy, delete, presets); `None` when this
    /// server manages no models (model management routes then refuse).
    pub registry: Option<Arc<Registry>>,
}

/// What the binary (or a test) wires into a state.
pub struct Parts {
    /// The effective configuration.
    pub config: Arc<Config>,
    /// The database.
    pub store: Arc<dyn Store>,
    /// Text generation.
    pub chat: Arc<dyn ChatBackend>,
    /// Embeddings.
    pub embed: Arc<dyn EmbedBackend>,
    /// Which models exist.
    pub models: Arc<dyn ModelCatalog>,
    /// Renders `/metrics`.
    pub metrics: Option<PrometheusHandle>,
}

impl AppState {
    /// A state with the given parts. Starts the usage writer, so it must be
    /// called on a tokio runtime.
    pub fn new(parts: Parts) -> Self {
        let limiter: Arc<dyn Limiter> = Arc::new(InProcessLimiter::new());
        let auth = Arc::new(AuthService::new(
            parts.store.clone(),
            limiter.clone(),
            PasswordHasher::default(),
            AuthSettings::from_config(&parts.config),
        ));
        let observer: Option<hearth_core::usage::Observer> = parts
            .metrics
            .is_some()
            .then(|| Arc::new(crate::metrics::observe_usage) as hearth_core::usage::Observer);
        let usage = UsageRecorder::start_with(parts.store.clone(), observer);
        let chat: Arc<dyn ChatBackend> = Arc::new(MeteredChat::new(parts.chat, usage.clone()));
        let embed: Arc<dyn EmbedBackend> = Arc::new(MeteredEmbed::new(parts.embed, usage.clone()));
        let conversations = Arc::new(
            ConversationService::new(
                parts.store.clone(),
                chat.clone(),
                ConversationSettings::from_config(&parts.config),
            )
            .with_catalog(parts.models.clone()),
        );
        let quotas = quotas(&parts.store, &limiter, &auth, &parts.config);
        AppState {
            auth,
            limiter,
            conversations,
            usage,
            quotas,
            config: parts.config,
            store: parts.store,
            chat,
            embed,
            models: parts.models,
            metrics: parts.metrics,
            shutting_down: Arc::new(AtomicBool::new(false)),
            started_at: Instant::now(),
            registry: None,
        }
    }

    /// The same state managing models with `registry`.
    pub fn with_registry(mut self, registry: Arc<Registry>) -> Self {
        self.registry = Some(registry);
        self
    }

    /// The same state with another limiter (Redis, shared by replicas) and
    /// password hasher (tests use a cheap one).
    pub fn with_accounts(mut self, limiter: Arc<dyn Limiter>, hasher: PasswordHasher) -> Self {
        self.auth = Arc::new(AuthService::new(
            self.store.clone(),
            limiter.clone(),
            hasher,
            AuthSettings::from_config(&self.config),
        ));
        self.quotas = quotas(&self.store, &limiter, &self.auth, &self.config);
        self.limiter = limiter;
        self
    }

    /// Write every pending usage record (shutdown, tests).
    pub async fn flush_usage(&self) {
        self.usage.flush().await;
    }

    /// Whether shutdown has begun.
    pub fn is_shutting_down(&self) -> bool {
        self.shutting_down.load(Ordering::Relaxed)
    }
}

fn quotas(
    store: &Arc<dyn Store>,
    limiter: &Arc<dyn Limiter>,
    auth: &Arc<AuthService>,
    config: &Config,
) -> Arc<Quotas> {
    Arc::new(Quotas::new(
        store.clone(),
        limiter.clone(),
        auth.clone(),
        QuotaSettings::from_config(&config.limits),
    ))
}
