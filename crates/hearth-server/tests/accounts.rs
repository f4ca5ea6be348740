//! Accounts over HTTP: the auth policy of every route in the table, sessions
//! with CSRF and Origin checks, revocation, setup, invites, limits, password
//! storage, hostile input and the audit log.

use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use axum::http::{HeaderMap, Method, Request, StatusCode};
use hearth_core::auth::{AuditContext, KeyInput, PasswordHasher, Role, User};
use hearth_core::config::Config;
use hearth_core::limits::InProcessLimiter;
use hearth_core::models::NoModels;
use hearth_server::error::Lane;
use hearth_server::routes::{Auth, Route, router_with, specs, table};
use hearth_server::{AppState, Parts, route, router};
use http_body_util::BodyExt;
use serde_json::{Value, json};
use tower::ServiceExt;

const PASSWORD: &str = "correct horse battery";

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
    let state = AppState::new(parts).with_accounts(
        Arc::new(InProcessLimiter::new()),
        PasswordHasher::with_cost(64, 1, 1),
    );
    (state, dir)
}

async fn state() -> (AppState, tempfile::TempDir) {
    state_with(Config::default()).await
}

async fn user(state: &AppState, name: &str, role: Role) -> User {
    state
        .auth
        .create_user(name, PASSWORD, role, &AuditContext::cli())
        .await
        .unwrap()
}

async fn key(state: &AppState, owner: &User, scopes: &[&str]) -> String {
    let input = KeyInput {
        name: "test".into(),
        scopes: scopes.iter().map(|s| s.to_string()).collect(),
        ..Default::default()
    };
    state
        .auth
        .create_key(owner, input, &AuditContext::cli())
        .await
        .unwrap()
        .1
}

struct Reply {
    status: StatusCode,
    headers: HeaderMap,
    body: Value,
}

async fn send(app: Router, req: Request<Body>) -> Reply {
    let response = app.oneshot(req).await.unwrap();
    let status = response.status();
    let headers = response.headers().clone();
    let bytes = response.into_body().collect().await.unwrap().to_bytes();
    let body = serde_json::from_slice(&bytes)
        .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&bytes).into()));
    Reply {
        status,
        headers,
        body,
    }
}

fn req(method: Method, path: &str, headers: &[(&str, &str)], body: Option<Value>) -> Request<Body> {
    let mut builder = Request::builder()
        .method(method)
        .uri(path)
        .header("host", "hearth.test");
    for (name, value) in headers {
        builder = builder.header(*name, *value);
    }
    match body {
        Some(body) => builder
            .header("content-type", "application/json")
            .body(Body::from(body.to_string()))
            .unwrap(),
        None => builder.body(Body::empty()).unwrap(),
    }
}

fn bearer(key: &str) -> String {
    format!("Bearer {key}")
}

/// A concrete path for a template (`{id}` → `x`).
fn concrete(path: &str) -> String {
    path.split('/')
        .map(|seg| if seg.starts_with('{') { "x" } else { seg })
        .collect::<Vec<_>>()
        .join("/")
}

fn assert_lane_shape(lane: Lane, body: &Value, code: &str, what: &str) {
    match lane {
        Lane::Hearth => assert_eq!(body["error"]["code"], code, "{what}: {body}"),
        Lane::OpenAi => {
            let ty = if code == "E_AUTH_REQUIRED" {
                "authentication_error"
            } else {
                "permission_error"
            };
            assert_eq!(body["error"]["type"], ty, "{what}: {body}");
        }
        Lane::Ollama => assert!(body["error"].is_string(), "{what}: {body}"),
        Lane::Anthropic => {
            assert_eq!(body["type"], "error", "{what}: {body}");
            assert!(body["error"]["type"].is_string(), "{what}: {body}");
        }
    }
}

async fn ok_handler() -> &'static str {
    "ok"
}

/// Probe routes in each compatible lane's namespace that answer 200 once auth
/// lets them through, so auth outcomes are not mixed up with the real handlers'
/// validation (the real routes are covered by `full_table`).
fn probe_routes() -> Vec<Route> {
    use axum::routing::{get, post};
    use hearth_server::routes::Auth::Scope;
    vec![
        route!(POST "/v1/probe/chat", OpenAi, Scope("chat"), None, "t1", "t", req: None, res: None, post(ok_handler)),
        route!(GET "/v1/probe/models", OpenAi, Scope("models:read"), None, "t2", "t", req: None, res: None, get(ok_handler)),
        route!(POST "/api/probe/chat", Ollama, Scope("chat"), None, "t3", "t", req: None, res: None, post(ok_handler)),
        route!(POST "/api/probe/embed", Ollama, Scope("embed"), None, "t4", "t", req: None, res: None, post(ok_handler)),
        route!(POST "/v1/messages/probe", Anthropic, Scope("chat"), None, "t5", "t", req: None, res: None, post(ok_handler)),
    ]
}

/// Every route of every lane, plus the probes.
fn full_table() -> Vec<Route> {
    table().into_iter().chain(probe_routes()).collect()
}

#[tokio::test]
async fn every_route_needs_credentials_and_its_scope() {
    let (state, _dir) = state().await;
    let app = router_with(state.clone(), full_table());
    let owner = user(&state, "owner", Role::User).await;
    let embed_only = key(&state, &owner, &["embed"]).await;
    let chat_only = key(&state, &owner, &["chat"]).await;
    let open: Vec<&str> = specs()
        .iter()
        .filter(|s| s.auth == Auth::Open)
        .map(|s| s.path)
        .collect();
    assert_eq!(
        open,
        [
            "/healthz",
            "/readyz",
            "/v1/meta",
            "/openapi.json",
            "/ui/auth/setup",
            "/ui/auth/login",
            "/ui/auth/register",
            "/ui/invites/{token}",
            "/api/version",
            "/",
            "/assets/{*path}",
        ],
        "the documented open routes, and no others"
    );
    for route in full_table() {
        let spec = route.spec;
        let path = concrete(spec.path);
        let what = format!("{} {}", spec.method, spec.path);
        let body = (spec.method != Method::GET).then(|| json!({}));
        let reply = send(
            app.clone(),
            req(spec.method.clone(), &path, &[], body.clone()),
        )
        .await;
        if spec.auth == Auth::Open {
            assert_ne!(reply.status, StatusCode::UNAUTHORIZED, "{what} is open");
            continue;
        }
        assert_eq!(
            reply.status,
            StatusCode::UNAUTHORIZED,
            "{what} without credentials"
        );
        assert_lane_shape(spec.lane, &reply.body, "E_AUTH_REQUIRED", &what);
        let Auth::Scope(scope) = spec.auth else {
            continue;
        };
        let lacking = if scope == "embed" {
            &chat_only
        } else {
            &embed_only
        };
        let auth = bearer(lacking);
        let reply = send(
            app.clone(),
            req(
                spec.method.clone(),
                &path,
                &[("authorization", &auth)],
                body,
            ),
        )
        .await;
        assert_eq!(
            reply.status,
            StatusCode::FORBIDDEN,
            "{what} with a key lacking {scope}"
        );
        assert_lane_shape(spec.lane, &reply.body, "E_AUTH_FORBIDDEN", &what);
    }
}

#[tokio::test]
async fn keys_work_as_bearer_and_x_api_key_and_bad_ones_are_refused() {
    let (state, _dir) = state().await;
    let app = router_with(state.clone(), full_table());
    let owner = user(&state, "dev", Role::User).await;
    let chat = key(&state, &owner, &["chat"]).await;
    let reply = send(
        app.clone(),
        req(
            Method::POST,
            "/api/probe/chat",
            &[("authorization", &bearer(&chat))],
            None,
        ),
    )
    .await;
    assert_eq!(reply.status, StatusCode::OK);
    let reply = send(
        app.clone(),
        req(
            Method::POST,
            "/v1/messages/probe",
            &[("x-api-key", &chat)],
            None,
        ),
    )
    .await;
    assert_eq!(reply.status, StatusCode::OK);
    let long = format!("Bearer hk_{}", "a".repeat(8000));
    for bad in [
        "Basic dXNlcjpwYXNz",
        "Bearer",
        "Bearer hk_nothex",
        "Bearer ' OR 1=1 --",
        long.as_str(),
    ] {
        let reply = send(
            app.clone(),
            req(
                Method::POST,
                "/v1/probe/chat",
                &[("authorization", bad)],
                None,
            ),
        )
        .await;
        assert_eq!(reply.status, StatusCode::UNAUTHORIZED, "{bad:.40}");
        assert_eq!(reply.body["error"]["code"], "invalid_api_key");
        assert_eq!(reply.headers["www-authenticate"], "Bearer");
    }
    // Read-only users never generate, even with a key naming chat.
    let reader = user(&state, "reader", Role::Readonly).await;
    let err = state
        .auth
        .create_key(
            &reader,
            KeyInput {
                name: "x".into(),
                scopes: vec!["chat".into()],
                ..Default::default()
            },
            &AuditContext::cli(),
        )
        .await
        .unwrap_err();
    assert!(
        err.to_string().contains("cannot hold the scope chat"),
        "{err}"
    );
    let read = key(&state, &reader, &[]).await;
    let reply = send(
        app.clone(),
        req(
            Method::GET,
            "/v1/probe/models",
            &[("authorization", &bearer(&read))],
            None,
        ),
    )
    .await;
    assert_eq!(reply.status, StatusCode::OK);
    let reply = send(
        app,
        req(
            Method::POST,
            "/v1/probe/chat",
            &[("authorization", &bearer(&read))],
            None,
        ),
    )
    .await;
    assert_eq!(reply.status, StatusCode::FORBIDDEN);
}

async fn login(app: &Router, name: &str, password: &str) -> Reply {
    send(
        app.clone(),
        req(
            Method::POST,
            "/ui/auth/login",
            &[],
            Some(json!({ "username": name, "password": password })),
        ),
    )
    .await
}

fn cookie_of(reply: &Reply) -> String {
    let set = reply.headers["set-cookie"].to_str().unwrap();
    set.split(';').next().unwrap().to_owned()
}

#[tokio::test]
async fn cross_site_mode_sends_samesite_none_and_secure() {
    let mut config = Config::default();
    config.auth.cookie_cross_site = true;
    config.server.cors_origins = vec!["https://app.example".into()];
    let (state, _dir) = state_with(config).await;
    let app = router(state.clone());
    user(&state, "alice", Role::User).await;
    let reply = login(&app, "alice", PASSWORD).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    let set = reply.headers["set-cookie"].to_str().unwrap();
    assert!(
        set.contains("SameSite=None") && set.contains("; Secure"),
        "{set}"
    );
    assert!(!set.contains("SameSite=Lax"), "{set}");
}

#[tokio::test]
async fn metrics_need_the_metrics_scope_unless_public() {
    let (state, _dir) = state().await;
    let app = router(state.clone());
    let reply = send(app.clone(), req(Method::GET, "/metrics", &[], None)).await;
    assert_eq!(reply.status, StatusCode::UNAUTHORIZED);
    let admin = user(&state, "root", Role::Admin).await;
    let scraper = key(&state, &admin, &["metrics"]).await;
    let reply = send(
        app.clone(),
        req(
            Method::GET,
            "/metrics",
            &[("authorization", &bearer(&scraper))],
            None,
        ),
    )
    .await;
    assert_ne!(reply.status, StatusCode::UNAUTHORIZED);
    assert_ne!(reply.status, StatusCode::FORBIDDEN);
    // The scope gives nothing else.
    let reply = send(
        app.clone(),
        req(
            Method::GET,
            "/admin/users",
            &[("authorization", &bearer(&scraper))],
            None,
        ),
    )
    .await;
    assert_eq!(reply.status, StatusCode::FORBIDDEN);
    // A plain user cannot hold it.
    let dev = user(&state, "dev", Role::User).await;
    let input = KeyInput {
        name: "scrape".into(),
        scopes: vec!["metrics".into()],
        ..Default::default()
    };
    assert!(
        state
            .auth
            .create_key(&dev, input, &AuditContext::cli())
            .await
            .is_err()
    );
    let mut config = Config::default();
    config.metrics.public = true;
    let (open_state, _dir2) = state_with(config).await;
    let reply = send(router(open_state), req(Method::GET, "/metrics", &[], None)).await;
    assert_ne!(reply.status, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn sessions_need_csrf_and_same_origin_for_changes() {
    let (state, _dir) = state().await;
    let app = router(state.clone());
    user(&state, "alice", Role::User).await;
    let reply = login(&app, "alice", PASSWORD).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    let set = reply.headers["set-cookie"].to_str().unwrap().to_owned();
    for flag in ["HttpOnly", "SameSite=Lax", "Secure", "Path=/"] {
        assert!(set.contains(flag), "{set} lacks {flag}");
    }
    let cookie = cookie_of(&reply);
    let csrf = reply.body["csrf_token"].as_str().unwrap().to_owned();
    let me = send(
        app.clone(),
        req(Method::GET, "/ui/auth/me", &[("cookie", &cookie)], None),
    )
    .await;
    assert_eq!(me.status, StatusCode::OK);
    assert_eq!(me.body["user"]["username"], "alice");
    assert_eq!(me.body["csrf_token"], csrf);
    let csp = me.headers["content-security-policy"].to_str().unwrap();
    assert!(
        csp.contains("default-src 'self'") && !csp.contains("unsafe-inline"),
        "{csp}"
    );
    assert_eq!(me.headers["x-content-type-options"], "nosniff");
    assert_eq!(me.headers["x-frame-options"], "DENY");
    assert!(me.headers.contains_key("referrer-policy"));

    let body = json!({ "name": "laptop" });
    let no_csrf = send(
        app.clone(),
        req(
            Method::POST,
            "/ui/keys",
            &[("cookie", &cookie)],
            Some(body.clone()),
        ),
    )
    .await;
    assert_eq!(no_csrf.status, StatusCode::FORBIDDEN);
    assert_eq!(no_csrf.body["error"]["code"], "E_AUTH_FORBIDDEN");
    let wrong = send(
        app.clone(),
        req(
            Method::POST,
            "/ui/keys",
            &[
                ("cookie", &cookie),
                ("x-csrf-token", "0".repeat(48).as_str()),
            ],
            Some(body.clone()),
        ),
    )
    .await;
    assert_eq!(wrong.status, StatusCode::FORBIDDEN);
    let foreign = send(
        app.clone(),
        req(
            Method::POST,
            "/ui/keys",
            &[
                ("cookie", &cookie),
                ("x-csrf-token", &csrf),
                ("origin", "https://evil.test"),
            ],
            Some(body.clone()),
        ),
    )
    .await;
    assert_eq!(foreign.status, StatusCode::FORBIDDEN);
    let login_foreign = send(
        app.clone(),
        req(
            Method::POST,
            "/ui/auth/login",
            &[("origin", "https://evil.test")],
            Some(json!({"username": "alice", "password": PASSWORD})),
        ),
    )
    .await;
    assert_eq!(
        login_foreign.status,
        StatusCode::FORBIDDEN,
        "login CSRF refused"
    );
    let ok = send(
        app.clone(),
        req(
            Method::POST,
            "/ui/keys",
            &[
                ("cookie", &cookie),
                ("x-csrf-token", &csrf),
                ("origin", "http://hearth.test"),
            ],
            Some(body),
        ),
    )
    .await;
    assert_eq!(ok.status, StatusCode::CREATED, "{}", ok.body);
    let secret = ok.body["secret"].as_str().unwrap();
    assert!(
        secret.starts_with("hk_") && secret.starts_with(ok.body["key"]["prefix"].as_str().unwrap())
    );
    assert_eq!(
        ok.body["key"]["scopes"],
        json!(["chat", "embed", "models:read"])
    );
    // Cookies are not credentials on the API lanes.
    let app2 = router_with(state.clone(), full_table());
    let reply = send(
        app2,
        req(
            Method::GET,
            "/v1/probe/models",
            &[("cookie", &cookie)],
            None,
        ),
    )
    .await;
    assert_eq!(reply.status, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn revoked_sessions_keys_and_disabled_users_stop_at_the_next_request() {
    let (state, _dir) = state().await;
    let app = router(state.clone());
    let admin = user(&state, "root", Role::Admin).await;
    let bob = user(&state, "bob", Role::User).await;
    let admin_key = key(&state, &admin, &["admin"]).await;
    let admin_auth = bearer(&admin_key);
    let a = [("authorization", admin_auth.as_str())];

    // Session revoked by its owner.
    let reply = login(&app, "bob", PASSWORD).await;
    let (cookie, csrf) = (
        cookie_of(&reply),
        reply.body["csrf_token"].as_str().unwrap().to_owned(),
    );
    let sessions = send(
        app.clone(),
        req(Method::GET, "/ui/sessions", &[("cookie", &cookie)], None),
    )
    .await;
    let id = sessions.body["sessions"][0]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(sessions.body["sessions"][0]["current"], true);
    let revoked = send(
        app.clone(),
        req(
            Method::DELETE,
            &format!("/ui/sessions/{id}"),
            &[("cookie", &cookie), ("x-csrf-token", &csrf)],
            None,
        ),
    )
    .await;
    assert_eq!(revoked.status, StatusCode::NO_CONTENT);
    let after = send(
        app.clone(),
        req(Method::GET, "/ui/auth/me", &[("cookie", &cookie)], None),
    )
    .await;
    assert_eq!(after.status, StatusCode::UNAUTHORIZED);

    // Session revoked by an admin.
    let cookie = cookie_of(&login(&app, "bob", PASSWORD).await);
    let all = send(app.clone(), req(Method::GET, "/admin/sessions", &a, None)).await;
    let id = all.body["sessions"][0]["id"].as_str().unwrap().to_owned();
    assert_eq!(
        send(
            app.clone(),
            req(Method::DELETE, &format!("/admin/sessions/{id}"), &a, None)
        )
        .await
        .status,
        StatusCode::NO_CONTENT
    );
    assert_eq!(
        send(
            app.clone(),
            req(Method::GET, "/ui/auth/me", &[("cookie", &cookie)], None)
        )
        .await
        .status,
        StatusCode::UNAUTHORIZED
    );

    // Key revoked by an admin.
    let bob_key = key(&state, &bob, &["models:read"]).await;
    let b = [("authorization", bearer(&bob_key))];
    let b = [(b[0].0, b[0].1.as_str())];
    assert_eq!(
        send(app.clone(), req(Method::GET, "/ui/keys", &b, None))
            .await
            .status,
        StatusCode::OK
    );
    let keys = send(app.clone(), req(Method::GET, "/admin/keys", &a, None)).await;
    let id = keys.body["keys"]
        .as_array()
        .unwrap()
        .iter()
        .find(|k| k["user_id"] == bob.id.0.as_str())
        .unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(
        send(
            app.clone(),
            req(Method::DELETE, &format!("/admin/keys/{id}"), &a, None)
        )
        .await
        .status,
        StatusCode::NO_CONTENT
    );
    let gone = send(app.clone(), req(Method::GET, "/ui/keys", &b, None)).await;
    assert_eq!(gone.status, StatusCode::UNAUTHORIZED);

    // Disabled user: its keys stop working, it cannot log in.
    let bob_key = key(&state, &bob, &["models:read"]).await;
    let reply = send(
        app.clone(),
        req(
            Method::PATCH,
            &format!("/admin/users/{}", bob.id),
            &a,
            Some(json!({"disabled": true})),
        ),
    )
    .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    assert_eq!(reply.body["disabled"], true);
    let b = bearer(&bob_key);
    assert_eq!(
        send(
            app.clone(),
            req(Method::GET, "/ui/keys", &[("authorization", &b)], None)
        )
        .await
        .status,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        login(&app, "bob", PASSWORD).await.status,
        StatusCode::UNAUTHORIZED
    );
    // The last admin cannot be disabled or demoted.
    let reply = send(
        app.clone(),
        req(
            Method::PATCH,
            &format!("/admin/users/{}", admin.id),
            &a,
            Some(json!({"role": "user"})),
        ),
    )
    .await;
    assert_eq!(reply.status, StatusCode::CONFLICT);
}

#[tokio::test]
async fn login_failures_look_alike_are_audited_and_limited() {
    let mut config = Config::default();
    config.limits.login_attempts_per_minute = 4;
    let (state, _dir) = state_with(config).await;
    let app = router(state.clone());
    user(&state, "carol", Role::User).await;
    let unknown = login(&app, "nobody", PASSWORD).await;
    let wrong = login(&app, "carol", "wrong password here").await;
    assert_eq!(unknown.status, StatusCode::UNAUTHORIZED);
    assert_eq!(wrong.status, StatusCode::UNAUTHORIZED);
    assert_eq!(
        unknown.body["error"]["message"],
        wrong.body["error"]["message"]
    );
    login(&app, "carol", "wrong again, twice").await;
    login(&app, "carol", "wrong again, thrice").await;
    let limited = login(&app, "carol", PASSWORD).await;
    assert_eq!(limited.status, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(limited.body["error"]["code"], "E_RATE_LIMITED");
    assert!(limited.headers.contains_key("retry-after"));
    let events = state.auth.audit_log(None, 100).await.unwrap();
    let failures = events
        .iter()
        .filter(|e| e.action == "login" && e.outcome == "failure")
        .count();
    assert_eq!(failures, 4);
    assert!(
        events
            .iter()
            .all(|e| e.request_id.is_some() || e.principal == "cli")
    );
}

#[tokio::test]
async fn requests_beyond_a_keys_budget_get_429_in_the_lane_shape() {
    let mut config = Config::default();
    config.limits.requests_per_minute_per_key = 3;
    let (state, _dir) = state_with(config).await;
    let app = router_with(state.clone(), full_table());
    let owner = user(&state, "dev", Role::User).await;
    let k = bearer(&key(&state, &owner, &["models:read"]).await);
    for _ in 0..3 {
        let r = send(
            app.clone(),
            req(
                Method::GET,
                "/v1/probe/models",
                &[("authorization", &k)],
                None,
            ),
        )
        .await;
        assert_eq!(r.status, StatusCode::OK);
    }
    let r = send(
        app.clone(),
        req(
            Method::GET,
            "/v1/probe/models",
            &[("authorization", &k)],
            None,
        ),
    )
    .await;
    assert_eq!(r.status, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(
        r.body["error"]["type"], "rate_limit_error",
        "OpenAI shape: {}",
        r.body
    );
    let secs: u32 = r.headers["retry-after"].to_str().unwrap().parse().unwrap();
    assert!((1..=60).contains(&secs));
    // Another key of the same user has its own key budget.
    let other = bearer(&key(&state, &owner, &["models:read"]).await);
    assert_eq!(
        send(
            app,
            req(
                Method::GET,
                "/v1/probe/models",
                &[("authorization", &other)],
                None
            )
        )
        .await
        .status,
        StatusCode::OK
    );
}

#[tokio::test]
async fn concurrent_generations_are_capped_per_user() {
    let mut config = Config::default();
    config.limits.concurrent_streams_per_user = 1;
    let (state, _dir) = state_with(config).await;
    let app = router_with(state.clone(), full_table());
    let owner = user(&state, "dev", Role::User).await;
    let k = bearer(&key(&state, &owner, &["chat"]).await);
    // Hold the first response without reading its body: the slot stays taken.
    let first = app
        .clone()
        .oneshot(req(
            Method::POST,
            "/v1/probe/chat",
            &[("authorization", &k)],
            None,
        ))
        .await
        .unwrap();
    assert_eq!(first.status(), StatusCode::OK);
    let second = send(
        app.clone(),
        req(
            Method::POST,
            "/v1/probe/chat",
            &[("authorization", &k)],
            None,
        ),
    )
    .await;
    assert_eq!(second.status, StatusCode::TOO_MANY_REQUESTS);
    assert!(second.headers.contains_key("retry-after"));
    first.into_body().collect().await.unwrap();
    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    let third = send(
        app,
        req(
            Method::POST,
            "/v1/probe/chat",
            &[("authorization", &k)],
            None,
        ),
    )
    .await;
    assert_eq!(third.status, StatusCode::OK);
}

#[tokio::test]
async fn setup_token_creates_the_first_admin_once() {
    let (state, _dir) = state().await;
    let app = router(state.clone());
    let token = state
        .auth
        .prepare_setup()
        .await
        .unwrap()
        .expect("no users yet");
    let body = |t: &str| Some(json!({ "token": t, "username": "admin", "password": PASSWORD }));
    let wrong = send(
        app.clone(),
        req(Method::POST, "/ui/auth/setup", &[], body(&"0".repeat(48))),
    )
    .await;
    assert_eq!(wrong.status, StatusCode::UNAUTHORIZED);
    let ok = send(
        app.clone(),
        req(Method::POST, "/ui/auth/setup", &[], body(&token)),
    )
    .await;
    assert_eq!(ok.status, StatusCode::CREATED, "{}", ok.body);
    assert_eq!(ok.body["user"]["role"], "admin");
    assert!(ok.headers.contains_key("set-cookie"));
    let again = send(
        app.clone(),
        req(Method::POST, "/ui/auth/setup", &[], body(&token)),
    )
    .await;
    assert_eq!(again.status, StatusCode::UNAUTHORIZED, "single use");
    assert!(
        state.auth.prepare_setup().await.unwrap().is_none(),
        "users exist now"
    );
}

#[tokio::test]
async fn invites_are_single_use_and_registration_is_closed_by_default() {
    let (state, _dir) = state().await;
    let app = router(state.clone());
    let admin = user(&state, "root", Role::Admin).await;
    let a = bearer(&key(&state, &admin, &[]).await);
    let created = send(
        app.clone(),
        req(
            Method::POST,
            "/admin/invites",
            &[("authorization", &a)],
            Some(json!({"role": "readonly"})),
        ),
    )
    .await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.body);
    let path = created.body["accept_path"].as_str().unwrap().to_owned();
    let creds = Some(json!({ "username": "newbie", "password": PASSWORD }));
    let accepted = send(app.clone(), req(Method::POST, &path, &[], creds.clone())).await;
    assert_eq!(accepted.status, StatusCode::CREATED, "{}", accepted.body);
    assert_eq!(accepted.body["user"]["role"], "readonly");
    let reused = send(
        app.clone(),
        req(
            Method::POST,
            &path,
            &[],
            Some(json!({ "username": "other", "password": PASSWORD })),
        ),
    )
    .await;
    assert_eq!(reused.status, StatusCode::NOT_FOUND);
    let list = send(
        app.clone(),
        req(
            Method::GET,
            "/admin/invites",
            &[("authorization", &a)],
            None,
        ),
    )
    .await;
    assert!(list.body["invites"][0]["used_at_ms"].is_i64());
    assert!(
        !list
            .body
            .to_string()
            .contains(path.trim_start_matches("/ui/invites/")),
        "tokens never listed"
    );
    let reg = send(app, req(Method::POST, "/ui/auth/register", &[], creds)).await;
    assert_eq!(reg.status, StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn passwords_are_stored_as_argon2id_phc_and_rehashed_on_login() {
    let (state, _dir) = state().await;
    let app = router(state.clone());
    let admin = user(&state, "root", Role::Admin).await;
    let a = bearer(&key(&state, &admin, &[]).await);
    let short = send(
        app.clone(),
        req(
            Method::POST,
            "/admin/users",
            &[("authorization", &a)],
            Some(json!({"username": "u1", "password": "short"})),
        ),
    )
    .await;
    assert_eq!(short.status, StatusCode::BAD_REQUEST);
    assert_eq!(short.body["error"]["detail"]["field"], "password");
    let common = send(
        app.clone(),
        req(
            Method::POST,
            "/admin/users",
            &[("authorization", &a)],
            Some(json!({"username": "u1", "password": "Password123"})),
        ),
    )
    .await;
    assert_eq!(common.status, StatusCode::BAD_REQUEST);
    let ok = send(
        app.clone(),
        req(
            Method::POST,
            "/admin/users",
            &[("authorization", &a)],
            Some(json!({"username": "u1", "password": PASSWORD, "role": "user"})),
        ),
    )
    .await;
    assert_eq!(ok.status, StatusCode::CREATED);
    assert!(
        !ok.body.to_string().contains("argon2"),
        "hashes never leave the server"
    );
    for u in state.store.accounts().list_users().await.unwrap() {
        assert!(
            u.password_hash.starts_with("$argon2id$v=19$m=64,t=1,p=1$"),
            "{}",
            u.password_hash
        );
        assert!(!u.password_hash.contains(PASSWORD));
    }
    // A server with stronger parameters rehashes on the next login.
    let stronger = state.clone().with_accounts(
        Arc::new(InProcessLimiter::new()),
        PasswordHasher::with_cost(128, 1, 1),
    );
    let reply = login(&router(stronger), "u1", PASSWORD).await;
    assert_eq!(reply.status, StatusCode::OK);
    let u1 = state.store.accounts().user_by_name("u1").await.unwrap();
    assert!(
        u1.password_hash
            .starts_with("$argon2id$v=19$m=128,t=1,p=1$"),
        "{}",
        u1.password_hash
    );
}

#[tokio::test]
async fn hostile_identifiers_are_refused_or_stored_inert() {
    let (state, _dir) = state().await;
    let app = router(state.clone());
    let admin = user(&state, "root", Role::Admin).await;
    let a = bearer(&key(&state, &admin, &[]).await);
    let h = [("authorization", a.as_str())];
    let long = "x".repeat(100_000);
    let hostile = [
        "'; DROP TABLE users; --",
        "../../etc/passwd",
        "a\u{0}b",
        "%00",
        "\" OR \"1\"=\"1",
        "<script>alert(1)</script>",
        long.as_str(),
        "",
        "😀",
        "..%2F..%2Fetc",
    ];
    for evil in hostile {
        let what = format!("{evil:.30?}");
        let replies = [
            send(
                app.clone(),
                req(
                    Method::POST,
                    "/admin/users",
                    &h,
                    Some(json!({"username": evil, "password": PASSWORD})),
                ),
            )
            .await,
            send(
                app.clone(),
                req(
                    Method::POST,
                    "/admin/users",
                    &h,
                    Some(json!({"username": "ok", "password": PASSWORD, "role": evil})),
                ),
            )
            .await,
            login(&app, evil, evil).await,
            send(
                app.clone(),
                req(
                    Method::POST,
                    "/admin/keys",
                    &h,
                    Some(json!({"name": "k", "scopes": [evil]})),
                ),
            )
            .await,
            send(
                app.clone(),
                req(
                    Method::POST,
                    "/admin/keys",
                    &h,
                    Some(json!({"name": "k", "user_id": evil})),
                ),
            )
            .await,
            send(
                app.clone(),
                req(
                    Method::POST,
                    "/admin/keys",
                    &h,
                    Some(json!({"name": "k", "models": [evil]})),
                ),
            )
            .await,
            send(
                app.clone(),
                req(
                    Method::POST,
                    "/ui/auth/setup",
                    &[],
                    Some(json!({"token": evil, "username": "a", "password": PASSWORD})),
                ),
            )
            .await,
            send(
                app.clone(),
                req(
                    Method::GET,
                    &format!(
                        "/admin/audit?before={}",
                        urlencode(&evil[..evil.len().min(4000)])
                    ),
                    &h,
                    None,
                ),
            )
            .await,
        ];
        for (i, reply) in replies.iter().enumerate() {
            // The audit cursor is data: any string is only compared, never a 5xx.
            let is_inert = i == 7 && reply.status == StatusCode::OK;
            assert!(
                reply.status.is_client_error() || is_inert,
                "{what} case {i}: {} {}",
                reply.status,
                reply.body
            );
        }
        let path_evil = urlencode(&evil[..evil.len().min(4000)]);
        for (method, path) in [
            (Method::DELETE, format!("/admin/keys/{path_evil}")),
            (Method::DELETE, format!("/admin/sessions/{path_evil}")),
            (Method::DELETE, format!("/admin/invites/{path_evil}")),
            (Method::PATCH, format!("/admin/users/{path_evil}")),
            (Method::POST, format!("/ui/invites/{path_evil}")),
        ] {
            let body = Some(json!({"username": "x1", "password": PASSWORD, "disabled": true}));
            let body = if method == Method::PATCH {
                Some(json!({"disabled": true}))
            } else if method == Method::POST {
                body
            } else {
                None
            };
            let reply = send(app.clone(), req(method.clone(), &path, &h, body)).await;
            assert!(
                reply.status.is_client_error(),
                "{what} {method} {path:.40}: {}",
                reply.status
            );
        }
        // Free-text labels are stored as given (within bounds) and read back inert.
        if !evil.is_empty() && evil.len() <= 100 && !evil.contains('\u{0}') {
            let made = send(
                app.clone(),
                req(Method::POST, "/admin/keys", &h, Some(json!({"name": evil}))),
            )
            .await;
            assert_eq!(made.status, StatusCode::CREATED, "{what}: {}", made.body);
            assert_eq!(made.body["key"]["name"], evil.trim());
        }
    }
    assert_eq!(state.auth.list_users().await.unwrap().len(), 1);
    assert_eq!(
        send(app, req(Method::GET, "/readyz", &[], None))
            .await
            .status,
        StatusCode::OK
    );
}

fn urlencode(text: &str) -> String {
    text.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

#[tokio::test]
async fn password_change_ends_other_sessions_and_audit_exports_json_lines() {
    let (state, _dir) = state().await;
    let app = router(state.clone());
    let admin = user(&state, "root", Role::Admin).await;
    let first = login(&app, "root", PASSWORD).await;
    let second = login(&app, "root", PASSWORD).await;
    let (cookie, csrf) = (
        cookie_of(&second),
        second.body["csrf_token"].as_str().unwrap().to_owned(),
    );
    let new_password = "a much better passphrase";
    let changed = send(
        app.clone(),
        req(
            Method::POST,
            "/ui/auth/password",
            &[("cookie", &cookie), ("x-csrf-token", &csrf)],
            Some(json!({"current_password": PASSWORD, "new_password": new_password})),
        ),
    )
    .await;
    assert_eq!(changed.status, StatusCode::OK, "{}", changed.body);
    let fresh = cookie_of(&changed);
    assert_eq!(
        send(
            app.clone(),
            req(
                Method::GET,
                "/ui/auth/me",
                &[("cookie", &cookie_of(&first))],
                None
            )
        )
        .await
        .status,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        send(
            app.clone(),
            req(Method::GET, "/ui/auth/me", &[("cookie", &fresh)], None)
        )
        .await
        .status,
        StatusCode::OK
    );
    assert_eq!(
        login(&app, "root", new_password).await.status,
        StatusCode::OK
    );
    let logout = send(
        app.clone(),
        req(
            Method::POST,
            "/ui/auth/logout",
            &[
                ("cookie", &fresh),
                ("x-csrf-token", changed.body["csrf_token"].as_str().unwrap()),
            ],
            None,
        ),
    )
    .await;
    assert_eq!(logout.status, StatusCode::NO_CONTENT);
    assert!(
        logout.headers["set-cookie"]
            .to_str()
            .unwrap()
            .contains("Max-Age=0")
    );

    let a = bearer(&key(&state, &admin, &[]).await);
    let export = app
        .clone()
        .oneshot(req(
            Method::GET,
            "/admin/audit/export",
            &[("authorization", &a), ("user-agent", "audit-test")],
            None,
        ))
        .await
        .unwrap();
    assert_eq!(export.headers()["content-type"], "application/x-ndjson");
    let text = String::from_utf8(
        export
            .into_body()
            .collect()
            .await
            .unwrap()
            .to_bytes()
            .to_vec(),
    )
    .unwrap();
    let events: Vec<Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let actions: Vec<&str> = events
        .iter()
        .map(|e| e["action"].as_str().unwrap())
        .collect();
    for expected in [
        "user.create",
        "login",
        "user.password_change",
        "logout",
        "key.create",
    ] {
        assert!(
            actions.contains(&expected),
            "{expected} missing from {actions:?}"
        );
    }
    let page = send(
        app,
        req(
            Method::GET,
            "/admin/audit?limit=2",
            &[("authorization", &a)],
            None,
        ),
    )
    .await;
    assert_eq!(page.body["events"].as_array().unwrap().len(), 2);
    assert!(page.body["next_before"].is_string());
    assert!(
        !text.contains(PASSWORD) && !text.contains(new_password),
        "no secrets in the audit log"
    );
}

#[tokio::test]
async fn auth_off_lets_everything_through_as_anonymous() {
    let mut config = Config::default();
    config.auth.enabled = false;
    let (state, _dir) = state_with(config).await;
    let app = router_with(state, full_table());
    for (method, path) in [
        (Method::GET, "/admin/users"),
        (Method::POST, "/v1/probe/chat"),
    ] {
        let reply = send(app.clone(), req(method, path, &[], None)).await;
        assert_eq!(reply.status, StatusCode::OK, "{path}: {}", reply.body);
    }
}
