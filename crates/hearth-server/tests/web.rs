//! The web app's files: `/`, client-side routes, hashed assets, caching
//! headers, the CSP, and the API prefixes that never answer the app. Passes
//! with and without a built `web/dist` (Rust-only builds embed nothing).

use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use axum::http::{HeaderMap, Method, Request, StatusCode, header};
use hearth_core::config::Config;
use hearth_core::models::NoModels;
use hearth_server::lanes::ui::assets;
use hearth_server::{AppState, Parts, router};
use http_body_util::BodyExt;
use tower::ServiceExt;

async fn state_with(config: Config) -> (AppState, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("t.db").display());
    let store = hearth_store::open(&url, &Default::default()).await.unwrap();
    let none = Arc::new(NoModels);
    let parts = Parts {
        config: Arc::new(config),
        store,
        chat: none.clone(),
        embed: none.clone(),
        models: none,
        metrics: None,
    };
    (AppState::new(parts), dir)
}

async fn send(
    app: &Router,
    method: Method,
    path: &str,
    headers: &[(&str, &str)],
) -> (StatusCode, HeaderMap, String) {
    let mut req = Request::builder().method(method).uri(path);
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    let response = app
        .clone()
        .oneshot(req.body(Body::empty()).unwrap())
        .await
        .unwrap();
    let status = response.status();
    let headers = response.headers().clone();
    let bytes = response.into_body().collect().await.unwrap().to_bytes();
    (
        status,
        headers,
        String::from_utf8_lossy(&bytes).into_owned(),
    )
}

async fn app() -> (Router, tempfile::TempDir) {
    let (state, dir) = state_with(Config::default()).await;
    (router(state), dir)
}

#[tokio::test]
async fn root_and_client_routes_answer_the_app_with_csp_and_revalidation() {
    let (app, _dir) = app().await;
    let (status, headers, body) = send(&app, Method::GET, "/", &[]).await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        headers[header::CONTENT_TYPE]
            .to_str()
            .unwrap()
            .starts_with("text/html")
    );
    let csp = headers[header::CONTENT_SECURITY_POLICY].to_str().unwrap();
    assert!(
        csp.contains("script-src 'self'") && !csp.contains("unsafe-inline"),
        "{csp}"
    );
    assert_eq!(headers[header::CACHE_CONTROL], "no-cache");
    if !assets::is_built() {
        assert!(body.contains("not built"), "{body}");
        return;
    }
    assert!(body.contains("<div id=\"app\">"), "{body}");
    let etag = headers[header::ETAG].to_str().unwrap().to_owned();
    for path in ["/c/0190abc", "/settings", "/login", "/invite/tok%20en"] {
        let (status, headers, again) = send(&app, Method::GET, path, &[]).await;
        assert_eq!(status, StatusCode::OK, "{path}");
        assert_eq!(again, body, "{path}");
        assert_eq!(headers[header::ETAG], etag.as_str());
        assert!(headers.contains_key(header::CONTENT_SECURITY_POLICY));
    }
    let (status, headers, body) = send(&app, Method::GET, "/", &[("if-none-match", &etag)]).await;
    assert_eq!(status, StatusCode::NOT_MODIFIED);
    assert!(body.is_empty());
    assert_eq!(headers[header::ETAG], etag.as_str());
}

#[tokio::test]
async fn hashed_assets_are_cached_for_a_year() {
    if !assets::is_built() {
        return;
    }
    let (app, _dir) = app().await;
    let (_, _, html) = send(&app, Method::GET, "/", &[]).await;
    let start = html.find("/assets/").expect("index.html links an asset");
    let end = start + html[start..].find('"').unwrap();
    let path = &html[start..end];
    let (status, headers, body) = send(&app, Method::GET, path, &[]).await;
    assert_eq!(status, StatusCode::OK, "{path}");
    assert!(!body.is_empty());
    assert_eq!(
        headers[header::CACHE_CONTROL],
        "public, max-age=31536000, immutable"
    );
    let etag = headers[header::ETAG].to_str().unwrap().to_owned();
    let (status, _, _) = send(&app, Method::GET, path, &[("if-none-match", &etag)]).await;
    assert_eq!(status, StatusCode::NOT_MODIFIED);
    let (status, _, _) = send(&app, Method::GET, "/favicon.svg", &[]).await;
    assert_eq!(status, StatusCode::OK);
}

#[tokio::test]
async fn api_paths_and_missing_files_never_answer_the_app() {
    let (app, _dir) = app().await;
    for path in [
        "/ui/nowhere",
        "/admin/nowhere",
        "/assets/nope-123.js",
        "/missing.png",
    ] {
        let (status, headers, body) = send(&app, Method::GET, path, &[]).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{path}");
        assert!(
            headers[header::CONTENT_TYPE]
                .to_str()
                .unwrap()
                .starts_with("application/json"),
            "{path}"
        );
        assert!(body.contains("E_NOT_FOUND"), "{path}: {body}");
    }
    let (status, _, body) = send(&app, Method::GET, "/v1/nowhere", &[]).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert!(body.contains("invalid_request_error"), "{body}");
    let (status, _, body) = send(&app, Method::GET, "/api/nowhere", &[]).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert!(!body.contains("<html"), "{body}");
    // Only reads get the app.
    let (status, _, body) = send(&app, Method::POST, "/c/123", &[]).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert!(!body.contains("<html"));
}

#[tokio::test]
async fn web_ui_switched_off_serves_no_app() {
    let mut config = Config::default();
    config.capabilities.web_ui = false;
    let (state, _dir) = state_with(config).await;
    let app = router(state);
    let (status, _, body) = send(&app, Method::GET, "/", &[]).await;
    assert_ne!(status, StatusCode::OK);
    assert!(body.contains("E_CAPABILITY_DISABLED"), "{body}");
    let (status, _, _) = send(&app, Method::GET, "/c/123", &[]).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn ui_models_lists_the_catalog_to_signed_in_users() {
    let (app, _dir) = app().await;
    let (status, _, _) = send(&app, Method::GET, "/ui/models", &[]).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let mut config = Config::default();
    config.auth.enabled = false;
    let (state, _dir) = state_with(config).await;
    let app = router(state);
    let (status, _, body) = send(&app, Method::GET, "/ui/models", &[]).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let body: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(body["data"], serde_json::json!([]));
}
