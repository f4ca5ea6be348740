//! `hearth pull|import|export|list|show|ps|rm|cp|create|gc`: the model registry on the
//! data directory, with or without a running server (a running server picks up
//! changes within seconds). Output follows `ollama`: aligned tables, a progress
//! bar on a terminal.

use std::io::{IsTerminal, Write};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;
use hearth_core::config::Config;
use hearth_core::jobs::{JobId, JobState};
use hearth_core::registry::pull::{PullProgress, PullRequest};
use hearth_core::registry::{ImportFile, Preset, Registry, RegistryModel, RegistryOptions};
use hearth_core::store::Store;
use hearth_engine::GgufInspector;

use super::accounts::run;
use crate::cli::{
    CpArgs, CreateArgs, ExportArgs, ImportArgs, PullArgs, QuantizeArgs, QuantizeFileArgs, RmArgs,
    ShowArgs,
};

/// Where the registry of `config` lives and how large it may grow.
pub fn registry_options(config: &Config) -> RegistryOptions {
    RegistryOptions {
        dir: config.data_dir().join("registry"),
        quota_bytes: (config.models.quota_mb > 0).then(|| config.models.quota_mb * 1024 * 1024),
    }
}

/// The registry over `store`, reading headers with the engine's GGUF reader and
/// pulling with the providers' HTTP client.
pub fn registry(config: &Config, store: Arc<dyn Store>) -> anyhow::Result<Registry> {
    let fetcher = hearth_providers::fetch::HttpFetcher::new().map_err(anyhow::Error::msg)?;
    Ok(
        Registry::new(store, &registry_options(config), Arc::new(GgufInspector))
            .with_fetcher(Arc::new(fetcher))
            .with_quantizer(Arc::new(ChildQuantizer {
                threads: config.engine.threads,
            }))
            .with_converter(Arc::new(CheckpointConverter)),
    )
}

/// Converts BERT-family sentence-transformers checkpoints with `hearth-convert`
/// (F16, the converter's default) for `hearth import DIR`.
struct CheckpointConverter;

impl hearth_core::registry::ConvertHook for CheckpointConverter {
    fn convert(&self, checkpoint: &std::path::Path, out: &std::path::Path) -> Result<(), String> {
        let options = hearth_convert::ConvertOptions {
            ty: hearth_convert::ConvertType::F16,
            overwrite: true,
            name: None,
        };
        hearth_convert::convert(checkpoint, out, &options)
            .map(drop)
            .map_err(|e| e.to_string())
    }
}

/// Whether `path` is a checkpoint folder to convert (not a GGUF file or bundle).
fn is_checkpoint(path: &std::path::Path) -> bool {
    path.is_dir() && path.join("config.json").is_file()
}

/// Quantizes in a child process of this binary (`hearth quantize-file`), so a
/// native crash in llama.cpp fails the job, not the caller.
struct ChildQuantizer {
    threads: u32,
}

impl hearth_core::registry::quantize::QuantizeHook for ChildQuantizer {
    fn types(&self) -> Vec<String> {
        hearth_engine::model::quantize::TYPES
            .iter()
            .map(|t| (*t).to_owned())
            .collect()
    }

    fn quantize(
        &self,
        input: &std::path::Path,
        output: &std::path::Path,
        file_type: &str,
    ) -> Result<(), String> {
        let program =
            std::env::current_exe().map_err(|e| format!("cannot find this executable: {e}"))?;
        let out = std::process::Command::new(program)
            .arg("quantize-file")
            .arg("--input")
            .arg(input)
            .arg("--output")
            .arg(output)
            .args(["--type", file_type, "--threads", &self.threads.to_string()])
            .stdin(std::process::Stdio::null())
            .output()
            .map_err(|e| format!("cannot start the quantizer: {e}"))?;
        if out.status.success() {
            return Ok(());
        }
        let stderr = String::from_utf8_lossy(&out.stderr);
        let tail: Vec<&str> = stderr.lines().rev().take(3).collect();
        let tail: Vec<&str> = tail.into_iter().rev().collect();
        Err(format!("{} ({})", tail.join(" / "), out.status))
    }
}

/// `hearth quantize-file` (hidden): the child side of [`ChildQuantizer`].
pub fn quantize_file(args: QuantizeFileArgs) -> ExitCode {
    match hearth_engine::model::quantize::quantize(
        &args.input,
        &args.output,
        &args.file_type,
        args.threads,
    ) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("hearth quantize-file: {err}");
            ExitCode::FAILURE
        }
    }
}

/// `hearth quantize MODEL --type TYPE`
pub fn quantize(args: QuantizeArgs) -> ExitCode {
    run(&args.config, |config| async move {
        let (store, registry) = open(&config).await?;
        let job = registry
            .start_quantize(&args.model, &args.file_type, args.name.as_deref())
            .await?;
        eprintln!(
            "quantizing {} to {} (job {})",
            args.model,
            args.file_type.to_uppercase(),
            job.id
        );
        let outcome = loop {
            let job = store.jobs().get(&job.id).await?;
            match job.state {
                JobState::Succeeded => {
                    let name = job
                        .result
                        .as_ref()
                        .and_then(|r| r.get("name"))
                        .and_then(|n| n.as_str())
                        .unwrap_or_default()
                        .to_owned();
                    println!("created {name}");
                    break Ok(());
                }
                JobState::Failed | JobState::Cancelled => {
                    break Err(anyhow::anyhow!(
                        job.error
                            .unwrap_or_else(|| "quantization failed".to_owned())
                    ));
                }
                _ => tokio::time::sleep(Duration::from_millis(200)).await,
            }
        };
        store.close().await;
        outcome
    })
}

/// The registry of a server: its models published to the engine's table (and
/// kept in step every few seconds with changes made by the CLI or another
/// replica), pulls left by the last stop resumed.
pub async fn serve_registry(
    config: &Config,
    store: &Arc<dyn Store>,
    models: &super::engine::Models,
) -> anyhow::Result<Arc<Registry>> {
    let registry = Arc::new(registry(config, store.clone())?);
    registry.set_serving(models.files.clone(), models.loaded.clone());
    let count = registry.refresh().await?;
    tracing::info!(models = count, "registry models served");
    let resumed = registry.resume_pulls().await?;
    if resumed > 0 {
        tracing::info!(resumed, "pulls interrupted by the last stop resumed");
    }
    let sync = registry.clone();
    tokio::spawn(async move {
        let mut every = tokio::time::interval(Duration::from_secs(5));
        every.tick().await;
        loop {
            every.tick().await;
            if let Err(err) = sync.refresh().await {
                tracing::warn!(%err, "cannot refresh the registry's models");
            }
        }
    });
    Ok(registry)
}

async fn open(config: &Config) -> anyhow::Result<(Arc<dyn Store>, Arc<Registry>)> {
    let (store, _) = super::accounts::open(config).await?;
    let registry = Arc::new(registry(config, store.clone())?);
    Ok((store, registry))
}

/// `hearth pull SOURCE`
pub fn pull(args: PullArgs) -> ExitCode {
    run(&args.config, |config| async move {
        let (store, registry) = open(&config).await?;
        let job = registry
            .start_pull(PullRequest {
                source: args.source.clone(),
                name: args.name.clone(),
                digest: args.digest.clone(),
            })
            .await?;
        let outcome = follow(&registry, &store, &job.id).await;
        store.close().await;
        outcome
    })
}

/// Draw a pull's progress until it ends; an error when it failed.
async fn follow(registry: &Registry, store: &Arc<dyn Store>, id: &JobId) -> anyhow::Result<()> {
    let mut bar = Bar::new(std::io::stderr().is_terminal());
    if let Some(mut rx) = registry.subscribe(id) {
        loop {
            let progress = rx.borrow_and_update().clone();
            bar.draw(&progress);
            if progress.is_final() || rx.changed().await.is_err() {
                break;
            }
        }
    }
    loop {
        let job = store.jobs().get(id).await?;
        match job.state {
            JobState::Succeeded => {
                bar.draw(&PullProgress::of_job(&job));
                bar.end();
                return Ok(());
            }
            JobState::Failed | JobState::Cancelled => {
                bar.end();
                anyhow::bail!(job.error.unwrap_or_else(|| "the pull failed".to_owned()));
            }
            _ => tokio::time::sleep(Duration::from_millis(50)).await,
        }
    }
}

/// Ollama-like progress lines: one per step, a bar while downloading.
struct Bar {
    tty: bool,
    status: String,
    drawn_at: Option<Instant>,
    started: Instant,
    started_bytes: u64,
    /// Tenths of the download reported (logs).
    tenth: u64,
    /// The last state seen.
    last: Option<PullProgress>,
}

impl Bar {
    fn new(tty: bool) -> Bar {
        Bar {
            tty,
            status: String::new(),
            drawn_at: None,
            started: Instant::now(),
            started_bytes: 0,
            tenth: 0,
            last: None,
        }
    }

    fn label(progress: &PullProgress) -> String {
        match (&progress.digest, progress.status.as_str()) {
            (Some(digest), "downloading") => {
                let hex = digest.trim_start_matches("sha256:");
                format!("pulling {}", &hex[..hex.len().min(12)])
            }
            (None, "downloading") => "pulling".to_owned(),
            (_, status) => status.to_owned(),
        }
    }

    /// The text of one progress state.
    fn line(&self, label: &str, progress: &PullProgress) -> String {
        match progress.total {
            Some(total) if progress.status == "downloading" && total > 0 => {
                let done = progress.completed.min(total);
                let width = 25usize;
                let filled = (done as u128 * width as u128 / total as u128) as usize;
                let secs = self.started.elapsed().as_secs_f64();
                let rate = if secs > 0.5 {
                    let bytes = done - self.started_bytes.min(done);
                    format!("  {}/s", human_bytes((bytes as f64 / secs) as u64))
                } else {
                    String::new()
                };
                format!(
                    "{label} {:>3}% ▕{}{}▏ {}/{}{rate}",
                    done * 100 / total,
                    "█".repeat(filled),
                    " ".repeat(width - filled),
                    human_bytes(done),
                    human_bytes(total),
                )
            }
            _ if progress.status == "downloading" => {
                format!("{label} {}", human_bytes(progress.completed))
            }
            _ => label.to_owned(),
        }
    }

    fn draw(&mut self, progress: &PullProgress) {
        if progress.status == "failed" {
            return;
        }
        let label = Bar::label(progress);
        let mut err = std::io::stderr().lock();
        if label != self.status {
            if self.tty && !self.status.is_empty() {
                // A download that moved on is complete: show it whole, not the
                // last throttled frame.
                if let Some(mut last) = self.last.take()
                    && last.status == "downloading"
                    && progress.status != "failed"
                {
                    last.completed = last.total.unwrap_or(last.completed);
                    let _ = write!(err, "\r\x1b[K{}", self.line(&self.status, &last));
                }
                let _ = writeln!(err);
            }
            self.status = label.clone();
            self.started = Instant::now();
            self.started_bytes = progress.completed;
        } else if self.tty {
            if self
                .drawn_at
                .is_some_and(|t| t.elapsed() < Duration::from_millis(100))
            {
                self.last = Some(progress.clone());
                return;
            }
        } else {
            // Not a terminal (a log): a line per tenth of the download.
            let tenth = match progress.total {
                Some(total) if total > 0 => progress.completed.min(total) * 10 / total,
                _ => return,
            };
            if tenth == self.tenth {
                return;
            }
            self.tenth = tenth;
        }
        self.drawn_at = Some(Instant::now());
        self.last = Some(progress.clone());
        let line = self.line(&label, progress);
        if self.tty {
            let _ = write!(err, "\r\x1b[K{line}");
        } else {
            let _ = writeln!(err, "{line}");
        }
        let _ = err.flush();
    }

    fn end(&mut self) {
        if self.tty && !self.status.is_empty() {
            eprintln!();
        }
    }
}

/// `hearth import FILE [NAME]`
pub fn import(args: ImportArgs) -> ExitCode {
    run(&args.config, |config| async move {
        let (store, registry) = open(&config).await?;
        if hearth_core::registry::bundle::is_bundle(&args.file) {
            anyhow::ensure!(
                args.name.is_none(),
                "a bundle carries its own names; import it without NAME and use `hearth cp` to rename"
            );
            let models = registry
                .import_bundle(&args.file)
                .await
                .with_context(|| format!("cannot import the bundle {}", args.file.display()))?;
            for model in models {
                println!(
                    "imported {} ({}, {})",
                    model.name,
                    short_id(&model.digest),
                    human_bytes(model.size_bytes)
                );
            }
            store.close().await;
            return Ok(());
        }
        let model = if is_checkpoint(&args.file) {
            // A sentence-transformers checkpoint: converted to GGUF (F16) first.
            let name = match &args.name {
                Some(name) => name.clone(),
                None => args
                    .file
                    .file_name()
                    .map(|n| n.to_string_lossy().to_lowercase())
                    .context("name the model: hearth import DIR NAME")?,
            };
            registry
                .import_converted(&args.file, &name)
                .await
                .with_context(|| format!("cannot convert and import {}", args.file.display()))?
        } else {
            registry
                .import_file(ImportFile {
                    path: args.file.clone(),
                    name: args.name.clone(),
                    link: args.link,
                })
                .await
                .with_context(|| format!("cannot import {}", args.file.display()))?
        };
        println!(
            "imported {} ({}, {})",
            model.name,
            short_id(&model.digest),
            human_bytes(model.size_bytes)
        );
        store.close().await;
        Ok(())
    })
}

/// `hearth export NAME FILE`
pub fn export(args: ExportArgs) -> ExitCode {
    run(&args.config, |config| async move {
        let (store, registry) = open(&config).await?;
        let manifest = registry
            .export(std::slice::from_ref(&args.name), &args.file)
            .await?;
        let bytes: u64 = manifest.blobs.iter().map(|b| b.size_bytes).sum();
        println!(
            "exported {} to {} ({})",
            args.name,
            args.file.display(),
            human_bytes(bytes)
        );
        store.close().await;
        Ok(())
    })
}

/// `hearth list`
pub fn list(config: crate::cli::ConfigArgs) -> ExitCode {
    run(&config, |config| async move {
        let (store, registry) = open(&config).await?;
        let now = hearth_core::jobs::now_ms();
        let mut rows = vec![vec![
            "NAME".to_owned(),
            "ID".to_owned(),
            "SIZE".to_owned(),
            "MODIFIED".to_owned(),
        ]];
        for model in registry.list().await? {
            rows.push(vec![
                model.name.clone(),
                short_id(&model.digest),
                human_bytes(model.size_bytes),
                ago(now - model.updated_at_ms),
            ]);
        }
        print!("{}", table(&rows));
        store.close().await;
        Ok(())
    })
}

/// `hearth show NAME`
pub fn show(args: ShowArgs) -> ExitCode {
    run(&args.config, |config| async move {
        let (store, registry) = open(&config).await?;
        let model = registry.get(&args.name).await?;
        if args.json {
            println!("{}", serde_json::to_string_pretty(&model)?);
        } else if args.template {
            println!(
                "{}",
                model.info.chat_template.as_deref().unwrap_or_default()
            );
        } else {
            print!("{}", describe(&model));
        }
        store.close().await;
        Ok(())
    })
}

/// The `show` text: sections of aligned key/value pairs.
fn describe(model: &RegistryModel) -> String {
    let info = &model.info;
    let caps = &info.capabilities;
    let opt = |v: Option<String>| v.unwrap_or_else(|| "-".to_owned());
    let mut out = String::new();
    let mut section = |title: &str, pairs: Vec<(&str, String)>| {
        if pairs.is_empty() {
            return;
        }
        out.push_str(&format!("  {title}\n"));
        let width = pairs.iter().map(|(k, _)| k.len()).max().unwrap_or(0);
        for (key, value) in pairs {
            if key.is_empty() {
                out.push_str(&format!("    {value}\n"));
            } else {
                out.push_str(&format!("    {key:<width$}    {value}\n"));
            }
        }
        out.push('\n');
    };
    section(
        "Model",
        vec![
            ("name", model.name.clone()),
            ("architecture", info.architecture.clone()),
            ("parameters", opt(info.parameter_count.map(parameters))),
            (
                "context length",
                opt(info.context_length.map(|n| n.to_string())),
            ),
            (
                "embedding length",
                opt(info.embedding_length.map(|n| n.to_string())),
            ),
            ("quantization", opt(info.quantization.clone())),
            ("size", human_bytes(model.size_bytes)),
        ],
    );
    section(
        "Capabilities",
        [
            (caps.chat, "chat"),
            (caps.completion, "completion"),
            (caps.embedding, "embedding"),
            (caps.tools, "tools"),
            (caps.insert, "insert"),
        ]
        .into_iter()
        .filter(|(has, _)| *has)
        .map(|(_, name)| ("", name.to_owned()))
        .collect(),
    );
    let source = &model.source;
    section(
        "Source",
        [
            ("kind", Some(source.kind.clone())),
            ("digest", Some(model.digest.clone())),
            ("url", source.url.clone()),
            ("hf repo", source.hf_repo.clone()),
            ("hf revision", source.hf_revision.clone()),
            ("file", source.file.clone()),
            ("from", source.parent.clone()),
            ("license", Some(opt(source.license.clone()))),
        ]
        .into_iter()
        .filter_map(|(k, v)| v.map(|v| (k, v)))
        .collect(),
    );
    if let Some(preset) = &model.preset {
        section(
            "Parameters",
            preset
                .parameters
                .iter()
                .map(|(k, v)| (k.as_str(), v.to_string()))
                .collect(),
        );
        if let Some(system) = &preset.system {
            section("System", vec![("", system.clone())]);
        }
    }
    out
}

/// `hearth ps`: asks the running server (`server.bind`) what is loaded.
pub fn ps(config: crate::cli::ConfigArgs) -> ExitCode {
    run(&config, |config| async move {
        let loaded = server_ps(&config).await?;
        let mut rows = vec![vec![
            "NAME".to_owned(),
            "ID".to_owned(),
            "SIZE".to_owned(),
            "UNTIL".to_owned(),
        ]];
        for model in loaded {
            let field = |k: &str| {
                model
                    .get(k)
                    .and_then(|v| v.as_str())
                    .unwrap_or_default()
                    .to_owned()
            };
            let size = model.get("size").and_then(|v| v.as_u64()).unwrap_or(0);
            rows.push(vec![
                field("name"),
                short_id(&field("digest")),
                if size > 0 {
                    human_bytes(size)
                } else {
                    "-".to_owned()
                },
                match field("expires_at") {
                    e if e.is_empty() => "-".to_owned(),
                    e => e,
                },
            ]);
        }
        print!("{}", table(&rows));
        Ok(())
    })
}

/// The running server's `/api/ps` models (with `HEARTH_API_KEY` when set).
async fn server_ps(config: &Config) -> anyhow::Result<Vec<serde_json::Value>> {
    let mut addr = config.server.bind;
    if addr.ip().is_unspecified() {
        addr.set_ip(std::net::Ipv4Addr::LOCALHOST.into());
    }
    let client = hearth_providers::client()
        .connect_timeout(Duration::from_secs(2))
        .build()?;
    let mut request = client.get(format!("http://{addr}/api/ps"));
    if let Ok(key) = std::env::var("HEARTH_API_KEY") {
        request = request.bearer_auth(key);
    }
    let response = request.send().await.with_context(|| {
        format!("no server answers on {addr} (server.bind); is `hearth serve` running?")
    })?;
    anyhow::ensure!(
        response.status().is_success(),
        "the server answered {} (set HEARTH_API_KEY to a key with the models:read scope)",
        response.status()
    );
    let body: serde_json::Value = response.json().await?;
    Ok(body
        .get("models")
        .and_then(|m| m.as_array())
        .cloned()
        .unwrap_or_default())
}

/// `hearth rm NAME…`
pub fn rm(args: RmArgs) -> ExitCode {
    run(&args.config, |config| async move {
        let (store, registry) = open(&config).await?;
        // A running server knows what is loaded; ask it (best effort).
        let loaded: Vec<String> = if args.force {
            Vec::new()
        } else {
            server_ps(&config)
                .await
                .unwrap_or_default()
                .iter()
                .filter_map(|m| m.get("name").and_then(|n| n.as_str()).map(str::to_owned))
                .collect()
        };
        for name in &args.names {
            let model = registry.get(name).await?;
            let reference = hearth_core::registry::ModelRef::parse(&model.name)?;
            if loaded
                .iter()
                .any(|l| l == &model.name || l == &reference.served())
            {
                anyhow::bail!(
                    "model '{}' is loaded by the running server; try again once it is unloaded, or use --force",
                    model.name
                );
            }
            registry.remove(name, args.force).await?;
            println!("deleted '{}'", model.name);
        }
        store.close().await;
        Ok(())
    })
}

/// `hearth cp SOURCE DESTINATION`
pub fn cp(args: CpArgs) -> ExitCode {
    run(&args.config, |config| async move {
        let (store, registry) = open(&config).await?;
        let model = registry.copy(&args.source, &args.destination).await?;
        println!("copied '{}' to '{}'", args.source, model.name);
        store.close().await;
        Ok(())
    })
}

/// `hearth create NAME --from MODEL [--system …] [--parameter k=v]…`: a preset.
pub fn create(args: CreateArgs) -> ExitCode {
    run(&args.config, |config| async move {
        let mut parameters = serde_json::Map::new();
        for pair in &args.parameters {
            let (key, value) = pair
                .split_once('=')
                .ok_or_else(|| anyhow::anyhow!("--parameter wants KEY=VALUE, got '{pair}'"))?;
            let value = serde_json::from_str(value)
                .unwrap_or_else(|_| serde_json::Value::String(value.to_owned()));
            parameters.insert(key.trim().to_owned(), value);
        }
        let template = match &args.template_file {
            Some(path) => Some(
                std::fs::read_to_string(path)
                    .with_context(|| format!("cannot read {}", path.display()))?,
            ),
            None => None,
        };
        let (store, registry) = open(&config).await?;
        let model = registry
            .create_preset(
                &args.name,
                &args.from,
                Preset {
                    system: args.system.clone(),
                    template,
                    parameters,
                },
            )
            .await?;
        println!("created '{}' from '{}'", model.name, args.from);
        store.close().await;
        Ok(())
    })
}

/// `hearth gc`
pub fn gc(config: crate::cli::ConfigArgs) -> ExitCode {
    run(&config, |config| async move {
        let (store, registry) = open(&config).await?;
        let report = registry.gc().await?;
        println!(
            "removed {} unreferenced blob(s), {} freed",
            report.blobs,
            human_bytes(report.bytes)
        );
        store.close().await;
        Ok(())
    })
}

/// Columns left-aligned, three spaces apart (like `ollama list`).
pub fn table(rows: &[Vec<String>]) -> String {
    let columns = rows.iter().map(Vec::len).max().unwrap_or(0);
    let widths: Vec<usize> = (0..columns)
        .map(|c| {
            rows.iter()
                .filter_map(|r| r.get(c))
                .map(|cell| cell.chars().count())
                .max()
                .unwrap_or(0)
        })
        .collect();
    let mut out = String::new();
    for row in rows {
        let mut line = String::new();
        for (c, cell) in row.iter().enumerate() {
            line.push_str(cell);
            if c + 1 < row.len() {
                line.push_str(&" ".repeat(widths[c] - cell.chars().count() + 3));
            }
        }
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}

/// The first 12 hex digits of a digest (Ollama's model id).
fn short_id(digest: &str) -> String {
    let hex = digest.trim_start_matches("sha256:");
    hex.chars().take(12).collect()
}

/// `98 MB`, `1.3 GB` (decimal units, like Ollama).
pub fn human_bytes(n: u64) -> String {
    const UNITS: [(&str, f64); 4] = [("TB", 1e12), ("GB", 1e9), ("MB", 1e6), ("KB", 1e3)];
    for (unit, size) in UNITS {
        let value = n as f64 / size;
        if value >= 1.0 {
            return if value >= 10.0 {
                format!("{value:.0} {unit}")
            } else {
                format!("{value:.1} {unit}")
            };
        }
    }
    format!("{n} B")
}

/// `134.5M`, `1.2B`.
fn parameters(n: u64) -> String {
    if n >= 1_000_000_000 {
        format!("{:.1}B", n as f64 / 1e9)
    } else {
        format!("{:.1}M", n as f64 / 1e6)
    }
}

/// `5 minutes ago`.
fn ago(ms: i64) -> String {
    let secs = (ms / 1000).max(0);
    let (n, unit) = match secs {
        0..60 => return "just now".to_owned(),
        60..3600 => (secs / 60, "minute"),
        3600..86_400 => (secs / 3600, "hour"),
        86_400..2_592_000 => (secs / 86_400, "day"),
        2_592_000..31_536_000 => (secs / 2_592_000, "month"),
        _ => (secs / 31_536_000, "year"),
    };
    format!("{n} {unit}{} ago", if n == 1 { "" } else { "s" })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tables_align_columns() {
        let rows = vec![
            vec!["NAME".into(), "ID".into(), "SIZE".into()],
            vec!["smollm2:latest".into(), "abc".into(), "98 MB".into()],
        ];
        assert_eq!(
            table(&rows),
            "NAME             ID    SIZE\nsmollm2:latest   abc   98 MB\n"
        );
    }

    #[test]
    fn sizes_and_ages_read_like_ollama() {
        assert_eq!(human_bytes(98_000_000), "98 MB");
        assert_eq!(human_bytes(1_300_000_000), "1.3 GB");
        assert_eq!(human_bytes(512), "512 B");
        assert_eq!(ago(30_000), "just now");
        assert_eq!(ago(120_000), "2 minutes ago");
        assert_eq!(ago(3_600_000), "1 hour ago");
        assert_eq!(parameters(134_515_008), "134.5M");
    }
}
