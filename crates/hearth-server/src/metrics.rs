//! Names of every metric Hearth exports, and the Prometheus recorder. All code
//! records through the `metrics` facade with these constants.

use std::sync::OnceLock;

use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};

/// Counter: HTTP requests by route template, method, status.
pub const HTTP_REQUESTS_TOTAL: &str = "hearth_http_requests_total";
/// Histogram: HTTP request latency (until the response starts) in seconds.
pub const HTTP_REQUEST_DURATION_SECONDS: &str = "hearth_http_request_duration_seconds";

/// Counter: tokens of metered generations and embeddings, by model and kind
/// (`prompt`, `cached`, `completion`).
pub const TOKENS_TOTAL: &str = "hearth_tokens_total";
/// Counter: metered generations and embedding calls, by model and outcome
/// (`ok`, `error`, `cancelled`; failed calls are labelled model `-`, so
/// unknown model names asked by clients never become labels).
pub const GENERATIONS_TOTAL: &str = "hearth_generations_total";
/// Histogram: time to the first generated text, in seconds, by model.
pub const TIME_TO_FIRST_TOKEN_SECONDS: &str = "hearth_time_to_first_token_seconds";

/// Feed the usage metrics from one usage record.
pub fn observe_usage(record: &hearth_core::usage::UsageRecord) {
    use hearth_core::usage::Outcome;
    let model = if record.outcome == Outcome::Error {
        "-".to_owned()
    } else {
        record.model.clone()
    };
    metrics::counter!(GENERATIONS_TOTAL, "model" => model.clone(), "outcome" => record.outcome.as_str())
        .increment(1);
    for (kind, n) in [
        ("prompt", record.prompt_tokens),
        ("cached", record.cached_tokens),
        ("completion", record.completion_tokens),
    ] {
        if n > 0 {
            metrics::counter!(TOKENS_TOTAL, "model" => model.clone(), "kind" => kind)
                .increment(u64::from(n));
        }
    }
    if let Some(ttft) = record.ttft_ms {
        metrics::histogram!(TIME_TO_FIRST_TOKEN_SECONDS, "model" => model)
            .record(ttft as f64 / 1000.0);
    }
}

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
