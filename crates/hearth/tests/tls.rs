//! `hearth serve` over HTTPS from PEM files: a client trusting the certificate
//! gets answers with HSTS; after the files are replaced and the process gets
//! SIGHUP, a client trusting only the new certificate connects, on the same
//! port. Certificates come from the `openssl` command (Debian's `openssl`).

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use hearth_testkit::tls::self_signed;

mod common;

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
    let running = common::serve(
        dir.path(),
        &[
            ("HEARTH_SERVER_TLS_CERT", cert.to_str().unwrap()),
            ("HEARTH_SERVER_TLS_KEY", key.to_str().unwrap()),
        ],
    );
    let mut child = running.child;
    {
        let log = running.log.lock().unwrap();
        assert!(
            log.iter()
                .any(|line| line.contains("listening on https://")),
            "{log:?}"
        );
    }
    let port: u16 = running.addr.rsplit(':').next().unwrap().parse().unwrap();
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
    while !running
        .log
        .lock()
        .unwrap()
        .iter()
        .any(|line| line.contains("TLS certificate reloaded"))
    {
        assert!(
            begin.elapsed() < Duration::from_secs(10),
            "no reload logged"
        );
        std::thread::sleep(Duration::from_millis(20));
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
