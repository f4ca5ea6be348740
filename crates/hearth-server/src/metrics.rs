//! Names of every metric Hearth exports, and the Prometheus recorder. All code
//! records through the `metrics` facade with these constants.

use std::sync::OnceLock;

use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};

/// Counter: HTTP requests by route template, method, status.
pub const HTTP_REQUESTS_TOTAL: &str = "hearth_http_requests_total";
/// Histogram: HTTP request latency (until the response starts) in seconds.
pub const HTTP_REQUEST_DURATION_SECONDS: &str = "hearth_http_request_duration_seconds";

const LATENCY_BUCKETS: &[f64] = &[
    0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0,
];

/// Install the process-wide Prometheus recorder once and return its handle (safe
/// to call again: tests build many servers in one process).
pub fn install_recorder() -> PrometheusHandle {
    static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();
    HANDLE
        .get_or_init(|| {
            let recorder = PrometheusBuilder::new()
                .set_buckets_for_metric(Matcher::Suffix("_seconds".to_owned()), LATENCY_BUCKETS)
                .expect("buckets are non-empty")
                .build_recorder();
            let handle = recorder.handle();
            // Another recorder may already be installed (an embedding program);
            // then ours only renders what it sees, which is still correct output.
            let _ = metrics::set_global_recorder(recorder);
            handle
        })
        .clone()
}

/// A router serving only `/metrics` (for the optional separate listener).
pub fn metrics_only_router(handle: PrometheusHandle) -> axum::Router {
    axum::Router::new().route(
        "/metrics",
        axum::routing::get(move || {
            let handle = handle.clone();
            async move {
                (
                    [(
                        axum::http::header::CONTENT_TYPE,
                        "text/plain; version=0.0.4; charset=utf-8",
                    )],
                    handle.render(),
                )
            }
        }),
    )
}

/// Serve a router on a listener until the process ends.
pub async fn serve_plain(
    listener: tokio::net::TcpListener,
    app: axum::Router,
) -> std::io::Result<()> {
    axum::serve(listener, app).await
}
