//! Graceful shutdown on a real socket: after the signal no new connection is
//! accepted, an in-flight stream runs to its end within the grace period, and a
//! stream longer than the grace period does not delay shutdown past it.

use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Body;
use axum::routing::get;
use futures::StreamExt;
use hearth_server::{Stopped, serve_router};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// A plain-text stream of `n` lines, one every 100 ms.
fn ticking(n: usize) -> Body {
    let stream = futures::stream::iter(0..n).then(|i| async move {
        tokio::time::sleep(Duration::from_millis(100)).await;
        Ok::<_, std::io::Error>(format!("tick {i}\n"))
    });
    Body::from_stream(stream)
}

fn app() -> Router {
    Router::new()
        .route("/short", get(|| async { ticking(10) }))
        .route("/long", get(|| async { ticking(1000) }))
}

async fn start(grace: Duration) -> (std::net::SocketAddr, tokio::sync::oneshot::Sender<()>, tokio::task::JoinHandle<Stopped>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    let signal = Box::pin(async move {
        let _ = rx.await;
    });
    let task = tokio::spawn(async move {
        serve_router(listener, app(), Arc::new(AtomicBool::new(false)), grace, signal).await.unwrap()
    });
    (addr, tx, task)
}

async fn open_stream(addr: std::net::SocketAddr, path: &str) -> TcpStream {
    let mut conn = TcpStream::connect(addr).await.unwrap();
    let req = format!("GET {path} HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n");
    conn.write_all(req.as_bytes()).await.unwrap();
    let mut first = [0u8; 12];
    conn.read_exact(&mut first).await.unwrap();
    assert_eq!(&first, b"HTTP/1.1 200");
    conn
}

#[tokio::test]
async fn in_flight_stream_finishes_and_new_connections_are_refused() {
    let (addr, stop, task) = start(Duration::from_secs(10)).await;
    let mut conn = open_stream(addr, "/short").await;
    stop.send(()).unwrap();
    let mut rest = String::new();
    conn.read_to_string(&mut rest).await.unwrap();
    assert!(rest.contains("tick 9"), "the stream ran to its end: {rest}");
    assert_eq!(task.await.unwrap(), Stopped::Drained);
    assert!(TcpStream::connect(addr).await.is_err(), "listener closed");
}

#[tokio::test]
async fn stream_longer_than_grace_does_not_hold_up_shutdown() {
    let (addr, stop, task) = start(Duration::from_millis(500)).await;
    let _conn = open_stream(addr, "/long").await;
    let begin = Instant::now();
    stop.send(()).unwrap();
    assert_eq!(task.await.unwrap(), Stopped::GraceExpired);
    let waited = begin.elapsed();
    assert!(waited >= Duration::from_millis(450), "waited the grace period: {waited:?}");
    assert!(waited < Duration::from_secs(5), "did not wait for the 100 s stream: {waited:?}");
    // Connection tasks die with the runtime: `hearth serve` exits right after.
}
