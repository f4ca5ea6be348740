//! HTTPS with rustls (ring provider) from PEM files (`server.tls_cert`,
//! `server.tls_key`). The certificate lives behind a resolver that
//! [`Tls::reload`] swaps atomically: new handshakes get the new certificate,
//! open connections and the listening socket are untouched (SIGHUP calls it,
//! see [`reload_on_sighup`]).
//!
//! [`TlsListener`] is an `axum::serve` listener: one task accepts TCP
//! connections and runs each handshake on its own task (with a deadline), so a
//! slow or hostile client never holds up the accept loop.

use std::io;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};
use std::time::Duration;

use rustls::crypto::CryptoProvider;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::server::{ClientHello, ResolvesServerCert};
use rustls::sign::CertifiedKey;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use tokio_rustls::TlsAcceptor;
use tokio_rustls::server::TlsStream;

/// Longest a client may take to finish its handshake.
const HANDSHAKE_DEADLINE: Duration = Duration::from_secs(10);

/// A certificate or key that cannot be used; the message names the file.
#[derive(Debug, thiserror::Error)]
#[error("TLS: {0}")]
pub struct TlsError(pub String);

#[derive(Debug)]
struct Resolver(RwLock<Arc<CertifiedKey>>);

impl ResolvesServerCert for Resolver {
    fn resolve(&self, _hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        Some(self.0.read().unwrap_or_else(|e| e.into_inner()).clone())
    }
}

/// The server's TLS set-up: the files, and the certificate currently served.
#[derive(Clone)]
pub struct Tls {
    cert: PathBuf,
    key: PathBuf,
    provider: Arc<CryptoProvider>,
    resolver: Arc<Resolver>,
    config: Arc<rustls::ServerConfig>,
}

impl Tls {
    /// Read the certificate chain and key; refuse files that do not parse or
    /// a key that does not belong to the certificate.
    pub fn load(cert: &Path, key: &Path) -> Result<Tls, TlsError> {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let certified = read_pair(cert, key, &provider)?;
        let resolver = Arc::new(Resolver(RwLock::new(Arc::new(certified))));
        let mut config = rustls::ServerConfig::builder_with_provider(provider.clone())
            .with_safe_default_protocol_versions()
            .map_err(|e| TlsError(e.to_string()))?
            .with_no_client_auth()
            .with_cert_resolver(resolver.clone());
        config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
        Ok(Tls {
            cert: cert.to_owned(),
            key: key.to_owned(),
            provider,
            resolver,
            config: Arc::new(config),
        })
    }

    /// Read the files again and serve the new certificate to new connections.
    /// On error the current certificate stays.
    pub fn reload(&self) -> Result<(), TlsError> {
        let certified = read_pair(&self.cert, &self.key, &self.provider)?;
        *self.resolver.0.write().unwrap_or_else(|e| e.into_inner()) = Arc::new(certified);
        Ok(())
    }

    fn acceptor(&self) -> TlsAcceptor {
        TlsAcceptor::from(self.config.clone())
    }
}

fn read_pair(cert: &Path, key: &Path, provider: &CryptoProvider) -> Result<CertifiedKey, TlsError> {
    let shown = |p: &Path| p.display().to_string();
    let chain = CertificateDer::pem_file_iter(cert)
        .and_then(|certs| certs.collect::<Result<Vec<_>, _>>())
        .map_err(|e| {
            TlsError(format!(
                "cannot read certificates from {} (server.tls_cert): {e}",
                shown(cert)
            ))
        })?;
    if chain.is_empty() {
        return Err(TlsError(format!(
            "{} (server.tls_cert) holds no PEM certificate (-----BEGIN CERTIFICATE-----)",
            shown(cert)
        )));
    }
    let key_der = PrivateKeyDer::from_pem_file(key).map_err(|e| {
        TlsError(format!(
            "cannot read a private key from {} (server.tls_key; PKCS#8, PKCS#1 or SEC1 PEM): {e}",
            shown(key)
        ))
    })?;
    CertifiedKey::from_der(chain, key_der, provider).map_err(|e| {
        TlsError(format!(
            "{} and {} do not form a usable certificate and key: {e}",
            shown(cert),
            shown(key)
        ))
    })
}

/// Reload `tls` on every SIGHUP, for as long as the process runs.
#[cfg(unix)]
pub fn reload_on_sighup(tls: Tls) -> io::Result<()> {
    use tokio::signal::unix::{SignalKind, signal};
    let mut hangups = signal(SignalKind::hangup())?;
    tokio::spawn(async move {
        while hangups.recv().await.is_some() {
            match tls.reload() {
                Ok(()) => tracing::info!("TLS certificate reloaded (SIGHUP)"),
                Err(err) => {
                    tracing::error!(%err, "TLS reload failed; still serving the previous certificate");
                }
            }
        }
    });
    Ok(())
}

/// A TLS listener for `axum::serve`; dropping it stops accepting.
pub struct TlsListener {
    ready: mpsc::Receiver<(TlsStream<TcpStream>, SocketAddr)>,
    local: SocketAddr,
    accepting: tokio::task::JoinHandle<()>,
}

impl TlsListener {
    /// Accept TLS connections on `tcp` with `tls`'s certificate.
    pub fn new(tcp: TcpListener, tls: &Tls) -> io::Result<TlsListener> {
        let local = tcp.local_addr()?;
        let acceptor = tls.acceptor();
        let (tx, ready) = mpsc::channel(64);
        let accepting = tokio::spawn(async move {
            loop {
                let (stream, addr) = match tcp.accept().await {
                    Ok(pair) => pair,
                    Err(err) => {
                        // Out of file descriptors and the like: wait, go on.
                        tracing::warn!(%err, "accept failed");
                        tokio::time::sleep(Duration::from_millis(100)).await;
                        continue;
                    }
                };
                let (acceptor, tx) = (acceptor.clone(), tx.clone());
                tokio::spawn(async move {
                    match tokio::time::timeout(HANDSHAKE_DEADLINE, acceptor.accept(stream)).await {
                        Ok(Ok(tls)) => {
                            let _ = tx.send((tls, addr)).await;
                        }
                        Ok(Err(err)) => tracing::debug!(%addr, %err, "TLS handshake failed"),
                        Err(_) => tracing::debug!(%addr, "TLS handshake timed out"),
                    }
                });
            }
        });
        Ok(TlsListener {
            ready,
            local,
            accepting,
        })
    }
}

impl Drop for TlsListener {
    fn drop(&mut self) {
        self.accepting.abort();
    }
}

impl axum::serve::Listener for TlsListener {
    type Io = TlsStream<TcpStream>;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        match self.ready.recv().await {
            Some(pair) => pair,
            // The accept task is gone (only after drop): never yield again.
            None => std::future::pending().await,
        }
    }

    fn local_addr(&self) -> io::Result<SocketAddr> {
        Ok(self.local)
    }
}
