//! Starting and stopping the servers under test, and running `llama-bench`.
//!
//! A server is a child process whose output goes to a log file; it is ready
//! once its health path answers 200 and a tiny chat request succeeds (so the
//! model is loaded and warm). [`RunningServer`] stops it on drop: SIGTERM,
//! then SIGKILL after a grace period, so an error or Ctrl-C in the middle of a
//! round never leaves a server eating the CPU of the next measurement.

use std::fs::{self, File};
use std::net::{SocketAddr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use serde_json::Value;

use super::http;
use super::sse::clip;
use super::workloads::{self, Metrics, Target};

/// Placeholders a Hearth command template may use.
pub const PLACEHOLDERS: &[&str] = &[
    "{port}",
    "{model}",
    "{threads}",
    "{ctx}",
    "{ctx_per_seq}",
    "{parallel}",
    "{data_dir}",
    "{target_dir}",
];

/// Values substituted into a command template.
#[derive(Debug, Clone)]
pub struct LaunchVars {
    pub port: u16,
    pub model: PathBuf,
    pub threads: usize,
    pub ctx: usize,
    pub parallel: usize,
    pub data_dir: PathBuf,
    pub target_dir: PathBuf,
}

/// Replaces the `{…}` placeholders of `template`; an unknown `{word}` is an error
/// so that a typo does not silently launch the wrong command.
pub fn expand_template(template: &str, v: &LaunchVars) -> Result<String> {
    let out = template
        .replace("{port}", &v.port.to_string())
        .replace("{model}", &v.model.display().to_string())
        .replace("{threads}", &v.threads.to_string())
        .replace("{ctx_per_seq}", &(v.ctx / v.parallel.max(1)).to_string())
        .replace("{ctx}", &v.ctx.to_string())
        .replace("{parallel}", &v.parallel.to_string())
        .replace("{data_dir}", &v.data_dir.display().to_string())
        .replace("{target_dir}", &v.target_dir.display().to_string());
    let mut rest = out.as_str();
    while let Some(open) = rest.find('{') {
        rest = &rest[open + 1..];
        if let Some(name) = rest
            .split('}')
            .next()
            .filter(|n| rest.contains('}') && is_word(n))
        {
            bail!(
                "unknown placeholder {{{name}}} in the command template; known: {}",
                PLACEHOLDERS.join(" ")
            );
        }
    }
    Ok(out.trim().to_owned())
}

fn is_word(s: &str) -> bool {
    !s.is_empty() && s.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// A free TCP port on loopback (the listener is closed before the server binds it).
pub fn free_port() -> Result<u16> {
    let listener = TcpListener::bind("127.0.0.1:0").context("cannot bind a loopback port")?;
    Ok(listener.local_addr()?.port())
}

/// A server child process, stopped on drop.
pub struct RunningServer {
    pub name: String,
    child: Child,
    pub addr: SocketAddr,
    pub log: PathBuf,
}

impl RunningServer {
    /// Spawns `argv` with its output in `log`, then waits (bounded) until `health`
    /// answers 200 and a warm-up request through `target` succeeds.
    pub fn start(
        name: &str,
        argv: &[String],
        cwd: &Path,
        log: &Path,
        health: &str,
        target: &Target,
    ) -> Result<Self> {
        let (program, args) = argv.split_first().context("empty server command")?;
        if let Some(dir) = log.parent() {
            fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
        }
        let out = File::create(log).with_context(|| format!("cannot create {}", log.display()))?;
        let child = Command::new(program)
            .args(args)
            .current_dir(cwd)
            .stdin(Stdio::null())
            .stdout(out.try_clone()?)
            .stderr(out)
            .spawn()
            .with_context(|| format!("cannot start {name}: {}", argv.join(" ")))?;
        let mut server = Self {
            name: name.to_owned(),
            child,
            addr: target.addr,
            log: log.to_owned(),
        };
        server.wait_ready(health, target)?;
        Ok(server)
    }

    fn wait_ready(&mut self, health: &str, target: &Target) -> Result<()> {
        let deadline = Instant::now() + Duration::from_secs(180);
        let mut last_err = String::from("no answer yet");
        loop {
            if let Some(status) = self.child.try_wait()? {
                bail!(
                    "{} exited during startup ({status}); see {}:\n{}",
                    self.name,
                    self.log.display(),
                    log_tail(&self.log, 15)
                );
            }
            if Instant::now() > deadline {
                bail!(
                    "{} not ready after 180 s ({last_err}); see {}",
                    self.name,
                    self.log.display()
                );
            }
            match http::get_status(self.addr, health, Duration::from_secs(5)) {
                Ok(200) => match warm_up(target) {
                    Ok(()) => return Ok(()),
                    Err(e) => last_err = format!("warm-up request: {e:#}"),
                },
                Ok(status) => last_err = format!("GET {health} answered {status}"),
                Err(e) => last_err = format!("GET {health}: {e:#}"),
            }
            thread::sleep(Duration::from_millis(250));
        }
    }

    /// SIGTERM, then SIGKILL after 15 s; waits for the process to go away.
    pub fn stop(mut self) {
        self.terminate();
    }

    fn terminate(&mut self) {
        if matches!(self.child.try_wait(), Ok(Some(_))) {
            return;
        }
        // std offers only SIGKILL; ask politely first through kill(1).
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        let deadline = Instant::now() + Duration::from_secs(15);
        while Instant::now() < deadline {
            if matches!(self.child.try_wait(), Ok(Some(_))) {
                return;
            }
            thread::sleep(Duration::from_millis(100));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for RunningServer {
    fn drop(&mut self) {
        self.terminate();
    }
}

/// One short request, retried by the caller until the model answers.
fn warm_up(target: &Target) -> Result<()> {
    let messages = workloads::prompt_messages("warm-up", 8, 0);
    workloads::chat(target, &messages, 4).map(|_| ())
}

/// The last `n` lines of a log file, indented.
pub fn log_tail(path: &Path, n: usize) -> String {
    let text = fs::read_to_string(path).unwrap_or_default();
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(n)..]
        .iter()
        .map(|l| format!("    {}", clip(l, 300)))
        .collect::<Vec<_>>()
        .join("\n")
}

/// The `llama-server` command line for the benchmark settings.
pub fn llama_server_argv(bin: &Path, v: &LaunchVars) -> Vec<String> {
    [
        bin.display().to_string(),
        "-m".into(),
        v.model.display().to_string(),
        "-t".into(),
        v.threads.to_string(),
        "-c".into(),
        v.ctx.to_string(),
        "-np".into(),
        v.parallel.to_string(),
        "--host".into(),
        "127.0.0.1".into(),
        "--port".into(),
        v.port.to_string(),
        "--no-webui".into(),
    ]
    .into()
}

/// Settings of one `llama-bench` run.
#[derive(Debug, Clone)]
pub struct EngineBench {
    pub bin: PathBuf,
    pub model: PathBuf,
    pub threads: usize,
    pub prompt: u32,
    pub generate: u32,
    pub depth: u32,
    pub reps: u32,
}

/// Runs `llama-bench` (pp and tg at depth 0 and `depth`) and records
/// `engine.pp{P}@d{D}` and `engine.tg{N}@d{D}` in tokens/s.
pub fn run_llama_bench(cfg: &EngineBench, m: &mut Metrics) -> Result<()> {
    let output = Command::new(&cfg.bin)
        .args(["-m", &cfg.model.display().to_string()])
        .args(["-t", &cfg.threads.to_string()])
        .args(["-p", &cfg.prompt.to_string()])
        .args(["-n", &cfg.generate.to_string()])
        .args(["-d", &format!("0,{}", cfg.depth)])
        .args(["-r", &cfg.reps.to_string()])
        .args(["-o", "json"])
        .stdin(Stdio::null())
        .output()
        .with_context(|| format!("cannot run {}", cfg.bin.display()))?;
    if !output.status.success() {
        bail!(
            "llama-bench failed ({}):\n{}",
            output.status,
            clip(&String::from_utf8_lossy(&output.stderr), 2000)
        );
    }
    parse_llama_bench(&String::from_utf8_lossy(&output.stdout), m)
}

/// Reads `llama-bench -o json` output into metrics.
pub fn parse_llama_bench(json: &str, m: &mut Metrics) -> Result<()> {
    let rows: Value =
        serde_json::from_str(json.trim()).context("llama-bench output is not JSON")?;
    let rows = rows
        .as_array()
        .context("llama-bench output is not a JSON array")?;
    for row in rows {
        let field = |k: &str| row.get(k).and_then(Value::as_u64).unwrap_or(0);
        let (p, n, d) = (field("n_prompt"), field("n_gen"), field("n_depth"));
        let ts = row
            .get("avg_ts")
            .and_then(Value::as_f64)
            .context("llama-bench row without avg_ts")?;
        let key = match (p, n) {
            (p, 0) if p > 0 => format!("engine.pp{p}@d{d}"),
            (0, n) if n > 0 => format!("engine.tg{n}@d{d}"),
            _ => format!("engine.pp{p}+tg{n}@d{d}"),
        };
        m.insert(key, ts);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vars() -> LaunchVars {
        LaunchVars {
            port: 8123,
            model: "/m/x.gguf".into(),
            threads: 2,
            ctx: 8192,
            parallel: 4,
            data_dir: "/tmp/d".into(),
            target_dir: "/t".into(),
        }
    }

    #[test]
    fn templates_expand_and_reject_unknown_placeholders() {
        let s = expand_template(
            "hearth serve --bind 127.0.0.1:{port} --model {model} -t {threads} -c {ctx} -np {parallel} --data-dir {data_dir}",
            &vars(),
        )
        .unwrap();
        assert_eq!(
            s,
            "hearth serve --bind 127.0.0.1:8123 --model /m/x.gguf -t 2 -c 8192 -np 4 --data-dir /tmp/d"
        );
        assert!(expand_template("x {prot}", &vars()).is_err());
        // JSON in a template is not a placeholder.
        assert!(expand_template(r#"x --extra '{"a": 1}'"#, &vars()).is_ok());
    }

    #[test]
    fn llama_bench_json_is_read() {
        let json = r#"[
          {"n_prompt": 256, "n_gen": 0, "n_depth": 0, "avg_ts": 134.5},
          {"n_prompt": 0, "n_gen": 128, "n_depth": 0, "avg_ts": 62.0},
          {"n_prompt": 0, "n_gen": 128, "n_depth": 256, "avg_ts": 55.5}
        ]"#;
        let mut m = Metrics::new();
        parse_llama_bench(json, &mut m).unwrap();
        assert_eq!(m["engine.pp256@d0"], 134.5);
        assert_eq!(m["engine.tg128@d0"], 62.0);
        assert_eq!(m["engine.tg128@d256"], 55.5);
        assert!(parse_llama_bench("nope", &mut m).is_err());
    }

    #[test]
    fn llama_server_flags() {
        let argv = llama_server_argv(Path::new("/b/llama-server"), &vars());
        let s = argv.join(" ");
        assert!(s.contains("-t 2 -c 8192 -np 4"), "{s}");
        assert!(s.contains("--port 8123"));
    }
}
