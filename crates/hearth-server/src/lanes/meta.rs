//! Open routes about the server itself: liveness, readiness, meta, the OpenAPI
//! document and metrics.

use std::collections::BTreeMap;
use std::time::Duration;

use axum::Json;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use hearth_types::Code;
use serde::Serialize;
use utoipa::ToSchema;
use utoipa::openapi::ComponentsBuilder;

use crate::error::ApiError;
use crate::route;
use crate::routes::{Auth::Open, Auth::Scope, Route};
use crate::state::AppState;

/// Routes of this module.
pub fn routes() -> Vec<Route> {
    use axum::routing::get;
    vec![
        route!(GET "/healthz", Hearth, Open, None, "health", "Liveness: the process answers.",
            req: None, res: Some("HealthView"), get(health)),
        route!(GET "/readyz", Hearth, Open, None, "ready", "Readiness: storage reachable, not shutting down.",
            req: None, res: Some("ReadyView"), get(ready)),
        route!(GET "/v1/meta", Hearth, Open, None, "meta", "Version, capabilities and storage engine.",
            req: None, res: Some("MetaView"), get(meta)),
        route!(GET "/openapi.json", Hearth, Open, None, "openapi", "This OpenAPI document.",
            req: None, res: None, get(openapi)),
        route!(GET "/metrics", Hearth, Scope("metrics"), None, "metrics", "Prometheus metrics (text format); open when `metrics.public = true`.",
            req: None, res: None, get(metrics)),
    ]
}

/// Schemas of this module's views, for the OpenAPI document.
pub fn schemas(components: ComponentsBuilder) -> ComponentsBuilder {
    components
        .schema_from::<HealthView>()
        .schema_from::<ReadyView>()
        .schema_from::<MetaView>()
}

/// Liveness answer.
#[derive(Debug, Serialize, ToSchema)]
pub struct HealthView {
    /// Always `ok`.
    pub status: &'static str,
}

/// Readiness answer.
#[derive(Debug, Serialize, ToSchema)]
pub struct ReadyView {
    /// `ready` or `not_ready`.
    pub status: &'static str,
    /// Each dependency and its state (`ok` or the problem).
    pub checks: BTreeMap<&'static str, String>,
}

/// What this server is and can do.
#[derive(Debug, Serialize, ToSchema)]
pub struct MetaView {
    /// Always `hearth`.
    pub name: &'static str,
    /// Hearth's version.
    pub version: &'static str,
    /// Capability → enabled.
    pub capabilities: BTreeMap<&'static str, bool>,
    /// Storage engine: `sqlite` or `postgres`.
    pub storage: &'static str,
    /// Seconds since the server started.
    pub uptime_secs: u64,
}

/// `GET /healthz`
pub async fn health() -> Json<HealthView> {
    Json(HealthView { status: "ok" })
}

/// `GET /readyz`: 200 when every dependency answers, else 503 with the details.
pub async fn ready(State(state): State<AppState>) -> Response {
    let mut checks = BTreeMap::new();
    let storage = match tokio::time::timeout(Duration::from_secs(2), state.store.ping()).await {
        Ok(Ok(())) => "ok".to_owned(),
        Ok(Err(e)) => e.to_string(),
        Err(_) => "no answer within 2 s".to_owned(),
    };
    checks.insert("storage", storage);
    if state.is_shutting_down() {
        checks.insert("server", "shutting down".to_owned());
    }
    let is_ready = !state.is_shutting_down() && checks.values().all(|v| v == "ok");
    let status = if is_ready {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    let view = ReadyView {
        status: if is_ready { "ready" } else { "not_ready" },
        checks,
    };
    (status, Json(view)).into_response()
}

/// `GET /v1/meta`
pub async fn meta(State(state): State<AppState>) -> Json<MetaView> {
    Json(MetaView {
        name: "hearth",
        version: env!("CARGO_PKG_VERSION"),
        capabilities: state.config.capabilities.list().into_iter().collect(),
        storage: state.store.kind().as_str(),
        uptime_secs: state.started_at.elapsed().as_secs(),
    })
}

/// `GET /openapi.json`
pub async fn openapi() -> Json<serde_json::Value> {
    Json(crate::openapi::document().clone())
}

/// `GET /metrics` (on the main listener, unless metrics have their own).
pub async fn metrics(State(state): State<AppState>) -> Result<Response, ApiError> {
    let metrics_here = state.config.metrics.enabled && state.config.metrics.bind.is_none();
    match (&state.metrics, metrics_here) {
        (Some(handle), true) => Ok((
            [(
                header::CONTENT_TYPE,
                "text/plain; version=0.0.4; charset=utf-8",
            )],
            handle.render(),
        )
            .into_response()),
        _ => Err(ApiError::new(
            Code::NotFound,
            "metrics are not served on this listener (see metrics.enabled and metrics.bind)",
        )),
    }
}
