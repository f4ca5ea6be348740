//! Model management over HTTP: the Ollama lane's pull (NDJSON progress in
//! Ollama's shape, from a loopback file server), copy, create (presets, also
//! from a Modelfile), delete, push refused, quota refusal, show with a preset;
//! the admin lane's pull as a 202 job. The transfer itself (resume, digest) is
//! tested in hearth-providers/tests/pull.rs.

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;

use async_trait::async_trait;
use axum::body::Body;
use axum::http::{Method, Request, StatusCode};
use hearth_core::backend::{BackendError, Capabilities};
use hearth_core::config::Config;
use hearth_core::models::{ModelCatalog, ModelInfo, NoModels};
use hearth_core::registry::{Inspected, ModelInspector, Registry, RegistryOptions};
use hearth_server::{AppState, Parts, router};
use http_body_util::BodyExt;
use serde_json::{Value, json};
use tower::ServiceExt;

/// Accepts files that start with the GGUF magic.
struct MagicInspector;

impl ModelInspector for MagicInspector {
    fn inspect(&self, path: &Path) -> Result<Inspected, String> {
        let bytes = std::fs::read(path).map_err(|e| e.to_string())?;
        if !bytes.starts_with(b"GGUF") {
            return Err("no GGUF magic".to_owned());
        }
        Ok(Inspected {
            info: ModelInfo {
                name: String::new(),
                size_bytes: 0,
                digest: None,
                architecture: "llama".to_owned(),
                parameter_count: Some(134_515_008),
                quantization: Some("Q4_1".to_owned()),
                context_length: Some(8192),
                embedding_length: Some(576),
                chat_template: Some("{{ messages }}".to_owned()),
                capabilities: Capabilities {
                    chat: true,
                    completion: true,
                    ..Capabilities::default()
                },
                modified_at_ms: 0,
            },
            license: Some("apache-2.0".to_owned()),
        })
    }
}

/// The catalog the server lists: the registry's models (what the engine's
/// table holds once the registry published them).
struct RegistryCatalog(Arc<Registry>);

#[async_trait]
impl ModelCatalog for RegistryCatalog {
    async fn list(&self) -> Result<Vec<ModelInfo>, BackendError> {
        let models = self
            .0
            .list()
            .await
            .map_err(|e| BackendError::Failed(e.to_string()))?;
        Ok(models.into_iter().map(|m| m.info).collect())
    }

    async fn get(&self, name: &str) -> Result<ModelInfo, BackendError> {
        self.0
            .get(name)
            .await
            .map(|m| m.info)
            .map_err(|_| BackendError::ModelNotFound(name.to_owned()))
    }
}

const MODEL: &[u8] = b"GGUF a tiny test model, served from loopback";

/// A file server on loopback for `/tiny.gguf`.
async fn file_server() -> String {
    let app = axum::Router::new().route("/tiny.gguf", axum::routing::get(|| async { MODEL }));
    let listener = tokio::net::TcpListener::bind(SocketAddr::from(([127, 0, 0, 1], 0)))
        .await
        .unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    format!("http://{addr}/tiny.gguf")
}

struct Harness {
    app: axum::Router,
    _dir: tempfile::TempDir,
}

async fn harness(quota_bytes: Option<u64>) -> Harness {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("t.db").display());
    let store = hearth_store::open(&url, &Default::default()).await.unwrap();
    let registry = Arc::new(
        Registry::new(
            store.clone(),
            &RegistryOptions {
                dir: dir.path().join("registry"),
                quota_bytes,
            },
            Arc::new(MagicInspector),
        )
        .with_fetcher(Arc::new(
            hearth_providers::fetch::HttpFetcher::new().unwrap(),
        )),
    );
    let mut config = Config::default();
    config.auth.enabled = false;
    let none = Arc::new(NoModels);
    let state = AppState::new(Parts {
        config: Arc::new(config),
        store,
        chat: none.clone(),
        embed: none,
        models: Arc::new(RegistryCatalog(registry.clone())),
        metrics: None,
    })
    .with_registry(registry);
    Harness {
        app: router(state),
        _dir: dir,
    }
}

impl Harness {
    /// Status and the whole body (a stream is read to its end).
    async fn call(&self, method: Method, path: &str, body: Value) -> (StatusCode, String) {
        let request = Request::builder()
            .method(method)
            .uri(path)
            .header("content-type", "application/json")
            .body(Body::from(body.to_string()))
            .unwrap();
        let response = self.app.clone().oneshot(request).await.unwrap();
        let status = response.status();
        let bytes = response.into_body().collect().await.unwrap().to_bytes();
        (status, String::from_utf8(bytes.to_vec()).unwrap())
    }

    async fn json(&self, method: Method, path: &str, body: Value) -> (StatusCode, Value) {
        let (status, text) = self.call(method, path, body).await;
        let value = if text.is_empty() {
            Value::Null
        } else {
            serde_json::from_str(&text).unwrap_or_else(|e| panic!("not JSON ({e}): {text}"))
        };
        (status, value)
    }
}

fn lines(text: &str) -> Vec<Value> {
    text.lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("bad line ({e}): {l}")))
        .collect()
}

#[tokio::test]
async fn ollama_pull_streams_progress_and_the_model_is_listed() {
    let h = harness(None).await;
    let url = file_server().await;
    let (status, text) = h
        .call(Method::POST, "/api/pull", json!({"model": url}))
        .await;
    assert_eq!(status, StatusCode::OK, "{text}");
    let lines = lines(&text);
    let statuses: Vec<&str> = lines.iter().filter_map(|l| l["status"].as_str()).collect();
    assert_eq!(statuses.first(), Some(&"pulling manifest"), "{text}");
    assert_eq!(statuses.last(), Some(&"success"), "{text}");
    // Progress coalesces (a watch channel): the steps between may be skipped,
    // a download line has Ollama's fields.
    let downloads: Vec<&Value> = lines
        .iter()
        .filter(|l| l.get("completed").is_some())
        .collect();
    assert!(!downloads.is_empty(), "{text}");
    assert!(
        downloads
            .iter()
            .all(|l| l["total"] == MODEL.len()
                && l["status"].as_str().unwrap().starts_with("pulling")),
        "{text}"
    );
    assert!(lines.iter().all(|l| l.get("error").is_none()), "{text}");
    let (_, tags) = h.json(Method::GET, "/api/tags", Value::Null).await;
    assert_eq!(tags["models"][0]["name"], "tiny:latest");
    assert_eq!(tags["models"][0]["size"], MODEL.len());
    assert_eq!(tags["models"][0]["details"]["quantization_level"], "Q4_1");
}

#[tokio::test]
async fn ollama_pull_without_stream_and_bad_sources() {
    let h = harness(None).await;
    let url = file_server().await;
    let (status, body) = h
        .json(
            Method::POST,
            "/api/pull",
            json!({"name": url, "stream": false}),
        )
        .await;
    assert_eq!(
        (status, body),
        (StatusCode::OK, json!({"status": "success"}))
    );
    let (status, body) = h
        .json(Method::POST, "/api/pull", json!({"model": "llama3.2"}))
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(
        body["error"].as_str().unwrap().contains("Hugging Face"),
        "{body}"
    );
    let (status, body) = h
        .json(
            Method::POST,
            "/api/pull",
            json!({"model": "http://example.com/m.gguf"}),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(body["error"].as_str().unwrap().contains("https"), "{body}");
    let (status, _) = h.json(Method::POST, "/api/pull", json!({})).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn ollama_pull_over_quota_is_refused_up_front() {
    let h = harness(Some(10)).await;
    let url = file_server().await;
    let (status, body) = h
        .json(Method::POST, "/api/pull", json!({"model": url}))
        .await;
    assert_eq!(status.as_u16(), 507);
    assert!(body["error"].as_str().unwrap().contains("quota"), "{body}");
    let (_, tags) = h.json(Method::GET, "/api/tags", Value::Null).await;
    assert_eq!(tags["models"], json!([]));
}

#[tokio::test]
async fn ollama_copy_create_show_delete_and_push() {
    let h = harness(None).await;
    let url = file_server().await;
    let (status, _) = h
        .json(
            Method::POST,
            "/api/pull",
            json!({"model": url, "stream": false}),
        )
        .await;
    assert_eq!(status, StatusCode::OK);

    let (status, _) = h
        .json(
            Method::POST,
            "/api/copy",
            json!({"source": "tiny", "destination": "tiny:copy"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK);

    let (status, text) = h
        .call(
            Method::POST,
            "/api/create",
            json!({"model": "terse", "from": "tiny:copy", "system": "Answer in one word.",
                   "parameters": {"temperature": 0.1, "stop": ["###"]}}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{text}");
    assert_eq!(lines(&text).last().unwrap()["status"], "success");
    let (status, show) = h
        .json(Method::POST, "/api/show", json!({"model": "terse"}))
        .await;
    assert_eq!(status, StatusCode::OK, "{show}");
    let modelfile = show["modelfile"].as_str().unwrap();
    assert!(
        modelfile.contains("SYSTEM \"\"\"Answer in one word.\"\"\""),
        "{modelfile}"
    );
    assert!(
        show["parameters"].as_str().unwrap().contains("temperature"),
        "{show}"
    );
    assert!(
        show["parameters"].as_str().unwrap().contains("\"###\""),
        "{show}"
    );
    assert_eq!(show["license"], "apache-2.0");

    // An Ollama (Go) TEMPLATE is not rendered: the preset keeps the model's
    // own template, and the client is told.
    let (status, text) = h
        .call(
            Method::POST,
            "/api/create",
            json!({"model": "gotmpl", "modelfile":
                "FROM tiny\nTEMPLATE \"\"\"{{ if .System }}{{ .System }}{{ end }}{{ .Prompt }}\"\"\"\n"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{text}");
    assert!(text.contains("ignoring TEMPLATE"), "{text}");
    let (status, show) = h
        .json(Method::POST, "/api/show", json!({"model": "gotmpl"}))
        .await;
    assert_eq!(status, StatusCode::OK, "{show}");
    assert!(
        !show["template"]
            .as_str()
            .unwrap_or_default()
            .contains(".System"),
        "{show}"
    );

    // The older Modelfile form.
    let (status, body) = h
        .json(
            Method::POST,
            "/api/create",
            json!({"model": "terse2", "modelfile": "FROM terse\nPARAMETER top_k 5\n", "stream": false}),
        )
        .await;
    assert_eq!(
        (status, body),
        (StatusCode::OK, json!({"status": "success"}))
    );
    let (status, body) = h
        .json(
            Method::POST,
            "/api/create",
            json!({"model": "x", "from": "nope"}),
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{body}");
    let (status, body) = h
        .json(
            Method::POST,
            "/api/create",
            json!({"model": "x", "from": "tiny", "parameters": {"bogus": 1}}),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert!(body["error"].as_str().unwrap().contains("bogus"), "{body}");

    let (status, body) = h
        .json(Method::POST, "/api/push", json!({"model": "tiny"}))
        .await;
    assert_eq!(status, StatusCode::NOT_IMPLEMENTED);
    assert!(
        body["error"]
            .as_str()
            .unwrap()
            .contains("push is not supported"),
        "{body}"
    );

    for name in ["tiny", "tiny:copy", "terse", "terse2", "gotmpl"] {
        let (status, body) = h
            .json(Method::DELETE, "/api/delete", json!({"model": name}))
            .await;
        assert_eq!(status, StatusCode::OK, "{name}: {body}");
    }
    let (status, body) = h
        .json(Method::DELETE, "/api/delete", json!({"model": "tiny"}))
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(body["error"], "model 'tiny:latest' not found");
    let (_, tags) = h.json(Method::GET, "/api/tags", Value::Null).await;
    assert_eq!(tags["models"], json!([]));
}

#[tokio::test]
async fn admin_pull_is_a_job_and_models_are_listed() {
    let h = harness(None).await;
    let url = file_server().await;
    let (status, job) = h
        .json(
            Method::POST,
            "/admin/models/pull",
            json!({"source": url, "name": "t:1"}),
        )
        .await;
    assert_eq!(status, StatusCode::ACCEPTED, "{job}");
    assert_eq!(job["kind"], "model.pull");
    let id = job["id"].as_str().unwrap().to_owned();
    let mut state = String::new();
    for _ in 0..500 {
        let (_, job) = h
            .json(Method::GET, &format!("/admin/jobs/{id}"), Value::Null)
            .await;
        state = job["state"].as_str().unwrap().to_owned();
        if state == "succeeded" || state == "failed" {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    assert_eq!(state, "succeeded");
    let (status, list) = h.json(Method::GET, "/admin/models", Value::Null).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(list["models"][0]["name"], "t:1");
    assert_eq!(list["models"][0]["source"]["url"], url.as_str());
    assert_eq!(list["used_bytes"], MODEL.len());
    let (status, shown) = h
        .json(Method::GET, "/admin/models/show?name=t:1", Value::Null)
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(shown["capabilities"], json!(["chat", "completion"]));
    let (status, body) = h
        .json(
            Method::POST,
            "/admin/models/pull",
            json!({"source": url, "stream": true, "bogus": 1}),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
}

/// Remembers what was published and what reached the backend.
#[derive(Default)]
struct Recorder {
    published: std::sync::Mutex<Vec<String>>,
    requests: std::sync::Mutex<Vec<hearth_core::backend::GenerateRequest>>,
}

impl hearth_core::registry::ServedModels for Recorder {
    fn publish(&self, name: &str, _path: &Path, _info: &ModelInfo) {
        self.published.lock().unwrap().push(name.to_owned());
    }

    fn withdraw(&self, name: &str) {
        self.published.lock().unwrap().retain(|n| n != name);
    }
}

#[async_trait]
impl hearth_core::registry::LoadedModels for Recorder {
    async fn loaded(&self) -> Vec<hearth_core::registry::LoadedModel> {
        vec![hearth_core::registry::LoadedModel {
            name: "tiny".to_owned(),
            pid: None,
            memory_bytes: None,
            expires_at_ms: None,
        }]
    }
}

#[async_trait]
impl hearth_core::backend::ChatBackend for Recorder {
    async fn generate(
        &self,
        request: hearth_core::backend::GenerateRequest,
    ) -> Result<hearth_core::backend::GenerationStream, BackendError> {
        let model = request.model.clone();
        self.requests.lock().unwrap().push(request);
        Err(BackendError::ModelNotFound(model))
    }

    async fn count_tokens(
        &self,
        model: &str,
        _prompt: &hearth_core::backend::Prompt,
    ) -> Result<u32, BackendError> {
        Err(BackendError::ModelNotFound(model.to_owned()))
    }
}

#[tokio::test]
async fn copies_and_presets_share_one_loaded_model_and_presets_apply_defaults() {
    use hearth_core::backend::{ChatBackend, ChatMessage, GenerateRequest, Principal, Prompt};
    use hearth_core::registry::{Preset, RegistryRouting};

    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("t.db").display());
    let store = hearth_store::open(&url, &Default::default()).await.unwrap();
    let registry = Arc::new(Registry::new(
        store,
        &RegistryOptions {
            dir: dir.path().join("registry"),
            quota_bytes: None,
        },
        Arc::new(MagicInspector),
    ));
    let recorder = Arc::new(Recorder::default());
    registry.set_serving(recorder.clone(), recorder.clone());
    let file = dir.path().join("Tiny.gguf");
    std::fs::write(&file, MODEL).unwrap();
    registry
        .import_file(hearth_core::registry::ImportFile {
            path: file,
            name: None,
            link: false,
        })
        .await
        .unwrap();
    registry.copy("tiny", "tiny:copy").await.unwrap();
    let parameters = json!({"temperature": 0.1, "stop": "###"});
    registry
        .create_preset(
            "terse",
            "tiny:copy",
            Preset {
                system: Some("Answer in one word.".to_owned()),
                template: None,
                parameters: parameters.as_object().unwrap().clone(),
            },
        )
        .await
        .unwrap();
    let mut published = recorder.published.lock().unwrap().clone();
    published.sort();
    published.dedup();
    assert_eq!(published, ["terse", "tiny", "tiny:copy"]);
    // Loaded under the name that loads the blob: removing it is refused.
    let refused = registry.remove("tiny", false).await;
    assert!(
        matches!(
            refused,
            Err(hearth_core::registry::RegistryError::Conflict(_))
        ),
        "{refused:?}"
    );

    let routing = RegistryRouting::new(recorder.clone(), Arc::new(NoModels), registry.clone());
    for model in ["terse", "tiny:copy", "tiny:latest"] {
        let _ = routing
            .generate(GenerateRequest {
                model: model.to_owned(),
                prompt: Prompt::Chat {
                    messages: vec![ChatMessage::text("user", "hi")],
                    tools: Vec::new(),
                    template: None,
                },
                params: Default::default(),
                principal: Principal::anonymous(),
                weight: 1,
                shares_prompt: false,
            })
            .await;
    }
    let requests = recorder.requests.lock().unwrap().clone();
    let targets: Vec<&str> = requests.iter().map(|r| r.model.as_str()).collect();
    assert_eq!(targets, ["tiny", "tiny", "tiny:latest"]);
    let Prompt::Chat { messages, .. } = &requests[0].prompt else {
        panic!("not chat")
    };
    assert_eq!(messages[0].content, "Answer in one word.");
    assert_eq!(requests[0].params.temperature, Some(0.1));
    assert_eq!(requests[0].params.stop, ["###"]);
    // A copy has no preset: nothing added.
    let Prompt::Chat { messages, .. } = &requests[1].prompt else {
        panic!("not chat")
    };
    assert_eq!(messages.len(), 1);

    // Removing a name withdraws it; the blob stays while a name uses it.
    registry.remove("tiny:copy", false).await.unwrap();
    assert!(
        !recorder
            .published
            .lock()
            .unwrap()
            .contains(&"tiny:copy".to_owned())
    );
    assert_eq!(registry.blobs().list().len(), 1);
    registry.remove("terse", false).await.unwrap();
    registry.remove("tiny", true).await.unwrap();
    assert!(registry.blobs().list().is_empty());
    assert!(recorder.published.lock().unwrap().is_empty());
}

#[tokio::test]
async fn bundles_carry_models_to_another_registry_and_reject_tampering() {
    use hearth_core::registry::{ImportFile, Preset};

    async fn registry_in(dir: &Path) -> Arc<Registry> {
        let url = format!("sqlite://{}", dir.join("t.db").display());
        let store = hearth_store::open(&url, &Default::default()).await.unwrap();
        Arc::new(Registry::new(
            store,
            &RegistryOptions {
                dir: dir.join("registry"),
                quota_bytes: None,
            },
            Arc::new(MagicInspector),
        ))
    }
    let here = tempfile::tempdir().unwrap();
    let there = tempfile::tempdir().unwrap();
    let source = registry_in(here.path()).await;
    let file = here.path().join("tiny.gguf");
    std::fs::write(&file, MODEL).unwrap();
    source
        .import_file(ImportFile {
            path: file,
            name: Some("tiny:1".to_owned()),
            link: false,
        })
        .await
        .unwrap();
    source
        .create_preset(
            "terse",
            "tiny:1",
            Preset {
                system: Some("Be terse.".to_owned()),
                ..Preset::default()
            },
        )
        .await
        .unwrap();
    let bundle = here.path().join("terse.bundle");
    source.export(&["terse".to_owned()], &bundle).await.unwrap();
    assert!(hearth_core::registry::bundle::is_bundle(&bundle));

    // A flipped byte in the blob: refused, nothing left.
    let mut bytes = std::fs::read(&bundle).unwrap();
    let last = bytes.len() - 3;
    bytes[last] ^= 0xff;
    let tampered = here.path().join("tampered.bundle");
    std::fs::write(&tampered, &bytes).unwrap();
    let target = registry_in(there.path()).await;
    let refused = target.import_bundle(&tampered).await;
    assert!(
        matches!(
            refused,
            Err(hearth_core::registry::RegistryError::DigestMismatch { .. })
        ),
        "{refused:?}"
    );
    // Truncated: refused too.
    std::fs::write(&tampered, &bytes[..bytes.len() - 10]).unwrap();
    assert!(target.import_bundle(&tampered).await.is_err());
    assert!(target.list().await.unwrap().is_empty());
    assert!(target.blobs().list().is_empty());
    assert!(files(&target.blobs().partial_dir()).is_empty());

    let imported = target.import_bundle(&bundle).await.unwrap();
    assert_eq!(imported.len(), 1);
    let model = target.get("terse").await.unwrap();
    assert_eq!(
        model.preset.as_ref().unwrap().system.as_deref(),
        Some("Be terse.")
    );
    assert_eq!(model.source.kind, "preset");
    assert_eq!(model.source.parent.as_deref(), Some("tiny:1"));
    assert_eq!(std::fs::read(target.path_of(&model)).unwrap(), MODEL);

    // Garbage collection: an unreferenced blob goes, a referenced one stays.
    let stray = target
        .blobs()
        .path_of(&format!("sha256:{}", "0".repeat(64)));
    std::fs::write(&stray, b"stray").unwrap();
    let report = target.gc().await.unwrap();
    assert_eq!((report.blobs, report.bytes), (1, 5));
    assert_eq!(target.blobs().list().len(), 1);
}

fn files(dir: &Path) -> Vec<String> {
    std::fs::read_dir(dir)
        .map(|r| {
            r.filter_map(Result::ok)
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default()
}
