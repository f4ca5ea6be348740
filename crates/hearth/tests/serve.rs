//! The real `hearth` binary: starts fast without a model, answers health and
//! readiness, exits 0 on SIGTERM, and refuses bad configuration with exit 2.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_hearth");

struct Server {
    child: Child,
    base: String,
    startup: Duration,
    _dir: tempfile::TempDir,
}

/// Start `hearth serve` on a free port and wait for its "listening" line.
fn start() -> Server {
    let dir = tempfile::tempdir().unwrap();
    let begin = Instant::now();
    let mut child = Command::new(BIN)
        .args(["serve", "--bind", "127.0.0.1:0", "--log-format", "json"])
        .arg("--data-dir")
        .arg(dir.path())
        .env_remove("HEARTH_CONFIG")
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stderr = BufReader::new(child.stderr.take().unwrap());
    let mut lines = stderr.lines();
    let mut seen = Vec::new();
    let addr = loop {
        let Some(Ok(line)) = lines.next() else {
            panic!("server exited before listening:\n{}", seen.join("\n"));
        };
        seen.push(line.clone());
        let event: serde_json::Value = serde_json::from_str(&line).unwrap_or_default();
        if let Some(addr) = event["fields"]["addr"].as_str() {
            break addr.to_owned();
        }
    };
    let startup = begin.elapsed();
    // Keep draining stderr so the child never blocks on a full pipe.
    std::thread::spawn(move || for _ in lines {});
    Server {
        child,
        base: format!("http://{addr}"),
        startup,
        _dir: dir,
    }
}

fn signal(child: &Child, name: &str) {
    let status = Command::new("kill")
        .args(["-s", name, &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
}

fn wait_exit(child: &mut Child, limit: Duration) -> std::process::ExitStatus {
    let begin = Instant::now();
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return status;
        }
        assert!(
            begin.elapsed() < limit,
            "server did not exit within {limit:?}"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[tokio::test]
async fn serves_health_and_exits_zero_on_sigterm() {
    let mut server = start();
    eprintln!("startup to listening: {:?}", server.startup);
    let client = reqwest::Client::new();
    let health = client
        .get(format!("{}/healthz", server.base))
        .send()
        .await
        .unwrap();
    assert_eq!(health.status(), 200);
    assert!(health.headers().contains_key("x-request-id"));
    let ready = client
        .get(format!("{}/readyz", server.base))
        .send()
        .await
        .unwrap();
    assert_eq!(ready.status(), 200);
    let meta: serde_json::Value = client
        .get(format!("{}/v1/meta", server.base))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(meta["storage"], "sqlite");
    signal(&server.child, "TERM");
    let status = wait_exit(&mut server.child, Duration::from_secs(10));
    assert_eq!(status.code(), Some(0), "SIGTERM is a clean stop");
}

#[tokio::test]
async fn sigint_is_a_clean_stop_too() {
    let mut server = start();
    signal(&server.child, "INT");
    assert_eq!(
        wait_exit(&mut server.child, Duration::from_secs(10)).code(),
        Some(0)
    );
}

fn run_config(env: &[(&str, &str)], args: &[&str]) -> (i32, String) {
    let out = Command::new(BIN)
        .args(["config", "show"])
        .args(args)
        .env_remove("HEARTH_CONFIG")
        .envs(env.iter().copied())
        .output()
        .unwrap();
    (
        out.status.code().unwrap(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn invalid_configuration_exits_2_naming_the_key() {
    let (code, err) = run_config(&[("HEARTH_SERVER_BIND", "not-an-address")], &[]);
    assert_eq!(code, 2);
    assert!(
        err.contains("server.bind") && err.contains("HEARTH_SERVER_BIND"),
        "{err}"
    );

    let (code, err) = run_config(&[("HEARTH_LOG_FORMAT", "xml")], &[]);
    assert_eq!(code, 2);
    assert!(err.contains("log.format") && err.contains("human"), "{err}");

    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("hearth.toml");
    std::fs::write(&file, "[server]\nport = 80\n").unwrap();
    let (code, err) = run_config(&[], &["--config", file.to_str().unwrap()]);
    assert_eq!(code, 2);
    assert!(
        err.contains("server.port") && err.contains("unknown field"),
        "{err}"
    );
}

#[test]
fn a_non_loopback_bind_without_tls_exits_2_unless_allowed() {
    let out = Command::new(BIN)
        .args(["serve", "--bind", "0.0.0.0:0"])
        .env_remove("HEARTH_CONFIG")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("server.bind") && err.contains("allow_insecure_bind"),
        "{err}"
    );
    let (code, err) = run_config(&[("HEARTH_SERVER_TLS_KEY", "/nonexistent/key.pem")], &[]);
    assert_eq!(code, 2, "a key without a certificate: {err}");
    assert!(err.contains("server.tls_cert"), "{err}");
    // The separate metrics listener asks for no credentials: loopback only,
    // unless metrics.public says they are meant to be open.
    let (code, err) = run_config(&[("HEARTH_METRICS_BIND", "0.0.0.0:9464")], &[]);
    assert_eq!(code, 2, "{err}");
    assert!(
        err.contains("metrics.bind") && err.contains("metrics.public"),
        "{err}"
    );
    let (code, err) = run_config(
        &[
            ("HEARTH_METRICS_BIND", "0.0.0.0:9464"),
            ("HEARTH_METRICS_PUBLIC", "true"),
        ],
        &[],
    );
    assert_eq!(code, 0, "{err}");
}

#[test]
fn user_and_key_quotas_from_the_cli() {
    let dir = tempfile::tempdir().unwrap();
    let cli = |args: &[&str], stdin: &str| {
        use std::io::Write;
        let mut child = Command::new(BIN)
            .args(args)
            .arg("--data-dir")
            .arg(dir.path())
            .env_remove("HEARTH_CONFIG")
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        let mut input = child.stdin.take().unwrap();
        input.write_all(stdin.as_bytes()).unwrap();
        drop(input);
        let out = child.wait_with_output().unwrap();
        (
            out.status.code().unwrap(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    let (code, _, err) = cli(
        &["user", "add", "dev", "--password-stdin"],
        "correct horse battery\n",
    );
    assert_eq!(code, 0, "{err}");
    let (code, out, err) = cli(&["user", "quota", "dev", "--tokens-per-day", "1000"], "");
    assert_eq!(code, 0, "{err}");
    assert!(
        out.contains("tokens_per_day     1000") && out.contains("(set)"),
        "{out}"
    );
    assert!(
        out.contains("tokens_per_month   unlimited    (default)"),
        "{out}"
    );
    let (_, out, _) = cli(&["user", "quota", "dev", "--tokens-per-month", "5"], "");
    assert!(
        out.contains("tokens_per_day     1000"),
        "other limits are kept: {out}"
    );
    let (_, out, _) = cli(&["user", "quota", "dev", "--tokens-per-day", "default"], "");
    assert!(
        out.contains("tokens_per_day     unlimited    (default)"),
        "{out}"
    );
    let (code, _, err) = cli(&["user", "quota", "dev", "--tokens-per-day", "lots"], "");
    assert_eq!(code, 1);
    assert!(err.contains("--tokens-per-day"), "{err}");
    let (code, _, _) = cli(&["key", "quota", "no-such-key"], "");
    assert_eq!(code, 1);
}

#[test]
fn serve_with_invalid_config_exits_2_before_binding() {
    let out = Command::new(BIN)
        .args(["serve"])
        .env("HEARTH_DATABASE_MAX_CONNECTIONS", "0")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("database.max_connections"));
}

#[test]
fn every_subcommand_has_help() {
    for args in [
        vec!["--help"],
        vec!["serve", "--help"],
        vec!["config", "show", "--help"],
        vec!["config", "example", "--help"],
        vec!["version", "--help"],
        vec!["user", "add", "--help"],
        vec!["user", "list", "--help"],
        vec!["user", "disable", "--help"],
        vec!["user", "passwd", "--help"],
        vec!["key", "create", "--help"],
        vec!["key", "list", "--help"],
        vec!["key", "revoke", "--help"],
        vec!["convert", "--help"],
        vec!["user", "quota", "--help"],
        vec!["key", "quota", "--help"],
        vec!["pull", "--help"],
        vec!["import", "--help"],
        vec!["export", "--help"],
        vec!["list", "--help"],
        vec!["ls", "--help"],
        vec!["show", "--help"],
        vec!["ps", "--help"],
        vec!["rm", "--help"],
        vec!["cp", "--help"],
        vec!["create", "--help"],
        vec!["gc", "--help"],
        vec!["quantize", "--help"],
    ] {
        let out = Command::new(BIN).args(&args).output().unwrap();
        assert!(out.status.success(), "{args:?}");
        assert!(
            String::from_utf8_lossy(&out.stdout).contains("Usage"),
            "{args:?}"
        );
    }
    let out = Command::new(BIN).arg("version").output().unwrap();
    assert!(String::from_utf8_lossy(&out.stdout).starts_with("hearth "));
}
