//! Starting and stopping the real `hearth serve` binary in tests.
#![allow(dead_code)]

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

pub const BIN: &str = env!("CARGO_BIN_EXE_hearth");

/// A server that listens: the process, its `host:port`, and its log lines so far
/// (kept draining, so the server never blocks on a full pipe).
pub struct Running {
    pub child: Child,
    pub addr: String,
    pub log: Arc<Mutex<Vec<String>>>,
}

/// Start `hearth serve` on `data_dir` (JSON log, auth off, one thread, a
/// 512-token context; `env` adds or overrides variables) and wait until it
/// listens.
pub fn serve(data_dir: &Path, env: &[(&str, &str)]) -> Running {
    let mut child = Command::new(BIN)
        .args(["serve", "--bind", "127.0.0.1:0", "--log-format", "json"])
        .arg("--data-dir")
        .arg(data_dir)
        .env_remove("HEARTH_CONFIG")
        .env("HEARTH_AUTH_ENABLED", "false")
        .env("HEARTH_ENGINE_CONTEXT_TOKENS", "512")
        .env("HEARTH_ENGINE_THREADS", "1")
        .envs(env.iter().copied())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
    let mut seen = Vec::new();
    let addr = loop {
        let Some(Ok(line)) = lines.next() else {
            panic!("server exited before listening:\n{}", seen.join("\n"));
        };
        let event: serde_json::Value = serde_json::from_str(&line).unwrap_or_default();
        seen.push(line);
        if let Some(addr) = event["fields"]["addr"].as_str() {
            break addr.to_owned();
        }
    };
    let log = Arc::new(Mutex::new(seen));
    let sink = log.clone();
    std::thread::spawn(move || {
        for line in lines.map_while(Result::ok) {
            sink.lock().unwrap().push(line);
        }
    });
    Running { child, addr, log }
}

/// SIGTERM, up to 10 s to exit, then SIGKILL.
pub fn stop(child: &mut Child) {
    let _ = Command::new("kill")
        .args(["-s", "TERM", &child.id().to_string()])
        .status();
    let begin = Instant::now();
    while begin.elapsed() < Duration::from_secs(10) {
        if let Ok(Some(_)) = child.try_wait() {
            return;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let _ = child.kill();
    let _ = child.wait();
}
