//! The HTTP skeleton through the router as a function of state (`oneshot`):
//! request ids, lane-shaped errors, panics, limits, timeouts, meta routes.

use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use axum::http::{Method, Request, StatusCode};
use axum::routing::{get, post};
use hearth_core::config::Config;
use hearth_core::models::NoModels;
use hearth_server::extract::JsonBody;
use hearth_server::routes::{specs, with_middleware};
use hearth_server::{AppState, Parts, router};
use http_body_util::BodyExt;
use serde_json::Value;
use tower::ServiceExt;

async fn state_with(config: Config) -> (AppState, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("t.db").display());
    let store = hearth_store::open(&url, &Default::default()).await.unwrap();
    let none = Arc::new(NoModels);
    let metrics = Some(hearth_server::metrics::install_recorder());
    let parts = Parts {
        config: Arc::new(config),
        store,
        chat: none.clone(),
        embed: none.clone(),
        models: none,
        metrics,
    };
    (AppState::new(parts), dir)
}

/// Authentication is covered by tests/accounts.rs; these tests look past it.
fn auth_off() -> Config {
    let mut config = Config::default();
    config.auth.enabled = false;
    config
}

async fn state() -> (AppState, tempfile::TempDir) {
    state_with(Config::default()).await
}

async fn call(app: Router, req: Request<Body>) -> (StatusCode, axum::http::HeaderMap, Value) {
    let response = app.oneshot(req).await.unwrap();
    let status = response.status();
    let headers = response.headers().clone();
    let bytes = response.into_body().collect().await.unwrap().to_bytes();
    let body = serde_json::from_slice(&bytes)
        .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&bytes).into()));
    (status, headers, body)
}

fn get_req(path: &str) -> Request<Body> {
    Request::builder().uri(path).body(Body::empty()).unwrap()
}

#[tokio::test]
async fn health_and_ready_answer_with_request_id() {
    let (state, _dir) = state().await;
    let (status, headers, body) = call(router(state.clone()), get_req("/healthz")).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["status"], "ok");
    assert!(!headers["x-request-id"].is_empty());
    let (status, _, body) = call(router(state), get_req("/readyz")).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["checks"]["storage"], "ok");
}

#[tokio::test]
async fn ready_turns_503_when_shutting_down_or_storage_gone() {
    let (state, _dir) = state().await;
    state
        .shutting_down
        .store(true, std::sync::atomic::Ordering::Relaxed);
    let (status, _, body) = call(router(state.clone()), get_req("/readyz")).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(body["status"], "not_ready");
    state
        .shutting_down
        .store(false, std::sync::atomic::Ordering::Relaxed);
    state.store.close().await;
    let (status, _, body) = call(router(state), get_req("/readyz")).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    assert_ne!(body["checks"]["storage"], "ok");
}

#[tokio::test]
async fn incoming_request_id_is_echoed_and_insane_ones_replaced() {
    let (state, _dir) = state().await;
    let req = Request::builder()
        .uri("/ui/nope")
        .header("x-request-id", "abc-123")
        .body(Body::empty())
        .unwrap();
    let (status, headers, body) = call(router(state.clone()), req).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(headers["x-request-id"], "abc-123");
    assert_eq!(body["request_id"], "abc-123");
    let req = Request::builder()
        .uri("/healthz")
        .header("x-request-id", "has spaces<script>")
        .body(Body::empty())
        .unwrap();
    let (_, headers, _) = call(router(state), req).await;
    assert_ne!(headers["x-request-id"], "has spaces<script>");
}

#[tokio::test]
async fn unknown_routes_answer_in_each_lanes_shape() {
    let (state, _dir) = state().await;
    let (status, headers, body) = call(router(state.clone()), get_req("/ui/nowhere")).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(body["error"]["code"], "E_NOT_FOUND");
    assert_eq!(
        body["request_id"],
        headers["x-request-id"].to_str().unwrap()
    );

    let (status, _, body) = call(router(state.clone()), get_req("/v1/nowhere")).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(body["error"]["type"], "invalid_request_error");
    assert!(body["error"]["message"].is_string());
    assert!(body["error"].get("param").is_some());

    let (status, _, body) = call(router(state.clone()), get_req("/api/nowhere")).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert!(body["error"].is_string(), "Ollama shape: {body}");

    let (status, _, body) = call(router(state), get_req("/v1/messages/nowhere")).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(body["type"], "error");
    assert_eq!(body["error"]["type"], "not_found_error");
}

#[tokio::test]
async fn error_bodies_are_never_labelled_with_a_compression_they_lack() {
    let mut config = Config::default();
    config.auth.enabled = false;
    let (state, _dir) = state_with(config).await;
    let unknown_model =
        r#"{"model":"nope","max_tokens":4,"messages":[{"role":"user","content":"hi"}]}"#;
    let requests = [
        ("GET", "/ui/nowhere", ""),
        ("GET", "/api/nowhere", ""),
        ("POST", "/v1/messages", unknown_model),
        ("POST", "/v1/chat/completions", unknown_model),
        ("POST", "/api/chat", unknown_model),
    ];
    for (method, path, body) in requests {
        let req = Request::builder()
            .method(method)
            .uri(path)
            .header("accept-encoding", "gzip, deflate")
            .header("content-type", "application/json")
            .body(Body::from(body))
            .unwrap();
        let response = router(state.clone()).oneshot(req).await.unwrap();
        assert!(response.status().is_client_error(), "{path}");
        let encoding = response.headers().get("content-encoding").cloned();
        let bytes = response.into_body().collect().await.unwrap().to_bytes();
        match encoding {
            None => {
                let _: Value = serde_json::from_slice(&bytes).expect("plain JSON error body");
            }
            Some(_) => assert_eq!(&bytes[..2], &[0x1f, 0x8b], "{path}: labelled gzip, is gzip"),
        }
    }
}

#[tokio::test]
async fn wrong_method_answers_405_envelope_with_allow() {
    let (state, _dir) = state().await;
    let req = Request::builder()
        .method(Method::DELETE)
        .uri("/healthz")
        .body(Body::empty())
        .unwrap();
    let (status, headers, body) = call(router(state), req).await;
    assert_eq!(status, StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(body["error"]["code"], "E_METHOD_NOT_ALLOWED");
    assert!(headers.contains_key("allow"));
}

async fn boom() -> &'static str {
    panic!("deliberate test panic")
}

fn test_routes(state: &AppState) -> Router {
    #[derive(serde::Deserialize, serde::Serialize)]
    struct Echo {
        name: String,
        count: u8,
    }
    let routes = Router::new()
        .route("/boom", get(boom))
        .route(
            "/slow",
            get(|| async {
                tokio::time::sleep(std::time::Duration::from_secs(5)).await;
                "late"
            }),
        )
        .route(
            "/echo",
            post(|JsonBody(e): JsonBody<Echo>| async move { axum::Json(e) }),
        );
    with_middleware(routes, &state.config.server).with_state(state.clone())
}

#[tokio::test]
async fn handler_panic_becomes_500_envelope() {
    let (state, _dir) = state().await;
    let (status, _, body) = call(test_routes(&state), get_req("/boom")).await;
    assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR);
    assert_eq!(body["error"]["code"], "E_INTERNAL");
    assert!(
        !body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("deliberate"),
        "no internals leak"
    );
}

#[tokio::test]
async fn slow_handler_times_out() {
    let mut config = Config::default();
    config.server.request_timeout_secs = 1;
    let (state, _dir) = state_with(config).await;
    let (status, _, body) = call(test_routes(&state), get_req("/slow")).await;
    assert_eq!(status, StatusCode::GATEWAY_TIMEOUT);
    assert_eq!(body["error"]["code"], "E_TIMEOUT");
}

fn post_json(path: &str, body: impl Into<Body>) -> Request<Body> {
    Request::builder()
        .method(Method::POST)
        .uri(path)
        .header("content-type", "application/json")
        .body(body.into())
        .unwrap()
}

#[tokio::test]
async fn bad_bodies_name_the_field_and_big_ones_get_413() {
    let mut config = Config::default();
    config.server.body_limit_bytes = 4096;
    let (state, _dir) = state_with(config).await;
    let app = test_routes(&state);
    let (status, _, body) =
        call(app.clone(), post_json("/echo", r#"{"name":"a","count":1}"#)).await;
    assert_eq!((status, body["count"].as_u64()), (StatusCode::OK, Some(1)));

    let (status, _, body) = call(
        app.clone(),
        post_json("/echo", r#"{"name":"a","count":1000}"#),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body["error"]["code"], "E_VALIDATION");
    assert_eq!(body["error"]["detail"]["field"], "count", "{body}");

    let (status, _, body) = call(app.clone(), post_json("/echo", r#"{"name":"a""#)).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("malformed JSON")
    );

    let big = format!(r#"{{"name":"{}","count":1}}"#, "x".repeat(10_000));
    let (status, _, body) = call(app.clone(), post_json("/echo", big)).await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(body["error"]["code"], "E_PAYLOAD_TOO_LARGE");

    let req = Request::builder()
        .method(Method::POST)
        .uri("/echo")
        .body(Body::from("{}"))
        .unwrap();
    let (status, _, body) = call(app, req).await;
    assert_eq!(status, StatusCode::UNSUPPORTED_MEDIA_TYPE);
    assert_eq!(body["error"]["code"], "E_UNSUPPORTED_MEDIA_TYPE");
}

#[tokio::test]
async fn meta_lists_version_capabilities_and_storage() {
    let mut config = Config::default();
    config.capabilities.embeddings = false;
    let (state, _dir) = state_with(config).await;
    let (status, _, body) = call(router(state), get_req("/v1/meta")).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["version"], env!("CARGO_PKG_VERSION"));
    assert_eq!(body["storage"], "sqlite");
    assert_eq!(body["capabilities"]["embeddings"], false);
    assert_eq!(body["capabilities"]["openai_api"], true);
}

#[tokio::test]
async fn jobs_list_and_missing_job() {
    let (state, _dir) = state_with(auth_off()).await;
    let (status, _, body) = call(router(state.clone()), get_req("/admin/jobs")).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["jobs"], serde_json::json!([]));
    let (status, _, body) = call(router(state.clone()), get_req("/admin/jobs?state=bogus")).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body["error"]["detail"]["field"], "state");
    let (status, _, body) =
        call(router(state.clone()), get_req("/admin/jobs/'%20OR%201=1--")).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(body["error"]["code"], "E_NOT_FOUND");
    let job = state
        .store
        .jobs()
        .create(hearth_core::jobs::NewJob {
            kind: "t".into(),
            payload: Value::Null,
        })
        .await
        .unwrap();
    let (status, _, body) = call(router(state), get_req(&format!("/admin/jobs/{}", job.id))).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["state"], "queued");
}

#[tokio::test]
async fn metrics_are_labelled_by_route_template() {
    let (state, _dir) = state_with(auth_off()).await;
    call(router(state.clone()), get_req("/admin/jobs/some-id-123")).await;
    let response = router(state).oneshot(get_req("/metrics")).await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let text = String::from_utf8(
        response
            .into_body()
            .collect()
            .await
            .unwrap()
            .to_bytes()
            .to_vec(),
    )
    .unwrap();
    assert!(text.contains("hearth_http_requests_total"), "{text}");
    assert!(text.contains(r#"route="/admin/jobs/{id}""#), "{text}");
    assert!(
        !text.contains("some-id-123"),
        "raw paths never become labels"
    );
    assert!(text.contains("hearth_http_request_duration_seconds_bucket"));
}

#[tokio::test]
async fn openapi_covers_every_route_with_its_auth() {
    let (state, _dir) = state().await;
    let (status, _, doc) = call(router(state), get_req("/openapi.json")).await;
    assert_eq!(status, StatusCode::OK);
    assert!(doc["openapi"].as_str().unwrap().starts_with("3.1"));
    // Wildcard routes (the web app's files) have no OpenAPI form.
    for spec in specs().into_iter().filter(|s| !s.path.contains("{*")) {
        let op = &doc["paths"][spec.path][spec.method.as_str().to_lowercase()];
        assert!(
            op.is_object(),
            "{} {} missing from the document",
            spec.method,
            spec.path
        );
        assert!(
            op["security"].is_array(),
            "{} has no security requirement",
            spec.path
        );
    }
    let codes = doc["x-error-codes"].as_array().unwrap();
    assert_eq!(codes.len(), hearth_types::Code::ALL.len());
}

#[test]
fn openapi_matches_golden() {
    let doc = serde_json::to_string_pretty(hearth_server::openapi::document()).unwrap() + "\n";
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/openapi.json");
    if std::env::var_os("UPDATE_GOLDENS").is_some() {
        std::fs::write(&path, &doc).unwrap();
    }
    let golden = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        golden == doc,
        "docs/openapi.json is stale: run scripts/update-goldens.sh"
    );
}

/// The error-code registry as Markdown (docs/ERRORS.md), generated from the table.
fn errors_markdown() -> String {
    let mut out = String::from(
        "# Error codes\n\nGenerated from `hearth_types::Code` by `scripts/update-goldens.sh`; \
         do not edit. Hearth's own routes answer `{\"error\":{\"code\",\"message\",\"detail\"},\
         \"request_id\"}`; the OpenAI, Ollama and Anthropic routes use their own shapes with \
         the same HTTP status.\n\n| code | HTTP status | when |\n|---|---|---|\n",
    );
    for code in hearth_types::Code::ALL {
        out.push_str(&format!(
            "| `{}` | {} | {} |\n",
            code.as_str(),
            code.status(),
            code.description()
        ));
    }
    out
}

#[test]
fn error_registry_doc_matches_golden() {
    let doc = errors_markdown();
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/ERRORS.md");
    if std::env::var_os("UPDATE_GOLDENS").is_some() {
        std::fs::write(&path, &doc).unwrap();
    }
    let golden = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        golden == doc,
        "docs/ERRORS.md is stale: run scripts/update-goldens.sh"
    );
}
