//! Serving: bind, serve (plain HTTP or TLS) until a shutdown signal, then stop
//! accepting, let in-flight requests and streams finish up to the grace
//! deadline, write the pending usage records, and return.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use axum::extract::connect_info::Connected;
use axum::serve::{IncomingStream, Listener, ListenerExt};
use tokio::net::TcpListener;

use crate::state::AppState;
use crate::tls::{Tls, TlsListener};

/// A future that resolves when the server should stop.
pub type ShutdownSignal = std::pin::Pin<Box<dyn Future<Output = ()> + Send>>;

/// How the server stopped.
#[derive(Debug, PartialEq, Eq)]
pub enum Stopped {
    /// Every in-flight request finished within the grace period.
    Drained,
    /// The grace period ran out with requests still open; they were cut.
    GraceExpired,
}

/// Serve `state`'s router on `listener` (over TLS when `tls` is given) until
/// `shutdown` resolves.
pub async fn serve(
    listener: TcpListener,
    state: AppState,
    tls: Option<Tls>,
    shutdown: ShutdownSignal,
) -> std::io::Result<Stopped> {
    let grace = Duration::from_secs(state.config.server.shutdown_grace_secs);
    let flag = state.shutting_down.clone();
    let usage = state.usage.clone();
    let router = crate::router(state);
    let stopped = match tls {
        Some(tls) => {
            let listener = TlsListener::new(listener, &tls)?;
            serve_on(listener.tap_io(|_| {}), router, flag, grace, shutdown).await
        }
        None => serve_on(listener, router, flag, grace, shutdown).await,
    };
    // Streams cut at the deadline recorded their usage when dropped; write it all.
    usage.flush().await;
    stopped
}

/// Serve any router with Hearth's shutdown behaviour: on `shutdown`, set
/// `shutting_down`, stop accepting, drain for at most `grace`.
pub async fn serve_router(
    listener: TcpListener,
    router: axum::Router,
    shutting_down: Arc<AtomicBool>,
    grace: Duration,
    shutdown: ShutdownSignal,
) -> std::io::Result<Stopped> {
    serve_on(listener, router, shutting_down, grace, shutdown).await
}

async fn serve_on<L>(
    listener: L,
    router: axum::Router,
    shutting_down: Arc<AtomicBool>,
    grace: Duration,
    shutdown: ShutdownSignal,
) -> std::io::Result<Stopped>
where
    L: Listener,
    L::Addr: std::fmt::Debug,
    SocketAddr: for<'a> Connected<IncomingStream<'a, L>>,
{
    let flag = shutting_down;
    let app = router.into_make_service_with_connect_info::<SocketAddr>();
    let (begin_tx, begin_rx) = tokio::sync::oneshot::channel::<()>();
    let server = axum::serve(listener, app).with_graceful_shutdown(async move {
        let _ = begin_rx.await;
    });
    let mut server = tokio::spawn(async move { server.await });
    tokio::select! {
        result = &mut server => {
            return result.map_err(std::io::Error::other)?.map(|()| Stopped::Drained);
        }
        () = shutdown => {}
    }
    flag.store(true, Ordering::Relaxed);
    tracing::info!(
        grace_secs = grace.as_secs(),
        "shutting down: no new connections, draining"
    );
    let _ = begin_tx.send(());
    match tokio::time::timeout(grace, &mut server).await {
        Ok(result) => result
            .map_err(std::io::Error::other)?
            .map(|()| Stopped::Drained),
        Err(_) => {
            server.abort();
            tracing::warn!("grace period over: remaining requests were cut");
            Ok(Stopped::GraceExpired)
        }
    }
}
