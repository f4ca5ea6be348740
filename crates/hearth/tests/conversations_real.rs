//! Conversations with the real binary and the real SmolLM2 model:
//!
//! - an answer interrupted by a crash: `hearth serve` streams a long answer
//!   over SSE, is SIGKILLed mid-stream, restarts on the same data directory,
//!   and the conversation still has the user's message and the assistant
//!   message, marked `error` with the partial text stored before the kill;
//! - a conversation longer than a small context: every answer completes, old
//!   turns are dropped (with the engine's own token counts), and a turn that
//!   keeps the previous cut gets most of its prompt from the prefix cache.

use std::path::Path;
use std::process::Child;
use std::time::{Duration, Instant};

use serde_json::{Value, json};

mod common;

/// Start `hearth serve` on `dir` (auth off, one thread, a 2048-token context)
/// and return it with its address once it listens.
fn serve(dir: &Path) -> (Child, String) {
    serve_with(dir, &[])
}

/// [`serve`] with more environment variables.
fn serve_with(dir: &Path, env: &[(&str, &str)]) -> (Child, String) {
    let mut all = vec![("HEARTH_ENGINE_CONTEXT_TOKENS", "2048")];
    all.extend_from_slice(env);
    let running = common::serve(dir, &all);
    (running.child, format!("http://{}", running.addr))
}

fn stop(mut child: Child) {
    common::stop(&mut child);
}

/// The text of the `delta` events in an SSE buffer.
fn deltas(sse: &str) -> String {
    let mut text = String::new();
    for block in sse.split("\n\n") {
        let is_delta = block.lines().any(|l| l == "event: delta");
        if !is_delta {
            continue;
        }
        for line in block.lines() {
            if let Some(data) = line.strip_prefix("data: ")
                && let Ok(v) = serde_json::from_str::<Value>(data)
                && let Some(t) = v["text"].as_str()
            {
                text.push_str(t);
            }
        }
    }
    text
}

/// A data directory whose models folder links SmolLM2 as `smollm2`.
fn data_dir() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let models = dir.path().join("models");
    std::fs::create_dir_all(&models).unwrap();
    let src = hearth_testkit::models::path(hearth_testkit::models::SMOLLM2);
    assert!(src.exists(), "test model missing: {}", src.display());
    std::os::unix::fs::symlink(&src, models.join("smollm2.gguf")).unwrap();
    dir
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_mid_answer_leaves_the_question_and_a_marked_answer() {
    let dir = data_dir();

    let (mut server, base) = serve(dir.path());
    let client = reqwest::Client::new();
    let created: Value = client
        .post(format!("{base}/ui/conversations"))
        .json(&json!({"model": "smollm2"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let id = created["id"].as_str().expect("conversation id").to_owned();
    let question = "Write a long story about a lighthouse keeper and the sea.";
    let mut response = client
        .post(format!("{base}/ui/conversations/{id}/messages"))
        .json(&json!({
            "content": question,
            "stream": true,
            "params": {"max_tokens": 1500, "temperature": 0},
        }))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);

    // Read the stream for a while (the partial answer is stored every 500 ms),
    // then kill the server without warning.
    let mut sse = String::new();
    let mut first_delta: Option<Instant> = None;
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let chunk = tokio::time::timeout(Duration::from_secs(60), response.chunk())
            .await
            .expect("the stream stalled")
            .unwrap();
        let Some(chunk) = chunk else {
            panic!("the answer ended before the kill:\n{sse}");
        };
        sse.push_str(&String::from_utf8_lossy(&chunk));
        assert!(
            !sse.contains("event: done"),
            "the answer ended before the kill"
        );
        if first_delta.is_none() && !deltas(&sse).is_empty() {
            first_delta = Some(Instant::now());
        }
        if first_delta.is_some_and(|t| t.elapsed() > Duration::from_millis(1500)) {
            break;
        }
        assert!(Instant::now() < deadline, "no answer within 120 s");
    }
    server.kill().unwrap(); // SIGKILL
    server.wait().unwrap();
    let streamed = deltas(&sse);
    drop(response);

    let (server, base) = serve(dir.path());
    let detail: Value = client
        .get(format!("{base}/ui/conversations/{id}"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    stop(server);
    let messages = detail["messages"].as_array().expect("messages");
    assert_eq!(messages.len(), 2, "{detail}");
    assert_eq!(messages[0]["role"], "user");
    assert_eq!(messages[0]["content"], question);
    assert_eq!(messages[0]["status"], "complete");
    let answer = &messages[1];
    assert_eq!(answer["role"], "assistant");
    assert_eq!(answer["status"], "error", "{answer}");
    assert!(
        answer["error"].as_str().unwrap().contains("server stopped"),
        "{answer}"
    );
    // The partial text stored before the kill is kept: a non-empty beginning of
    // what was streamed (the kill may have come after more was stored than we
    // read, never less than one flush).
    let kept = answer["content"].as_str().unwrap();
    assert!(!kept.is_empty(), "no partial text was kept: {answer}");
    let common = kept.len().min(streamed.len());
    assert_eq!(kept[..common], streamed[..common], "{answer}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_long_conversation_drops_old_turns_and_keeps_the_prefix_cache() {
    let dir = data_dir();
    // 512 tokens of context, 64 kept for the answer: prompts up to 448.
    let (server, base) = serve_with(
        dir.path(),
        &[
            ("HEARTH_ENGINE_CONTEXT_TOKENS", "512"),
            ("HEARTH_CONVERSATIONS_RESERVED_ANSWER_TOKENS", "64"),
            ("HEARTH_CONVERSATIONS_GENERATE_TITLES", "false"),
        ],
    );
    let client = reqwest::Client::new();
    let created: Value = client
        .post(format!("{base}/ui/conversations"))
        .json(&json!({"model": "smollm2", "params": {"max_tokens": 12, "temperature": 0}}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let id = created["id"].as_str().expect("conversation id").to_owned();
    let filler = "the keeper climbed the stairs and lit the great lamp again ".repeat(6);
    for n in 0..9 {
        // Streamed to the end: the answer is final when the body ends.
        let body = client
            .post(format!("{base}/ui/conversations/{id}/messages"))
            .json(&json!({"content": format!("Night {n}: {filler}"), "stream": true}))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        assert!(body.contains("event: done"), "turn {n}: {body}");
    }
    let detail: Value = client
        .get(format!("{base}/ui/conversations/{id}"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    stop(server);
    let answers: Vec<&Value> = detail["messages"]
        .as_array()
        .expect("messages")
        .iter()
        .filter(|m| m["role"] == "assistant")
        .collect();
    assert_eq!(answers.len(), 9, "{detail}");
    for a in &answers {
        assert_eq!(a["status"], "complete", "{a}");
        assert!(a["usage"]["prompt_tokens"].as_i64().unwrap() <= 448, "{a}");
    }
    // The first turns fit whole; later ones dropped old turns.
    assert_eq!(answers[0]["context"], Value::Null);
    let dropped: Vec<&&Value> = answers
        .iter()
        .filter(|a| a["context"]["action"] == "dropped")
        .collect();
    assert!(dropped.len() >= 3, "{detail}");
    // A turn that kept the previous turn's cut found its beginning in the
    // prefix cache: more than half of its prompt.
    let reused = answers.windows(2).find(|w| {
        w[0]["context"]["action"] == "dropped"
            && w[1]["context"]["first_kept_id"] == w[0]["context"]["first_kept_id"]
    });
    let Some([_, later]) = reused else {
        panic!("no turn kept the previous cut: {detail}");
    };
    let prompt = later["usage"]["prompt_tokens"].as_i64().unwrap();
    let cached = later["usage"]["cached_tokens"].as_i64().unwrap();
    assert!(cached * 2 > prompt, "cached {cached} of {prompt}: {later}");
}
