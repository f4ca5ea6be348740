//! Context management with the fake backend and a tiny context window (the
//! fake counts a message as its words plus one): old turns are dropped or
//! summarized by policy, the answer says which, cuts are kept from turn to turn
//! (so the prompt's beginning — the prefix cache — stays the same), and a
//! summary is written once and reused by later turns and sibling branches.

mod common;

use std::time::Duration;

use common::{Engine, Script, World, world_at};
use hearth_core::config::ContextPolicy;
use hearth_core::conversations::ConversationSettings;
use serde_json::{Value, json};

/// 60 tokens of context, 16 reserved for the answer: prompts up to 44 tokens.
fn tiny(policy: ContextPolicy) -> ConversationSettings {
    ConversationSettings {
        flush_interval: Duration::from_millis(10),
        context_policy: policy,
        context_tokens: 60,
        reserved_answer_tokens: 16,
        generate_titles: false,
        ..ConversationSettings::default()
    }
}

async fn tiny_world(policy: ContextPolicy, engine: Engine) -> Option<World> {
    let (url, dir) = match engine {
        Engine::Sqlite => {
            let dir = tempfile::tempdir().unwrap();
            let url = format!("sqlite://{}", dir.path().join("t.db").display());
            (url, Some(dir))
        }
        Engine::Postgres => {
            let admin = hearth_testkit::postgres::admin_url()?;
            let url = hearth_testkit::postgres::fresh_database(&admin)
                .await
                .unwrap();
            (url, None)
        }
    };
    Some(world_at(url, dir, tiny(policy)).await)
}

/// A user message of 5 words (6 tokens); its echo answer counts 7.
fn words(n: usize) -> String {
    format!("turn{n} alpha beta gamma delta")
}

/// The stored assistant message of a turn.
async fn answer(w: &World, c: &str, turn: &Value) -> Value {
    let id = turn["assistant_message"]["id"].as_str().unwrap();
    let (_, detail) = w
        .get("alice", &format!("/ui/conversations/{c}?view=tree"))
        .await;
    detail["messages"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["id"] == id)
        .cloned()
        .unwrap()
}

fn first_user_text(prompt: &[hearth_core::backend::ChatMessage]) -> String {
    prompt
        .iter()
        .find(|m| m.role == "user")
        .map(|m| m.content.clone())
        .unwrap()
}

#[tokio::test]
async fn drop_policy_keeps_a_stable_cut_and_says_so() {
    let w = tiny_world(ContextPolicy::Drop, Engine::Sqlite)
        .await
        .unwrap();
    let c = w.conversation("alice").await;
    let mut turns = Vec::new();
    for n in 0..3 {
        turns.push(w.say("alice", &c, &words(n)).await);
    }
    // Three turns fit (13 + 13 + 6 tokens): no note.
    assert_eq!(answer(&w, &c, &turns[2]).await["context"], Value::Null);
    assert_eq!(first_user_text(&w.fake.answer_prompts()[2]), words(0));

    // The fourth does not (45 > 44): the two oldest turns go, down to about
    // half the budget.
    turns.push(w.say("alice", &c, &words(3)).await);
    let fourth = answer(&w, &c, &turns[3]).await;
    assert_eq!(fourth["status"], "complete", "{fourth}");
    let note = &fourth["context"];
    assert_eq!(note["action"], "dropped", "{fourth}");
    assert_eq!(note["omitted_messages"], 4);
    assert_eq!(note["first_kept_id"], turns[2]["user_message"]["id"]);
    assert_eq!(note["context_tokens"], 60);
    assert!(note["prompt_tokens"].as_u64().unwrap() <= 44, "{note}");
    let prompts = w.fake.answer_prompts();
    assert_eq!(first_user_text(&prompts[3]), words(2));
    assert!(prompts[3].iter().all(|m| m.content != words(0)));

    // The next turn keeps the same cut (it still fits), so its prompt starts
    // like the last one and the prefix cache serves that part.
    turns.push(w.say("alice", &c, &words(4)).await);
    let fifth = answer(&w, &c, &turns[4]).await;
    assert_eq!(
        fifth["context"]["first_kept_id"],
        turns[2]["user_message"]["id"]
    );
    assert_eq!(fifth["context"]["omitted_messages"], 4);
    assert_eq!(first_user_text(&w.fake.answer_prompts()[4]), words(2));
    assert!(
        fifth["usage"]["cached_tokens"].as_i64().unwrap() >= 19,
        "{fifth}"
    );

    // The newest user message is always there.
    let last = w.fake.answer_prompts()[4].last().unwrap().clone();
    assert_eq!((last.role.as_str(), last.content), ("user", words(4)));
}

async fn summarize_check(w: World) {
    let c = w.conversation("alice").await;
    let mut turns = Vec::new();
    for n in 0..4 {
        turns.push(w.say("alice", &c, &words(n)).await);
    }
    let fourth = answer(&w, &c, &turns[3]).await;
    let note = &fourth["context"];
    assert_eq!(note["action"], "summarized", "{fourth}");
    assert_eq!(note["summary_created"], true);
    assert_eq!(note["omitted_messages"], 6);
    assert_eq!(
        note["summary_through_id"],
        turns[2]["assistant_message"]["id"]
    );
    assert_eq!(note["first_kept_id"], turns[3]["user_message"]["id"]);
    let summaries = w.fake.summary_prompts();
    assert_eq!(summaries.len(), 1);
    // The summarized part ends with the third turn (the window is so small
    // that the summarizer's transcript loses its oldest lines to fit).
    assert!(summaries[0][0].content.contains(&words(2)));
    assert!(!summaries[0][0].content.contains(&words(3)));
    let prompt = &w.fake.answer_prompts()[3];
    assert_eq!(prompt[0].role, "system");
    assert!(prompt[0].content.ends_with("Fake summary."), "{prompt:?}");
    assert_eq!(first_user_text(prompt), words(3));

    // The next turn reuses the stored summary.
    turns.push(w.say("alice", &c, &words(4)).await);
    let fifth = answer(&w, &c, &turns[4]).await;
    assert_eq!(fifth["context"]["action"], "summarized");
    assert_eq!(fifth["context"]["summary_created"], false);
    assert_eq!(
        fifth["context"]["summary_through_id"],
        turns[2]["assistant_message"]["id"]
    );

    // So does a sibling branch: an edit of the fifth message.
    let (status, edited) = w
        .post(
            "alice",
            &format!(
                "/ui/conversations/{c}/messages/{}/edit",
                turns[4]["user_message"]["id"].as_str().unwrap()
            ),
            json!({"content": "another question entirely"}),
        )
        .await;
    assert_eq!(status, axum::http::StatusCode::OK, "{edited}");
    w.idle().await;
    let sibling = answer(&w, &c, &edited).await;
    assert_eq!(sibling["context"]["action"], "summarized", "{sibling}");
    assert_eq!(sibling["context"]["summary_created"], false);
    assert_eq!(w.fake.summary_prompts().len(), 1, "summarized only once");

    // And a fork: the summary comes along with the copied path.
    let (status, fork) = w
        .post("alice", &format!("/ui/conversations/{c}/fork"), json!({}))
        .await;
    assert_eq!(status, axum::http::StatusCode::OK, "{fork}");
    let f = fork["id"].as_str().unwrap().to_owned();
    let in_fork = w.say("alice", &f, "a question in the fork").await;
    let forked = answer(&w, &f, &in_fork).await;
    assert_eq!(forked["context"]["action"], "summarized", "{forked}");
    assert_eq!(forked["context"]["summary_created"], false, "{forked}");
    assert_eq!(w.fake.summary_prompts().len(), 1, "the fork reused it");
}

#[tokio::test]
async fn summarize_policy_writes_one_summary_and_reuses_it_sqlite() {
    let w = tiny_world(ContextPolicy::Summarize, Engine::Sqlite)
        .await
        .unwrap();
    summarize_check(w).await;
}

#[tokio::test]
async fn summarize_policy_writes_one_summary_and_reuses_it_postgres() {
    if let Some(w) = tiny_world(ContextPolicy::Summarize, Engine::Postgres).await {
        summarize_check(w).await;
    }
}

#[tokio::test]
async fn a_failed_summary_falls_back_to_dropping() {
    let w = tiny_world(ContextPolicy::Summarize, Engine::Sqlite)
        .await
        .unwrap();
    w.fake.set(Script {
        fail_summaries: true,
        ..Script::default()
    });
    let c = w.conversation("alice").await;
    let mut last = Value::Null;
    for n in 0..4 {
        last = w.say("alice", &c, &words(n)).await;
    }
    let fourth = answer(&w, &c, &last).await;
    assert_eq!(fourth["status"], "complete");
    assert_eq!(fourth["context"]["action"], "dropped", "{fourth}");
    assert!(
        fourth["context"]["fallback_reason"]
            .as_str()
            .unwrap()
            .starts_with("summarizing failed"),
        "{fourth}"
    );
}

#[tokio::test]
async fn a_backend_that_cannot_count_gets_the_whole_branch() {
    let w = tiny_world(ContextPolicy::Drop, Engine::Sqlite)
        .await
        .unwrap();
    w.fake.set(Script {
        fail_count: true,
        ..Script::default()
    });
    let c = w.conversation("alice").await;
    let mut last = Value::Null;
    for n in 0..4 {
        last = w.say("alice", &c, &words(n)).await;
    }
    let fourth = answer(&w, &c, &last).await;
    assert_eq!(fourth["status"], "complete", "{fourth}");
    assert_eq!(fourth["context"], Value::Null);
    assert_eq!(first_user_text(&w.fake.answer_prompts()[3]), words(0));
}
