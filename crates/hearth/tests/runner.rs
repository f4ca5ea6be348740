//! Crash isolation with the real binary and the real SmolLM2 model: each model
//! runs in a `hearth runner` child process; killing it fails only its in-flight
//! requests (at once), the next request reloads it, other models keep serving,
//! and a file that does not load fails its requests with a clear error.

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

mod common;

use common::BIN;

struct Server {
    child: Child,
    base: String,
    dir: tempfile::TempDir,
    log: Arc<Mutex<Vec<String>>>,
}

impl Server {
    /// Wait (up to 5 s) for a log line containing `needle`.
    fn wait_logged(&self, needle: &str) {
        let begin = Instant::now();
        while !self.logged(needle) {
            assert!(
                begin.elapsed() < Duration::from_secs(5),
                "no log line contains {needle:?}:\n{}",
                self.log.lock().unwrap().join("\n")
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Whether a line of the server's log contains `needle`.
    fn logged(&self, needle: &str) -> bool {
        self.log.lock().unwrap().iter().any(|l| l.contains(needle))
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        common::stop(&mut self.child);
    }
}

/// Start `hearth serve` (auth off, process isolation by default) with a models
/// directory filled by `fill`, and wait until it listens.
fn start(fill: impl FnOnce(&Path)) -> Server {
    start_with(fill, &[])
}

/// [`start`] with more environment variables.
fn start_with(fill: impl FnOnce(&Path), env: &[(&str, &str)]) -> Server {
    let dir = tempfile::tempdir().unwrap();
    let models = dir.path().join("models");
    std::fs::create_dir_all(&models).unwrap();
    fill(&models);
    let running = common::serve(dir.path(), env);
    let (child, addr, log) = (running.child, running.addr, running.log);
    Server {
        child,
        base: format!("http://{addr}"),
        dir,
        log,
    }
}

fn link_model(models: &Path, name: &str) {
    let src = hearth_testkit::models::path(hearth_testkit::models::SMOLLM2);
    assert!(src.exists(), "test model missing: {}", src.display());
    std::os::unix::fs::symlink(&src, models.join(format!("{name}.gguf"))).unwrap();
}

/// Process ids of the server's runner children serving `model`.
fn runner_pids(server: &Server, model: &str) -> Vec<u32> {
    let parent = server.child.id().to_string();
    let mut pids = Vec::new();
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(pid) = entry.file_name().to_string_lossy().parse::<u32>() else {
            continue;
        };
        let Ok(stat) = std::fs::read_to_string(entry.path().join("stat")) else {
            continue;
        };
        // Fields after the command name (which is in parentheses): state, ppid.
        let after = stat.rsplit_once(") ").map_or("", |(_, rest)| rest);
        if after.split_whitespace().nth(1) != Some(parent.as_str()) {
            continue;
        }
        let cmdline = std::fs::read(entry.path().join("cmdline")).unwrap_or_default();
        let args: Vec<String> = cmdline
            .split(|b| *b == 0)
            .map(|a| String::from_utf8_lossy(a).into_owned())
            .collect();
        let is_runner = args.get(1).is_some_and(|a| a == "runner");
        let serves = args
            .windows(2)
            .any(|w| w[0] == "--model-name" && w[1] == model);
        if is_runner && serves {
            pids.push(pid);
        }
    }
    pids
}

fn chat_body(model: &str, max_tokens: u32, stream: bool) -> serde_json::Value {
    serde_json::json!({
        "model": model,
        "messages": [{"role": "user", "content": "Write a long story about a lighthouse keeper."}],
        "max_tokens": max_tokens,
        "temperature": 0,
        "stream": stream,
    })
}

/// A short non-streaming chat; returns the status and body.
async fn chat(client: &reqwest::Client, server: &Server, model: &str) -> (u16, serde_json::Value) {
    let res = client
        .post(format!("{}/v1/chat/completions", server.base))
        .json(&chat_body(model, 4, false))
        .send()
        .await
        .unwrap();
    let status = res.status().as_u16();
    (status, res.json().await.unwrap_or_default())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn killed_runner_fails_its_streams_at_once_and_reloads_while_others_serve() {
    let server = start(|models| {
        link_model(models, "alpha");
        link_model(models, "beta");
    });
    let client = reqwest::Client::new();
    // Both models load on first use, each in its own runner.
    let (status, body) = chat(&client, &server, "alpha").await;
    assert_eq!(status, 200, "{body}");
    let (status, body) = chat(&client, &server, "beta").await;
    assert_eq!(status, 200, "{body}");
    // Token counting goes through the runner too.
    let counted: serde_json::Value = client
        .post(format!("{}/v1/messages/count_tokens", server.base))
        .json(&serde_json::json!({
            "model": "alpha",
            "messages": [{"role": "user", "content": "Hello there"}],
        }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(
        counted["input_tokens"].as_u64().unwrap_or(0) > 2,
        "{counted}"
    );
    let alpha = runner_pids(&server, "alpha");
    let beta = runner_pids(&server, "beta");
    assert_eq!(alpha.len(), 1, "one runner for alpha: {alpha:?}");
    assert_eq!(beta.len(), 1, "one runner for beta: {beta:?}");

    // Four streams on alpha, each past its first chunk.
    let mut streams = Vec::new();
    for _ in 0..4 {
        let mut res = client
            .post(format!("{}/v1/chat/completions", server.base))
            .json(&chat_body("alpha", 400, true))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 200);
        let first = res.chunk().await.unwrap().expect("a first chunk");
        streams.push((res, String::from_utf8_lossy(&first).into_owned()));
    }
    // And one on beta, which must not notice.
    let beta_stream = tokio::spawn({
        let client = client.clone();
        let url = format!("{}/v1/chat/completions", server.base);
        async move {
            let res = client
                .post(url)
                .json(&chat_body("beta", 24, true))
                .send()
                .await
                .unwrap();
            assert_eq!(res.status(), 200);
            res.text().await.unwrap()
        }
    });

    let killed_at = Instant::now();
    let status = Command::new("kill")
        .args(["-s", "KILL", &alpha[0].to_string()])
        .status()
        .unwrap();
    assert!(status.success());

    let ends = streams.into_iter().map(|(mut res, mut text)| async move {
        while let Some(chunk) = res.chunk().await.unwrap_or(None) {
            text.push_str(&String::from_utf8_lossy(&chunk));
        }
        (killed_at.elapsed(), text)
    });
    let ended = tokio::time::timeout(Duration::from_secs(5), futures_join(ends))
        .await
        .expect("streams ended");
    for (after, text) in &ended {
        assert!(
            *after < Duration::from_secs(1),
            "a stream ended {after:?} after the kill"
        );
        assert!(
            text.contains("E_PROVIDER_FAILED"),
            "the stream ends with an error event: {text}"
        );
    }
    server.wait_logged("runner for alpha exited: killed by signal 9 (SIGKILL)");

    // The other model kept serving.
    let beta_text = beta_stream.await.unwrap();
    assert!(beta_text.contains("[DONE]"), "{beta_text}");
    assert!(!beta_text.contains("\"error\""), "{beta_text}");
    assert_eq!(runner_pids(&server, "beta"), beta);

    // The next request to alpha reloads it (after the first crash backoff).
    let (status, body) = chat(&client, &server, "alpha").await;
    assert_eq!(status, 200, "{body}");
    let again = runner_pids(&server, "alpha");
    assert_eq!(again.len(), 1);
    assert_ne!(again, alpha, "a new runner process");
}

/// Await all futures (keeps the test free of extra dependencies).
async fn futures_join<F>(futs: impl IntoIterator<Item = F>) -> Vec<F::Output>
where
    F: std::future::Future + Send + 'static,
    F::Output: Send + 'static,
{
    let handles: Vec<_> = futs.into_iter().map(tokio::spawn).collect();
    let mut out = Vec::new();
    for h in handles {
        out.push(h.await.unwrap());
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn corrupt_model_file_fails_with_a_clear_error_and_the_server_keeps_serving() {
    let server = start(|models| {
        link_model(models, "good");
        // A valid header whose tensor table lacks a tensor the architecture
        // needs (renamed): registered from its header, fails when the runner
        // loads it.
        let mut bytes = std::fs::read(hearth_testkit::models::path(
            hearth_testkit::models::SMOLLM2,
        ))
        .unwrap();
        let tensor = b"token_embd.weight";
        let at = bytes
            .windows(tensor.len())
            .position(|w| w == tensor)
            .expect("embedding tensor");
        bytes[at + tensor.len() - 1] = b'x';
        std::fs::write(models.join("broken.gguf"), &bytes).unwrap();
        // Garbage bytes with a .gguf name: skipped at registration.
        std::fs::write(models.join("garbage.gguf"), b"this is not a model at all").unwrap();
    });
    let client = reqwest::Client::new();

    let (status, body) = chat(&client, &server, "broken").await;
    assert!(status >= 500, "{status} {body}");
    let message = body.to_string();
    assert!(
        message.contains("runner for broken failed to start"),
        "names the runner: {message}"
    );
    assert!(
        message.contains("last stderr"),
        "carries the runner's stderr: {message}"
    );

    // Asked again (after the restart backoff), it fails the same clear way.
    let (status, body) = chat(&client, &server, "broken").await;
    assert!(status >= 500, "{status} {body}");
    assert!(body.to_string().contains("runner for broken"), "{body}");

    let (status, body) = chat(&client, &server, "garbage").await;
    assert_eq!(status, 404, "{body}");

    let (status, body) = chat(&client, &server, "good").await;
    assert_eq!(status, 200, "{body}");
    assert!(runner_pids(&server, "broken").is_empty());
    assert!(server.dir.path().exists());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_first_requests_start_one_runner_which_stops_with_the_server() {
    let mut server = start(|models| link_model(models, "solo"));
    let client = reqwest::Client::new();
    let calls = (0..4).map(|_| {
        let client = client.clone();
        let url = format!("{}/v1/chat/completions", server.base);
        async move {
            let res = client
                .post(url)
                .json(&chat_body("solo", 4, false))
                .send()
                .await
                .unwrap();
            res.status().as_u16()
        }
    });
    for status in futures_join(calls).await {
        assert_eq!(status, 200);
    }
    let pids = runner_pids(&server, "solo");
    assert_eq!(pids.len(), 1, "one runner: {pids:?}");
    let runner = pids[0];

    Command::new("kill")
        .args(["-s", "TERM", &server.child.id().to_string()])
        .status()
        .unwrap();
    let begin = Instant::now();
    while server.child.try_wait().unwrap().is_none() {
        assert!(begin.elapsed() < Duration::from_secs(15), "server stops");
        std::thread::sleep(Duration::from_millis(20));
    }
    let begin = Instant::now();
    while !gone(runner) {
        assert!(
            begin.elapsed() < Duration::from_secs(5),
            "runner exits with the server"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn runners_exit_when_the_server_is_killed() {
    let mut server = start(|models| link_model(models, "orphan"));
    let client = reqwest::Client::new();
    let (status, body) = chat(&client, &server, "orphan").await;
    assert_eq!(status, 200, "{body}");
    let pids = runner_pids(&server, "orphan");
    assert_eq!(pids.len(), 1, "one runner: {pids:?}");
    server.child.kill().unwrap();
    server.child.wait().unwrap();
    let begin = Instant::now();
    while !gone(pids[0]) {
        assert!(
            begin.elapsed() < Duration::from_secs(5),
            "the runner exits when its server's socket closes"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Whether process `pid` has exited (absent, or a zombie not yet reaped).
fn gone(pid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat")).map_or(true, |s| {
        s.rsplit_once(") ")
            .is_some_and(|(_, rest)| rest.starts_with('Z'))
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn in_process_isolation_serves_without_runners() {
    let server = start_with(
        |models| link_model(models, "inside"),
        &[("HEARTH_ENGINE_ISOLATION", "in_process")],
    );
    let client = reqwest::Client::new();
    let (status, body) = chat(&client, &server, "inside").await;
    assert_eq!(status, 200, "{body}");
    assert!(runner_pids(&server, "inside").is_empty());
}

async fn ps(client: &reqwest::Client, server: &Server) -> serde_json::Value {
    let res = client
        .get(format!("{}/api/ps", server.base))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    res.json().await.unwrap()
}

fn ps_names(ps: &serde_json::Value) -> Vec<String> {
    ps["models"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["name"].as_str().unwrap().to_owned())
        .collect()
}

/// Wait (up to `limit`) until `done` holds.
async fn eventually(limit: Duration, what: &str, mut done: impl FnMut() -> bool) {
    let begin = Instant::now();
    while !done() {
        assert!(begin.elapsed() < limit, "{what}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_model_that_does_not_fit_unloads_the_idle_one_first() {
    // Each SmolLM2 runner is estimated at ~210 MiB here (98 MB of weights,
    // 4 × 512 tokens of KV, compute buffers, no prompt-cache tier): one fits in
    // 300 MiB, two do not.
    let server = start_with(
        |models| {
            link_model(models, "first");
            link_model(models, "second");
        },
        &[
            ("HEARTH_ENGINE_MEMORY_BUDGET_MB", "300"),
            ("HEARTH_ENGINE_RAM_CACHE_MB", "0"),
        ],
    );
    let client = reqwest::Client::new();
    let (status, body) = chat(&client, &server, "first").await;
    assert_eq!(status, 200, "{body}");
    let first = runner_pids(&server, "first");
    assert_eq!(first.len(), 1);
    let listed = ps(&client, &server).await;
    assert_eq!(ps_names(&listed), ["first"], "{listed}");
    let size = listed["models"][0]["size"].as_u64().unwrap();
    assert!(
        (150 << 20..300 << 20).contains(&size),
        "estimate {size} bytes"
    );

    let (status, body) = chat(&client, &server, "second").await;
    assert_eq!(status, 200, "{body}");
    server.wait_logged("unloading idle model to make room");
    eventually(Duration::from_secs(10), "first runner exits", || {
        gone(first[0])
    })
    .await;
    assert_eq!(runner_pids(&server, "second").len(), 1);
    assert_eq!(ps_names(&ps(&client, &server).await), ["second"]);

    // And back: the first model reloads in place of the second.
    let (status, body) = chat(&client, &server, "first").await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(ps_names(&ps(&client, &server).await), ["first"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_model_larger_than_the_budget_is_refused_with_the_numbers() {
    let server = start_with(
        |models| link_model(models, "big"),
        &[("HEARTH_ENGINE_MEMORY_BUDGET_MB", "64")],
    );
    let client = reqwest::Client::new();
    let (status, body) = chat(&client, &server, "big").await;
    assert_eq!(status, 503, "{body}");
    let message = body["error"]["message"].as_str().unwrap_or_default();
    assert!(
        message.contains("not enough memory to load big")
            && message.contains("the budget (engine.memory_budget_mb) is 64 MiB"),
        "{body}"
    );
    assert!(runner_pids(&server, "big").is_empty());
    // The server still answers.
    assert_eq!(ps_names(&ps(&client, &server).await), Vec::<String>::new());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idle_models_unload_when_their_keep_alive_runs_out() {
    let server = start_with(
        |models| {
            link_model(models, "brief");
            link_model(models, "kept");
        },
        &[("HEARTH_ENGINE_KEEP_ALIVE_SECS", "1")],
    );
    let client = reqwest::Client::new();
    let (status, body) = chat(&client, &server, "brief").await;
    assert_eq!(status, 200, "{body}");
    let brief = runner_pids(&server, "brief");
    assert_eq!(brief.len(), 1);

    // Ollama's warm-up (no prompt) with keep_alive -1 keeps "kept" forever.
    let res = client
        .post(format!("{}/api/generate", server.base))
        .json(&serde_json::json!({"model": "kept", "keep_alive": -1}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let line: serde_json::Value = res.json().await.unwrap();
    assert_eq!(line["done_reason"], "load", "{line}");
    let listed = ps(&client, &server).await;
    let kept = listed["models"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["name"] == "kept")
        .cloned()
        .unwrap_or_default();
    assert!(
        kept["expires_at"]
            .as_str()
            .unwrap_or_default()
            .starts_with("9999-"),
        "{listed}"
    );

    eventually(Duration::from_secs(10), "brief's runner exits", || {
        gone(brief[0])
    })
    .await;
    server.wait_logged("unloading idle model (keep-alive over)");
    assert_eq!(ps_names(&ps(&client, &server).await), ["kept"]);

    // `ollama stop`: keep_alive 0 without a prompt unloads at once.
    let res = client
        .post(format!("{}/api/generate", server.base))
        .json(&serde_json::json!({"model": "kept", "keep_alive": 0}))
        .send()
        .await
        .unwrap();
    let line: serde_json::Value = res.json().await.unwrap();
    assert_eq!(line["done_reason"], "unload", "{line}");
    assert_eq!(ps_names(&ps(&client, &server).await), Vec::<String>::new());

    // A bad keep_alive is refused naming the field.
    let res = client
        .post(format!("{}/api/generate", server.base))
        .json(&serde_json::json!({"model": "kept", "prompt": "hi", "keep_alive": "soon"}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 400);
    let body: serde_json::Value = res.json().await.unwrap();
    assert!(
        body["error"]
            .as_str()
            .unwrap_or_default()
            .contains("keep_alive"),
        "{body}"
    );
}

/// `hearth run` against `server`, with `stdin` piped in; returns exit code,
/// stdout and stderr.
fn hearth_run(server: &Server, args: &[&str], stdin: &str) -> (i32, String, String) {
    use std::io::Write;
    let mut child = Command::new(BIN)
        .arg("run")
        .args(args)
        .env("HEARTH_HOST", &server.base)
        .env_remove("HEARTH_API_KEY")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(stdin.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hearth_run_answers_a_prompt_or_piped_input_once() {
    let server = start(|models| link_model(models, "talk"));
    let (code, out, err) = hearth_run(&server, &["talk", "Say", "hello."], "");
    assert_eq!(code, 0, "stderr: {err}");
    assert!(!out.trim().is_empty(), "an answer is printed");

    let (code, out, err) = hearth_run(&server, &["talk"], "What is 2 + 2?\n");
    assert_eq!(code, 0, "stderr: {err}");
    assert!(!out.trim().is_empty(), "piped input is answered");

    let (code, _, err) = hearth_run(&server, &["nope", "hi"], "");
    assert_eq!(code, 1);
    assert!(err.contains("nope"), "names the missing model: {err}");

    let (code, _, err) = hearth_run(&server, &["talk"], "");
    assert_eq!(code, 1);
    assert!(err.contains("empty prompt"), "{err}");
}

#[test]
fn hearth_run_explains_an_unreachable_server() {
    let out = Command::new(BIN)
        .args(["run", "any", "hi", "--host", "http://127.0.0.1:9"])
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("cannot reach Hearth at http://127.0.0.1:9"),
        "{err}"
    );
}
