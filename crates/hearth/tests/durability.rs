//! Durability of acknowledged account writes: the real `hearth serve` on a temp
//! data directory takes a stream of invite creations over HTTP, is SIGKILLed
//! mid-stream, restarted, and every write it acknowledged is still there; the
//! SQLite file passes `PRAGMA integrity_check`.

use std::io::Write;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_hearth");

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn cli(dir: &Path, args: &[&str], stdin: &str) -> String {
    let mut child = Command::new(BIN)
        .args(args)
        .arg("--data-dir")
        .arg(dir)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(stdin.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

// The child is returned to the caller, which kills and waits for it.
#[allow(clippy::zombie_processes)]
async fn serve(dir: &Path, port: u16) -> Child {
    let mut child = Command::new(BIN)
        .args([
            "serve",
            "--bind",
            &format!("127.0.0.1:{port}"),
            "--data-dir",
        ])
        .arg(dir)
        .env("HEARTH_LOG_LEVEL", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let client = reqwest::Client::new();
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let up = client
            .get(format!("http://127.0.0.1:{port}/healthz"))
            .send()
            .await;
        if up.is_ok_and(|r| r.status().is_success()) {
            return child;
        }
        if Instant::now() >= deadline {
            child.kill().unwrap();
            child.wait().unwrap();
            panic!("server did not start");
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn acknowledged_writes_survive_sigkill() {
    let dir = tempfile::tempdir().unwrap();
    cli(
        dir.path(),
        &["user", "add", "root", "--admin", "--password-stdin"],
        "correct horse battery\n",
    );
    let key = cli(
        dir.path(),
        &["key", "create", "--user", "root", "--name", "durability"],
        "",
    )
    .trim()
    .to_owned();
    let port = free_port();
    let mut server = serve(dir.path(), port).await;
    let url = format!("http://127.0.0.1:{port}/admin/invites");
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(5))
        .build()
        .unwrap();

    // Four writers; the server is killed once 40 writes are acknowledged.
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<String>();
    let mut writers = Vec::new();
    for _ in 0..4 {
        let (client, url, key, tx) = (client.clone(), url.clone(), key.clone(), tx.clone());
        writers.push(tokio::spawn(async move {
            for _ in 0..200 {
                let sent = client
                    .post(&url)
                    .bearer_auth(&key)
                    .json(&serde_json::json!({"role": "user"}))
                    .send()
                    .await;
                let Ok(response) = sent else { return };
                if response.status() != 201 {
                    return;
                }
                let Ok(body) = response.json::<serde_json::Value>().await else {
                    return;
                };
                let _ = tx.send(body["invite"]["id"].as_str().unwrap().to_owned());
            }
        }));
    }
    drop(tx);
    let mut acknowledged = Vec::new();
    while let Some(id) = rx.recv().await {
        acknowledged.push(id);
        if acknowledged.len() == 40 {
            server.kill().unwrap(); // SIGKILL
            server.wait().unwrap();
        }
    }
    for w in writers {
        w.await.unwrap();
    }
    assert!(
        acknowledged.len() >= 40,
        "only {} writes acknowledged",
        acknowledged.len()
    );

    let mut server = serve(dir.path(), port).await;
    let listed: serde_json::Value = client
        .get(&url)
        .bearer_auth(&key)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let stored: Vec<&str> = listed["invites"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["id"].as_str().unwrap())
        .collect();
    for id in &acknowledged {
        assert!(
            stored.contains(&id.as_str()),
            "acknowledged invite {id} lost"
        );
    }
    server.kill().unwrap();
    server.wait().unwrap();

    sqlx::any::install_default_drivers();
    let db = format!("sqlite://{}", dir.path().join("hearth.db").display());
    let pool = sqlx::AnyPool::connect(&db).await.unwrap();
    let row: (String,) = sqlx::query_as("PRAGMA integrity_check")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(row.0, "ok");
}
