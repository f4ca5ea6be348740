//! Usage accounting and token budgets over HTTP, with the deterministic fake
//! backend (one token per word): every generating and embedding lane records
//! usage (also a stream cut short), the admin report sums it, tokens per
//! minute and daily quotas answer 429 with `Retry-After` in the lane's shape,
//! and quotas set by an admin are audited and counted from the records.

use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use axum::http::{HeaderMap, Method, Request, StatusCode};
use hearth_core::auth::{AuditContext, KeyInput, PasswordHasher, Role, User};
use hearth_core::config::Config;
use hearth_core::jobs::now_ms;
use hearth_core::limits::InProcessLimiter;
use hearth_core::usage::{UsageGroup, UsageQuery, UsageTotal};
use hearth_server::{AppState, Parts, router};
use hearth_testkit::fake::{DEFAULT_REPLY, FAKE_CHAT, FAKE_EMBED, FakeBackend};
use http_body_util::BodyExt;
use serde_json::{Value, json};
use tower::ServiceExt;

/// Tokens of one `chat("hi")` with the fake: prompt "user hi" (2) + reply.
fn chat_tokens() -> u64 {
    2 + DEFAULT_REPLY.split_whitespace().count() as u64
}

struct Harness {
    state: AppState,
    fake: FakeBackend,
    _dir: tempfile::TempDir,
}

async fn harness(config: Config) -> Harness {
    harness_with(config, None).await
}

async fn harness_with(
    config: Config,
    metrics: Option<metrics_exporter_prometheus::PrometheusHandle>,
) -> Harness {
    let fake = FakeBackend::new();
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("t.db").display());
    let store = hearth_store::open(&url, &Default::default()).await.unwrap();
    let backend = Arc::new(fake.clone());
    let state = AppState::new(Parts {
        config: Arc::new(config),
        store,
        chat: backend.clone(),
        embed: backend.clone(),
        models: backend,
        metrics,
    })
    .with_accounts(
        Arc::new(InProcessLimiter::new()),
        PasswordHasher::with_cost(64, 1, 1),
    );
    Harness {
        state,
        fake,
        _dir: dir,
    }
}

impl Harness {
    async fn user(&self, name: &str, role: Role) -> User {
        self.state
            .auth
            .create_user(name, "correct horse battery", role, &AuditContext::cli())
            .await
            .unwrap()
    }

    async fn key(&self, owner: &User, scopes: &[&str]) -> (String, String) {
        let input = KeyInput {
            name: "test".into(),
            scopes: scopes.iter().map(|s| s.to_string()).collect(),
            ..Default::default()
        };
        let (key, secret) = self
            .state
            .auth
            .create_key(owner, input, &AuditContext::cli())
            .await
            .unwrap();
        (key.id, secret)
    }

    fn app(&self) -> Router {
        router(self.state.clone())
    }

    async fn totals(&self, group: UsageGroup) -> Vec<UsageTotal> {
        self.state.flush_usage().await;
        self.state
            .store
            .usage()
            .totals(&UsageQuery {
                from_ms: 0,
                to_ms: now_ms() + 1,
                group,
                user_id: None,
            })
            .await
            .unwrap()
    }
}

struct Reply {
    status: StatusCode,
    headers: HeaderMap,
    body: Value,
}

async fn call(app: Router, method: Method, path: &str, key: &str, body: Option<Value>) -> Reply {
    let builder = Request::builder()
        .method(method)
        .uri(path)
        .header("host", "hearth.test")
        .header("authorization", format!("Bearer {key}"));
    let req = match body {
        Some(body) => builder
            .header("content-type", "application/json")
            .body(Body::from(body.to_string()))
            .unwrap(),
        None => builder.body(Body::empty()).unwrap(),
    };
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

fn chat_body() -> Value {
    json!({"model": FAKE_CHAT, "messages": [{"role": "user", "content": "hi"}]})
}

async fn chat(app: Router, key: &str) -> Reply {
    call(
        app,
        Method::POST,
        "/v1/chat/completions",
        key,
        Some(chat_body()),
    )
    .await
}

fn retry_after(reply: &Reply) -> u64 {
    reply
        .headers
        .get("retry-after")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("no Retry-After on {}: {}", reply.status, reply.body))
}

#[tokio::test]
async fn every_generating_and_embedding_lane_records_usage() {
    let h = harness(Config::default()).await;
    let app = h.app();
    let dev = h.user("dev", Role::User).await;
    let (key_id, key) = h.key(&dev, &["chat", "embed"]).await;
    let chat_msgs = json!([{"role": "user", "content": "hi"}]);
    let requests = [
        ("/v1/chat/completions", chat_body()),
        (
            "/v1/chat/completions",
            json!({"model": FAKE_CHAT, "messages": chat_msgs, "stream": true}),
        ),
        (
            "/v1/completions",
            json!({"model": FAKE_CHAT, "prompt": "hi"}),
        ),
        (
            "/v1/embeddings",
            json!({"model": FAKE_EMBED, "input": "hello world"}),
        ),
        (
            "/api/chat",
            json!({"model": FAKE_CHAT, "messages": chat_msgs, "stream": false}),
        ),
        (
            "/api/generate",
            json!({"model": FAKE_CHAT, "prompt": "hi", "stream": true}),
        ),
        ("/api/embed", json!({"model": FAKE_EMBED, "input": "hi"})),
        (
            "/api/embeddings",
            json!({"model": FAKE_EMBED, "prompt": "hi"}),
        ),
        (
            "/v1/messages",
            json!({"model": FAKE_CHAT, "max_tokens": 64, "messages": chat_msgs}),
        ),
    ];
    for (path, body) in &requests {
        let reply = call(app.clone(), Method::POST, path, &key, Some(body.clone())).await;
        assert_eq!(reply.status, StatusCode::OK, "{path}: {}", reply.body);
    }
    // The conversations send path generates on its own task, still metered
    // as this user's (the request's context follows it there).
    let conv = call(
        app.clone(),
        Method::POST,
        "/ui/conversations",
        &key,
        Some(json!({"model": FAKE_CHAT})),
    )
    .await;
    assert_eq!(conv.status, StatusCode::OK, "{}", conv.body);
    let send = format!(
        "/ui/conversations/{}/messages",
        conv.body["id"].as_str().unwrap()
    );
    let turn = call(
        app.clone(),
        Method::POST,
        &send,
        &key,
        Some(json!({"content": "hi"})),
    )
    .await;
    assert_eq!(turn.status, StatusCode::OK, "{}", turn.body);
    assert!(
        h.state
            .conversations
            .wait_idle(std::time::Duration::from_secs(5))
            .await
    );
    // A generation that fails is recorded too, with its outcome.
    let missing = json!({"model": "no-such-model", "messages": chat_msgs});
    let reply = call(
        app.clone(),
        Method::POST,
        "/v1/chat/completions",
        &key,
        Some(missing),
    )
    .await;
    assert_eq!(reply.status, StatusCode::NOT_FOUND);

    let by_model = h.totals(UsageGroup::Model).await;
    let row = |model: &str| {
        by_model
            .iter()
            .find(|t| t.key.as_deref() == Some(model))
            .cloned()
            .unwrap_or_else(|| panic!("no usage for {model}: {by_model:?}"))
    };
    let reply_words = DEFAULT_REPLY.split_whitespace().count() as u64;
    let chat_row = row(FAKE_CHAT);
    // Six lane requests, the conversation's answer and its title.
    assert_eq!(chat_row.requests, 8, "{chat_row:?}");
    assert_eq!(chat_row.completion_tokens, 8 * reply_words);
    assert_eq!(chat_row.failed, 0);
    let embed_row = row(FAKE_EMBED);
    assert_eq!(embed_row.requests, 3);
    assert_eq!(embed_row.prompt_tokens, 2 + 1 + 1);
    assert_eq!(embed_row.completion_tokens, 0);
    let failed = row("no-such-model");
    assert_eq!((failed.requests, failed.failed), (1, 1));

    let by_user = h.totals(UsageGroup::User).await;
    assert_eq!(
        by_user.len(),
        1,
        "everything was the one user's: {by_user:?}"
    );
    assert_eq!(by_user[0].key.as_deref(), Some(dev.id.0.as_str()));
    // The key is the other subject tokens are charged to.
    let key_tokens = h
        .state
        .store
        .usage()
        .tokens_since(&hearth_core::usage::Subject::Key(key_id), 0)
        .await
        .unwrap();
    assert_eq!(
        key_tokens,
        by_user[0].prompt_tokens + by_user[0].completion_tokens
    );

    // The admin report: per user (with the name) and per model.
    let admin = h.user("root", Role::Admin).await;
    let (_, admin_key) = h.key(&admin, &["admin"]).await;
    let report = call(app.clone(), Method::GET, "/admin/usage", &admin_key, None).await;
    assert_eq!(report.status, StatusCode::OK, "{}", report.body);
    assert_eq!(report.body["group_by"], "user");
    assert_eq!(report.body["rows"][0]["username"], "dev");
    assert_eq!(report.body["rows"][0]["requests"], 12);
    let report = call(
        app.clone(),
        Method::GET,
        "/admin/usage?group_by=model",
        &admin_key,
        None,
    )
    .await;
    assert_eq!(report.body["rows"].as_array().unwrap().len(), 3);
    let bad = call(
        app.clone(),
        Method::GET,
        "/admin/usage?group_by=day",
        &admin_key,
        None,
    )
    .await;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST);
    assert_eq!(bad.body["error"]["code"], "E_VALIDATION");
    let bad = call(
        app,
        Method::GET,
        "/admin/usage?from_ms=10&to_ms=5",
        &admin_key,
        None,
    )
    .await;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn several_choices_count_their_shared_prompt_once() {
    let h = harness(Config::default()).await;
    let dev = h.user("dev", Role::User).await;
    let (_, key) = h.key(&dev, &["chat"]).await;
    let body =
        json!({"model": FAKE_CHAT, "n": 3, "messages": [{"role": "user", "content": "hi there"}]});
    let reply = call(
        h.app(),
        Method::POST,
        "/v1/chat/completions",
        &key,
        Some(body),
    )
    .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    let usage = &reply.body["usage"];
    let row = h.totals(UsageGroup::Model).await.remove(0);
    assert_eq!(row.requests, 3, "one record per choice: {row:?}");
    assert_eq!(
        Value::from(row.prompt_tokens),
        usage["prompt_tokens"],
        "the prompt is charged once, as the answer reports it"
    );
    assert_eq!(
        Value::from(row.completion_tokens),
        usage["completion_tokens"]
    );
}

#[tokio::test]
async fn a_stream_cut_short_is_recorded_as_cancelled() {
    let h = harness(Config::default()).await;
    h.fake
        .clone()
        .token_delay(std::time::Duration::from_millis(20));
    let dev = h.user("dev", Role::User).await;
    let (_, key) = h.key(&dev, &["chat"]).await;
    let body = json!({"model": FAKE_CHAT, "messages": [{"role": "user", "content": "hi"}], "stream": true});
    let req = Request::builder()
        .method(Method::POST)
        .uri("/v1/chat/completions")
        .header("authorization", format!("Bearer {key}"))
        .header("content-type", "application/json")
        .body(Body::from(body.to_string()))
        .unwrap();
    let response = h.app().oneshot(req).await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let mut body = response.into_body();
    // Read until the reply's first word went out, then hang up.
    let mut seen = String::new();
    while !seen.contains("The") {
        let frame = body.frame().await.unwrap().unwrap();
        seen.push_str(&String::from_utf8_lossy(frame.data_ref().unwrap()));
    }
    drop(body);
    // The cut generation is recorded from its own task (it counts the
    // prompt); a flush waits for it.
    let totals = h.totals(UsageGroup::Model).await;
    assert_eq!(totals.len(), 1, "{totals:?}");
    assert_eq!((totals[0].requests, totals[0].failed), (1, 1), "{totals:?}");
    // Charged what it read and what it sent: the prompt ("user hi", the
    // fake's words) and at least the first delta.
    assert_eq!(totals[0].prompt_tokens, 2, "{totals:?}");
    assert!(totals[0].completion_tokens >= 1, "{totals:?}");
}

#[tokio::test]
async fn a_tokens_per_minute_burst_gets_429_with_retry_after() {
    let mut config = Config::default();
    config.limits.tokens_per_minute_per_key = 5;
    let h = harness(config).await;
    let dev = h.user("dev", Role::User).await;
    // A minute boundary between the two requests would reset the budget: try
    // again with a fresh key in the (rare) case one passed.
    for _ in 0..3 {
        let (_, key) = h.key(&dev, &["chat"]).await;
        let minute = now_ms() / 60_000;
        let first = chat(h.app(), &key).await;
        assert_eq!(first.status, StatusCode::OK, "{}", first.body);
        let second = chat(h.app(), &key).await;
        let ollama = call(
            h.app(),
            Method::POST,
            "/api/chat",
            &key,
            Some(json!({"model": FAKE_CHAT, "messages": [{"role": "user", "content": "hi"}]})),
        )
        .await;
        if now_ms() / 60_000 != minute {
            continue;
        }
        assert_eq!(
            second.status,
            StatusCode::TOO_MANY_REQUESTS,
            "{}",
            second.body
        );
        assert!((1..=60).contains(&retry_after(&second)));
        assert_eq!(second.body["error"]["code"], "rate_limit_exceeded");
        assert_eq!(second.body["error"]["type"], "rate_limit_error");
        assert_eq!(ollama.status, StatusCode::TOO_MANY_REQUESTS);
        assert!(
            ollama.body["error"]
                .as_str()
                .unwrap()
                .contains("tokens per minute")
        );
        retry_after(&ollama);
        // Another key of the same user has its own per-key budget.
        let (_, other) = h.key(&dev, &["chat"]).await;
        assert_eq!(chat(h.app(), &other).await.status, StatusCode::OK);
        return;
    }
    panic!("three minute boundaries in a row");
}

#[tokio::test]
async fn a_daily_quota_set_by_an_admin_is_enforced_audited_and_survives_a_restart() {
    let h = harness(Config::default()).await;
    let dev = h.user("dev", Role::User).await;
    let (_, key) = h.key(&dev, &["chat", "models:read"]).await;
    let admin = h.user("root", Role::Admin).await;
    let (_, admin_key) = h.key(&admin, &["admin"]).await;
    let path = format!("/admin/users/{}/quota", dev.id);
    let budget = chat_tokens() + 1;
    let set = call(
        h.app(),
        Method::PUT,
        &path,
        &admin_key,
        Some(json!({"tokens_per_day": budget})),
    )
    .await;
    assert_eq!(set.status, StatusCode::OK, "{}", set.body);
    assert_eq!(set.body["stored"]["tokens_per_day"], budget);
    assert_eq!(set.body["stored"]["tokens_per_month"], Value::Null);
    assert_eq!(set.body["effective"]["tokens_per_month"], 0);
    let bad = call(
        h.app(),
        Method::PUT,
        &path,
        &admin_key,
        Some(json!({"tokens_per_day": -1})),
    )
    .await;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST, "{}", bad.body);
    let missing = call(
        h.app(),
        Method::PUT,
        "/admin/keys/nope/quota",
        &admin_key,
        Some(json!({"tokens_per_day": 1})),
    )
    .await;
    assert_eq!(missing.status, StatusCode::NOT_FOUND);

    // Two requests fit (the second overshoots), the third is refused.
    assert_eq!(chat(h.app(), &key).await.status, StatusCode::OK);
    assert_eq!(chat(h.app(), &key).await.status, StatusCode::OK);
    let refused = chat(h.app(), &key).await;
    assert_eq!(
        refused.status,
        StatusCode::TOO_MANY_REQUESTS,
        "{}",
        refused.body
    );
    assert_eq!(refused.body["error"]["code"], "insufficient_quota");
    assert!((1..=86_400).contains(&retry_after(&refused)));
    let anthropic = call(
        h.app(),
        Method::POST,
        "/v1/messages",
        &key,
        Some(json!({"model": FAKE_CHAT, "max_tokens": 8, "messages": [{"role": "user", "content": "hi"}]})),
    )
    .await;
    assert_eq!(anthropic.status, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(anthropic.body["error"]["type"], "rate_limit_error");
    // Reading is not generating: the user still lists models.
    let models = call(h.app(), Method::GET, "/v1/models", &key, None).await;
    assert_eq!(models.status, StatusCode::OK);

    // A fresh limiter (a restart) counts the day again from the records.
    h.state.flush_usage().await;
    let restarted = h.state.clone().with_accounts(
        Arc::new(InProcessLimiter::new()),
        PasswordHasher::with_cost(64, 1, 1),
    );
    let again = chat(router(restarted), &key).await;
    assert_eq!(
        again.status,
        StatusCode::TOO_MANY_REQUESTS,
        "{}",
        again.body
    );

    // Lifting the quota (null = the default, unlimited) lets the user go on.
    let lifted = call(
        h.app(),
        Method::PUT,
        &path,
        &admin_key,
        Some(json!({"tokens_per_day": null})),
    )
    .await;
    assert_eq!(lifted.status, StatusCode::OK);
    assert_eq!(chat(h.app(), &key).await.status, StatusCode::OK);
    let audit = h.state.auth.audit_log(None, 100).await.unwrap();
    let changes: Vec<_> = audit.iter().filter(|e| e.action == "quota.set").collect();
    assert_eq!(changes.len(), 2, "{audit:?}");
    assert_eq!(changes[1].detail["after"]["tokens_per_day"], budget);
    assert_eq!(
        changes[0].target.as_deref(),
        Some(format!("user:{}", dev.id).as_str())
    );
}

#[tokio::test]
async fn usage_feeds_token_metrics_without_unknown_model_labels() {
    let h = harness_with(
        Config::default(),
        Some(hearth_server::metrics::install_recorder()),
    )
    .await;
    let admin = h.user("root", Role::Admin).await;
    let (_, key) = h.key(&admin, &["chat", "metrics"]).await;
    assert_eq!(chat(h.app(), &key).await.status, StatusCode::OK);
    let unknown =
        json!({"model": "secret-looking-name", "messages": [{"role": "user", "content": "hi"}]});
    let reply = call(
        h.app(),
        Method::POST,
        "/v1/chat/completions",
        &key,
        Some(unknown),
    )
    .await;
    assert_eq!(reply.status, StatusCode::NOT_FOUND);
    let text = call(h.app(), Method::GET, "/metrics", &key, None)
        .await
        .body;
    let text = text.as_str().unwrap();
    assert!(
        text.contains(r#"hearth_tokens_total{model="fake-chat",kind="completion"}"#),
        "{text}"
    );
    assert!(
        text.contains(r#"hearth_generations_total{model="-",outcome="error"}"#),
        "{text}"
    );
    assert!(
        text.contains("hearth_time_to_first_token_seconds"),
        "{text}"
    );
    assert!(!text.contains("secret-looking-name"), "{text}");
}

#[tokio::test]
async fn an_admission_share_set_by_an_admin_reaches_the_engine_as_the_request_weight() {
    let h = harness(Config::default()).await;
    let dev = h.user("dev", Role::User).await;
    let (key_id, key) = h.key(&dev, &["chat"]).await;
    let admin = h.user("root", Role::Admin).await;
    let (_, admin_key) = h.key(&admin, &["admin"]).await;

    assert_eq!(chat(h.app(), &key).await.status, StatusCode::OK);
    let path = format!("/admin/keys/{key_id}/quota");
    let set = call(
        h.app(),
        Method::PUT,
        &path,
        &admin_key,
        Some(json!({"share": 4})),
    )
    .await;
    assert_eq!(set.status, StatusCode::OK, "{}", set.body);
    assert_eq!(set.body["effective"]["share"], 4);
    assert_eq!(chat(h.app(), &key).await.status, StatusCode::OK);
    let weights: Vec<u32> = h.fake.requests().iter().map(|r| r.weight).collect();
    assert_eq!(weights, [1, 4], "default share, then the admin's");

    for bad in [json!({"share": 0}), json!({"share": 65})] {
        let reply = call(h.app(), Method::PUT, &path, &admin_key, Some(bad)).await;
        assert_eq!(reply.status, StatusCode::BAD_REQUEST, "{}", reply.body);
    }
}
