//! Pulls: a model downloaded over HTTP(S) into the registry as a persisted job.
//!
//! - [`Registry::start_pull`] resolves the source (a URL, or a Hugging Face
//!   reference `hf.co/ORG/REPO:QUANT` / `hf.co/ORG/REPO/FILE.gguf`), asks the
//!   server for the size (HEAD), refuses up front what would exceed the disk
//!   quota, records a `model.pull` job and runs it on a task of its own.
//! - The transfer writes `registry/partial/KEY.partial` (KEY from the URL, so a
//!   later pull of the same URL continues it), holding an exclusive lock on it;
//!   an interrupted transfer continues with an HTTP `Range` request, a few times
//!   in the same job, and in a new job after a restart
//!   ([`Registry::resume_pulls`]).
//! - Once complete, the file is hashed; a digest that differs from the expected
//!   one (given, or announced by the hub) discards it. Only then is it renamed
//!   into `blobs/` and its manifest written: nothing partial is ever visible.
//! - Progress goes to a watch channel per job ([`Registry::subscribe`]) and,
//!   at most every second, to the job row.

use std::io::{Seek, SeekFrom};
use std::sync::Arc;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use futures::StreamExt;
use futures::stream::BoxStream;
use serde::{Deserialize, Serialize};
use tokio::io::AsyncWriteExt;
use tokio::sync::watch;

use super::blobs::{hash_bytes, hash_file};
use super::{ModelRef, Provenance, Registry, RegistryError, RegistryModel, parse_digest};
use crate::jobs::{Job, JobId, JobState, NewJob};

/// Kind of the pull jobs.
pub const PULL_JOB: &str = "model.pull";
/// Transfer attempts within one job before it fails (the partial file stays).
const ATTEMPTS: u32 = 5;

/// What the HEAD request said.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Probe {
    /// `Content-Length` (or the hub's `x-linked-size`).
    pub length: Option<u64>,
    /// The SHA-256 the hub announces (`x-linked-etag` of LFS files), hex.
    pub sha256: Option<String>,
    /// The hub's `x-repo-commit`.
    pub revision: Option<String>,
}

/// A body being received.
pub struct Download {
    /// Offset of the first byte of `body` (0 when the server ignored `Range`).
    pub start: u64,
    /// Size of the whole file, when the server said it.
    pub total: Option<u64>,
    /// The bytes.
    pub body: BoxStream<'static, Result<Vec<u8>, FetchError>>,
}

/// Why a request failed.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum FetchError {
    /// The server answered with an error status.
    #[error("{url} answered HTTP {status}")]
    Status {
        /// HTTP status.
        status: u16,
        /// The URL asked.
        url: String,
    },
    /// The connection failed or broke.
    #[error("{0}")]
    Network(String),
}

impl FetchError {
    /// Whether trying again may help (network trouble, 5xx, 429).
    pub fn is_transient(&self) -> bool {
        match self {
            FetchError::Status { status, .. } => *status >= 500 || *status == 429,
            FetchError::Network(_) => true,
        }
    }
}

/// HTTP access for pulls (the adapter lives in `hearth-providers`).
#[async_trait]
pub trait Fetcher: Send + Sync {
    /// HEAD `url`, following redirects.
    async fn probe(&self, url: &str) -> Result<Probe, FetchError>;
    /// GET `url` from byte `from` on (`Range: bytes=from-` when `from > 0`).
    async fn fetch(&self, url: &str, from: u64) -> Result<Download, FetchError>;
    /// GET a small JSON document (the hub's file listing).
    async fn fetch_json(&self, url: &str) -> Result<serde_json::Value, FetchError>;
}

/// A pull as asked.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct PullRequest {
    /// URL or Hugging Face reference.
    pub source: String,
    /// Name to record; default: from the source.
    pub name: Option<String>,
    /// Expected `sha256:…`, when the caller knows it.
    pub digest: Option<String>,
}

/// A Hugging Face reference.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HfRef {
    /// `org/repo`
    pub repo: String,
    /// Branch or commit (`main`).
    pub revision: String,
    /// A file of the repository.
    pub file: Option<String>,
    /// A quantization to pick among the repository's GGUF files.
    pub quant: Option<String>,
}

impl HfRef {
    /// The download URL of `file`.
    pub fn file_url(&self, file: &str) -> String {
        format!(
            "https://huggingface.co/{}/resolve/{}/{file}",
            self.repo, self.revision
        )
    }

    /// The hub's listing of the repository's files.
    pub fn tree_url(&self) -> String {
        format!(
            "https://huggingface.co/api/models/{}/tree/{}",
            self.repo, self.revision
        )
    }
}

/// Where a pull downloads from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PullSource {
    /// A plain URL.
    Url(String),
    /// A Hugging Face reference.
    Hf(HfRef),
}

/// Parse a pull source: `https://…` (or `http://` to a loopback host),
/// `hf.co/ORG/REPO[:QUANT]`, `hf.co/ORG/REPO/FILE.gguf` (also `huggingface.co/…`).
pub fn parse_source(input: &str) -> Result<PullSource, RegistryError> {
    let text = input.trim();
    let invalid = |message: String| RegistryError::Invalid {
        field: "source",
        message,
    };
    if let Some(rest) = text
        .strip_prefix("hf.co/")
        .or_else(|| text.strip_prefix("huggingface.co/"))
        .or_else(|| {
            text.strip_prefix("https://huggingface.co/")
                .filter(|r| !r.contains("/resolve/"))
        })
    {
        let (path, quant) = match rest.rsplit_once(':') {
            Some((path, quant)) => (path, Some(quant.to_owned())),
            None => (rest, None),
        };
        let parts: Vec<&str> = path.split('/').collect();
        let segment_ok = |s: &str| {
            !s.is_empty()
                && s != "."
                && s != ".."
                && s.chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'))
        };
        if parts.len() < 2 || !parts.iter().all(|s| segment_ok(s)) {
            return Err(invalid(format!(
                "'{input}' is not a Hugging Face reference: use hf.co/ORG/REPO:QUANT or \
                 hf.co/ORG/REPO/FILE.gguf"
            )));
        }
        if quant.as_deref().is_some_and(|q| !segment_ok(q)) || (quant.is_some() && parts.len() > 2)
        {
            return Err(invalid(format!(
                "'{input}': give either a quantization (hf.co/ORG/REPO:QUANT) or a file"
            )));
        }
        return Ok(PullSource::Hf(HfRef {
            repo: format!("{}/{}", parts[0], parts[1]),
            revision: "main".to_owned(),
            file: (parts.len() > 2).then(|| parts[2..].join("/")),
            quant,
        }));
    }
    let Some((scheme, rest)) = text.split_once("://") else {
        return Err(invalid(format!(
            "'{input}' is neither an https:// URL nor a Hugging Face reference (hf.co/ORG/REPO:QUANT)"
        )));
    };
    let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
    let host = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
    let host = if host.starts_with('[') {
        host.split(']').next().map_or(host, |h| &h[1..])
    } else {
        host.split(':').next().unwrap_or(host)
    };
    if host.is_empty() || text.chars().any(char::is_whitespace) {
        return Err(invalid(format!("'{input}' is not a valid URL")));
    }
    match scheme.to_ascii_lowercase().as_str() {
        "https" => Ok(PullSource::Url(text.to_owned())),
        "http" if is_loopback(host) => Ok(PullSource::Url(text.to_owned())),
        "http" => Err(invalid(format!(
            "'{input}': plain http is allowed only to this machine (loopback); use https://"
        ))),
        _ => Err(invalid(format!(
            "'{input}': only https:// URLs can be pulled"
        ))),
    }
}

fn is_loopback(host: &str) -> bool {
    host.eq_ignore_ascii_case("localhost")
        || host
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

/// A name from free text: lower-case, invalid characters replaced by `-`.
fn slug(text: &str, max: usize) -> String {
    let slug: String = text
        .to_lowercase()
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-') {
                c
            } else {
                '-'
            }
        })
        .take(max)
        .collect();
    let slug = slug.trim_matches(|c: char| !c.is_ascii_alphanumeric());
    if slug.is_empty() {
        "model".to_owned()
    } else {
        slug.to_owned()
    }
}

/// The default name of a local file: its stem, lower-case, characters a name
/// cannot have replaced by `-`.
pub fn default_file_name(path: &std::path::Path) -> String {
    let stem = path
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default();
    slug(&stem, 128)
}

fn file_stem(path: &str) -> &str {
    let file = path.rsplit('/').next().unwrap_or(path);
    let file = file.split(['?', '#']).next().unwrap_or(file);
    file.strip_suffix(".gguf").unwrap_or(file)
}

impl PullSource {
    /// The name a pull records when none is given: the file's stem for URLs,
    /// `hf.co/org/repo:QUANT` (or `:FILE-STEM`) for Hugging Face.
    pub fn default_name(&self) -> Result<ModelRef, RegistryError> {
        match self {
            PullSource::Url(url) => ModelRef::parse(&slug(file_stem(url), 128)),
            PullSource::Hf(hf) => {
                let tag = match (&hf.quant, &hf.file) {
                    (Some(quant), _) => slug(quant, 64),
                    (None, Some(file)) => slug(file_stem(file), 64),
                    (None, None) => "latest".to_owned(),
                };
                ModelRef::parse(&format!("hf.co/{}:{tag}", hf.repo))
            }
        }
    }
}

/// Choose the GGUF file of a hub listing (`[{"type":"file","path":…}]`) whose
/// name carries the quantization `quant` (case-insensitive, as a whole word);
/// split files (`-00001-of-00002`) are not supported and skipped.
pub fn pick_quant_file(listing: &serde_json::Value, quant: &str) -> Result<String, RegistryError> {
    let quant = quant.to_uppercase();
    let files: Vec<&str> = listing
        .as_array()
        .into_iter()
        .flatten()
        .filter(|e| e.get("type").and_then(|t| t.as_str()) != Some("directory"))
        .filter_map(|e| e.get("path").and_then(|p| p.as_str()))
        .filter(|p| p.to_lowercase().ends_with(".gguf") && !p.contains("-of-"))
        .collect();
    let matches: Vec<&str> = files
        .iter()
        .copied()
        .filter(|path| {
            file_stem(path)
                .to_uppercase()
                .split(['.', '-', '_'])
                .collect::<Vec<_>>()
                .join("_")
                .split('_')
                .collect::<Vec<_>>()
                .windows(quant.split('_').count())
                .any(|w| w.join("_") == quant)
        })
        .collect();
    match matches.as_slice() {
        [one] => Ok((*one).to_owned()),
        [] => Err(RegistryError::Invalid {
            field: "source",
            message: format!(
                "no GGUF file for quantization {quant} in the repository (files: {})",
                files.join(", ")
            ),
        }),
        several => Err(RegistryError::Invalid {
            field: "source",
            message: format!(
                "several files match {quant} ({}); name the file: hf.co/ORG/REPO/FILE.gguf",
                several.join(", ")
            ),
        }),
    }
}

/// The persisted input of a pull job.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PullJob {
    /// The source as given.
    pub source: String,
    /// `name:tag` to record.
    pub name: String,
    /// The resolved download URL.
    pub url: String,
    /// Expected `sha256:…`, when known.
    pub digest: Option<String>,
    /// Size from the HEAD request, when known.
    pub total: Option<u64>,
    /// Hugging Face repository.
    pub hf_repo: Option<String>,
    /// Hugging Face revision.
    pub hf_revision: Option<String>,
}

/// Progress of one pull, in the shape of Ollama's pull stream.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct PullProgress {
    /// `pulling manifest`, `downloading`, `verifying sha256 digest`,
    /// `writing manifest`, `success` or `failed`.
    pub status: String,
    /// The expected digest, when known.
    pub digest: Option<String>,
    /// Bytes in total, when known.
    pub total: Option<u64>,
    /// Bytes received.
    pub completed: u64,
    /// Why it failed.
    pub error: Option<String>,
}

impl PullProgress {
    fn status(status: &str) -> PullProgress {
        PullProgress {
            status: status.to_owned(),
            ..PullProgress::default()
        }
    }

    /// Whether the pull ended (`success` or `failed`).
    pub fn is_final(&self) -> bool {
        self.status == "success" || self.status == "failed"
    }

    /// The final progress of a finished job.
    pub fn of_job(job: &Job) -> PullProgress {
        let status = match job.state {
            JobState::Succeeded => "success",
            JobState::Failed | JobState::Cancelled => "failed",
            JobState::Queued => "queued",
            JobState::Running => "downloading",
        };
        PullProgress {
            status: status.to_owned(),
            digest: job
                .result
                .as_ref()
                .and_then(|r| r.get("digest"))
                .and_then(|d| d.as_str())
                .map(str::to_owned),
            total: job.progress_total.map(|t| t.max(0) as u64),
            completed: job.progress_done.max(0) as u64,
            error: job.error.clone(),
        }
    }
}

/// A transfer's partial-file key: from the URL, so the same URL continues the
/// same file.
pub fn transfer_key(url: &str) -> String {
    let digest = hash_bytes(url.as_bytes());
    let hex = digest.strip_prefix("sha256:").unwrap_or(&digest);
    format!("pull-{}", &hex[..32])
}

/// Whether a failed attempt may be retried.
struct Attempt {
    error: RegistryError,
    transient: bool,
}

impl From<RegistryError> for Attempt {
    fn from(error: RegistryError) -> Self {
        Attempt {
            error,
            transient: false,
        }
    }
}

impl Registry {
    fn fetcher(&self) -> Result<&Arc<dyn Fetcher>, RegistryError> {
        self.fetcher.as_ref().ok_or_else(|| {
            RegistryError::Unsupported("this process has no HTTP client for pulls".to_owned())
        })
    }

    /// Resolve, probe and check a pull, record its job, and start it.
    pub async fn start_pull(self: &Arc<Self>, request: PullRequest) -> Result<Job, RegistryError> {
        let fetcher = self.fetcher()?.clone();
        let source = parse_source(&request.source)?;
        let name = match request.name.as_deref() {
            Some(name) => ModelRef::parse(name)?,
            None => source.default_name()?,
        };
        let mut expected = request.digest.as_deref().map(parse_digest).transpose()?;
        let (url, hf) = match &source {
            PullSource::Url(url) => (url.clone(), None),
            PullSource::Hf(hf) => {
                let file = match (&hf.file, &hf.quant) {
                    (Some(file), _) => file.clone(),
                    (None, quant) => {
                        let listing = fetcher
                            .fetch_json(&hf.tree_url())
                            .await
                            .map_err(|e| RegistryError::Fetch(e.to_string()))?;
                        pick_quant_file(&listing, quant.as_deref().unwrap_or("Q4_K_M"))?
                    }
                };
                (hf.file_url(&file), Some(hf.clone()))
            }
        };
        let probe = fetcher
            .probe(&url)
            .await
            .map_err(|e| RegistryError::Fetch(e.to_string()))?;
        if expected.is_none() {
            expected = probe.sha256.as_deref().and_then(|d| parse_digest(d).ok());
        }
        // A HEAD answer of 0 bytes says nothing (some servers send it).
        let length = probe.length.filter(|n| *n > 0);
        let already = expected.as_deref().is_some_and(|d| self.blobs.exists(d));
        if let (Some(total), false) = (length, already) {
            let have = std::fs::metadata(self.blobs.partial_path(&transfer_key(&url)))
                .map_or(0, |m| m.len());
            self.check_quota(total.saturating_sub(have))?;
        }
        self.supersede_orphans(&url).await?;
        let job = PullJob {
            source: request.source.trim().to_owned(),
            name: name.full(),
            url,
            digest: expected,
            total: length,
            hf_repo: hf.as_ref().map(|h| h.repo.clone()),
            hf_revision: hf.map(|h| probe.revision.clone().unwrap_or(h.revision)),
        };
        let payload = serde_json::to_value(&job)
            .map_err(|e| RegistryError::Io(format!("pull job payload: {e}")))?;
        let recorded = self
            .store
            .jobs()
            .create(NewJob {
                kind: PULL_JOB.to_owned(),
                payload,
            })
            .await?;
        self.spawn_pull(recorded.id.clone(), job);
        Ok(recorded)
    }

    /// Unfinished pull jobs of `url` that nobody runs (their process stopped)
    /// end as failed, so a server restart does not run them again; one that
    /// runs (here or in another process, holding the partial file's lock)
    /// refuses the new pull.
    async fn supersede_orphans(&self, url: &str) -> Result<(), RegistryError> {
        let jobs = self.store.jobs();
        let mut unfinished = jobs.list(Some(JobState::Running), 1000).await?;
        unfinished.extend(jobs.list(Some(JobState::Queued), 1000).await?);
        let same_url = |job: &Job| {
            job.kind == PULL_JOB && job.payload.get("url").and_then(|u| u.as_str()) == Some(url)
        };
        for job in unfinished.into_iter().filter(same_url) {
            let running_here = self.lock_pulls().contains_key(&job.id.0);
            let partial = self.blobs.partial_path(&transfer_key(url));
            let locked_elsewhere = std::fs::OpenOptions::new()
                .write(true)
                .open(&partial)
                .is_ok_and(|f| f.try_lock().is_err());
            if running_here || locked_elsewhere {
                return Err(RegistryError::Conflict(format!(
                    "a pull of {url} is already running (job {})",
                    job.id
                )));
            }
            let _ = jobs
                .finish(
                    &job.id,
                    Err("superseded by a newer pull of the same URL".to_owned()),
                )
                .await;
        }
        Ok(())
    }

    /// Start again every queued pull and quantization (after a restart, with
    /// the jobs left `running` requeued first). Returns how many were started.
    pub async fn resume_pulls(self: &Arc<Self>) -> Result<usize, RegistryError> {
        self.fetcher()?;
        let queued = self.store.jobs().list(Some(JobState::Queued), 1000).await?;
        let mut started = 0;
        for job in queued {
            let spawned = match job.kind.as_str() {
                PULL_JOB => serde_json::from_value::<PullJob>(job.payload.clone()).map(|pull| {
                    tracing::info!(job = %job.id, model = %pull.name, "resuming pull");
                    self.spawn_pull(job.id.clone(), pull);
                }),
                super::quantize::QUANTIZE_JOB if self.quantizer.is_some() => {
                    serde_json::from_value::<super::quantize::QuantizeJob>(job.payload.clone()).map(
                        |q| {
                            tracing::info!(job = %job.id, model = %q.name, "restarting quantization");
                            self.spawn_quantize(job.id.clone(), q);
                        },
                    )
                }
                _ => continue,
            };
            match spawned {
                Ok(()) => started += 1,
                Err(e) => {
                    let _ = self
                        .store
                        .jobs()
                        .finish(&job.id, Err(format!("unreadable job: {e}")))
                        .await;
                }
            }
        }
        Ok(started)
    }

    /// Progress of a pull running in this process.
    pub fn subscribe(&self, id: &JobId) -> Option<watch::Receiver<PullProgress>> {
        self.lock_pulls().get(&id.0).map(|tx| tx.subscribe())
    }

    fn lock_pulls(
        &self,
    ) -> std::sync::MutexGuard<'_, std::collections::HashMap<String, watch::Sender<PullProgress>>>
    {
        self.pulls.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn spawn_pull(self: &Arc<Self>, id: JobId, job: PullJob) {
        let (tx, _) = watch::channel(PullProgress {
            digest: job.digest.clone(),
            total: job.total,
            ..PullProgress::status("pulling manifest")
        });
        self.lock_pulls().insert(id.0.clone(), tx.clone());
        let this = self.clone();
        tokio::spawn(async move {
            let outcome = this.run_pull(&id, &job, &tx).await;
            let jobs = this.store.jobs();
            let last = tx.borrow().clone();
            let finished = match &outcome {
                Ok(model) => {
                    tracing::info!(job = %id, model = %model.name, digest = %model.digest, "pull done");
                    let _ = jobs
                        .set_progress(&id, model.size_bytes as i64, Some(model.size_bytes as i64))
                        .await;
                    tx.send_replace(PullProgress {
                        status: "success".to_owned(),
                        digest: Some(model.digest.clone()),
                        total: Some(model.size_bytes),
                        completed: model.size_bytes,
                        error: None,
                    });
                    jobs.finish(
                        &id,
                        Ok(serde_json::json!({
                            "name": model.name, "digest": model.digest, "size_bytes": model.size_bytes,
                        })),
                    )
                    .await
                }
                Err(err) => {
                    tracing::warn!(job = %id, error = %err, "pull failed");
                    tx.send_replace(PullProgress {
                        status: "failed".to_owned(),
                        error: Some(err.to_string()),
                        ..last
                    });
                    jobs.finish(&id, Err(err.to_string())).await
                }
            };
            if let Err(e) = finished {
                tracing::warn!(job = %id, error = %e, "cannot record the end of a pull");
            }
            this.lock_pulls().remove(&id.0);
        });
    }

    async fn run_pull(
        &self,
        id: &JobId,
        job: &PullJob,
        tx: &watch::Sender<PullProgress>,
    ) -> Result<RegistryModel, RegistryError> {
        self.store.jobs().set_state(id, JobState::Running).await?;
        let name = ModelRef::parse(&job.name)?;
        let source = Provenance {
            kind: "pull".to_owned(),
            url: Some(job.url.clone()),
            hf_repo: job.hf_repo.clone(),
            hf_revision: job.hf_revision.clone(),
            ..Provenance::default()
        };
        if let Some(digest) = job.digest.as_deref()
            && self.blobs.exists(digest)
        {
            return self.record_blob(&name, digest, source).await;
        }
        self.blobs.ensure_dirs()?;
        let partial = self.blobs.partial_path(&transfer_key(&job.url));
        let file = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&partial)
            .map_err(|e| RegistryError::io(&partial, e))?;
        if file.try_lock().is_err() {
            return Err(RegistryError::Conflict(format!(
                "another pull of {} is running",
                job.url
            )));
        }
        let mut attempt = 0;
        let total = loop {
            match self.transfer(&file, id, job, tx).await {
                Ok(total) => break total,
                Err(failed) if failed.transient && attempt + 1 < ATTEMPTS => {
                    attempt += 1;
                    let wait = Duration::from_millis(200 << attempt.min(5));
                    tracing::info!(job = %id, attempt, error = %failed.error, "transfer interrupted; resuming");
                    tokio::time::sleep(wait).await;
                }
                Err(failed) => return Err(failed.error),
            }
        };
        tx.send_modify(|p| p.status = "verifying sha256 digest".to_owned());
        let hashed = partial.clone();
        let (digest, size) = tokio::task::spawn_blocking(move || hash_file(&hashed))
            .await
            .map_err(|e| RegistryError::Io(format!("hashing panicked: {e}")))??;
        drop(file);
        let discard = || {
            let _ = std::fs::remove_file(&partial);
        };
        if let Some(total) = total
            && total != size
        {
            discard();
            return Err(RegistryError::Fetch(format!(
                "received {size} bytes of {total}; the download was discarded"
            )));
        }
        if let Some(expected) = job.digest.as_deref()
            && expected != digest
        {
            discard();
            return Err(RegistryError::DigestMismatch {
                expected: expected.to_owned(),
                actual: digest,
            });
        }
        tx.send_modify(|p| {
            p.status = "writing manifest".to_owned();
            p.digest = Some(digest.clone());
        });
        let _guard = self.ops.lock().await;
        self.blobs.commit(&partial, &digest)?;
        self.record_blob_locked(&name, &digest, source).await
    }

    /// One attempt: continue the partial file from its length. Returns the
    /// total size when known.
    async fn transfer(
        &self,
        file: &std::fs::File,
        id: &JobId,
        job: &PullJob,
        tx: &watch::Sender<PullProgress>,
    ) -> Result<Option<u64>, Attempt> {
        let io = |e: std::io::Error| RegistryError::Io(format!("partial download: {e}"));
        let mut have = file.metadata().map_err(io)?.len();
        if job.total.is_some_and(|t| have > t) {
            file.set_len(0).map_err(io)?;
            have = 0;
        }
        if let Some(total) = job.total {
            if have == total {
                return Ok(Some(total));
            }
            self.check_quota(total - have)?;
        }
        let download = self
            .fetcher()?
            .fetch(&job.url, have)
            .await
            .map_err(|e| Attempt {
                transient: e.is_transient(),
                error: RegistryError::Fetch(e.to_string()),
            })?;
        let total = download.total.or(job.total);
        let mut offset = match download.start {
            start if start == have => have,
            0 => {
                file.set_len(0).map_err(io)?;
                0
            }
            start => {
                return Err(RegistryError::Fetch(format!(
                    "asked for bytes from {have}, the server sent from {start}"
                ))
                .into());
            }
        };
        let budget = match (total, self.quota_bytes) {
            (None, Some(_)) => Some(self.available_bytes()),
            _ => None,
        };
        let mut positioned = file.try_clone().map_err(io)?;
        positioned.seek(SeekFrom::Start(offset)).map_err(io)?;
        let mut out = tokio::fs::File::from_std(positioned);
        let started_at = offset;
        let mut last_saved = Instant::now();
        let mut body = download.body;
        tx.send_modify(|p| {
            p.status = "downloading".to_owned();
            p.total = total;
            p.completed = offset;
        });
        while let Some(chunk) = body.next().await {
            let chunk = chunk.map_err(|e| Attempt {
                transient: e.is_transient(),
                error: RegistryError::Fetch(e.to_string()),
            })?;
            out.write_all(&chunk).await.map_err(io)?;
            offset += chunk.len() as u64;
            if budget.is_some_and(|b| offset - started_at > b) {
                return Err(RegistryError::Quota {
                    needed: offset - started_at,
                    available: budget.unwrap_or(0),
                    quota: self.quota_bytes.unwrap_or(0),
                }
                .into());
            }
            tx.send_modify(|p| p.completed = offset);
            if last_saved.elapsed() >= Duration::from_secs(1) {
                last_saved = Instant::now();
                let _ = self
                    .store
                    .jobs()
                    .set_progress(id, offset as i64, total.map(|t| t as i64))
                    .await;
            }
        }
        out.flush().await.map_err(io)?;
        out.sync_data().await.map_err(io)?;
        let _ = self
            .store
            .jobs()
            .set_progress(id, offset as i64, total.map(|t| t as i64))
            .await;
        if total.is_some_and(|t| offset < t) {
            return Err(Attempt {
                transient: true,
                error: RegistryError::Fetch(format!("the connection closed after {offset} bytes")),
            });
        }
        Ok(total)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hugging_face_references_resolve_to_resolve_urls() {
        let PullSource::Hf(hf) = parse_source("hf.co/Org/Repo-GGUF/model.Q4_K_M.gguf").unwrap()
        else {
            panic!("not hf");
        };
        assert_eq!(hf.repo, "Org/Repo-GGUF");
        assert_eq!(
            hf.file_url(hf.file.as_deref().unwrap()),
            "https://huggingface.co/Org/Repo-GGUF/resolve/main/model.Q4_K_M.gguf"
        );
        let src = parse_source("huggingface.co/bartowski/SmolLM2-GGUF:Q4_K_M").unwrap();
        let PullSource::Hf(hf) = &src else {
            panic!("not hf")
        };
        assert_eq!(hf.quant.as_deref(), Some("Q4_K_M"));
        assert_eq!(
            hf.tree_url(),
            "https://huggingface.co/api/models/bartowski/SmolLM2-GGUF/tree/main"
        );
        assert_eq!(
            src.default_name().unwrap().full(),
            "hf.co/bartowski/smollm2-gguf:q4_k_m"
        );
        for bad in [
            "hf.co/only",
            "hf.co/a/../b",
            "hf.co/a/b/c.gguf:Q4",
            "hf.co/a/b:",
        ] {
            assert!(parse_source(bad).is_err(), "{bad} accepted");
        }
    }

    #[test]
    fn urls_need_https_except_on_loopback() {
        assert!(parse_source("https://example.com/m.gguf").is_ok());
        assert!(parse_source("http://127.0.0.1:9/m.gguf").is_ok());
        assert!(parse_source("http://[::1]:9/m.gguf").is_ok());
        assert!(parse_source("http://localhost/m.gguf").is_ok());
        assert!(parse_source("http://example.com/m.gguf").is_err());
        assert!(parse_source("http://10.0.0.1/m.gguf").is_err());
        assert!(parse_source("ftp://example.com/m.gguf").is_err());
        assert!(parse_source("file:///etc/passwd").is_err());
        assert!(parse_source("smollm2").is_err());
        let url =
            parse_source("https://example.com/dir/SmolLM2-135M.Q4_1.gguf?download=1").unwrap();
        assert_eq!(
            url.default_name().unwrap().full(),
            "smollm2-135m.q4_1:latest"
        );
    }

    #[test]
    fn quantization_picks_one_file() {
        let listing = serde_json::json!([
            {"type": "file", "path": "README.md"},
            {"type": "file", "path": "SmolLM2-135M-Instruct-Q4_K_M.gguf"},
            {"type": "file", "path": "SmolLM2-135M-Instruct-Q4_K_S.gguf"},
            {"type": "file", "path": "SmolLM2-135M-Instruct.Q8_0.gguf"},
            {"type": "file", "path": "big-Q8_0-00001-of-00002.gguf"},
        ]);
        assert_eq!(
            pick_quant_file(&listing, "q4_k_m").unwrap(),
            "SmolLM2-135M-Instruct-Q4_K_M.gguf"
        );
        assert_eq!(
            pick_quant_file(&listing, "Q8_0").unwrap(),
            "SmolLM2-135M-Instruct.Q8_0.gguf"
        );
        assert!(pick_quant_file(&listing, "Q4_K").is_err());
        assert!(pick_quant_file(&listing, "Q5_K_M").is_err());
        let twice = serde_json::json!([{"path": "a-Q4_0.gguf"}, {"path": "b-Q4_0.gguf"}]);
        assert!(pick_quant_file(&twice, "Q4_0").is_err());
    }
}
