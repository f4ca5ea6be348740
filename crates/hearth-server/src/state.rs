//! The typed application state every handler receives. Holds ports as
//! `Arc<dyn Trait>`; the binary picks the adapters once, at startup.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

use hearth_core::config::Config;
use hearth_core::store::Store;
use metrics_exporter_prometheus::PrometheusHandle;

/// Shared state of the server (cheap to clone).
#[derive(Clone)]
pub struct AppState {
    /// The effective configuration.
    pub config: Arc<Config>,
    /// The database.
    pub store: Arc<dyn Store>,
    /// Renders `/metrics`; `None` when metrics are off.
    pub metrics: Option<PrometheusHandle>,
    /// Set when shutdown began: `/readyz` turns 503 so load balancers drain us.
    pub shutting_down: Arc<AtomicBool>,
    /// When the process started serving.
    pub started_at: Instant,
}

impl AppState {
    /// A state with the given parts.
    pub fn new(
        config: Arc<Config>,
        store: Arc<dyn Store>,
        metrics: Option<PrometheusHandle>,
    ) -> Self {
        AppState {
            config,
            store,
            metrics,
            shutting_down: Arc::new(AtomicBool::new(false)),
            started_at: Instant::now(),
        }
    }

    /// Whether shutdown has begun.
    pub fn is_shutting_down(&self) -> bool {
        self.shutting_down.load(Ordering::Relaxed)
    }
}
