//! `cargo xtask bench`: Hearth against llama.cpp's own `llama-server` and
//! `llama-bench`, built from the llama.cpp that Hearth links.
//!
//! The main thread drives rounds. In each round every server under test is
//! started fresh, warmed up, measured on the same workloads and stopped; the
//! order of the two servers alternates from round to round, and before each
//! timed run the machine must be idle (bounded wait). The report gives medians
//! over rounds and the median of the per-round ratios Hearth / llama-server.
//!
//! Modules: [`llama_tools`] (build and cache the llama.cpp tools), [`server`]
//! (processes, `llama-bench`), [`workloads`] (the HTTP load generator, on
//! [`http`] and [`sse`]), [`machine`] (/proc), [`stats`], [`report`].

mod http;
mod llama_tools;
mod machine;
mod report;
mod server;
mod sse;
mod stats;
mod workloads;

use std::fs;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context, Result, bail};
use serde_json::{Map, Value, json};

use report::{Results, RunInfo, Side};
use server::{EngineBench, LaunchVars, RunningServer};
use workloads::{Metrics, Shape, Target};

/// Default Hearth launch command: engine settings through `HEARTH_ENGINE_*`
/// (the per-sequence context is the total divided by the parallel sequences,
/// as llama-server's `-c` is), authentication off (loopback only).
pub const DEFAULT_HEARTH_CMD: &str = "env HEARTH_AUTH_ENABLED=false HEARTH_ENGINE_THREADS={threads} \
     HEARTH_ENGINE_CONTEXT_TOKENS={ctx_per_seq} HEARTH_ENGINE_PARALLEL={parallel} \
     {target_dir}/release/hearth serve --bind 127.0.0.1:{port} --data-dir {data_dir} --model {model}";

/// Usage text of `cargo xtask bench`.
pub const USAGE: &str = "\
cargo xtask bench [options]
    Build llama.cpp's llama-server and llama-bench from the llama.cpp that
    llama-cpp-sys-2 vendors (cached), then benchmark Hearth against them and
    write the tables to docs/PERFORMANCE.md.

    --rounds N              rounds, servers interleaved (default 6)
    --only llama|hearth     measure one server only (llama: proves the harness)
    --model PATH            GGUF model (default: the SmolLM2 test model)
    --model-name NAME       `model` field of requests (default: file stem)
    --threads N             threads for every server and llama-bench (default 2)
    --ctx N                 total context of each server (default 8192)
    --parallel N            parallel sequences of each server (default 4)
    --hearth-cmd TEMPLATE   Hearth launch command, run through `sh -c`; placeholders
                            {port} {model} {threads} {ctx} {ctx_per_seq} {parallel}
                            {data_dir} {target_dir} (cargo's target directory)
                            (default: env HEARTH_AUTH_ENABLED=false HEARTH_ENGINE_THREADS=…
                            HEARTH_ENGINE_CONTEXT_TOKENS={ctx_per_seq} HEARTH_ENGINE_PARALLEL=…
                            {target_dir}/release/hearth serve --bind … --data-dir … --model {model})
    --hearth-health PATH    readiness path of Hearth (default /readyz)
    --hearth-api-key KEY    bearer key for Hearth (default: $HEARTH_BENCH_API_KEY)
    --hearth-extra JSON     extra request fields for Hearth (default {\"ignore_eos\": true})
    --llama-extra JSON      extra request fields for llama-server (default {\"ignore_eos\": true})
    --idle-threshold F      max fraction of CPU busy to count as idle (default 0.25)
    --idle-wait SECS        longest wait for an idle machine per run (default 120)
    --quick                 small workloads, for a smoke test of the harness
    --output PATH           report file (default docs/PERFORMANCE.md)
    --no-write              print the tables without writing the report
    --build-only            build (or find) the llama tools, check they run, exit
    --rebuild               rebuild the llama tools even if cached";

/// Parsed command-line options.
#[derive(Debug, Clone)]
struct Options {
    rounds: usize,
    only: Option<Side>,
    model: Option<PathBuf>,
    model_name: Option<String>,
    threads: usize,
    ctx: usize,
    parallel: usize,
    hearth_cmd: String,
    hearth_health: String,
    hearth_api_key: Option<String>,
    hearth_extra: Map<String, Value>,
    llama_extra: Map<String, Value>,
    idle_threshold: f64,
    idle_wait: Duration,
    quick: bool,
    output: PathBuf,
    write: bool,
    build_only: bool,
    rebuild: bool,
}

impl Default for Options {
    fn default() -> Self {
        let ignore_eos = match json!({"ignore_eos": true}) {
            Value::Object(m) => m,
            _ => Map::new(),
        };
        Self {
            rounds: 6,
            only: None,
            model: None,
            model_name: None,
            threads: 2,
            ctx: 8192,
            parallel: 4,
            hearth_cmd: DEFAULT_HEARTH_CMD.to_owned(),
            hearth_health: "/readyz".to_owned(),
            hearth_api_key: None,
            hearth_extra: ignore_eos.clone(),
            llama_extra: ignore_eos,
            idle_threshold: 0.25,
            idle_wait: Duration::from_secs(120),
            quick: false,
            output: PathBuf::from("docs/PERFORMANCE.md"),
            write: true,
            build_only: false,
            rebuild: false,
        }
    }
}

/// Parses the arguments after `bench`; `Ok(None)` means help was printed.
fn parse_args(args: &[String], env_key: Option<String>) -> Result<Option<Options>> {
    let mut o = Options {
        hearth_api_key: env_key.filter(|k| !k.is_empty()),
        ..Options::default()
    };
    let mut it = args.iter();
    while let Some(arg) = it.next() {
        let mut value = |name: &str| {
            it.next()
                .cloned()
                .with_context(|| format!("{name} needs a value\n{USAGE}"))
        };
        match arg.as_str() {
            "-h" | "--help" => {
                println!("{USAGE}");
                return Ok(None);
            }
            "--rounds" => o.rounds = number(&value(arg)?, arg)?,
            "--only" => {
                o.only = Some(match value(arg)?.as_str() {
                    "llama" | "llama-server" => Side::Llama,
                    "hearth" => Side::Hearth,
                    other => bail!("--only takes llama or hearth, not {other:?}"),
                })
            }
            "--model" => o.model = Some(PathBuf::from(value(arg)?)),
            "--model-name" => o.model_name = Some(value(arg)?),
            "--threads" => o.threads = number(&value(arg)?, arg)?,
            "--ctx" => o.ctx = number(&value(arg)?, arg)?,
            "--parallel" => o.parallel = number(&value(arg)?, arg)?,
            "--hearth-cmd" => o.hearth_cmd = value(arg)?,
            "--hearth-health" => o.hearth_health = value(arg)?,
            "--hearth-api-key" => o.hearth_api_key = Some(value(arg)?),
            "--hearth-extra" => o.hearth_extra = json_object(&value(arg)?, arg)?,
            "--llama-extra" => o.llama_extra = json_object(&value(arg)?, arg)?,
            "--idle-threshold" => {
                o.idle_threshold = value(arg)?
                    .parse()
                    .with_context(|| format!("{arg} takes a fraction such as 0.25"))?
            }
            "--idle-wait" => o.idle_wait = Duration::from_secs(number(&value(arg)?, arg)? as u64),
            "--quick" => o.quick = true,
            "--output" => o.output = PathBuf::from(value(arg)?),
            "--no-write" => o.write = false,
            "--build-only" => o.build_only = true,
            "--rebuild" => o.rebuild = true,
            other => bail!("unknown argument {other:?} to bench\n{USAGE}"),
        }
    }
    if o.rounds == 0 || o.threads == 0 || o.parallel == 0 || o.ctx == 0 {
        bail!("--rounds, --threads, --parallel and --ctx must be at least 1");
    }
    Ok(Some(o))
}

fn number(s: &str, name: &str) -> Result<usize> {
    s.parse()
        .with_context(|| format!("{name} takes a whole number, not {s:?}"))
}

fn json_object(s: &str, name: &str) -> Result<Map<String, Value>> {
    match serde_json::from_str(s).with_context(|| format!("{name} takes a JSON object"))? {
        Value::Object(m) => Ok(m),
        _ => bail!("{name} takes a JSON object such as {{\"ignore_eos\": true}}"),
    }
}

impl Options {
    fn shape(&self) -> Shape {
        let parallel = self.parallel;
        if self.quick {
            return Shape {
                prompt_words: 180,
                single_tokens: 64,
                single_reps: 1,
                concurrency: vec![1, 4],
                concurrent_tokens: 32,
                conversations: 4,
                turns: 3,
                turn_tokens: 24,
                parallel,
            };
        }
        Shape {
            prompt_words: 180,
            single_tokens: 128,
            single_reps: 3,
            concurrency: vec![1, 2, 4, 8, 16],
            concurrent_tokens: 64,
            conversations: 16,
            turns: 8,
            turn_tokens: 48,
            parallel,
        }
    }

    fn runs(&self, side: Side) -> bool {
        self.only.is_none_or(|s| s == side)
    }
}

/// Runs `cargo xtask bench`.
pub fn run(args: &[String]) -> Result<()> {
    let Some(opts) = parse_args(args, std::env::var("HEARTH_BENCH_API_KEY").ok())? else {
        return Ok(());
    };
    let workspace = workspace_root();
    let meta = llama_tools::cargo_metadata(&workspace)?;
    let tools = if opts.runs(Side::Llama) || opts.build_only {
        Some(llama_tools::ensure(&meta, opts.rebuild)?)
    } else {
        None
    };
    if opts.build_only {
        if let Some(t) = &tools {
            println!("{}", t.describe());
            for (k, v) in &t.info {
                println!("  {k}: {v}");
            }
        }
        return Ok(());
    }
    let model = match &opts.model {
        Some(m) => m.clone(),
        None => crate::fetch_models::models_dir()?.join("smollm2-135m-instruct-q4_1.gguf"),
    };
    if !model.is_file() {
        bail!(
            "model {} not found (run `cargo xtask fetch-test-models`, or pass --model)",
            model.display()
        );
    }
    let model = fs::canonicalize(&model)?;
    let target_dir = meta["target_directory"]
        .as_str()
        .map_or_else(|| workspace.join("target"), PathBuf::from);
    let bench = Bench::new(opts, tools, model, workspace, target_dir)?;
    bench.run_all()
}

/// The workspace root (xtask's parent directory). `cargo run` sets
/// `CARGO_MANIFEST_DIR` for the running binary; it wins over the compile-time
/// value, which names wherever the binary was first built (a shared target
/// directory may hold a binary built from another clone).
fn workspace_root() -> PathBuf {
    let manifest = std::env::var_os("CARGO_MANIFEST_DIR")
        .map_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")), PathBuf::from);
    manifest
        .parent()
        .map_or_else(|| PathBuf::from("."), Path::to_path_buf)
}

/// One benchmark run: options, tools, model and where logs go.
struct Bench {
    opts: Options,
    tools: Option<llama_tools::LlamaTools>,
    model: PathBuf,
    model_name: String,
    shape: Shape,
    /// The workspace root: servers start there, relative report paths resolve there.
    workspace: PathBuf,
    /// Cargo's target directory (the `{target_dir}` placeholder).
    target_dir: PathBuf,
    /// Logs, scratch data directories and raw results.
    work: PathBuf,
    run_id: u64,
    idle: Vec<machine::IdleWait>,
}

impl Bench {
    fn new(
        opts: Options,
        tools: Option<llama_tools::LlamaTools>,
        model: PathBuf,
        workspace: PathBuf,
        target_dir: PathBuf,
    ) -> Result<Self> {
        let model_name = opts.model_name.clone().unwrap_or_else(|| {
            model
                .file_stem()
                .map_or_else(|| "model".into(), |s| s.to_string_lossy().into_owned())
        });
        let work = llama_tools::cache_root()?
            .parent()
            .map_or_else(|| PathBuf::from("."), Path::to_path_buf)
            .join("bench");
        let run_id = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        let shape = opts.shape();
        Ok(Self {
            opts,
            tools,
            model,
            model_name,
            shape,
            workspace,
            target_dir,
            work,
            run_id,
            idle: Vec::new(),
        })
    }

    fn run_all(mut self) -> Result<()> {
        let info = machine::MachineInfo::read();
        println!("machine  {}", info.summary());
        println!("model    {}", self.model.display());
        let mut results = Results::default();
        for round in 1..=self.opts.rounds {
            let mut order = vec![Side::Llama, Side::Hearth];
            if round % 2 == 0 {
                order.reverse();
            }
            order.retain(|s| self.opts.runs(*s));
            for side in order {
                println!("round {round}/{}: {}", self.opts.rounds, side.label());
                let metrics = match self.run_side(side, round) {
                    Ok(m) => Some(m),
                    Err(e) => {
                        println!("         FAILED: {e:#}");
                        None
                    }
                };
                match side {
                    Side::Llama => results.llama.push(metrics),
                    Side::Hearth => results.hearth.push(metrics),
                }
            }
        }
        self.finish(&results, &info)
    }

    /// Starts `side`'s server, runs every workload (idle machine first), stops it.
    fn run_side(&mut self, side: Side, round: usize) -> Result<Metrics> {
        let mut m = Metrics::new();
        if side == Side::Llama {
            self.wait_idle();
            let cfg = self.engine_bench()?;
            server::run_llama_bench(&cfg, &mut m).context("llama-bench")?;
            println!("         llama-bench {}", summary(&m, "engine."));
        }
        let port = server::free_port()?;
        let data_dir = self.work.join(format!("data-{}-r{round}", side_slug(side)));
        let vars = LaunchVars {
            port,
            model: self.model.clone(),
            threads: self.opts.threads,
            ctx: self.opts.ctx,
            parallel: self.opts.parallel,
            data_dir: data_dir.clone(),
            target_dir: self.target_dir.clone(),
        };
        let (argv, health, target) = self.launch(side, &vars)?;
        let log = self
            .work
            .join("logs")
            .join(format!("{}-r{round}.log", side_slug(side)));
        let _ = fs::remove_dir_all(&data_dir);
        fs::create_dir_all(&data_dir)?;
        let server =
            RunningServer::start(side.label(), &argv, &self.workspace, &log, &health, &target)?;
        let result = self.workloads(&target, side, round, &mut m);
        server.stop();
        let _ = fs::remove_dir_all(&data_dir);
        result.with_context(|| format!("server log: {}", log.display()))?;
        Ok(m)
    }

    /// Command line, health path and request target of `side`.
    fn launch(&self, side: Side, vars: &LaunchVars) -> Result<(Vec<String>, String, Target)> {
        let addr = format!("127.0.0.1:{}", vars.port).parse()?;
        let mut target = Target {
            addr,
            api_key: None,
            model: self.model_name.clone(),
            extra: self.opts.llama_extra.clone(),
            timeout: Duration::from_secs(300),
        };
        match side {
            Side::Llama => {
                let tools = self.tools.as_ref().context("llama tools not built")?;
                let argv = server::llama_server_argv(&tools.server, vars);
                Ok((argv, "/health".to_owned(), target))
            }
            Side::Hearth => {
                let cmd = server::expand_template(&self.opts.hearth_cmd, vars)?;
                let program = cmd.split_whitespace().next().unwrap_or_default();
                if program.contains('/') && !self.workspace.join(program).exists() {
                    bail!(
                        "{program} does not exist: build it (`nice -n 19 cargo build --release -p hearth`) \
                         or pass --hearth-cmd"
                    );
                }
                target.api_key = self.opts.hearth_api_key.clone();
                target.extra = self.opts.hearth_extra.clone();
                let argv = vec!["sh".into(), "-c".into(), format!("exec {cmd}")];
                Ok((argv, self.opts.hearth_health.clone(), target))
            }
        }
    }

    fn workloads(
        &mut self,
        target: &Target,
        side: Side,
        round: usize,
        m: &mut Metrics,
    ) -> Result<()> {
        let nonce = format!("{}-r{round}-{}", self.run_id, side_slug(side));
        let shape = self.shape.clone();
        self.wait_idle();
        workloads::single_stream(target, &shape, &nonce, m)?;
        println!("         single stream {}", summary(m, "single."));
        self.wait_idle();
        workloads::concurrency(target, &shape, &nonce, m)?;
        for n in &shape.concurrency {
            let get = |k: &str| m.get(&format!("conc{n}.{k}")).copied().unwrap_or(f64::NAN);
            println!(
                "         {n:>2} at once    aggregate {:.1} tokens/s, TTFT p50 {:.2} s, p95 {:.2} s",
                get("agg_tps"),
                get("ttft_p50_s"),
                get("ttft_p95_s")
            );
        }
        self.wait_idle();
        workloads::multi_turn(target, &shape, &nonce, m)?;
        println!(
            "         multi-turn    ttft p50 {} s, p95 {} s (turns 2+)",
            m.get("multiturn.ttft_p50_s")
                .map_or("?".into(), |v| format!("{v:.2}")),
            m.get("multiturn.ttft_p95_s")
                .map_or("?".into(), |v| format!("{v:.2}")),
        );
        let short: f64 = m
            .iter()
            .filter(|(k, _)| k.ends_with(".short"))
            .map(|(_, v)| v)
            .sum();
        if short > 0.0 {
            println!(
                "         note: {short} requests stopped before max_tokens (pass ignore_eos-like \
                 fields with --{}-extra)",
                side_slug(side)
            );
        }
        Ok(())
    }

    fn engine_bench(&self) -> Result<EngineBench> {
        let tools = self.tools.as_ref().context("llama tools not built")?;
        Ok(EngineBench {
            bin: tools.bench.clone(),
            model: self.model.clone(),
            threads: self.opts.threads,
            prompt: 256,
            generate: 128,
            depth: 256,
            reps: if self.opts.quick { 1 } else { 3 },
        })
    }

    fn wait_idle(&mut self) {
        let w = machine::wait_idle(self.opts.idle_threshold, self.opts.idle_wait);
        self.idle.push(w);
    }

    /// Prints and writes the report, and saves the raw results.
    fn finish(&self, results: &Results, machine: &machine::MachineInfo) -> Result<()> {
        for (side, rounds) in [
            (Side::Llama, &results.llama),
            (Side::Hearth, &results.hearth),
        ] {
            if !rounds.is_empty() && rounds.iter().all(Option::is_none) {
                bail!(
                    "every {} round failed (see above); {} left as it was",
                    side.label(),
                    self.opts.output.display()
                );
            }
        }
        let info = self.run_info(machine);
        let section = report::render(results, &info);
        println!("\n{section}");
        let raw = json!({
            "run_id": self.run_id,
            "info": format!("{info:?}"),
            "llama": results.llama,
            "hearth": results.hearth,
        });
        fs::create_dir_all(&self.work)?;
        let raw_path = self.work.join(format!("results-{}.json", self.run_id));
        fs::write(&raw_path, serde_json::to_string_pretty(&raw)?)?;
        println!("raw results: {}", raw_path.display());
        if self.opts.write {
            let output = self.workspace.join(&self.opts.output);
            report::write_section(&output, &section)?;
            println!("wrote {}", output.display());
        }
        Ok(())
    }

    fn run_info(&self, machine: &machine::MachineInfo) -> RunInfo {
        let busy_runs = self.idle.iter().filter(|w| !w.is_idle).count();
        let busy: Vec<f64> = self.idle.iter().map(|w| w.busy).collect();
        let busy_median = stats::median(&busy).unwrap_or(0.0);
        let waited: f64 = self.idle.iter().map(|w| w.waited.as_secs_f64()).sum();
        let s = &self.shape;
        RunInfo {
            date: llama_tools::now_utc(),
            command: command_line(),
            machine: machine.summary(),
            llama_cpp: self
                .tools
                .as_ref()
                .map_or_else(|| "not built (--only hearth)".to_owned(), |t| t.describe()),
            model: format!("`{}`", self.model_name),
            settings: format!(
                "{} threads, total context {} tokens, {} parallel sequences, temperature 0, \
                 fixed generation length (single {} tokens, simultaneous {}, per turn {}); \
                 llama-server extra request fields {}, Hearth {}",
                self.opts.threads,
                self.opts.ctx,
                self.opts.parallel,
                s.single_tokens,
                s.concurrent_tokens,
                s.turn_tokens,
                Value::Object(self.opts.llama_extra.clone()),
                Value::Object(self.opts.hearth_extra.clone()),
            ),
            noise: format!(
                "{} timed runs, {} started on a busy machine (> {:.0}% CPU after waiting {:.0} s), \
                 median CPU busy by others before a run {:.0}%, {:.0} s spent waiting for idle",
                self.idle.len(),
                busy_runs,
                self.opts.idle_threshold * 100.0,
                self.opts.idle_wait.as_secs_f64(),
                busy_median * 100.0,
                waited
            ),
            threads: self.opts.threads,
            parallel: self.opts.parallel,
            concurrency: s.concurrency.clone(),
            conversations: s.conversations,
            turns: s.turns,
            engine_prompt: 256,
            engine_gen: 128,
            engine_depth: 256,
        }
    }
}

/// This command line as the report records it: paths inside the workspace
/// relative to it, the home directory as `~`, arguments with spaces quoted.
fn command_line() -> String {
    let root = workspace_root();
    let home = std::env::var("HOME").unwrap_or_default();
    portable_command(std::env::args().skip(2), &root.to_string_lossy(), &home)
}

fn portable_command(args: impl Iterator<Item = String>, root: &str, home: &str) -> String {
    let mut parts = vec!["cargo xtask bench".to_owned()];
    for arg in args {
        let mut arg = arg.replace(&format!("{}/", root.trim_end_matches('/')), "");
        if !home.is_empty() {
            arg = arg.replace(home.trim_end_matches('/'), "~");
        }
        if arg.contains(' ') {
            parts.push(format!("'{arg}'"));
        } else {
            parts.push(arg);
        }
    }
    parts.join(" ")
}

fn side_slug(side: Side) -> &'static str {
    match side {
        Side::Llama => "llama",
        Side::Hearth => "hearth",
    }
}

/// `key=value` pairs of the metrics starting with `prefix`, for progress lines.
fn summary(m: &Metrics, prefix: &str) -> String {
    m.iter()
        .filter(|(k, _)| k.starts_with(prefix) && !k.ends_with(".short") && !k.contains(".turn"))
        .map(|(k, v)| format!("{}={v:.2}", k.trim_start_matches(prefix)))
        .collect::<Vec<_>>()
        .join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(s: &str) -> Vec<String> {
        s.split_whitespace().map(str::to_owned).collect()
    }

    #[test]
    fn defaults_and_flags_parse() {
        let o = parse_args(&[], None).unwrap().unwrap();
        assert_eq!((o.rounds, o.threads, o.ctx, o.parallel), (6, 2, 8192, 4));
        assert_eq!(o.llama_extra.get("ignore_eos"), Some(&Value::Bool(true)));
        assert!(o.runs(Side::Llama) && o.runs(Side::Hearth));

        let o = parse_args(
            &args("--only llama --rounds 2 --quick --no-write"),
            Some("k".into()),
        )
        .unwrap()
        .unwrap();
        assert!(o.runs(Side::Llama) && !o.runs(Side::Hearth));
        assert_eq!(o.rounds, 2);
        assert_eq!(o.hearth_api_key.as_deref(), Some("k"));
        assert!(o.quick && !o.write);
        assert_eq!(o.shape().concurrency, vec![1, 4]);

        let o = parse_args(&args("--hearth-extra {}"), None)
            .unwrap()
            .unwrap();
        assert!(o.hearth_extra.is_empty());
    }

    #[test]
    fn the_recorded_command_names_no_machine_paths() {
        let args = [
            "--model",
            "/home/me/.cache/hearth/test-models/g.gguf",
            "--hearth-cmd",
            "/src/hearth/scripts/b.sh --serve {model}",
        ]
        .map(str::to_owned);
        assert_eq!(
            portable_command(args.into_iter(), "/src/hearth", "/home/me"),
            "cargo xtask bench --model ~/.cache/hearth/test-models/g.gguf \
             --hearth-cmd 'scripts/b.sh --serve {model}'"
        );
    }

    #[test]
    fn bad_flags_are_rejected() {
        assert!(parse_args(&args("--rounds"), None).is_err());
        assert!(parse_args(&args("--rounds x"), None).is_err());
        assert!(parse_args(&args("--rounds 0"), None).is_err());
        assert!(parse_args(&args("--only vllm"), None).is_err());
        assert!(parse_args(&args("--llama-extra [1]"), None).is_err());
        assert!(parse_args(&args("--frobnicate"), None).is_err());
    }

    #[test]
    fn default_hearth_command_uses_only_known_placeholders() {
        let vars = LaunchVars {
            port: 1,
            model: "/m".into(),
            threads: 2,
            ctx: 8192,
            parallel: 4,
            data_dir: "/d".into(),
            target_dir: "/t".into(),
        };
        let cmd = server::expand_template(DEFAULT_HEARTH_CMD, &vars).unwrap();
        assert!(cmd.contains("HEARTH_ENGINE_CONTEXT_TOKENS=2048 "), "{cmd}");
        assert!(
            cmd.contains("/t/release/hearth serve --bind 127.0.0.1:1 "),
            "{cmd}"
        );
        assert!(!cmd.contains('{'));
    }
}
