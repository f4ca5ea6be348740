//! `hearth serve` over HTTPS from PEM files: a client trusting the certificate
//! gets answers with HSTS; after the files are replaced and the process gets
//! SIGHUP, a client trusting only the new certificate connects, on the same
//! port. Certificates come from the `openssl` command (Debian's `openssl`).

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use hearth_testkit::tls::self_signed;

const BIN: &str = env!("CARGO_BIN_EXE_hearth");

fn client(trusted: &Path) -> reqwest::Client {
    let pem = std::fs::read(trusted).unwrap();
    reqwest::Client::builder()
        .tls_built_in_root_certs(false)
        .add_root_certificate(reqwest::Certificate::from_pem(&pem).unwrap())
        .timeout(Duration::from_secs(5))
        .build()
        .unwrap()
}

#[tokio::test]
async fn https_with_hsts_and_a_new_certificate_after_sighup() {
    let dir = tempfile::tempdir().unwrap();
    let (cert_a, key_a) = self_signed(dir.path(), "a");
    let (cert_b, key_b) = self_signed(dir.path(), "b");
    let (cert, key) = (dir.path().join("tls.crt"), dir.path().join("tls.key"));
    std::fs::copy(&cert_a, &cert).unwrap();
    std::fs::copy(&key_a, &key).unwrap();
    let mut child = Command::new(BIN)
        .args(["serve", "--bind", "127.0.0.1:0", "--log-format", "json"])
        .arg("--data-dir")
        .arg(dir.path())
        .env_remove("HEARTH_CONFIG")
        .env("HEARTH_SERVER_TLS_CERT", &cert)
        .env("HEARTH_SERVER_TLS_KEY", &key)
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
    let mut seen = Vec::new();
    let port = loop {
        let Some(Ok(line)) = lines.next() else {
            panic!("server exited before listening:\n{}", seen.join("\n"));
        };
        seen.push(line.clone());
        let event: serde_json::Value = serde_json::from_str(&line).unwrap_or_default();
        if let Some(addr) = event["fields"]["addr"].as_str() {
            assert!(line.contains("https://"), "{line}");
            break addr.rsplit(':').next().unwrap().parse::<u16>().unwrap();
        }
    };
    let (tx, rx) = std::sync::mpsc::channel::<String>();
    std::thread::spawn(move || {
        for line in lines.map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    let url = format!("https://localhost:{port}/healthz");

    let answer = client(&cert_a).get(&url).send().await.unwrap();
    assert_eq!(answer.status(), 200);
    assert_eq!(
        answer.headers()["strict-transport-security"],
        "max-age=31536000"
    );
    assert!(client(&cert_b).get(&url).send().await.is_err());

    std::fs::copy(&cert_b, &cert).unwrap();
    std::fs::copy(&key_b, &key).unwrap();
    let status = Command::new("kill")
        .args(["-s", "HUP", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let begin = Instant::now();
    loop {
        let line = rx
            .recv_timeout(Duration::from_secs(10))
            .expect("a log line about the reload");
        if line.contains("TLS certificate reloaded") {
            break;
        }
        assert!(
            begin.elapsed() < Duration::from_secs(10),
            "no reload logged"
        );
    }
    let answer = client(&cert_b).get(&url).send().await.unwrap();
    assert_eq!(answer.status(), 200);

    let status = Command::new("kill")
        .args(["-s", "TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    assert!(child.wait().unwrap().success());
}
