//! The web app's files, embedded at compile time from `web/dist` (see
//! `build.rs`): `/` and SPA deep links answer `index.html` (revalidated with an
//! ETag on every load), `/assets/*` answers Vite's content-hashed files with a
//! year-long immutable cache. Without a built app, `/` explains how to build it.
//! Everything here sits behind `capabilities.web_ui`.

use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use hearth_types::Code;

use crate::error::ApiError;
use crate::extract::PathParams;
use crate::route;
use crate::routes::{Auth::Open, Capability, Route};
use crate::state::AppState;

/// One embedded file.
#[derive(Debug)]
pub struct Asset {
    /// Path below `web/dist`, `/`-separated (`assets/index-abc.js`).
    pub path: &'static str,
    /// Contents.
    pub body: &'static [u8],
    /// Strong ETag of the contents, quoted.
    pub etag: &'static str,
}

include!(concat!(env!("OUT_DIR"), "/web_assets.rs"));

/// The Content-Security-Policy of the app's pages: no inline scripts or styles.
/// (The security-headers middleware adds it to the whole lane; the pages set it
/// themselves so they never depend on the layer order.)
pub use crate::middleware::security_headers::CSP;

const HASHED: &str = "public, max-age=31536000, immutable";
const REVALIDATE: &str = "no-cache";

const NOT_BUILT: &str = "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">\
<title>Hearth</title></head><body><h1>Hearth is running</h1>\
<p>The web app was not built into this binary. Run <code>scripts/build-ui.sh</code> \
(needs Node.js and npm), then rebuild with <code>cargo build</code>.</p>\
<p>The APIs work without it: <a href=\"/openapi.json\">/openapi.json</a>.</p></body></html>";

const WEB: Option<Capability> = Some(Capability::WebUi);

/// Routes of the web app's files (SPA deep links go through [`spa_fallback`]).
pub fn routes() -> Vec<Route> {
    use axum::routing::get;
    vec![
        route!(GET "/", Hearth, Open, WEB, "webApp",
            "The web app (HTML). Other GET paths outside the API prefixes answer it too (client-side routes).",
            req: None, res: None, get(index)),
        route!(GET "/assets/{*path}", Hearth, Open, WEB, "webAsset",
            "A content-hashed file of the web app, cached for a year.",
            req: None, res: None, get(asset)),
    ]
}

/// Whether a path belongs to an API (never answered with the app).
pub fn is_api_path(path: &str) -> bool {
    const PREFIXES: [&str; 4] = ["/v1", "/api", "/ui", "/admin"];
    const EXACT: [&str; 4] = ["/healthz", "/readyz", "/metrics", "/openapi.json"];
    EXACT.contains(&path)
        || PREFIXES.iter().any(|p| {
            path == *p
                || path
                    .strip_prefix(p)
                    .is_some_and(|rest| rest.starts_with('/'))
        })
}

/// Whether the app was embedded at build time.
pub fn is_built() -> bool {
    find("index.html").is_some()
}

fn find(path: &str) -> Option<&'static Asset> {
    FILES.iter().find(|a| a.path == path)
}

fn content_type(path: &str) -> &'static str {
    match path.rsplit_once('.').map(|(_, ext)| ext) {
        Some("html") => "text/html; charset=utf-8",
        Some("js" | "mjs") => "text/javascript; charset=utf-8",
        Some("css") => "text/css; charset=utf-8",
        Some("svg") => "image/svg+xml",
        Some("png") => "image/png",
        Some("ico") => "image/x-icon",
        Some("webp") => "image/webp",
        Some("json" | "webmanifest") => "application/json",
        Some("woff2") => "font/woff2",
        Some("txt") => "text/plain; charset=utf-8",
        _ => "application/octet-stream",
    }
}

/// Answer a file, or 304 when the client's copy is current.
fn serve(asset: &'static Asset, cache: &'static str, req: &HeaderMap) -> Response {
    let is_current = req
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| {
            v.split(',')
                .any(|t| t.trim() == asset.etag || t.trim() == "*")
        });
    let mut headers = HeaderMap::new();
    headers.insert(header::ETAG, HeaderValue::from_static(asset.etag));
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static(cache));
    if asset.path.ends_with(".html") {
        headers.insert(
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static(CSP),
        );
    }
    if is_current {
        return (StatusCode::NOT_MODIFIED, headers).into_response();
    }
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(content_type(asset.path)),
    );
    (headers, asset.body).into_response()
}

fn not_built() -> Response {
    (
        [
            (header::CONTENT_TYPE, "text/html; charset=utf-8"),
            (header::CACHE_CONTROL, REVALIDATE),
            (header::CONTENT_SECURITY_POLICY, CSP),
        ],
        NOT_BUILT,
    )
        .into_response()
}

/// `GET /`: the app's `index.html`.
pub async fn index(headers: HeaderMap) -> Response {
    match find("index.html") {
        Some(asset) => serve(asset, REVALIDATE, &headers),
        None => not_built(),
    }
}

/// `GET /assets/{*path}`: a hashed file.
pub async fn asset(PathParams(path): PathParams<String>, headers: HeaderMap) -> Response {
    match find(&format!("assets/{path}")) {
        Some(asset) => serve(asset, HASHED, &headers),
        None => ApiError::new(Code::NotFound, "no such file in the web app").into_response(),
    }
}

/// What an unmatched request gets: for a GET outside the API prefixes, a
/// top-level file of the app (`/favicon.svg`) or `index.html` for client-side
/// routes (`/c/…`, `/settings`); otherwise `None` (the JSON 404).
pub fn spa_fallback(
    state: &AppState,
    method: &Method,
    uri: &Uri,
    headers: &HeaderMap,
) -> Option<Response> {
    let path = uri.path();
    let is_read = method == Method::GET || method == Method::HEAD;
    if !is_read || is_api_path(path) || !Capability::WebUi.is_enabled(&state.config.capabilities) {
        return None;
    }
    let name = path.trim_start_matches('/');
    if let Some(asset) = find(name).filter(|a| !a.path.starts_with("assets/")) {
        return Some(serve(asset, REVALIDATE, headers));
    }
    // A missing file (a dot in the last segment) is a 404, not the app.
    if name
        .rsplit('/')
        .next()
        .is_some_and(|last| last.contains('.'))
    {
        return None;
    }
    Some(match find("index.html") {
        Some(asset) => serve(asset, REVALIDATE, headers),
        None => not_built(),
    })
}

/// Axum fallback wrapper around [`spa_fallback`].
pub async fn fallback(
    State(state): State<AppState>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
) -> Option<Response> {
    spa_fallback(&state, &method, &uri, &headers)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn api_paths_are_never_the_app() {
        for p in [
            "/v1",
            "/v1/models",
            "/api/tags",
            "/ui/auth/me",
            "/admin/users",
            "/healthz",
            "/openapi.json",
        ] {
            assert!(is_api_path(p), "{p}");
        }
        for p in [
            "/",
            "/c/123",
            "/settings",
            "/login",
            "/invite/abc",
            "/version",
            "/apix",
            "/uix/a",
            "/administrator",
        ] {
            assert!(!is_api_path(p), "{p}");
        }
    }

    #[test]
    fn content_types() {
        assert_eq!(
            content_type("assets/a.js"),
            "text/javascript; charset=utf-8"
        );
        assert_eq!(content_type("favicon.svg"), "image/svg+xml");
        assert_eq!(content_type("x"), "application/octet-stream");
    }
}
