//! What the admin and Ollama lanes share about the model registry: reaching it
//! from the state, and a pull's progress as a stream of NDJSON lines (shaped by
//! the lane) that ends with the pull. Closing the stream does not stop the
//! pull: it is a persisted job running on a task of its own.

use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use futures::StreamExt;
use hearth_core::jobs::JobId;
use hearth_core::registry::Registry;
use hearth_core::registry::pull::PullProgress;
use hearth_core::store::Store;
use hearth_types::Code;
use serde_json::Value;
use tokio::sync::watch;

use crate::error::ApiError;
use crate::lanes::stream::ndjson_line;
use crate::state::AppState;

/// The registry, or a clear refusal when this server manages no models.
pub fn registry(state: &AppState) -> Result<Arc<Registry>, ApiError> {
    state.registry.clone().ok_or_else(|| {
        ApiError::new(
            Code::NotSupported,
            "this server does not manage models (no model registry is configured)",
        )
    })
}

struct Follow {
    rx: Option<watch::Receiver<PullProgress>>,
    store: Arc<dyn Store>,
    id: JobId,
    first: bool,
    done: bool,
}

/// The next progress of the pull, `None` after the final one.
async fn next(mut f: Follow) -> Option<(PullProgress, Follow)> {
    if f.done {
        return None;
    }
    if let Some(rx) = f.rx.as_mut() {
        let changed = if f.first { Ok(()) } else { rx.changed().await };
        f.first = false;
        if changed.is_ok() {
            let progress = rx.borrow_and_update().clone();
            f.done = progress.is_final();
            return Some((progress, f));
        }
        f.rx = None;
    }
    // Not (or no longer) running in this process: the job row tells the end.
    loop {
        match f.store.jobs().get(&f.id).await {
            Ok(job) if job.state.is_final() => {
                f.done = true;
                return Some((PullProgress::of_job(&job), f));
            }
            Ok(_) => tokio::time::sleep(Duration::from_millis(200)).await,
            Err(err) => {
                f.done = true;
                let failed = PullProgress {
                    status: "failed".to_owned(),
                    error: Some(format!("cannot read the pull job: {err}")),
                    ..PullProgress::default()
                };
                return Some((failed, f));
            }
        }
    }
}

/// Every progress of pull `id` until it ends.
pub fn progress(
    registry: &Registry,
    store: Arc<dyn Store>,
    id: JobId,
) -> impl futures::Stream<Item = PullProgress> + Send + 'static {
    let follow = Follow {
        rx: registry.subscribe(&id),
        store,
        id,
        first: true,
        done: false,
    };
    futures::stream::unfold(follow, next)
}

/// An NDJSON body of pull `id`'s progress, each line shaped by `line`.
pub fn ndjson_body(
    registry: &Registry,
    store: Arc<dyn Store>,
    id: JobId,
    line: fn(&PullProgress) -> Value,
) -> Body {
    let lines = progress(registry, store, id)
        .map(move |p| Ok::<_, std::convert::Infallible>(ndjson_line(&line(&p))));
    Body::from_stream(lines)
}

/// The last progress of pull `id` (waits for its end).
pub async fn last(registry: &Registry, store: Arc<dyn Store>, id: JobId) -> PullProgress {
    progress(registry, store, id)
        .fold(PullProgress::default(), |_, p| async move { p })
        .await
}
