//! Conversations through HTTP with a deterministic fake backend: sending and
//! streaming, branching (edit, regenerate, switch, fork), export → import,
//! ChatGPT import, exactly-once sends, cancel, re-attach, isolation, recovery
//! after a crash. The storage-heavy checks run on SQLite and PostgreSQL.

mod common;

use std::sync::atomic::Ordering;
use std::time::Duration;

use axum::http::{Method, StatusCode};
use common::{Engine, Script, SseReader, World, text_of, triples, world};
use hearth_core::conversations::{
    Conversation, ConversationId, Message, MessageStatus, OwnerId, Role,
};
use serde_json::{Value, json};

/// Run a check on SQLite always and on PostgreSQL when the test server is up.
macro_rules! on_both {
    ($name:ident, $check:ident) => {
        mod $name {
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                super::$check(super::world(super::Engine::Sqlite).await.unwrap()).await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                if let Some(world) = super::world(super::Engine::Postgres).await {
                    super::$check(world).await;
                }
            }
        }
    };
}

on_both!(branching_keeps_the_tree_consistent, branching_check);
on_both!(export_then_import_is_identical, round_trip_check);
on_both!(concurrent_retries_create_one_message, idempotency_check);
on_both!(owners_are_isolated, isolation_check);
on_both!(restart_marks_interrupted_answers, recovery_check);
on_both!(chatgpt_export_imports_with_its_branches, chatgpt_check);
on_both!(user_personas_are_versioned_and_private, user_personas_check);

fn msg(turn: &Value, which: &str) -> String {
    turn[which]["id"].as_str().unwrap().to_owned()
}

#[tokio::test]
async fn send_persists_both_messages_and_reports_cached_prompt() {
    let w = world(Engine::Sqlite).await.unwrap();
    let c = w.conversation("alice").await;
    let turn = w.say("alice", &c, "hello there").await;
    assert_eq!(turn["assistant_message"]["status"], "streaming");
    assert_eq!(turn["user_message"]["content"], "hello there");
    assert_eq!(turn["replayed"], false);
    w.say("alice", &c, "and again").await;
    let (status, detail) = w.get("alice", &format!("/ui/conversations/{c}")).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        triples(&detail["messages"]),
        vec![
            ("user".into(), "hello there".into(), "complete".into()),
            (
                "assistant".into(),
                "echo: hello there".into(),
                "complete".into()
            ),
            ("user".into(), "and again".into(), "complete".into()),
            (
                "assistant".into(),
                "echo: and again".into(),
                "complete".into()
            ),
        ]
    );
    let first = &detail["messages"][1];
    let second = &detail["messages"][3];
    assert_eq!(first["usage"]["cached_tokens"], 0);
    assert_eq!(first["finish_reason"], "stop");
    assert!(first["usage"]["completion_tokens"].as_i64().unwrap() > 0);
    assert!(
        second["usage"]["cached_tokens"].as_i64().unwrap() > 0,
        "the second turn reuses the first turn's prompt: {second}"
    );
    assert_eq!(second["timings"]["generation_ms"], 3);
    assert_eq!(detail["conversation"]["current_leaf_id"], second["id"]);
    assert_eq!(second["sibling_ids"], json!([second["id"]]));
    // The generations (answers and the title) ran on their own tasks, and were
    // metered under the sending request's route.
    assert!(
        w.state
            .conversations
            .wait_idle(Duration::from_secs(5))
            .await
    );
    w.state.flush_usage().await;
    let totals = w
        .state
        .store
        .usage()
        .totals(&hearth_core::usage::UsageQuery {
            from_ms: 0,
            to_ms: hearth_core::jobs::now_ms() + 1,
            group: hearth_core::usage::UsageGroup::Model,
            user_id: None,
        })
        .await
        .unwrap();
    let requests: u64 = totals.iter().map(|t| t.requests).sum();
    let completion: u64 = totals.iter().map(|t| t.completion_tokens).sum();
    let answered = first["usage"]["completion_tokens"].as_u64().unwrap()
        + second["usage"]["completion_tokens"].as_u64().unwrap();
    assert!(requests >= 2, "{totals:?}");
    assert!(completion >= answered, "{totals:?}");
}

#[tokio::test]
async fn system_prompt_and_params_reach_the_backend() {
    let w = world(Engine::Sqlite).await.unwrap();
    let (status, c) = w
        .post(
            "alice",
            "/ui/conversations",
            json!({"model": "fake", "system_prompt": "Be brief.", "params": {"temperature": 0.2}}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{c}");
    let id = c["id"].as_str().unwrap();
    w.say("alice", id, "hi").await;
    let prompts = w.fake.answer_prompts();
    assert_eq!(prompts[0][0].role, "system");
    assert_eq!(prompts[0][0].content, "Be brief.");
    let path = w.get("alice", &format!("/ui/conversations/{id}")).await.1;
    assert_eq!(path["messages"][1]["params"]["temperature"], 0.2);
}

#[tokio::test]
async fn sse_send_streams_turn_deltas_and_done() {
    let w = world(Engine::Sqlite).await.unwrap();
    let c = w.conversation("alice").await;
    let (status, body) = w
        .open_sse(
            "alice",
            Method::POST,
            &format!("/ui/conversations/{c}/messages"),
            Some(json!({"content": "stream me please", "stream": true})),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let events = SseReader::new(body).rest().await;
    assert_eq!(events[0].event, "turn");
    assert_eq!(
        events[0].data["user_message"]["content"],
        "stream me please"
    );
    let last = events.last().unwrap();
    assert_eq!(last.event, "done");
    assert_eq!(last.data["status"], "complete");
    assert_eq!(text_of(&events), "echo: stream me please");
    assert_eq!(last.data["content"], "echo: stream me please");
    assert!(events.iter().filter(|e| e.event == "delta").count() >= 3);
    assert_eq!(last.data["id"], events[0].data["assistant_message"]["id"]);
}

#[tokio::test]
async fn backend_failure_keeps_partial_and_sends_error_event() {
    let w = world(Engine::Sqlite).await.unwrap();
    let c = w.conversation("alice").await;
    w.fake.set(Script {
        fail_after: Some(2),
        ..Script::default()
    });
    let (_, body) = w
        .open_sse(
            "alice",
            Method::POST,
            &format!("/ui/conversations/{c}/messages"),
            Some(json!({"content": "one two three four", "stream": true})),
        )
        .await;
    let events = SseReader::new(body).rest().await;
    let last = events.last().unwrap();
    assert_eq!(last.event, "error");
    assert_eq!(last.data["error"]["code"], "E_PROVIDER_FAILED");
    assert!(last.data["request_id"].is_string());
    assert_eq!(last.data["message"]["status"], "error");
    assert_eq!(last.data["message"]["content"], "echo: one ");
    let path = w.path("alice", &c).await;
    assert_eq!(
        path[0],
        (
            "user".into(),
            "one two three four".into(),
            "complete".into()
        )
    );
    assert_eq!(path[1].2, "error");
    // An unknown model fails the answer, not the request; the question is kept.
    w.fake.set(Script::default());
    let (status, turn) = w
        .post(
            "alice",
            &format!("/ui/conversations/{c}/messages"),
            json!({"content": "again", "model": "nope", "parent_id": path_id(&w, &c, 1).await}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{turn}");
    w.idle().await;
    let path = w.path("alice", &c).await;
    assert_eq!(path.len(), 4);
    assert_eq!(path[3].2, "error");
}

async fn path_id(w: &World, c: &str, index: usize) -> String {
    let detail = w.get("alice", &format!("/ui/conversations/{c}")).await.1;
    detail["messages"][index]["id"].as_str().unwrap().to_owned()
}

#[tokio::test]
async fn inputs_are_validated_with_the_field_named() {
    let w = world(Engine::Sqlite).await.unwrap();
    let c = w.conversation("alice").await;
    let send = format!("/ui/conversations/{c}/messages");
    let cases = [
        (json!({"content": "  "}), "content"),
        (
            json!({"content": "x", "params": {"temperature": 9}}),
            "params",
        ),
        (json!({"content": "x", "params": {"bogus": 1}}), "params"),
        (json!({"content": "x", "model": ""}), "model"),
    ];
    for (body, field) in cases {
        let (status, err) = w.post("alice", &send, body).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{err}");
        assert_eq!(err["error"]["code"], "E_VALIDATION");
        assert_eq!(err["error"]["detail"]["field"], field, "{err}");
    }
    let (status, err) = w
        .post("alice", &send, json!({"content": "x", "extra": 1}))
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{err}");
    let turn = w.say("alice", &c, "q").await;
    let (status, err) = w
        .post(
            "alice",
            &send,
            json!({"content": "x", "parent_id": msg(&turn, "user_message")}),
        )
        .await;
    assert_eq!(
        status,
        StatusCode::BAD_REQUEST,
        "a user message under a user message: {err}"
    );
    assert_eq!(err["error"]["detail"]["field"], "parent_id");
    let (status, err) = w
        .post("alice", &send, json!({"content": "x", "parent_id": "nope"}))
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{err}");
    let (status, err) = w.get("alice", "/ui/conversations?limit=0").await;
    assert_eq!(
        (status, err["error"]["detail"]["field"].clone()),
        (StatusCode::BAD_REQUEST, json!("limit"))
    );
    let (status, _) = w.get("alice", "/ui/conversations?cursor=zzz").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let (status, err) = w
        .post("alice", "/ui/conversations", json!({"title": ""}))
        .await;
    assert_eq!(
        (status, err["error"]["detail"]["field"].clone()),
        (StatusCode::BAD_REQUEST, json!("title"))
    );
    // No model anywhere.
    let (_, bare) = w.post("alice", "/ui/conversations", json!({})).await;
    let (status, err) = w
        .post(
            "alice",
            &format!(
                "/ui/conversations/{}/messages",
                bare["id"].as_str().unwrap()
            ),
            json!({"content": "x"}),
        )
        .await;
    assert_eq!(
        (status, err["error"]["detail"]["field"].clone()),
        (StatusCode::BAD_REQUEST, json!("model"))
    );
}

async fn branching_check(w: World) {
    let c = w.conversation("alice").await;
    let t1 = w.say("alice", &c, "first question").await;
    let t2 = w.say("alice", &c, "second question").await;
    let u2 = msg(&t2, "user_message");
    let a2 = msg(&t2, "assistant_message");

    // Edit the second question: a sibling user message and its answer.
    let (status, edited) = w
        .post(
            "alice",
            &format!("/ui/conversations/{c}/messages/{u2}/edit"),
            json!({"content": "second, rephrased"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{edited}");
    w.idle().await;
    let u2b = msg(&edited, "user_message");
    assert_eq!(
        edited["user_message"]["parent_id"],
        t1["assistant_message"]["id"]
    );
    let path = w.path("alice", &c).await;
    assert_eq!(path.len(), 4);
    assert_eq!(path[2].1, "second, rephrased");
    assert_eq!(path[3].1, "echo: second, rephrased");
    // The prompt of the edit did not contain the first version.
    let prompt = w.fake.answer_prompts().last().unwrap().clone();
    assert!(
        prompt.iter().all(|m| m.content != "second question"),
        "{prompt:?}"
    );

    // Regenerate the answer of the edited branch: a sibling assistant message.
    let a2b = msg(&edited, "assistant_message");
    let (status, regen) = w
        .post(
            "alice",
            &format!("/ui/conversations/{c}/messages/{a2b}/regenerate"),
            json!({}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{regen}");
    assert!(regen["user_message"].is_null());
    assert_eq!(regen["assistant_message"]["parent_id"], json!(u2b));
    w.idle().await;
    let a2c = msg(&regen, "assistant_message");
    let (_, detail) = w.get("alice", &format!("/ui/conversations/{c}")).await;
    assert_eq!(detail["messages"][3]["id"], json!(a2c));
    assert_eq!(detail["messages"][3]["sibling_ids"], json!([a2b, a2c]));
    assert_eq!(detail["messages"][2]["sibling_ids"], json!([u2, u2b]));

    // Switch back to the original question: its newest leaf becomes current.
    let (status, switched) = w
        .post(
            "alice",
            &format!("/ui/conversations/{c}/switch"),
            json!({"message_id": u2}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{switched}");
    assert_eq!(switched["conversation"]["current_leaf_id"], json!(a2));
    assert_eq!(triples(&switched["messages"])[2].1, "second question");
    // Sending now continues the original branch.
    let t3 = w.say("alice", &c, "third").await;
    assert_eq!(t3["user_message"]["parent_id"], json!(a2));

    // The whole tree: 2 + 2 + 2 (edit) + 1 (regenerate) + 2 = 9 messages, every
    // parent in the tree, exactly one root.
    let (_, tree) = w
        .get("alice", &format!("/ui/conversations/{c}?view=tree"))
        .await;
    let messages = tree["messages"].as_array().unwrap();
    assert_eq!(messages.len(), 9);
    let ids: Vec<&Value> = messages.iter().map(|m| &m["id"]).collect();
    assert_eq!(
        messages.iter().filter(|m| m["parent_id"].is_null()).count(),
        1
    );
    assert!(
        messages
            .iter()
            .all(|m| m["parent_id"].is_null() || ids.contains(&&m["parent_id"]))
    );

    // Fork the active path into a new conversation; the source is unchanged.
    let (status, fork) = w
        .post("alice", &format!("/ui/conversations/{c}/fork"), json!({}))
        .await;
    assert_eq!(status, StatusCode::OK, "{fork}");
    let f = fork["id"].as_str().unwrap();
    assert!(fork["title"].as_str().unwrap().ends_with("(fork)"));
    let source_path = w.path("alice", &c).await;
    assert_eq!(w.path("alice", f).await, source_path);
    let (_, fork_tree) = w
        .get("alice", &format!("/ui/conversations/{f}?view=tree"))
        .await;
    assert_eq!(
        fork_tree["messages"].as_array().unwrap().len(),
        6,
        "only the path is copied"
    );
    // Fork at an earlier message.
    let (_, early) = w
        .post(
            "alice",
            &format!("/ui/conversations/{c}/fork"),
            json!({"message_id": msg(&t1, "assistant_message")}),
        )
        .await;
    assert_eq!(
        w.path("alice", early["id"].as_str().unwrap()).await.len(),
        2
    );
    // Continuing the fork does not touch the source.
    w.say("alice", f, "only in the fork").await;
    assert_eq!(w.path("alice", &c).await, source_path);
    // Editing an assistant message or regenerating a user message is refused.
    let (status, _) = w
        .post(
            "alice",
            &format!("/ui/conversations/{c}/messages/{a2}/edit"),
            json!({"content": "x"}),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let (status, _) = w
        .post(
            "alice",
            &format!("/ui/conversations/{c}/messages/{u2}/regenerate"),
            json!({}),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
}

/// The export with ids replaced by their position, and times of the export
/// itself removed: what must survive an import.
fn normalized(mut doc: Value) -> Value {
    let ids: Vec<String> = doc["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["id"].as_str().unwrap().to_owned())
        .collect();
    let index = |v: &Value| match v.as_str() {
        Some(id) => json!(ids.iter().position(|i| i == id).unwrap()),
        None => Value::Null,
    };
    for m in doc["messages"].as_array_mut().unwrap() {
        m["id"] = index(&m["id"]);
        m["parent_id"] = index(&m["parent_id"]);
    }
    doc["conversation"]["current_leaf_id"] = index(&doc["conversation"]["current_leaf_id"]);
    doc["conversation"]["id"] = Value::Null;
    doc["exported_at_ms"] = Value::Null;
    doc
}

async fn round_trip_check(w: World) {
    let c = w.conversation("alice").await;
    w.say("alice", &c, "alpha").await;
    let t2 = w.say("alice", &c, "beta").await;
    let (_, _) = w
        .post(
            "alice",
            &format!(
                "/ui/conversations/{c}/messages/{}/edit",
                msg(&t2, "user_message")
            ),
            json!({"content": "beta two"}),
        )
        .await;
    w.idle().await;
    w.post(
        "alice",
        &format!(
            "/ui/conversations/{c}/messages/{}/regenerate",
            msg(&t2, "assistant_message")
        ),
        json!({}),
    )
    .await;
    w.idle().await;
    w.call(
        "alice",
        Method::PATCH,
        &format!("/ui/conversations/{c}"),
        Some(json!({"title": "Greek letters", "pinned": true, "system_prompt": "Σ is fine"})),
    )
    .await;
    let (status, exported) = w
        .get("alice", &format!("/ui/conversations/{c}/export"))
        .await;
    assert_eq!(status, StatusCode::OK, "{exported}");
    assert_eq!(exported["format"], "hearth.conversation");
    assert_eq!(exported["version"], 1);
    assert_eq!(exported["messages"].as_array().unwrap().len(), 7);

    let (status, imported) = w
        .post("bob", "/ui/conversations/import", exported.clone())
        .await;
    assert_eq!(status, StatusCode::OK, "{imported}");
    let new_id = imported["conversations"][0]["id"].as_str().unwrap();
    assert_ne!(new_id, c);
    let (_, again) = w
        .get("bob", &format!("/ui/conversations/{new_id}/export"))
        .await;
    assert_eq!(normalized(again.clone()), normalized(exported.clone()));
    // Importing twice gives two independent copies.
    let (status, _) = w.post("bob", "/ui/conversations/import", exported).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        w.get("bob", "/ui/conversations").await.1["conversations"]
            .as_array()
            .unwrap()
            .len(),
        2
    );
    // The Markdown of the active path.
    let response = w
        .get(
            "bob",
            &format!("/ui/conversations/{new_id}/export?format=markdown"),
        )
        .await
        .1;
    let markdown = response.as_str().unwrap();
    assert!(markdown.starts_with("# Greek letters\n"), "{markdown}");
    assert!(markdown.contains("## System\n\nΣ is fine"));
    // The last regenerate was on the first version of the question: its branch is active.
    assert!(markdown.contains("## User\n\nbeta\n"), "{markdown}");
    assert!(
        !markdown.contains("beta two"),
        "only the active path: {markdown}"
    );
}

#[tokio::test]
async fn broken_imports_are_refused_whole() {
    let w = world(Engine::Sqlite).await.unwrap();
    let doc = |messages: Value| {
        json!({
            "format": "hearth.conversation", "version": 1, "exported_at_ms": 0,
            "conversation": {"id": "x", "title": "T", "created_at_ms": 1, "updated_at_ms": 1},
            "messages": messages,
        })
    };
    let m = |id: &str, parent: Value| json!({"id": id, "parent_id": parent, "role": "user", "content": "c", "status": "complete", "created_at_ms": 1, "updated_at_ms": 1});
    for bad in [
        doc(json!([m("a", json!("missing"))])),
        doc(json!([m("a", json!("b")), m("b", json!("a"))])),
        doc(json!([m("a", Value::Null), m("a", Value::Null)])),
        json!({"format": "other", "version": 1}),
        json!({"hello": "world"}),
        json!([]),
    ] {
        let (status, err) = w
            .post("alice", "/ui/conversations/import", bad.clone())
            .await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{bad} → {err}");
    }
    assert!(
        w.get("alice", "/ui/conversations").await.1["conversations"]
            .as_array()
            .unwrap()
            .is_empty()
    );
}

async fn chatgpt_check(w: World) {
    let fixture: Value =
        serde_json::from_str(include_str!("fixtures/chatgpt-conversations.json")).unwrap();
    let (status, imported) = w.post("alice", "/ui/conversations/import", fixture).await;
    assert_eq!(status, StatusCode::OK, "{imported}");
    let list = imported["conversations"].as_array().unwrap();
    assert_eq!(list.len(), 2);
    let sourdough = &list[0];
    assert_eq!(sourdough["title"], "Sourdough starter help");
    assert_eq!(sourdough["model"], "gpt-4o");
    assert_eq!(sourdough["created_at_ms"], 1714564800123i64);
    assert_eq!(sourdough["archived"], false);
    let id = sourdough["id"].as_str().unwrap();
    // Hidden system and custom-instruction nodes and the reasoning trace are
    // skipped; the current node's branch is the active path.
    let (_, detail) = w.get("alice", &format!("/ui/conversations/{id}")).await;
    assert_eq!(
        triples(&detail["messages"]),
        vec![
            ("user".into(), "My sourdough starter smells like nail polish remover. Is it dead?".into(), "complete".into()),
            ("assistant".into(), "Not dead, just hungry. The acetone smell means the yeast ran out of food. Feed it.".into(), "complete".into()),
            ("user".into(), "How often should I feed it if it lives in the fridge?".into(), "complete".into()),
            ("assistant".into(), "Once a week is enough in the fridge.".into(), "complete".into()),
        ]
    );
    assert_eq!(detail["messages"][0]["parent_id"], Value::Null);
    assert_eq!(detail["messages"][0]["created_at_ms"], 1714564801500i64);
    assert_eq!(detail["messages"][3]["model"], "o3");
    assert_eq!(
        detail["messages"][3]["parent_id"], detail["messages"][2]["id"],
        "the thoughts node is bridged"
    );
    // The edit is a branch: two user siblings under the first answer.
    let siblings = detail["messages"][2]["sibling_ids"].as_array().unwrap();
    assert_eq!(siblings.len(), 2);
    let (_, tree) = w
        .get("alice", &format!("/ui/conversations/{id}?view=tree"))
        .await;
    assert_eq!(tree["messages"].as_array().unwrap().len(), 6);
    // The other branch is reachable.
    let (_, switched) = w
        .post(
            "alice",
            &format!("/ui/conversations/{id}/switch"),
            json!({"message_id": siblings[0]}),
        )
        .await;
    assert_eq!(
        triples(&switched["messages"])[3].1,
        "Twice a day at room temperature."
    );

    let sine = &list[1];
    assert_eq!(sine["archived"], true);
    let id = sine["id"].as_str().unwrap();
    let path = triples(&w.get("alice", &format!("/ui/conversations/{id}")).await.1["messages"]);
    assert_eq!(path.len(), 4);
    assert_eq!(
        path[0].1,
        "[image]\n\nWhat does this chart show? Then plot a sine wave."
    );
    assert!(
        path[1].1.starts_with("```\nimport numpy as np\n"),
        "{}",
        path[1].1
    );
    assert!(path[1].1.ends_with("plt.show()\n```"));
    assert_eq!(
        (path[2].0.as_str(), path[2].1.as_str()),
        ("tool", "<<ImageDisplayed>>")
    );
    assert_eq!(path[3].2, "cancelled", "a partial completion stays marked");
    // Imported text is searchable.
    let (_, found) = w
        .get("alice", "/ui/conversations?q=acetone&archived=any")
        .await;
    assert_eq!(found["conversations"][0]["title"], "Sourdough starter help");
}

async fn idempotency_check(w: World) {
    let c = w.conversation("alice").await;
    w.fake.set(Script {
        delay: Duration::from_millis(5),
        ..Script::default()
    });
    let path = format!("/ui/conversations/{c}/messages");
    let mut tasks = Vec::new();
    for _ in 0..8 {
        let app = w.app();
        let path = path.clone();
        tasks.push(tokio::spawn(async move {
            use http_body_util::BodyExt;
            use tower::ServiceExt;
            let req = common::request(
                "alice",
                Method::POST,
                &path,
                Some(json!({"content": "pay the invoice"})),
                &[("idempotency-key", "click-42")],
            );
            let response = app.oneshot(req).await.unwrap();
            let status = response.status();
            let bytes = response.into_body().collect().await.unwrap().to_bytes();
            (status, serde_json::from_slice::<Value>(&bytes).unwrap())
        }));
    }
    let mut assistants = Vec::new();
    let mut replays = 0;
    for t in tasks {
        let (status, turn) = t.await.unwrap();
        assert_eq!(status, StatusCode::OK, "{turn}");
        assistants.push(msg(&turn, "assistant_message"));
        replays += usize::from(turn["replayed"] == true);
    }
    w.idle().await;
    assistants.dedup();
    assert_eq!(assistants.len(), 1, "every retry answers the same turn");
    assert_eq!(replays, 7);
    let (_, tree) = w
        .get("alice", &format!("/ui/conversations/{c}?view=tree"))
        .await;
    assert_eq!(
        tree["messages"].as_array().unwrap().len(),
        2,
        "one message, one answer"
    );
    assert_eq!(w.fake.answer_prompts().len(), 1, "one generation");
    // A later retry replays the finished turn; the same key with other text is a conflict.
    let (status, turn) = w
        .call_with(
            "alice",
            Method::POST,
            &path,
            Some(json!({"content": "pay the invoice"})),
            &[("idempotency-key", "click-42")],
        )
        .await;
    assert_eq!(
        (status, turn["replayed"].clone()),
        (StatusCode::OK, json!(true))
    );
    assert_eq!(turn["assistant_message"]["status"], "complete");
    let (status, err) = w
        .call_with(
            "alice",
            Method::POST,
            &path,
            Some(json!({"content": "pay twice"})),
            &[("idempotency-key", "click-42")],
        )
        .await;
    assert_eq!(
        (status, err["error"]["code"].clone()),
        (StatusCode::CONFLICT, json!("E_CONFLICT"))
    );
}

#[tokio::test]
async fn cancel_keeps_the_partial_answer() {
    let w = world(Engine::Sqlite).await.unwrap();
    let c = w.conversation("alice").await;
    w.fake.set(Script {
        delay: Duration::from_millis(30),
        ..Script::default()
    });
    let long = (1..=40)
        .map(|i| i.to_string())
        .collect::<Vec<_>>()
        .join(" ");
    let (status, body) = w
        .open_sse(
            "alice",
            Method::POST,
            &format!("/ui/conversations/{c}/messages"),
            Some(json!({"content": long, "stream": true})),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let mut reader = SseReader::new(body);
    let turn = reader.next().await.unwrap();
    let assistant = turn.data["assistant_message"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    for _ in 0..3 {
        assert_eq!(reader.next().await.unwrap().event, "delta");
    }
    let (status, cancelled) = w
        .post(
            "alice",
            &format!("/ui/conversations/{c}/messages/{assistant}/cancel"),
            json!({}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{cancelled}");
    assert_eq!(cancelled["status"], "cancelled");
    assert_eq!(cancelled["finish_reason"], "cancelled");
    let partial = cancelled["content"].as_str().unwrap().to_owned();
    assert!(partial.starts_with("echo: 1 2"), "{partial}");
    assert!(partial.len() < format!("echo: {long}").len());
    // The open stream ends with `done` carrying the same partial text.
    let rest = reader.rest().await;
    let last = rest.last().unwrap();
    assert_eq!(
        (last.event.as_str(), last.data["status"].as_str()),
        ("done", Some("cancelled"))
    );
    assert_eq!(last.data["content"], json!(partial));
    w.idle().await;
    assert_eq!(
        w.fake.dropped_early.load(Ordering::SeqCst),
        1,
        "the backend stream was dropped"
    );
    let stored = w.path("alice", &c).await;
    assert_eq!(
        stored[1],
        ("assistant".into(), partial.clone(), "cancelled".into())
    );
    // Cancelling again changes nothing; the next send builds on the partial.
    let (_, again) = w
        .post(
            "alice",
            &format!("/ui/conversations/{c}/messages/{assistant}/cancel"),
            json!({}),
        )
        .await;
    assert_eq!(again["content"], json!(partial));
    w.fake.set(Script::default());
    w.say("alice", &c, "go on").await;
    let prompt = w.fake.answer_prompts().last().unwrap().clone();
    assert_eq!(prompt[1].content, partial);
}

#[tokio::test]
async fn reattach_gets_the_whole_answer_and_disconnect_does_not_stop_it() {
    let w = world(Engine::Sqlite).await.unwrap();
    let c = w.conversation("alice").await;
    w.fake.set(Script {
        delay: Duration::from_millis(15),
        ..Script::default()
    });
    let long = (1..=30)
        .map(|i| format!("w{i}"))
        .collect::<Vec<_>>()
        .join(" ");
    let expected = format!("echo: {long}");
    let (_, body) = w
        .open_sse(
            "alice",
            Method::POST,
            &format!("/ui/conversations/{c}/messages"),
            Some(json!({"content": long, "stream": true})),
        )
        .await;
    let mut first = SseReader::new(body);
    let turn = first.next().await.unwrap();
    let assistant = turn.data["assistant_message"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    first.next().await.unwrap();
    first.next().await.unwrap();
    drop(first); // the tab closes mid-answer
    tokio::time::sleep(Duration::from_millis(60)).await;
    // Mid-stream the stored text is partial and the status streaming.
    let mid = w.path("alice", &c).await;
    assert_eq!(mid[1].2, "streaming");
    assert!(expected.starts_with(&mid[1].1));
    let events_path = format!("/ui/conversations/{c}/messages/{assistant}/events");
    let (status, body) = w.open_sse("alice", Method::GET, &events_path, None).await;
    assert_eq!(status, StatusCode::OK);
    let events = SseReader::new(body).rest().await;
    assert_eq!(
        text_of(&events),
        expected,
        "from the start, nothing lost or repeated"
    );
    assert_eq!(events.last().unwrap().event, "done");
    w.idle().await;
    assert_eq!(
        w.fake.dropped_early.load(Ordering::SeqCst),
        0,
        "the disconnect did not stop it"
    );
    // After the end, re-attaching replays the stored answer.
    let (_, body) = w.open_sse("alice", Method::GET, &events_path, None).await;
    let events = SseReader::new(body).rest().await;
    assert_eq!(text_of(&events), expected);
    assert_eq!(events.last().unwrap().data["status"], "complete");
}

#[tokio::test]
async fn disconnect_cancels_when_configured() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("t.db").display());
    let settings = hearth_core::conversations::ConversationSettings {
        keep_generating_on_disconnect: false,
        ..common::settings()
    };
    let w = common::world_at(url, Some(dir), settings).await;
    let c = w.conversation("alice").await;
    w.fake.set(Script {
        delay: Duration::from_millis(20),
        ..Script::default()
    });
    let (_, body) = w
        .open_sse(
            "alice",
            Method::POST,
            &format!("/ui/conversations/{c}/messages"),
            Some(json!({"content": "a b c d e f g h i j k", "stream": true})),
        )
        .await;
    let mut reader = SseReader::new(body);
    reader.next().await.unwrap();
    reader.next().await.unwrap();
    drop(reader);
    w.idle().await;
    assert_eq!(w.path("alice", &c).await[1].2, "cancelled");
}

async fn isolation_check(w: World) {
    let c = w.conversation("alice").await;
    let turn = w.say("alice", &c, "secret plans").await;
    let a = msg(&turn, "assistant_message");
    let u = msg(&turn, "user_message");
    let missing = "0190aaaa-0000-7000-8000-000000000000";
    for (method, path, body) in [
        (Method::GET, format!("/ui/conversations/{c}"), None),
        (
            Method::GET,
            format!("/ui/conversations/{c}?view=tree"),
            None,
        ),
        (
            Method::PATCH,
            format!("/ui/conversations/{c}"),
            Some(json!({"title": "mine now"})),
        ),
        (Method::DELETE, format!("/ui/conversations/{c}"), None),
        (
            Method::DELETE,
            format!("/ui/conversations/{c}?purge=true"),
            None,
        ),
        (Method::GET, format!("/ui/conversations/{c}/export"), None),
        (
            Method::GET,
            format!("/ui/conversations/{c}/export?format=markdown"),
            None,
        ),
        (
            Method::POST,
            format!("/ui/conversations/{c}/fork"),
            Some(json!({})),
        ),
        (
            Method::POST,
            format!("/ui/conversations/{c}/switch"),
            Some(json!({"message_id": a})),
        ),
        (
            Method::POST,
            format!("/ui/conversations/{c}/messages"),
            Some(json!({"content": "hi"})),
        ),
        (
            Method::POST,
            format!("/ui/conversations/{c}/messages/{u}/edit"),
            Some(json!({"content": "hi"})),
        ),
        (
            Method::POST,
            format!("/ui/conversations/{c}/messages/{a}/regenerate"),
            Some(json!({})),
        ),
        (
            Method::GET,
            format!("/ui/conversations/{c}/messages/{a}/events"),
            None,
        ),
        (
            Method::POST,
            format!("/ui/conversations/{c}/messages/{a}/cancel"),
            Some(json!({})),
        ),
    ] {
        let (status, err) = w.call("bob", method.clone(), &path, body.clone()).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "bob {method} {path}: {err}");
        assert_eq!(err["error"]["code"], "E_NOT_FOUND");
        let missing_path = path.replace(&c, missing);
        let (_, other) = w.call("alice", method.clone(), &missing_path, body).await;
        assert_eq!(
            err["error"]["message"],
            other["error"]["message"]
                .as_str()
                .unwrap()
                .replace(missing, &c),
            "another owner's conversation reads exactly like a missing one"
        );
    }
    let (_, list) = w.get("bob", "/ui/conversations").await;
    assert!(list["conversations"].as_array().unwrap().is_empty());
    let (_, found) = w.get("bob", "/ui/conversations?q=secret").await;
    assert!(found["conversations"].as_array().unwrap().is_empty());
    // Alice's conversation is untouched.
    assert_eq!(w.path("alice", &c).await.len(), 2);
    assert_eq!(
        w.get("alice", "/ui/conversations?q=secret").await.1["conversations"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
    // A message id of another conversation is not reachable through one's own.
    let mine = w.conversation("bob").await;
    let (status, _) = w
        .post(
            "bob",
            &format!("/ui/conversations/{mine}/switch"),
            json!({"message_id": a}),
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

async fn recovery_check(w: World) {
    // What a crash mid-answer leaves: a question and a streaming partial answer.
    let owner = OwnerId("anonymous".into());
    let now = hearth_core::jobs::now_ms();
    let conversation = Conversation {
        id: ConversationId::new(),
        owner: owner.clone(),
        title: "Crashed".into(),
        model: Some("fake".into()),
        system_prompt: None,
        persona: None,
        params: json!({}),
        is_pinned: false,
        is_archived: false,
        current_leaf_id: None,
        created_at_ms: now,
        updated_at_ms: now,
        deleted_at_ms: None,
    };
    let question = Message::new(&conversation.id, None, Role::User, "will you survive?", now);
    let answer = Message {
        status: MessageStatus::Streaming,
        ..Message::new(
            &conversation.id,
            Some(question.id.clone()),
            Role::Assistant,
            "I will surv",
            now,
        )
    };
    let conversation = Conversation {
        current_leaf_id: Some(answer.id.clone()),
        ..conversation
    };
    w.store
        .conversations()
        .insert(&conversation, &[question, answer])
        .await
        .unwrap();
    w.store.close().await;

    // The restart: a new process on the same database recovers before serving.
    let restarted = common::world_at(w.url.clone(), None, common::settings()).await;
    assert_eq!(
        restarted
            .state
            .conversations
            .recover_interrupted()
            .await
            .unwrap(),
        1
    );
    let path = restarted.path("anonymous", &conversation.id.0).await;
    assert_eq!(
        path[0],
        ("user".into(), "will you survive?".into(), "complete".into())
    );
    assert_eq!(
        path[1],
        ("assistant".into(), "I will surv".into(), "error".into())
    );
    let (_, detail) = restarted
        .get(
            "anonymous",
            &format!("/ui/conversations/{}", conversation.id),
        )
        .await;
    assert!(
        detail["messages"][1]["error"]
            .as_str()
            .unwrap()
            .contains("server stopped")
    );
    // Regenerating the broken answer works.
    let (status, _) = restarted
        .post(
            "anonymous",
            &format!(
                "/ui/conversations/{}/messages/{}/regenerate",
                conversation.id,
                detail["messages"][1]["id"].as_str().unwrap()
            ),
            json!({}),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    restarted.idle().await;
    assert_eq!(
        restarted.path("anonymous", &conversation.id.0).await[1].1,
        "echo: will you survive?"
    );
    drop(w);
}

#[tokio::test]
async fn list_pages_filters_and_searches() {
    let w = world(Engine::Sqlite).await.unwrap();
    let mut ids = Vec::new();
    for i in 0..5 {
        let c = w.conversation("alice").await;
        w.say("alice", &c, &format!("topic{i} kiwi")).await;
        ids.push(c);
    }
    // Activity moves a conversation to the top.
    w.say("alice", &ids[0], "more").await;
    let (_, page) = w.get("alice", "/ui/conversations?limit=2").await;
    assert_eq!(page["conversations"][0]["id"], json!(ids[0]));
    assert_eq!(page["conversations"][1]["id"], json!(ids[4]));
    let cursor = page["next_cursor"].as_str().unwrap();
    let (_, next) = w
        .get(
            "alice",
            &format!("/ui/conversations?limit=2&cursor={cursor}"),
        )
        .await;
    assert_eq!(next["conversations"][0]["id"], json!(ids[3]));
    w.call(
        "alice",
        Method::PATCH,
        &format!("/ui/conversations/{}", ids[2]),
        Some(json!({"pinned": true})),
    )
    .await;
    w.call(
        "alice",
        Method::PATCH,
        &format!("/ui/conversations/{}", ids[3]),
        Some(json!({"archived": true})),
    )
    .await;
    let count = |v: Value| v["conversations"].as_array().unwrap().len();
    assert_eq!(
        count(w.get("alice", "/ui/conversations").await.1),
        4,
        "archived hidden by default"
    );
    assert_eq!(
        count(w.get("alice", "/ui/conversations?archived=true").await.1),
        1
    );
    assert_eq!(
        count(w.get("alice", "/ui/conversations?archived=any").await.1),
        5
    );
    assert_eq!(
        count(w.get("alice", "/ui/conversations?pinned=true").await.1),
        1
    );
    let (_, found) = w.get("alice", "/ui/conversations?q=topic3").await;
    assert_eq!(count(found), 0, "archived is filtered from search too");
    let (_, found) = w
        .get("alice", "/ui/conversations?q=topic3&archived=any")
        .await;
    assert_eq!(found["conversations"][0]["id"], json!(ids[3]));
    assert_eq!(
        count(
            w.get("alice", "/ui/conversations?q=kiwi&archived=any")
                .await
                .1
        ),
        5
    );
    // Deleting: soft hides at once; purge removes.
    let (status, deleted) = w
        .call(
            "alice",
            Method::DELETE,
            &format!("/ui/conversations/{}", ids[1]),
            None,
        )
        .await;
    assert_eq!(
        (status, deleted["purged"].clone()),
        (StatusCode::OK, json!(false))
    );
    assert_eq!(
        w.get("alice", &format!("/ui/conversations/{}", ids[1]))
            .await
            .0,
        StatusCode::NOT_FOUND
    );
    let (status, deleted) = w
        .call(
            "alice",
            Method::DELETE,
            &format!("/ui/conversations/{}?purge=true", ids[4]),
            None,
        )
        .await;
    assert_eq!(
        (status, deleted["purged"].clone()),
        (StatusCode::OK, json!(true))
    );
    assert_eq!(
        count(w.get("alice", "/ui/conversations?archived=any").await.1),
        3
    );
    assert_eq!(
        w.state.conversations.purge_expired().await.unwrap(),
        0,
        "retention not over"
    );
}

#[tokio::test]
async fn title_is_generated_after_the_first_exchange() {
    let w = world(Engine::Sqlite).await.unwrap();
    let c = w.conversation("alice").await;
    w.say("alice", &c, "tell me about kiwis").await;
    let title =
        w.get("alice", &format!("/ui/conversations/{c}")).await.1["conversation"]["title"].clone();
    assert_eq!(title, "Fake Title");
    // Not again on later turns, and never over a title the user chose.
    let named = w
        .post(
            "alice",
            "/ui/conversations",
            json!({"model": "fake", "title": "Mine"}),
        )
        .await
        .1;
    let named = named["id"].as_str().unwrap();
    w.say("alice", named, "hello").await;
    assert_eq!(
        w.get("alice", &format!("/ui/conversations/{named}"))
            .await
            .1["conversation"]["title"],
        "Mine"
    );
    // A failing title request leaves the default.
    w.fake.set(Script {
        fail_titles: true,
        ..Script::default()
    });
    let other = w.conversation("alice").await;
    w.say("alice", &other, "hello").await;
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert_eq!(
        w.get("alice", &format!("/ui/conversations/{other}"))
            .await
            .1["conversation"]["title"],
        "New conversation"
    );
}

#[tokio::test]
async fn personas_are_listed_and_recorded_on_the_conversation() {
    let w = world(Engine::Sqlite).await.unwrap();
    let (status, list) = w.get("alice", "/ui/personas").await;
    assert_eq!(status, StatusCode::OK);
    let ids: Vec<&str> = list["personas"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["id"].as_str().unwrap())
        .collect();
    assert_eq!(
        ids,
        [
            "builtin:socratic",
            "builtin:devils-advocate",
            "builtin:step-by-step",
            "builtin:concise-expert"
        ]
    );
    let expert = &list["personas"][3];
    assert_eq!(
        expert["variables"][0],
        json!({"name": "field", "default": "the subject asked about"})
    );

    let (status, c) = w
        .post(
            "alice",
            "/ui/conversations",
            json!({
                "model": "fake", "persona_id": "builtin:concise-expert",
                "persona_variables": {"field": "bread baking"}
            }),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{c}");
    assert_eq!(
        c["persona"],
        json!({"id": "builtin:concise-expert", "version": 1})
    );
    let prompt = c["system_prompt"].as_str().unwrap();
    assert!(
        prompt.starts_with(
            "You are an expert in bread baking. Answer precisely in at most three sentences."
        ),
        "{prompt}"
    );
    let id = c["id"].as_str().unwrap();
    w.say("alice", id, "why knead?").await;
    assert_eq!(w.fake.answer_prompts()[0][0].content, prompt);
    // Exported and imported with its persona.
    let (_, doc) = w
        .get("alice", &format!("/ui/conversations/{id}/export"))
        .await;
    assert_eq!(
        doc["conversation"]["persona"]["id"],
        "builtin:concise-expert"
    );
    let (_, imported) = w.post("alice", "/ui/conversations/import", doc).await;
    assert_eq!(imported["conversations"][0]["persona"]["version"], 1);

    for (body, field) in [
        (json!({"persona_id": "builtin:nope"}), "persona_id"),
        (
            json!({"persona_id": "builtin:socratic", "system_prompt": "x"}),
            "system_prompt",
        ),
        (
            json!({"persona_id": "builtin:socratic", "persona_variables": {"colour": "red"}}),
            "persona_variables",
        ),
        (
            json!({"persona_variables": {"topic": "x"}}),
            "persona_variables",
        ),
    ] {
        let (status, err) = w.post("alice", "/ui/conversations", body).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{err}");
        assert_eq!(err["error"]["detail"]["field"], field, "{err}");
    }
}

async fn audit_actions(w: &World) -> Vec<(String, String, String)> {
    w.store
        .accounts()
        .list_audit(None, 100)
        .await
        .unwrap()
        .into_iter()
        .filter(|e| e.action.starts_with("conversation."))
        .map(|e| (e.action, e.target.unwrap_or_default(), e.outcome))
        .collect()
}

#[tokio::test]
async fn admins_read_conversations_only_when_allowed_and_audited() {
    // Off by default: refused (and the attempt audited).
    let w = world(Engine::Sqlite).await.unwrap();
    let c = w.conversation("alice").await;
    w.say("alice", &c, "private words").await;
    let (status, body) = w
        .get("root", &format!("/admin/users/alice/conversations/{c}"))
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    assert_eq!(body["error"]["code"], "E_CAPABILITY_DISABLED");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("conversations.admin_can_read")
    );
    let (status, _) = w.get("root", "/admin/users/alice/conversations").await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert_eq!(
        audit_actions(&w).await,
        vec![
            (
                "conversation.admin_list".into(),
                "alice".into(),
                "failure".into()
            ),
            (
                "conversation.admin_read".into(),
                c.clone(),
                "failure".into()
            ),
        ]
    );

    // Allowed: the admin reads, and each read is audited.
    let settings = hearth_core::conversations::ConversationSettings {
        admin_can_read: true,
        ..common::settings()
    };
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("t.db").display());
    let w = common::world_at(url, Some(dir), settings).await;
    let c = w.conversation("alice").await;
    w.say("alice", &c, "private words").await;
    let (status, list) = w.get("root", "/admin/users/alice/conversations").await;
    assert_eq!(status, StatusCode::OK, "{list}");
    assert_eq!(list["conversations"][0]["id"], c.as_str());
    let (status, detail) = w
        .get(
            "root",
            &format!("/admin/users/alice/conversations/{c}?view=tree"),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{detail}");
    assert_eq!(detail["messages"][0]["content"], "private words");
    // Another owner's id does not reach it: 404 like for a missing one.
    let (status, _) = w
        .get("root", &format!("/admin/users/bob/conversations/{c}"))
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let actions = audit_actions(&w).await;
    assert_eq!(
        actions,
        vec![
            (
                "conversation.admin_read".into(),
                c.clone(),
                "failure".into()
            ),
            (
                "conversation.admin_read".into(),
                c.clone(),
                "success".into()
            ),
            (
                "conversation.admin_list".into(),
                "alice".into(),
                "success".into()
            ),
        ]
    );
    // The user's own lane is unchanged.
    assert_eq!(w.path("alice", &c).await.len(), 2);
}

async fn user_personas_check(w: World) {
    let (status, created) = w
        .post(
            "alice",
            "/ui/personas",
            json!({"name": "Pirate", "description": "Talks like one",
                   "template": "You are a pirate who knows {{topic|the seas}}."}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{created}");
    let id = created["id"].as_str().unwrap().to_owned();
    assert!(id.starts_with("user:"));
    assert_eq!(
        (created["version"].clone(), created["builtin"].clone()),
        (json!(1), json!(false))
    );
    assert_eq!(
        created["variables"][0],
        json!({"name": "topic", "default": "the seas"})
    );

    // A conversation records the id and version it started from.
    let (status, c1) = w
        .post(
            "alice",
            "/ui/conversations",
            json!({"model": "fake", "persona_id": id, "persona_variables": {"topic": "rope"}}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{c1}");
    assert_eq!(c1["persona"], json!({"id": id, "version": 1}));
    assert_eq!(c1["system_prompt"], "You are a pirate who knows rope.");

    // An update is a new version; the old one stays readable and the first
    // conversation keeps its prompt.
    let (status, v2) = w
        .call(
            "alice",
            Method::PUT,
            &format!("/ui/personas/{id}"),
            Some(json!({"name": "Pirate", "template": "Arr. {{topic}}"})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{v2}");
    assert_eq!(v2["version"], 2);
    let (_, v1) = w
        .get("alice", &format!("/ui/personas/{id}?version=1"))
        .await;
    assert_eq!(
        v1["template"],
        "You are a pirate who knows {{topic|the seas}}."
    );
    let (status, c2) = w
        .post(
            "alice",
            "/ui/conversations",
            json!({"model": "fake", "persona_id": id, "persona_variables": {"topic": "sails"}}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{c2}");
    assert_eq!(c2["persona"], json!({"id": id, "version": 2}));
    let (_, again) = w
        .get(
            "alice",
            &format!("/ui/conversations/{}", c1["id"].as_str().unwrap()),
        )
        .await;
    assert_eq!(
        again["conversation"]["system_prompt"],
        "You are a pirate who knows rope."
    );

    // Listing: built-ins, then the caller's own (newest version only).
    let (_, list) = w.get("alice", "/ui/personas").await;
    let personas = list["personas"].as_array().unwrap();
    assert_eq!(personas.len(), 5);
    assert_eq!(personas[4]["id"], id.as_str());
    assert_eq!(personas[4]["version"], 2);

    // Nobody else sees, uses, changes or deletes it.
    let (_, bobs) = w.get("bob", "/ui/personas").await;
    assert_eq!(bobs["personas"].as_array().unwrap().len(), 4);
    let (status, _) = w.get("bob", &format!("/ui/personas/{id}")).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, body) = w
        .post(
            "bob",
            "/ui/conversations",
            json!({"model": "fake", "persona_id": id}),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    let (status, _) = w
        .call(
            "bob",
            Method::PUT,
            &format!("/ui/personas/{id}"),
            Some(json!({"name": "Mine", "template": "x"})),
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _) = w
        .call("bob", Method::DELETE, &format!("/ui/personas/{id}"), None)
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);

    // Bad input names its field; built-ins are read-only.
    for (body, field) in [
        (json!({"name": "", "template": "x"}), "name"),
        (json!({"name": "x", "template": "  "}), "template"),
        (json!({"name": "x", "template": "{{bad name}}"}), "template"),
    ] {
        let (status, err) = w.post("alice", "/ui/personas", body).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{err}");
        assert_eq!(err["error"]["detail"]["field"], field, "{err}");
    }
    let (status, _) = w
        .call(
            "alice",
            Method::DELETE,
            "/ui/personas/builtin:socratic",
            None,
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);

    // Deleting takes every version; the conversations keep their prompt.
    let (status, _) = w
        .call("alice", Method::DELETE, &format!("/ui/personas/{id}"), None)
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (status, _) = w
        .get("alice", &format!("/ui/personas/{id}?version=1"))
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (_, again) = w
        .get(
            "alice",
            &format!("/ui/conversations/{}", c2["id"].as_str().unwrap()),
        )
        .await;
    assert_eq!(again["conversation"]["system_prompt"], "Arr. sails");
}

#[tokio::test]
async fn retention_comes_from_the_config_and_expired_deletions_are_purged() {
    let mut config = hearth_core::config::Config::default();
    config.conversations.retention_days = 0;
    config.conversations.generate_titles = false;
    let settings = hearth_core::conversations::ConversationSettings {
        flush_interval: Duration::from_millis(10),
        ..hearth_core::conversations::ConversationSettings::from_config(&config)
    };
    assert_eq!(settings.retention, Duration::ZERO);
    assert!(!settings.generate_titles);
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("t.db").display());
    let w = common::world_at(url, Some(dir), settings).await;
    let gone = w.conversation("alice").await;
    let kept = w.conversation("alice").await;
    w.say("alice", &gone, "forget me").await;
    let (status, _) = w
        .call(
            "alice",
            Method::DELETE,
            &format!("/ui/conversations/{gone}"),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    tokio::time::sleep(Duration::from_millis(5)).await;
    assert_eq!(w.state.conversations.purge_expired().await.unwrap(), 1);
    // The rows are gone, not only hidden: the messages went with them.
    let id = ConversationId(gone.clone());
    assert!(w.store.conversations().tree(&id).await.unwrap().is_empty());
    assert_eq!(
        w.get("alice", &format!("/ui/conversations/{kept}")).await.0,
        StatusCode::OK
    );
}
