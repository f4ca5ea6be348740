//! The supervisor's stop path against a runner that hangs: a stand-in runner
//! (a Python script speaking the protocol's hello) that ignores SIGTERM and
//! the socket closing, as native code stuck in a kernel would. Shutdown must
//! SIGKILL it after the grace period instead of waiting forever.

mod common;

use std::sync::Arc;
use std::time::{Duration, Instant};

use hearth_core::models::ModelCatalog;
use hearth_engine::{ModelFiles, RunnerCommand, Supervisor};

/// Says hello like `hearth runner`, then ignores everything.
const STUBBORN_RUNNER: &str = r#"
import json, os, signal, socket, struct, sys, time
signal.signal(signal.SIGTERM, signal.SIG_IGN)
args = sys.argv[1:]
path = args[args.index("--socket") + 1]
name = args[args.index("--model-name") + 1]
s = socket.socket(socket.AF_UNIX)
s.connect(path)
body = json.dumps({"type": "hello", "version": 1, "model": name, "pid": os.getpid()}).encode()
s.sendall(struct.pack(">I", len(body)) + body)
while True:
    time.sleep(1)
"#;

fn alive(pid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|s| {
        s.rsplit_once(") ")
            .is_some_and(|(_, rest)| !rest.starts_with('Z'))
    })
}

#[tokio::test]
async fn a_runner_ignoring_sigterm_is_killed_after_the_grace_period() {
    let files = Arc::new(ModelFiles::new());
    files.register("stubborn", &common::smollm2()).unwrap();
    let mut command = RunnerCommand::new("python3".into());
    command.args = vec!["-c".into(), STUBBORN_RUNNER.into()];
    command.stop_grace = Duration::from_millis(500);
    command.ready_timeout = Duration::from_secs(20);
    let supervisor = Supervisor::new(files, command);

    supervisor
        .preload("stubborn")
        .await
        .expect("the stand-in says hello");
    let pids = supervisor.runner_pids().await;
    assert_eq!(pids.len(), 1, "{pids:?}");
    let pid = pids[0].1;
    assert!(alive(pid));

    let begin = Instant::now();
    tokio::time::timeout(Duration::from_secs(10), supervisor.shutdown())
        .await
        .expect("shutdown does not wait for a hung runner");
    let took = begin.elapsed();
    assert!(
        took >= Duration::from_millis(450),
        "SIGTERM was ignored, so only the SIGKILL after the grace ends it ({took:?})"
    );
    assert!(!alive(pid), "the runner is gone");
}
