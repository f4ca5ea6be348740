//! The usage writer: one task owns the pending records and writes them in
//! batches (up to [`BATCH`] records, or what arrived within [`LINGER`]), so a
//! request never waits for the database. [`UsageRecorder::flush`] waits until
//! everything recorded before it is written; shutdown calls it. A batch that
//! cannot be written is retried, then logged with its size (never dropped
//! silently).

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use tokio::sync::{mpsc, oneshot};

use super::UsageRecord;
use crate::store::Store;

/// Most records per insert.
const BATCH: usize = 256;
/// How long the writer waits for more records before writing a batch.
const LINGER: Duration = Duration::from_millis(200);
/// Attempts per batch.
const ATTEMPTS: u32 = 3;
/// Longest [`UsageRecorder::flush`] waits for records still being completed.
pub const PENDING_WAIT: Duration = Duration::from_secs(5);

enum Command {
    Record(Box<UsageRecord>),
    Flush(oneshot::Sender<()>),
}

/// Handle to the usage writer task (cheap to clone).
#[derive(Clone)]
pub struct UsageRecorder {
    tx: mpsc::UnboundedSender<Command>,
    /// Records still being completed elsewhere (a cut generation counting its
    /// prompt); [`UsageRecorder::flush`] waits for them.
    pending: Arc<AtomicUsize>,
    observer: Option<Observer>,
}

/// Called with every record as it is queued (metrics); must be cheap.
pub type Observer = Arc<dyn Fn(&UsageRecord) + Send + Sync>;

/// Holds one pending record open until dropped.
pub(crate) struct PendingRecord(Arc<AtomicUsize>);

impl Drop for PendingRecord {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

impl UsageRecorder {
    /// Start the writer on the current tokio runtime.
    pub fn start(store: Arc<dyn Store>) -> Self {
        Self::start_with(store, None)
    }

    /// Start the writer; `observer` sees every record as it is queued.
    pub fn start_with(store: Arc<dyn Store>, observer: Option<Observer>) -> Self {
        let (tx, rx) = mpsc::unbounded_channel();
        tokio::spawn(write_loop(store, rx));
        UsageRecorder {
            tx,
            pending: Arc::new(AtomicUsize::new(0)),
            observer,
        }
    }

    /// Announce a record that will be queued later.
    pub(crate) fn pending(&self) -> PendingRecord {
        self.pending.fetch_add(1, Ordering::SeqCst);
        PendingRecord(self.pending.clone())
    }

    /// Queue a record (never blocks).
    pub fn record(&self, record: UsageRecord) {
        if let Some(observe) = &self.observer {
            observe(&record);
        }
        if self.tx.send(Command::Record(Box::new(record))).is_err() {
            tracing::error!("usage writer is gone; a usage record was not stored");
        }
    }

    /// Wait until every record queued before this call (and the pending ones,
    /// for at most [`PENDING_WAIT`]) is written, or failed and logged.
    pub async fn flush(&self) {
        let deadline = tokio::time::Instant::now() + PENDING_WAIT;
        while self.pending.load(Ordering::SeqCst) > 0 && tokio::time::Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        let (tx, rx) = oneshot::channel();
        if self.tx.send(Command::Flush(tx)).is_ok() {
            let _ = rx.await;
        }
    }
}

async fn write_loop(store: Arc<dyn Store>, mut rx: mpsc::UnboundedReceiver<Command>) {
    let mut batch: Vec<UsageRecord> = Vec::new();
    while let Some(first) = rx.recv().await {
        let mut waiters = Vec::new();
        let mut command = Some(first);
        let deadline = tokio::time::Instant::now() + LINGER;
        loop {
            match command.take() {
                Some(Command::Record(record)) => batch.push(*record),
                Some(Command::Flush(waiter)) => waiters.push(waiter),
                None => {}
            }
            if !waiters.is_empty() || batch.len() >= BATCH {
                break;
            }
            match tokio::time::timeout_at(deadline, rx.recv()).await {
                Ok(Some(next)) => command = Some(next),
                Ok(None) | Err(_) => break,
            }
        }
        write(&*store, &mut batch).await;
        for waiter in waiters {
            let _ = waiter.send(());
        }
    }
    write(&*store, &mut batch).await;
}

async fn write(store: &dyn Store, batch: &mut Vec<UsageRecord>) {
    if batch.is_empty() {
        return;
    }
    for attempt in 1..=ATTEMPTS {
        match store.usage().insert(batch).await {
            Ok(()) => {
                batch.clear();
                return;
            }
            Err(err) if attempt == ATTEMPTS => {
                tracing::error!(%err, records = batch.len(), "usage records could not be stored");
            }
            Err(err) => {
                tracing::warn!(%err, attempt, "usage write failed; retrying");
                tokio::time::sleep(Duration::from_millis(100 * u64::from(attempt))).await;
            }
        }
    }
    batch.clear();
}
