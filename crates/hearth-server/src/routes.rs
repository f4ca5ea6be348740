//! The route table: every route of every lane, declared once as data. The router,
//! capability switches, metrics labels and the OpenAPI document all read it.

use std::time::Duration;

use axum::Router;
use axum::http::Method;
use axum::middleware::{from_fn, from_fn_with_state};
use axum::response::IntoResponse;
use axum::routing::MethodRouter;
use hearth_core::config::{CapabilitiesConfig, ServerConfig};
use hearth_types::Code;
use tower::ServiceBuilder;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::compression::predicate::{NotForContentType, Predicate};
use tower_http::compression::{CompressionLayer, DefaultPredicate};
use tower_http::cors::{AllowOrigin, CorsLayer};
use tower_http::limit::RequestBodyLimitLayer;

use crate::error::{ApiError, Lane};
use crate::lanes::ui::assets;
use crate::lanes::{admin, anthropic, conversations, meta, ollama, openai, ui};
use crate::middleware;
use crate::state::AppState;

/// Who may call a route.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Auth {
    /// No credentials needed.
    Open,
    /// Any signed-in user or valid API key, whatever its scopes (own account
    /// routes: `/ui/auth/me`, `/ui/keys`, …).
    Authenticated,
    /// A principal holding this scope (admins hold all).
    Scope(&'static str),
}

/// A capability that can be switched off in `[capabilities]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Capability {
    /// `capabilities.openai_api`
    OpenAiApi,
    /// `capabilities.ollama_api`
    OllamaApi,
    /// `capabilities.anthropic_api`
    AnthropicApi,
    /// `capabilities.web_ui`
    WebUi,
    /// `capabilities.embeddings`
    Embeddings,
}

impl Capability {
    /// The config key under `[capabilities]`.
    pub fn key(self) -> &'static str {
        match self {
            Capability::OpenAiApi => "openai_api",
            Capability::OllamaApi => "ollama_api",
            Capability::AnthropicApi => "anthropic_api",
            Capability::WebUi => "web_ui",
            Capability::Embeddings => "embeddings",
        }
    }

    /// Whether the configuration enables it.
    pub fn is_enabled(self, caps: &CapabilitiesConfig) -> bool {
        match self {
            Capability::OpenAiApi => caps.openai_api,
            Capability::OllamaApi => caps.ollama_api,
            Capability::AnthropicApi => caps.anthropic_api,
            Capability::WebUi => caps.web_ui,
            Capability::Embeddings => caps.embeddings,
        }
    }
}

/// Static description of one route.
#[derive(Debug, Clone)]
pub struct RouteSpec {
    /// HTTP method.
    pub method: Method,
    /// Path template in axum/OpenAPI syntax (`/admin/jobs/{id}`).
    pub path: &'static str,
    /// Which API family (error shape, OpenAPI tag).
    pub lane: Lane,
    /// Who may call it.
    pub auth: Auth,
    /// The capability that must be on, if any.
    pub capability: Option<Capability>,
    /// Stable operation id.
    pub operation_id: &'static str,
    /// One line for the docs.
    pub summary: &'static str,
    /// Component schema of the success body, if JSON.
    pub response_schema: Option<&'static str>,
    /// Component schema of the request body, if any.
    pub request_schema: Option<&'static str>,
}

/// A route: its description and its handler.
pub struct Route {
    /// The description.
    pub spec: RouteSpec,
    /// The handler.
    pub handler: MethodRouter<AppState>,
}

/// Declare a [`Route`]: `route!(GET "/path", Lane, auth, capability, "opId", "summary",
/// req: Option<schema>, res: Option<schema>, handler)`.
#[macro_export]
macro_rules! route {
    ($method:ident $path:literal, $lane:ident, $auth:expr, $cap:expr, $op:literal, $summary:literal,
     req: $req:expr, res: $res:expr, $handler:expr) => {
        $crate::routes::Route {
            spec: $crate::routes::RouteSpec {
                method: ::axum::http::Method::$method,
                path: $path,
                lane: $crate::error::Lane::$lane,
                auth: $auth,
                capability: $cap,
                operation_id: $op,
                summary: $summary,
                request_schema: $req,
                response_schema: $res,
            },
            handler: $handler,
        }
    };
}

/// Every route of every lane; each lane module owns its list.
pub fn table() -> Vec<Route> {
    [
        meta::routes(),
        admin::routes(),
        ui::routes(),
        conversations::routes(),
        openai::routes(),
        ollama::routes(),
        anthropic::routes(),
        ui::models::routes(),
        assets::routes(),
    ]
    .into_iter()
    .flatten()
    .collect()
}

/// The descriptions alone (for the OpenAPI document and the auth policy).
pub fn specs() -> Vec<RouteSpec> {
    table().into_iter().map(|r| r.spec).collect()
}

fn disabled(capability: Capability) -> MethodRouter<AppState> {
    let answer = move || async move {
        ApiError::new(
            Code::CapabilityDisabled,
            format!(
                "this capability is switched off (capabilities.{} = false)",
                capability.key()
            ),
        )
        .into_response()
    };
    axum::routing::any(answer)
}

/// The route's policy under this configuration: `/metrics` is open only when
/// `metrics.public` says so (a scraper otherwise uses a `metrics`-scoped key).
pub fn effective_auth(spec: &RouteSpec, config: &hearth_core::config::Config) -> Auth {
    if spec.operation_id == "metrics" && config.metrics.public {
        return Auth::Open;
    }
    spec.auth
}

/// Build the whole router for a state.
pub fn router(state: AppState) -> Router {
    router_with(state, table())
}

/// Build a router of the given routes with the auth policy and the standard
/// middleware (tests mount extra lanes' routes through it).
pub fn router_with(state: AppState, routes: Vec<Route>) -> Router {
    let caps = state.config.capabilities.clone();
    let mut router = Router::new();
    // A switched-off path answers every method at once: mount it once (axum
    // panics on two catch-all method routers for one path, e.g. GET and POST
    // /ui/keys with `web_ui = false`).
    let mut disabled_paths = std::collections::HashSet::new();
    for route in routes {
        let handler = match route.spec.capability {
            Some(cap) if !cap.is_enabled(&caps) => {
                if !disabled_paths.insert(route.spec.path) {
                    continue;
                }
                disabled(cap)
            }
            _ => route.handler,
        };
        let guard = middleware::auth::Guard {
            state: state.clone(),
            auth: effective_auth(&route.spec, &state.config),
            operation: route.spec.operation_id,
        };
        let handler = handler.layer(from_fn_with_state(guard, middleware::auth::layer));
        router = router.route(route.spec.path, handler);
    }
    with_middleware(router, &state.config.server).with_state(state)
}

/// Wrap routes in the standard middleware stack and the fallback (also used by
/// tests that mount extra routes).
pub fn with_middleware(router: Router<AppState>, server: &ServerConfig) -> Router<AppState> {
    let cors = (!server.cors_origins.is_empty()).then(|| {
        let origins = server
            .cors_origins
            .iter()
            .filter_map(|o| o.parse().ok())
            .collect::<Vec<_>>();
        CorsLayer::new()
            .allow_origin(AllowOrigin::list(origins))
            .allow_methods(tower_http::cors::Any)
            .allow_headers(tower_http::cors::Any)
    });
    let timeout = Duration::from_secs(server.request_timeout_secs);
    let body_limit = usize::try_from(server.body_limit_bytes).unwrap_or(usize::MAX);
    let stack = ServiceBuilder::new()
        .layer(from_fn(middleware::request_id::layer))
        .layer(from_fn(middleware::security_headers::layer))
        .layer(tower::util::option_layer(
            server
                .is_tls()
                .then(|| from_fn(middleware::security_headers::hsts)),
        ))
        .layer(from_fn(middleware::errors::layer))
        .layer(from_fn(middleware::metrics::layer))
        .layer(CatchPanicLayer::custom(middleware::errors::on_panic))
        .layer(from_fn_with_state(timeout, middleware::timeout::layer))
        .layer(axum::extract::DefaultBodyLimit::disable())
        .layer(RequestBodyLimitLayer::new(body_limit))
        .layer(tower::util::option_layer(cors))
        // Ollama's NDJSON streams must reach the client line by line, not in gzip blocks.
        .layer(CompressionLayer::new().compress_when(
            DefaultPredicate::new().and(NotForContentType::const_new("application/x-ndjson")),
        ));
    router.fallback(fallback).layer(stack)
}

/// Unmatched requests: the web app for its client-side routes, else a 404.
async fn fallback(
    axum::extract::State(state): axum::extract::State<AppState>,
    method: Method,
    uri: axum::http::Uri,
    headers: axum::http::HeaderMap,
) -> axum::response::Response {
    match assets::spa_fallback(&state, &method, &uri, &headers) {
        Some(response) => response,
        None => ApiError::new(
            Code::NotFound,
            "no route matches this path; see /openapi.json",
        )
        .into_response(),
    }
}
