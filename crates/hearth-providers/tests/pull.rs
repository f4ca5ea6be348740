//! Pulls end to end through the real HTTP client against a loopback server that
//! serves a test model and can cut the connection mid-body, corrupt the bytes,
//! or announce a digest: resume with `Range`, digest rejection with nothing
//! left behind, quota refusal before any byte is fetched, resume after a
//! restart from the partial file.

use std::net::SocketAddr;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode, header};
use axum::response::Response;
use hearth_core::backend::Capabilities;
use hearth_core::jobs::{JobId, JobState, NewJob};
use hearth_core::models::ModelInfo;
use hearth_core::registry::blobs::hash_bytes;
use hearth_core::registry::pull::{PULL_JOB, PullJob, PullProgress, PullRequest, transfer_key};
use hearth_core::registry::{Inspected, ModelInspector, Registry, RegistryError, RegistryOptions};
use hearth_core::store::Store;
use hearth_providers::fetch::HttpFetcher;

/// Accepts files that start with the GGUF magic (the engine's real reader is
/// tested in hearth-engine; here the transfer is under test).
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
                parameter_count: Some(1),
                quantization: Some("Q4_1".to_owned()),
                context_length: Some(512),
                embedding_length: Some(8),
                chat_template: None,
                capabilities: Capabilities::default(),
                modified_at_ms: 0,
            },
            license: Some("apache-2.0".to_owned()),
        })
    }
}

/// 3 MiB starting with the GGUF magic, the rest pseudo-random.
fn model_bytes() -> Vec<u8> {
    let mut bytes = b"GGUF".to_vec();
    let mut x: u32 = 0x1234_5678;
    while bytes.len() < 3 << 20 {
        x = x.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
        bytes.push((x >> 24) as u8);
    }
    bytes
}

#[derive(Clone, Default)]
struct Behaviour {
    /// Send this many bytes of the first GET, then break the connection.
    cut_at: Option<usize>,
    /// Flip one byte in the middle.
    corrupt: bool,
    /// Announce this digest the way the Hugging Face hub does.
    linked_etag: Option<String>,
}

#[derive(Clone)]
struct Served {
    body: Arc<Vec<u8>>,
    behaviour: Behaviour,
    cut_done: Arc<AtomicBool>,
    /// "METHOD RANGE" of every request.
    log: Arc<Mutex<Vec<String>>>,
}

async fn serve_model(State(s): State<Served>, method: Method, headers: HeaderMap) -> Response {
    let range = headers
        .get(header::RANGE)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    s.log
        .lock()
        .unwrap()
        .push(format!("{method} {}", range.as_deref().unwrap_or("-")));
    let mut data = (*s.body).clone();
    if s.behaviour.corrupt {
        let middle = data.len() / 2;
        data[middle] ^= 0xff;
    }
    let total = data.len();
    let from = range
        .as_deref()
        .and_then(|r| {
            r.strip_prefix("bytes=")?
                .strip_suffix('-')?
                .parse::<usize>()
                .ok()
        })
        .unwrap_or(0);
    if from > total {
        return Response::builder()
            .status(StatusCode::RANGE_NOT_SATISFIABLE)
            .header(header::CONTENT_RANGE, format!("bytes */{total}"))
            .body(Body::empty())
            .unwrap();
    }
    let part = data[from..].to_vec();
    let mut builder = Response::builder()
        .header(header::CONTENT_LENGTH, part.len())
        .header(header::ACCEPT_RANGES, "bytes");
    if let Some(etag) = &s.behaviour.linked_etag {
        builder = builder.header("x-linked-etag", format!("\"{etag}\""));
    }
    builder = if from > 0 {
        builder.status(StatusCode::PARTIAL_CONTENT).header(
            header::CONTENT_RANGE,
            format!("bytes {from}-{}/{total}", total - 1),
        )
    } else {
        builder.status(StatusCode::OK)
    };
    match s.behaviour.cut_at {
        Some(cut)
            if method == Method::GET && cut > from && !s.cut_done.swap(true, Ordering::SeqCst) =>
        {
            let first = bytes::Bytes::from(part[..cut - from].to_vec());
            let chunks: Vec<Result<bytes::Bytes, std::io::Error>> = vec![
                Ok(first),
                Err(std::io::Error::other("connection cut by the test")),
            ];
            builder
                .body(Body::from_stream(futures::stream::iter(chunks)))
                .unwrap()
        }
        _ => builder.body(Body::from(part)).unwrap(),
    }
}

/// A loopback server for `/m.gguf`; returns its URL and request log.
async fn server(body: Vec<u8>, behaviour: Behaviour) -> (String, Arc<Mutex<Vec<String>>>) {
    let log = Arc::new(Mutex::new(Vec::new()));
    let state = Served {
        body: Arc::new(body),
        behaviour,
        cut_done: Arc::new(AtomicBool::new(false)),
        log: log.clone(),
    };
    let app = axum::Router::new()
        .route("/m.gguf", axum::routing::get(serve_model))
        .with_state(state);
    let listener = tokio::net::TcpListener::bind(SocketAddr::from(([127, 0, 0, 1], 0)))
        .await
        .unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (format!("http://{addr}/m.gguf"), log)
}

struct Setup {
    registry: Arc<Registry>,
    store: Arc<dyn Store>,
    dir: tempfile::TempDir,
}

async fn setup(quota_bytes: Option<u64>) -> Setup {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("hearth.db").display());
    let store = hearth_store::open(&url, &hearth_store::OpenOptions::default())
        .await
        .unwrap();
    let registry = Registry::new(
        store.clone(),
        &RegistryOptions {
            dir: dir.path().join("registry"),
            quota_bytes,
        },
        Arc::new(MagicInspector),
    )
    .with_fetcher(Arc::new(HttpFetcher::new().unwrap()));
    Setup {
        registry: Arc::new(registry),
        store,
        dir,
    }
}

/// Follow a pull's progress to its end; returns every status seen.
async fn wait(setup: &Setup, id: &JobId) -> Vec<PullProgress> {
    let mut seen = Vec::new();
    let follow = async {
        if let Some(mut rx) = setup.registry.subscribe(id) {
            loop {
                let progress = rx.borrow_and_update().clone();
                let done = progress.is_final();
                seen.push(progress);
                if done || rx.changed().await.is_err() {
                    break;
                }
            }
        }
        // The job row is written right after the last progress.
        loop {
            let job = setup.store.jobs().get(id).await.unwrap();
            if job.state.is_final() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    };
    tokio::time::timeout(Duration::from_secs(60), follow)
        .await
        .expect("the pull did not end");
    seen
}

fn files_in(dir: &Path) -> Vec<String> {
    std::fs::read_dir(dir)
        .map(|read| {
            read.filter_map(Result::ok)
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default()
}

#[tokio::test]
async fn pull_downloads_verifies_and_records_provenance() {
    let body = model_bytes();
    let digest = hash_bytes(&body);
    let (url, log) = server(body.clone(), Behaviour::default()).await;
    let s = setup(None).await;
    let job = s
        .registry
        .start_pull(PullRequest {
            source: url.clone(),
            name: Some("tiny:1".to_owned()),
            digest: Some(digest.clone()),
        })
        .await
        .unwrap();
    assert_eq!(job.kind, PULL_JOB);
    let seen = wait(&s, &job.id).await;
    assert_eq!(seen.last().unwrap().status, "success");
    let job = s.store.jobs().get(&job.id).await.unwrap();
    assert_eq!(job.state, JobState::Succeeded, "{:?}", job.error);
    assert_eq!(job.result.unwrap()["digest"], digest.as_str());
    assert_eq!(job.progress_done, body.len() as i64);

    let model = s.registry.get("tiny:1").await.unwrap();
    assert_eq!(model.digest, digest);
    assert_eq!(model.size_bytes, body.len() as u64);
    assert_eq!(model.source.kind, "pull");
    assert_eq!(model.source.url.as_deref(), Some(url.as_str()));
    assert_eq!(model.source.license.as_deref(), Some("apache-2.0"));
    assert_eq!(model.info.quantization.as_deref(), Some("Q4_1"));
    assert_eq!(std::fs::read(s.registry.path_of(&model)).unwrap(), body);
    assert!(files_in(&s.registry.blobs().partial_dir()).is_empty());
    let log = log.lock().unwrap().clone();
    assert_eq!(log, ["HEAD -", "GET -"]);
}

#[tokio::test]
async fn interrupted_transfer_resumes_with_a_range_request() {
    let body = model_bytes();
    let cut = body.len() * 2 / 5;
    let (url, log) = server(
        body.clone(),
        Behaviour {
            cut_at: Some(cut),
            ..Behaviour::default()
        },
    )
    .await;
    let s = setup(None).await;
    let job = s
        .registry
        .start_pull(PullRequest {
            source: url,
            name: None,
            digest: Some(hash_bytes(&body)),
        })
        .await
        .unwrap();
    wait(&s, &job.id).await;
    let job = s.store.jobs().get(&job.id).await.unwrap();
    assert_eq!(job.state, JobState::Succeeded, "{:?}", job.error);
    let log = log.lock().unwrap().clone();
    assert_eq!(log[..2], ["HEAD -", "GET -"]);
    // The second GET continues where the cut left the file (the client may have
    // written less than the server sent, never more).
    let resumed_from: usize = log[2]
        .strip_prefix("GET bytes=")
        .and_then(|r| r.strip_suffix('-'))
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no ranged GET: {log:?}"));
    assert!(resumed_from > 0 && resumed_from <= cut, "{log:?}");
    assert_eq!(log.len(), 3, "{log:?}");
    // Named from the URL's file.
    let model = s.registry.get("m").await.unwrap();
    assert_eq!(std::fs::read(s.registry.path_of(&model)).unwrap(), body);
}

#[tokio::test]
async fn corrupted_transfer_is_rejected_and_nothing_is_left() {
    let body = model_bytes();
    let (url, _log) = server(
        body.clone(),
        Behaviour {
            corrupt: true,
            // The hub announces the digest of the true file.
            linked_etag: Some(hash_bytes(&body).trim_start_matches("sha256:").to_owned()),
            ..Behaviour::default()
        },
    )
    .await;
    let s = setup(None).await;
    let job = s
        .registry
        .start_pull(PullRequest {
            source: url,
            name: Some("bad".to_owned()),
            digest: None,
        })
        .await
        .unwrap();
    let seen = wait(&s, &job.id).await;
    let last = seen.last().unwrap();
    assert_eq!(last.status, "failed");
    assert!(
        last.error.as_deref().unwrap().contains("digest mismatch"),
        "{last:?}"
    );
    let job = s.store.jobs().get(&job.id).await.unwrap();
    assert_eq!(job.state, JobState::Failed);
    assert!(job.error.unwrap().contains("digest mismatch"));
    assert!(matches!(
        s.registry.get("bad").await,
        Err(RegistryError::NotFound(_))
    ));
    assert!(s.registry.list().await.unwrap().is_empty());
    assert!(files_in(&s.registry.blobs().blobs_dir()).is_empty());
    assert!(files_in(&s.registry.blobs().partial_dir()).is_empty());
}

#[tokio::test]
async fn quota_refuses_a_pull_before_any_byte_is_fetched() {
    let body = model_bytes();
    let (url, log) = server(body.clone(), Behaviour::default()).await;
    let s = setup(Some(body.len() as u64 - 1)).await;
    let refused = s
        .registry
        .start_pull(PullRequest {
            source: url,
            name: None,
            digest: None,
        })
        .await;
    match refused {
        Err(RegistryError::Quota { needed, quota, .. }) => {
            assert_eq!(needed, body.len() as u64);
            assert_eq!(quota, body.len() as u64 - 1);
        }
        other => panic!("not refused: {other:?}"),
    }
    assert!(s.store.jobs().list(None, 10).await.unwrap().is_empty());
    assert_eq!(log.lock().unwrap().clone(), ["HEAD -"]);
}

#[tokio::test]
async fn a_pull_left_by_a_restart_continues_from_its_partial_file() {
    let body = model_bytes();
    let digest = hash_bytes(&body);
    let (url, log) = server(body.clone(), Behaviour::default()).await;
    let s = setup(None).await;
    // What a stopped server leaves: a queued job and the first bytes on disk.
    let half = body.len() / 2;
    let blobs = s.registry.blobs();
    blobs.ensure_dirs().unwrap();
    std::fs::write(blobs.partial_path(&transfer_key(&url)), &body[..half]).unwrap();
    let pull = PullJob {
        source: url.clone(),
        name: "again:latest".to_owned(),
        url: url.clone(),
        digest: Some(digest.clone()),
        total: Some(body.len() as u64),
        hf_repo: None,
        hf_revision: None,
    };
    let job = s
        .store
        .jobs()
        .create(NewJob {
            kind: PULL_JOB.to_owned(),
            payload: serde_json::to_value(&pull).unwrap(),
        })
        .await
        .unwrap();
    assert_eq!(s.registry.resume_pulls().await.unwrap(), 1);
    wait(&s, &job.id).await;
    let done = s.store.jobs().get(&job.id).await.unwrap();
    assert_eq!(done.state, JobState::Succeeded, "{:?}", done.error);
    assert_eq!(log.lock().unwrap().clone(), [format!("GET bytes={half}-")]);
    let model = s.registry.get("again").await.unwrap();
    assert_eq!(model.digest, digest);
    assert_eq!(std::fs::read(s.registry.path_of(&model)).unwrap(), body);
    drop(s.dir);
}

#[tokio::test]
async fn a_new_pull_supersedes_an_abandoned_job_of_the_same_url() {
    let body = model_bytes();
    let (url, _log) = server(body.clone(), Behaviour::default()).await;
    let s = setup(None).await;
    // A job some stopped process left running.
    let abandoned = s
        .store
        .jobs()
        .create(NewJob {
            kind: PULL_JOB.to_owned(),
            payload: serde_json::json!({"url": url, "name": "x:latest", "source": url}),
        })
        .await
        .unwrap();
    s.store
        .jobs()
        .set_state(&abandoned.id, JobState::Running)
        .await
        .unwrap();
    let job = s
        .registry
        .start_pull(PullRequest {
            source: url.clone(),
            name: None,
            digest: None,
        })
        .await
        .unwrap();
    // While it runs, a second pull of the same URL is refused.
    let second = s
        .registry
        .start_pull(PullRequest {
            source: url,
            name: None,
            digest: None,
        })
        .await;
    wait(&s, &job.id).await;
    let old = s.store.jobs().get(&abandoned.id).await.unwrap();
    assert_eq!(old.state, JobState::Failed);
    assert!(old.error.unwrap().contains("superseded"));
    match second {
        Err(RegistryError::Conflict(message)) => assert!(message.contains("already running")),
        // The first pull may have finished already on a fast machine.
        Ok(again) => {
            wait(&s, &again.id).await;
        }
        Err(other) => panic!("{other:?}"),
    }
    assert_eq!(
        s.store.jobs().get(&job.id).await.unwrap().state,
        JobState::Succeeded
    );
}
