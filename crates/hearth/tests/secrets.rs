//! Secrets never reach the log: the real binary at `trace` level, JSON logs,
//! taken through first-run setup, a failed and a good login, key creation and
//! authenticated requests (bearer, x-api-key, cookie + CSRF). Afterwards no log
//! record holds the password, the setup token, the session cookie, the CSRF
//! token or the API key. The setup token is printed once to the terminal on
//! purpose (outside the log records); that banner is the only place it shows.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_hearth");
const PASSWORD: &str = "Sekret-Passw0rd-never-logged";
const WRONG: &str = "Wrong-Passw0rd-never-logged";

fn wait_for<T>(what: &str, lines: &Mutex<Vec<String>>, find: impl Fn(&[String]) -> Option<T>) -> T {
    let begin = Instant::now();
    loop {
        if let Some(found) = find(&lines.lock().unwrap()) {
            return found;
        }
        assert!(
            begin.elapsed() < Duration::from_secs(60),
            "no {what} in:\n{}",
            lines.lock().unwrap().join("\n")
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn cookie(response: &reqwest::Response) -> String {
    let set = response.headers()["set-cookie"].to_str().unwrap();
    set.split(';').next().unwrap().to_owned()
}

#[tokio::test]
async fn no_secret_reaches_the_log_even_at_trace_level() {
    let dir = tempfile::tempdir().unwrap();
    let mut child = Command::new(BIN)
        .args(["serve", "--bind", "127.0.0.1:0", "--log-format", "json"])
        .arg("--data-dir")
        .arg(dir.path())
        .env_remove("HEARTH_CONFIG")
        .env("HEARTH_LOG_LEVEL", "trace")
        .env("HEARTH_AUTH_COOKIE_SECURE", "false")
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let lines = Arc::new(Mutex::new(Vec::<String>::new()));
    let reader = {
        let lines = lines.clone();
        let stderr = BufReader::new(child.stderr.take().unwrap());
        std::thread::spawn(move || {
            for line in stderr.lines().map_while(Result::ok) {
                lines.lock().unwrap().push(line);
            }
        })
    };
    let addr = wait_for("listening line", &lines, |lines| {
        lines.iter().find_map(|l| {
            let event: serde_json::Value = serde_json::from_str(l).ok()?;
            event["fields"]["addr"].as_str().map(str::to_owned)
        })
    });
    let token = wait_for("setup token banner", &lines, |lines| {
        lines.iter().find_map(|l| {
            let rest = l.split("\"token\": \"").nth(1)?;
            rest.split('"').next().map(str::to_owned)
        })
    });
    let base = format!("http://{addr}");
    let http = reqwest::Client::new();

    let setup = http
        .post(format!("{base}/ui/auth/setup"))
        .json(&serde_json::json!({"token": token, "username": "root", "password": PASSWORD}))
        .send()
        .await
        .unwrap();
    assert!(
        setup.status().is_success(),
        "{}",
        setup.text().await.unwrap()
    );
    let setup_cookie = cookie(&setup);
    let wrong = http
        .post(format!("{base}/ui/auth/login"))
        .json(&serde_json::json!({"username": "root", "password": WRONG}))
        .send()
        .await
        .unwrap();
    assert_eq!(wrong.status(), 401);
    let login = http
        .post(format!("{base}/ui/auth/login"))
        .json(&serde_json::json!({"username": "root", "password": PASSWORD}))
        .send()
        .await
        .unwrap();
    assert!(login.status().is_success());
    let session = cookie(&login);
    let me: serde_json::Value = login.json().await.unwrap();
    let csrf = me["csrf_token"].as_str().unwrap().to_owned();
    let created = http
        .post(format!("{base}/ui/keys"))
        .header("cookie", &session)
        .header("x-csrf-token", &csrf)
        .json(&serde_json::json!({"name": "ci", "scopes": ["chat", "models:read"]}))
        .send()
        .await
        .unwrap();
    assert!(
        created.status().is_success(),
        "{}",
        created.text().await.unwrap()
    );
    let created: serde_json::Value = created.json().await.unwrap();
    let key = created["secret"].as_str().unwrap().to_owned();
    let models = http
        .get(format!("{base}/v1/models"))
        .bearer_auth(&key)
        .send()
        .await
        .unwrap();
    assert_eq!(models.status(), 200);
    let chat = http
        .post(format!("{base}/v1/chat/completions"))
        .header("x-api-key", &key)
        .json(
            &serde_json::json!({"model": "none", "messages": [{"role": "user", "content": "hi"}]}),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(chat.status(), 404, "no model is configured");
    let bad_key = http
        .get(format!("{base}/v1/models"))
        .bearer_auth(format!("{key}x"))
        .send()
        .await
        .unwrap();
    assert_eq!(bad_key.status(), 401);
    let me = http
        .get(format!("{base}/ui/auth/me"))
        .header("cookie", &session)
        .send()
        .await
        .unwrap();
    assert_eq!(me.status(), 200);
    let logout = http
        .post(format!("{base}/ui/auth/logout"))
        .header("cookie", &setup_cookie)
        .header("x-csrf-token", "wrong")
        .send()
        .await
        .unwrap();
    assert_eq!(logout.status(), 403);

    let status = Command::new("kill")
        .args(["-s", "TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    assert!(child.wait().unwrap().success());
    reader.join().unwrap();

    let lines = lines.lock().unwrap();
    let (records, banner): (Vec<&String>, Vec<&String>) = lines
        .iter()
        .partition(|l| serde_json::from_str::<serde_json::Value>(l).is_ok());
    assert!(
        records.len() > 20,
        "trace logging produced records: {}",
        records.len()
    );
    let session_secret = session.split_once('=').unwrap().1.to_owned();
    let setup_secret = setup_cookie.split_once('=').unwrap().1.to_owned();
    let secrets = [
        ("password", PASSWORD.to_owned()),
        ("wrong password", WRONG.to_owned()),
        ("setup token", token.clone()),
        ("session cookie", session_secret),
        ("setup session cookie", setup_secret),
        ("CSRF token", csrf),
        ("API key", key.clone()),
    ];
    for record in &records {
        for (what, secret) in &secrets {
            assert!(
                !record.contains(secret.as_str()),
                "the {what} is in a log record: {record}"
            );
        }
    }
    // The key's public prefix may be logged; its secret part never is.
    let secret_part = &key[key.len() - 16..];
    assert!(records.iter().all(|r| !r.contains(secret_part)));
    // Outside the records only the setup banner speaks, and holds the token.
    assert!(banner.iter().any(|l| l.contains(&token)));
    for line in &banner {
        for (what, secret) in &secrets[..2] {
            assert!(
                !line.contains(secret.as_str()),
                "the {what} is on stderr: {line}"
            );
        }
    }
}
