//! HTTPS from PEM files over a real socket: a client trusting the certificate
//! gets answers with HSTS; after the files are swapped and reloaded (what
//! SIGHUP does) new connections get the new certificate on the same listener
//! while an open connection keeps working; a broken file keeps the old one.
//! Certificates come from the `openssl` command (Debian's `openssl` package),
//! which keeps a certificate generator out of the Rust dependency tree.

use std::path::Path;
use std::sync::Arc;

use hearth_core::config::Config;
use hearth_core::models::NoModels;
use hearth_server::tls::Tls;
use hearth_server::{AppState, Parts, Stopped};
use hearth_testkit::tls::self_signed;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio_rustls::TlsConnector;
use tokio_rustls::client::TlsStream;

fn der(cert: &Path) -> CertificateDer<'static> {
    CertificateDer::from_pem_file(cert).unwrap()
}

fn connector(trusted: &Path) -> TlsConnector {
    let mut roots = rustls::RootCertStore::empty();
    roots.add(der(trusted)).unwrap();
    let config = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_root_certificates(roots)
    .with_no_client_auth();
    TlsConnector::from(Arc::new(config))
}

async fn connect(port: u16, trusted: &Path) -> std::io::Result<TlsStream<TcpStream>> {
    let tcp = TcpStream::connect(("127.0.0.1", port)).await?;
    let name = ServerName::try_from("localhost").unwrap();
    connector(trusted).connect(name, tcp).await
}

/// One HTTP/1.1 request on an open connection; the response head and body.
async fn get(stream: &mut TlsStream<TcpStream>, close: bool) -> String {
    let connection = if close { "close" } else { "keep-alive" };
    let request =
        format!("GET /healthz HTTP/1.1\r\nHost: localhost\r\nConnection: {connection}\r\n\r\n");
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut buf = vec![0u8; 8192];
    let mut text = String::new();
    // /healthz answers a small JSON body: read until it is complete.
    while !text.contains("\r\n\r\n") || !text.trim_end().ends_with('}') {
        let n = stream.read(&mut buf).await.unwrap();
        assert!(n > 0, "connection closed early: {text}");
        text.push_str(&String::from_utf8_lossy(&buf[..n]));
    }
    text
}

fn served_cert(stream: &TlsStream<TcpStream>) -> CertificateDer<'static> {
    stream.get_ref().1.peer_certificates().unwrap()[0]
        .clone()
        .into_owned()
}

#[tokio::test]
async fn https_serves_hsts_and_reloads_the_certificate_without_dropping_the_listener() {
    let dir = tempfile::tempdir().unwrap();
    let (cert_a, key_a) = self_signed(dir.path(), "a");
    let (cert_b, key_b) = self_signed(dir.path(), "b");
    let (cert, key) = (dir.path().join("server.crt"), dir.path().join("server.key"));
    std::fs::copy(&cert_a, &cert).unwrap();
    std::fs::copy(&key_a, &key).unwrap();

    let mut config = Config::default();
    config.server.tls_cert = Some(cert.clone());
    config.server.tls_key = Some(key.clone());
    let url = format!("sqlite://{}", dir.path().join("t.db").display());
    let store = hearth_store::open(&url, &Default::default()).await.unwrap();
    let none = Arc::new(NoModels);
    let state = AppState::new(Parts {
        config: Arc::new(config),
        store,
        chat: none.clone(),
        embed: none.clone(),
        models: none,
        metrics: None,
    });
    let tls = Tls::load(&cert, &key).unwrap();
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(hearth_server::serve(
        listener,
        state,
        Some(tls.clone()),
        Box::pin(async move {
            let _ = stop_rx.await;
        }),
    ));

    let mut first = connect(port, &cert_a).await.unwrap();
    assert_eq!(served_cert(&first), der(&cert_a));
    let answer = get(&mut first, false).await;
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    assert!(
        answer
            .to_ascii_lowercase()
            .contains("strict-transport-security: max-age=31536000"),
        "{answer}"
    );
    // Plain HTTP on the TLS port gets no answer.
    let mut plain = TcpStream::connect(("127.0.0.1", port)).await.unwrap();
    plain
        .write_all(b"GET /healthz HTTP/1.1\r\nHost: localhost\r\n\r\n")
        .await
        .unwrap();
    let mut buf = [0u8; 64];
    let read = plain.read(&mut buf).await.unwrap_or(0);
    assert!(!String::from_utf8_lossy(&buf[..read]).contains("200"));

    // Swap the files, reload: new handshakes get B, on the same port.
    std::fs::copy(&cert_b, &cert).unwrap();
    std::fs::copy(&key_b, &key).unwrap();
    tls.reload().unwrap();
    let mut second = connect(port, &cert_b).await.unwrap();
    assert_eq!(served_cert(&second), der(&cert_b));
    assert!(get(&mut second, true).await.starts_with("HTTP/1.1 200"));
    assert!(
        connect(port, &cert_a).await.is_err(),
        "a client trusting only the old certificate is refused now"
    );
    // The connection opened before the reload still works.
    assert!(get(&mut first, true).await.starts_with("HTTP/1.1 200"));

    // A broken file is refused and the current certificate stays.
    std::fs::write(&cert, "not a certificate").unwrap();
    let err = tls.reload().unwrap_err().to_string();
    assert!(err.contains("server.tls_cert"), "{err}");
    std::fs::copy(&cert_a, &cert).unwrap();
    let err = tls.reload().unwrap_err().to_string();
    assert!(err.contains("do not form"), "cert A with key B: {err}");
    let mut third = connect(port, &cert_b).await.unwrap();
    assert_eq!(served_cert(&third), der(&cert_b));
    assert!(get(&mut third, true).await.starts_with("HTTP/1.1 200"));

    stop_tx.send(()).unwrap();
    assert_eq!(server.await.unwrap().unwrap(), Stopped::Drained);
}

#[test]
fn missing_or_mismatched_files_are_refused_with_the_file_named() {
    let dir = tempfile::tempdir().unwrap();
    let (cert, key) = self_signed(dir.path(), "a");
    let (_, other_key) = self_signed(dir.path(), "b");
    let missing = dir.path().join("missing.pem");
    let err = Tls::load(&missing, &key).err().unwrap().to_string();
    assert!(
        err.contains("missing.pem") && err.contains("server.tls_cert"),
        "{err}"
    );
    let err = Tls::load(&cert, &cert).err().unwrap().to_string();
    assert!(err.contains("server.tls_key"), "{err}");
    let err = Tls::load(&cert, &other_key).err().unwrap().to_string();
    assert!(err.contains("do not form"), "{err}");
    assert!(Tls::load(&cert, &key).is_ok());
}
