//! The runner process side: connect to the supervisor's socket, load one model
//! into an in-process [`Engine`], say hello, then serve requests until the
//! socket closes (the server stopped or died), and exit.

use std::collections::HashMap;
use std::path::Path;
use std::sync::{Arc, Mutex};

use futures::StreamExt;
use hearth_core::backend::{BackendError, ChatBackend, EmbedBackend};
use tokio::net::UnixStream;
use tokio::sync::mpsc;

use super::protocol::{
    FrameError, FromRunner, PROTOCOL_VERSION, RequestId, ToRunner, read_frame, write_frame,
};
use crate::engine::{Engine, EngineConfig};

/// Serve `file` as `name` over the socket at `socket`. Returns when the server
/// closes the connection; an error when the model cannot be loaded or the
/// protocol breaks (the caller prints it to stderr, which the supervisor reads).
pub async fn run(
    socket: &Path,
    name: &str,
    file: &Path,
    config: EngineConfig,
) -> Result<(), String> {
    let stream = UnixStream::connect(socket)
        .await
        .map_err(|e| format!("cannot connect to {}: {e}", socket.display()))?;
    let (mut reader, mut writer) = stream.into_split();
    let engine = Arc::new(Engine::new(config));

    // Load, but stop at once if the server goes away meanwhile (it sends
    // nothing before our hello, so any read result means it is gone).
    tokio::select! {
        loaded = engine.load(name, file) => {
            loaded.map_err(|e| format!("model {name} ({}) failed to load: {e}", file.display()))?;
        }
        _ = read_frame::<_, ToRunner>(&mut reader) => {
            return Ok(());
        }
    }

    let (out_tx, mut out_rx) = mpsc::unbounded_channel::<FromRunner>();
    out_tx
        .send(FromRunner::Hello {
            version: PROTOCOL_VERSION,
            model: name.to_owned(),
            pid: std::process::id(),
        })
        .map_err(|_| "writer gone".to_owned())?;
    let writer_task = tokio::spawn(async move {
        while let Some(frame) = out_rx.recv().await {
            if write_frame(&mut writer, &frame).await.is_err() {
                break;
            }
        }
    });

    let running: Arc<Mutex<HashMap<RequestId, tokio::task::AbortHandle>>> = Arc::default();
    loop {
        let frame = match read_frame::<_, ToRunner>(&mut reader).await {
            Ok(frame) => frame,
            Err(FrameError::Closed) => break,
            Err(err) => return Err(format!("protocol error: {err}")),
        };
        match frame {
            ToRunner::Ping { id } => {
                let _ = out_tx.send(FromRunner::Pong { id });
            }
            ToRunner::Cancel { id } => {
                if let Some(handle) = lock(&running).remove(&id) {
                    handle.abort();
                }
            }
            ToRunner::CountTokens { id, prompt } => {
                let (engine, out, name) = (engine.clone(), out_tx.clone(), name.to_owned());
                tokio::spawn(async move {
                    let frame = match engine.count_tokens(&name, &prompt).await {
                        Ok(count) => FromRunner::Tokens { id, count },
                        Err(error) => FromRunner::Error { id, error },
                    };
                    let _ = out.send(frame);
                });
            }
            ToRunner::Embed { id, mut request } => {
                let (engine, out) = (engine.clone(), out_tx.clone());
                request.model = name.to_owned();
                tokio::spawn(async move {
                    let frame = match engine.embed(request).await {
                        Ok(response) => FromRunner::Embedded { id, response },
                        Err(error) => FromRunner::Error { id, error },
                    };
                    let _ = out.send(frame);
                });
            }
            ToRunner::Generate { id, mut request } => {
                let (engine, out, running2) = (engine.clone(), out_tx.clone(), running.clone());
                request.model = name.to_owned();
                let mut map = lock(&running);
                let task = tokio::spawn(async move {
                    generate(&engine, id, *request, &out).await;
                    lock(&running2).remove(&id);
                });
                map.insert(id, task.abort_handle());
            }
        }
    }
    drop(out_tx);
    writer_task.abort();
    Ok(())
}

async fn generate(
    engine: &Engine,
    id: RequestId,
    request: hearth_core::backend::GenerateRequest,
    out: &mpsc::UnboundedSender<FromRunner>,
) {
    let mut stream = match engine.generate(request).await {
        Ok(stream) => stream,
        Err(error) => {
            let _ = out.send(FromRunner::Error { id, error });
            return;
        }
    };
    let _ = out.send(FromRunner::Accepted { id });
    while let Some(item) = stream.next().await {
        let frame = match item {
            Ok(event) => FromRunner::Event { id, event },
            Err(error) => FromRunner::Error { id, error },
        };
        let last = !matches!(
            frame,
            FromRunner::Event {
                event: hearth_core::backend::GenerationEvent::Delta { .. },
                ..
            }
        );
        if out.send(frame).is_err() || last {
            return;
        }
    }
    let _ = out.send(FromRunner::Error {
        id,
        error: BackendError::Failed("generation ended without a final event".into()),
    });
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}
