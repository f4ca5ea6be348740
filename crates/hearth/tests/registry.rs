//! The model registry with the real binary and the real SmolLM2 file: `hearth
//! pull` from a loopback server, `list`, `show`, `cp`, `create`, `import` on
//! the data directory without a server; then `hearth serve` serves the
//! registry model by `name:tag` (a copy and a preset through the same loaded
//! model), `hearth ps` lists it, and `hearth rm` refuses it while loaded.

use std::net::SocketAddr;
use std::path::Path;
use std::process::{Child, Command, Output};

mod common;

use common::BIN;

fn hearth(dir: &Path, args: &[&str]) -> Output {
    Command::new(BIN)
        .args(args)
        .arg("--data-dir")
        .arg(dir)
        .env_remove("HEARTH_CONFIG")
        .env_remove("HEARTH_API_KEY")
        .output()
        .unwrap()
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// Serve the SmolLM2 file at `/smollm2.gguf` on loopback.
async fn file_server() -> String {
    let path = hearth_testkit::models::path(hearth_testkit::models::SMOLLM2);
    let bytes = bytes::Bytes::from(
        std::fs::read(&path).expect("test model (cargo xtask fetch-test-models)"),
    );
    let app = axum::Router::new().route(
        "/smollm2.gguf",
        axum::routing::get(move || {
            let bytes = bytes.clone();
            async move { bytes }
        }),
    );
    let listener = tokio::net::TcpListener::bind(SocketAddr::from(([127, 0, 0, 1], 0)))
        .await
        .unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    format!("http://{addr}/smollm2.gguf")
}

struct Server {
    child: Child,
    addr: String,
}

impl Drop for Server {
    fn drop(&mut self) {
        common::stop(&mut self.child);
    }
}

fn serve(dir: &Path) -> Server {
    let running = common::serve(dir, &[]);
    Server {
        child: running.child,
        addr: running.addr,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pull_list_show_then_serve_by_name_and_tag() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let url = file_server().await;

    let out = hearth(d, &["pull", &url, "--name", "smollm2:135m"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(
        text(&out.stderr).contains("success"),
        "{}",
        text(&out.stderr)
    );

    let out = hearth(d, &["cp", "smollm2:135m", "tiny"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let out = hearth(
        d,
        &[
            "create",
            "pirate",
            "--from",
            "smollm2:135m",
            "--system",
            "Talk like a pirate.",
            "--parameter",
            "temperature=0",
        ],
    );
    assert!(out.status.success(), "{}", text(&out.stderr));

    let out = hearth(d, &["list"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let listing = text(&out.stdout);
    let lines: Vec<&str> = listing.lines().collect();
    assert_eq!(lines.len(), 4, "{listing}");
    assert!(lines[0].starts_with("NAME"), "{listing}");
    // Aligned: every row's second column starts where ID does.
    let id_at = lines[0].find("ID").unwrap();
    for row in &lines[1..] {
        assert_eq!(row.as_bytes()[id_at - 1], b' ', "{listing}");
        assert_ne!(row.as_bytes()[id_at], b' ', "{listing}");
    }
    assert!(
        lines.iter().any(|l| l.starts_with("smollm2:135m ")),
        "{listing}"
    );
    assert!(
        lines.iter().any(|l| l.starts_with("tiny:latest ")),
        "{listing}"
    );

    let out = hearth(d, &["show", "smollm2:135m"]);
    let shown = text(&out.stdout);
    assert!(out.status.success(), "{}", text(&out.stderr));
    for needle in [
        "architecture",
        "llama",
        "Q4_1",
        "pull",
        url.as_str(),
        "sha256:",
    ] {
        assert!(shown.contains(needle), "{needle} missing in:\n{shown}");
    }
    let out = hearth(d, &["show", "nope"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out.stderr).contains("'nope:latest' not found"));

    // A file that is no model is refused and leaves nothing.
    let junk = d.join("junk.gguf");
    std::fs::write(&junk, b"not a model").unwrap();
    let out = hearth(d, &["import", junk.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).contains("not a usable model file"),
        "{}",
        text(&out.stderr)
    );

    let server = serve(d);
    let client = reqwest::Client::new();
    for model in ["smollm2:135m", "tiny", "pirate"] {
        let res = client
            .post(format!("http://{}/v1/chat/completions", server.addr))
            .json(&serde_json::json!({
                "model": model, "max_tokens": 3,
                "messages": [{"role": "user", "content": "Hello"}],
            }))
            .send()
            .await
            .unwrap();
        let status = res.status().as_u16();
        let body: serde_json::Value = res.json().await.unwrap_or_default();
        assert_eq!(status, 200, "{model}: {body}");
    }
    let tags: serde_json::Value = client
        .get(format!("http://{}/api/tags", server.addr))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let names: Vec<&str> = tags["models"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|m| m["name"].as_str())
        .collect();
    assert_eq!(names, ["pirate", "smollm2:135m", "tiny"], "{tags}");
    assert_eq!(tags["models"][1]["digest"].as_str().unwrap().len(), 64);

    // One loaded model for the three names.
    let out = hearth(d, &["ps", "--bind", &server.addr]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let ps = text(&out.stdout);
    assert_eq!(ps.lines().count(), 2, "{ps}");
    assert!(
        ps.lines().nth(1).unwrap().starts_with("smollm2:135m "),
        "{ps}"
    );

    let out = hearth(d, &["rm", "smollm2:135m", "--bind", &server.addr]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stdout));
    assert!(
        text(&out.stderr).contains("is loaded"),
        "{}",
        text(&out.stderr)
    );
    let out = hearth(d, &["rm", "tiny", "--bind", &server.addr]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    drop(server);
}

#[test]
fn export_then_import_on_another_data_directory() {
    let here = tempfile::tempdir().unwrap();
    let there = tempfile::tempdir().unwrap();
    let model = hearth_testkit::models::path(hearth_testkit::models::SMOLLM2);
    let out = hearth(
        here.path(),
        &["import", model.to_str().unwrap(), "smollm2:135m"],
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    let bundle = here.path().join("smollm2.bundle");
    let out = hearth(
        here.path(),
        &["export", "smollm2:135m", bundle.to_str().unwrap()],
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    let out = hearth(there.path(), &["import", bundle.to_str().unwrap()]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(
        text(&out.stdout).starts_with("imported smollm2:135m"),
        "{}",
        text(&out.stdout)
    );
    let shown = text(&hearth(there.path(), &["show", "smollm2:135m"]).stdout);
    let kind = shown
        .lines()
        .find(|l| l.trim_start().starts_with("kind "))
        .unwrap_or_default();
    assert_eq!(
        kind.split_whitespace().collect::<Vec<_>>(),
        ["kind", "import"],
        "{shown}"
    );
    assert!(shown.contains(&model.display().to_string()), "{shown}");
    // Removing the only name frees the file; gc finds nothing left.
    let out = hearth(there.path(), &["rm", "smollm2:135m", "--force"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let gc = text(&hearth(there.path(), &["gc"]).stdout);
    assert!(gc.starts_with("removed 0 unreferenced blob(s)"), "{gc}");
    let blobs = std::fs::read_dir(there.path().join("registry/blobs"))
        .unwrap()
        .count();
    assert_eq!(blobs, 0);
}

#[test]
fn quantize_writes_a_new_model_with_its_parent() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let model = hearth_testkit::models::path(hearth_testkit::models::SMOLLM2);
    let out = hearth(d, &["import", model.to_str().unwrap(), "smollm2:135m"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let out = hearth(d, &["quantize", "smollm2:135m", "--type", "bogus"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).contains("one of F16, Q8_0"),
        "{}",
        text(&out.stderr)
    );
    let out = hearth(d, &["quantize", "smollm2:135m", "--type", "q8_0"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(text(&out.stdout).trim(), "created smollm2:135m-q8_0");
    let out = hearth(d, &["show", "smollm2:135m-q8_0", "--json"]);
    let shown: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(shown["info"]["quantization"], "Q8_0");
    assert_eq!(shown["source"]["kind"], "quantize");
    assert_eq!(shown["source"]["parent"], "smollm2:135m");
    let partial = std::fs::read_dir(d.join("registry/partial"))
        .unwrap()
        .count();
    assert_eq!(partial, 0);
}

#[test]
fn a_sentence_transformers_checkpoint_is_converted_into_the_registry() {
    let dir = tempfile::tempdir().unwrap();
    let checkpoint = hearth_testkit::models::path(hearth_testkit::models::MINILM_DIR);
    assert!(
        checkpoint.is_dir(),
        "test model missing: {}",
        checkpoint.display()
    );
    let out = hearth(
        dir.path(),
        &["import", checkpoint.to_str().unwrap(), "minilm:f16"],
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(
        text(&out.stdout).starts_with("imported minilm:f16"),
        "{}",
        text(&out.stdout)
    );
    let shown = text(&hearth(dir.path(), &["show", "minilm:f16"]).stdout);
    assert!(
        shown.contains("bert"),
        "converted to the bert architecture: {shown}"
    );
    assert!(shown.contains("embedding"), "an embedding model: {shown}");
    // A folder that is not a checkpoint of a supported family is refused.
    let bogus = dir.path().join("not-bert");
    std::fs::create_dir_all(&bogus).unwrap();
    std::fs::write(bogus.join("config.json"), r#"{"model_type": "gpt2"}"#).unwrap();
    let out = hearth(dir.path(), &["import", bogus.to_str().unwrap()]);
    assert!(!out.status.success());
    assert!(
        text(&out.stderr).contains("cannot convert"),
        "{}",
        text(&out.stderr)
    );
}

/// `hearth create NAME --from gemma3:270m --template-file F`, F holding `source`.
fn preset_with_template(dir: &Path, name: &str, source: &str) -> Output {
    let file = dir.join(format!("{name}.jinja"));
    std::fs::write(&file, source).unwrap();
    hearth(
        dir,
        &[
            "create",
            name,
            "--from",
            "gemma3:270m",
            "--template-file",
            file.to_str().unwrap(),
        ],
    )
}

/// Gemma 3 270M is a base model without a chat template: chat on it is refused,
/// and a preset that brings a template makes it a chat model.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_preset_template_gives_a_base_model_chat() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let gemma = hearth_testkit::models::path(hearth_testkit::models::GEMMA3);
    let out = hearth(d, &["import", gemma.to_str().unwrap(), "gemma3:270m"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    // A template that does not compile is refused when the preset is made.
    let out = preset_with_template(d, "gemma-broken", "{% for m in messages %}{{ m.content }}");
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).contains("does not compile"),
        "{}",
        text(&out.stderr)
    );
    let out = preset_with_template(
        d,
        "gemma-bare",
        "{{ bos_token }}{{ messages[-1]['content'] }}",
    );
    assert!(out.status.success(), "{}", text(&out.stderr));

    let server = serve(d);
    let client = reqwest::Client::new();
    let post = |path: &str, body: serde_json::Value| {
        client
            .post(format!("http://{}{path}", server.addr))
            .json(&body)
            .send()
    };
    let chat = |model: &str| {
        serde_json::json!({
            "model": model, "max_tokens": 2, "temperature": 0,
            "messages": [{"role": "user", "content": "The capital of France is"}],
        })
    };
    let res = post("/v1/chat/completions", chat("gemma3:270m"))
        .await
        .unwrap();
    assert_eq!(res.status().as_u16(), 400);
    let body: serde_json::Value = res.json().await.unwrap();
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap_or_default()
            .contains("no chat template"),
        "{body}"
    );

    let res = post("/v1/chat/completions", chat("gemma-bare"))
        .await
        .unwrap();
    assert_eq!(res.status().as_u16(), 200);
    let chat: serde_json::Value = res.json().await.unwrap();
    // The template renders BOS and the text alone: the same tokens as the
    // plain completion of that text.
    let res = post(
        "/v1/completions",
        serde_json::json!({
            "model": "gemma3:270m", "max_tokens": 2, "temperature": 0,
            "prompt": "The capital of France is",
        }),
    )
    .await
    .unwrap();
    assert_eq!(res.status().as_u16(), 200);
    let plain: serde_json::Value = res.json().await.unwrap();
    assert_eq!(
        chat["usage"]["prompt_tokens"], plain["usage"]["prompt_tokens"],
        "chat {chat}\nplain {plain}"
    );
    assert_eq!(
        chat["choices"][0]["message"]["content"], plain["choices"][0]["text"],
        "greedy: the same continuation"
    );
}
