//! The server side: [`Supervisor`] starts one runner process per model on first
//! use, multiplexes requests over its socket, and turns a runner's death into an
//! error on every request in flight. Implements the core ports like
//! [`LocalModels`](crate::LocalModels) does, with the same [`ModelFiles`] catalog.
//!
//! - Concurrent first requests for a model start one runner (a per-model async lock).
//! - Readiness is the runner's hello frame, awaited with a timeout; a runner that
//!   exits first (a file that does not load) fails the request with the tail of
//!   its stderr, and the server keeps serving.
//! - When a runner dies, its in-flight requests end at once with
//!   `BackendError::Failed("runner for MODEL exited: …; last stderr: …")`; the next
//!   request starts it again, after a backoff that doubles with each crash
//!   (0.5 s up to 30 s) and resets once a runner stayed up for a minute.
//! - Runners exit when their socket closes, so they never outlive the server
//!   (even one killed with SIGKILL); [`Supervisor::shutdown`] closes each socket
//!   and sends SIGTERM, then SIGKILL after the grace period.

use std::collections::{HashMap, VecDeque};
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::process::Stdio;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use futures::Stream;
use hearth_core::backend::{
    BackendError, ChatBackend, EmbedBackend, EmbedRequest, EmbedResponse, GenerateRequest,
    GenerationEvent, GenerationStream, Prompt,
};
use hearth_core::models::{ModelCatalog, ModelInfo};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::net::UnixListener;
use tokio::process::{Child, Command};
use tokio::sync::{mpsc, oneshot};

use super::protocol::{
    FrameError, FromRunner, PROTOCOL_VERSION, RequestId, ToRunner, read_frame, write_frame,
};
use crate::local::ModelFiles;

/// Lines of a runner's stderr kept for error messages.
const STDERR_LINES: usize = 50;
/// First crash-restart delay; doubles per crash.
const BACKOFF_START: Duration = Duration::from_millis(500);
/// Longest crash-restart delay.
const BACKOFF_MAX: Duration = Duration::from_secs(30);
/// A runner up this long resets the backoff.
const HEALTHY_AFTER: Duration = Duration::from_secs(60);
/// A request waits out a restart delay up to this long, else is refused.
const MAX_WAIT_FOR_RESTART: Duration = Duration::from_secs(5);

/// How to start runners.
#[derive(Debug, Clone)]
pub struct RunnerCommand {
    /// The executable (this binary).
    pub program: PathBuf,
    /// Arguments before the per-model ones (e.g. `["runner"]`).
    pub args: Vec<String>,
    /// Arguments after them (engine settings).
    pub extra_args: Vec<String>,
    /// Extra environment for the runner.
    pub env: Vec<(String, String)>,
    /// How long a runner may take to load its model and say hello.
    pub ready_timeout: Duration,
    /// How long a stopping runner gets before SIGKILL.
    pub stop_grace: Duration,
    /// Where sockets are created.
    pub socket_dir: PathBuf,
}

impl RunnerCommand {
    /// Run `program runner …` with default timeouts, sockets in the temp dir.
    pub fn new(program: PathBuf) -> Self {
        RunnerCommand {
            program,
            args: vec!["runner".to_owned()],
            extra_args: Vec::new(),
            env: Vec::new(),
            ready_timeout: Duration::from_secs(120),
            stop_grace: Duration::from_secs(5),
            socket_dir: std::env::temp_dir(),
        }
    }
}

/// Supervised runner processes, one per model in use.
#[derive(Debug)]
pub struct Supervisor {
    files: Arc<ModelFiles>,
    command: RunnerCommand,
    slots: Mutex<HashMap<String, Arc<tokio::sync::Mutex<Slot>>>>,
}

/// What the supervisor knows about one model's runner.
#[derive(Debug, Default)]
struct Slot {
    conn: Option<Arc<Conn>>,
    /// Crashes since the last healthy run.
    crashes: u32,
    /// Earliest next start after a crash.
    not_before: Option<Instant>,
    /// Why the last start failed (repeated while the backoff runs).
    last_error: Option<String>,
}

/// What a pending request is waiting for.
#[derive(Debug)]
enum Waiter {
    Stream(mpsc::UnboundedSender<Result<Option<GenerationEvent>, BackendError>>),
    Once(oneshot::Sender<Result<FromRunner, BackendError>>),
}

/// A live connection to one runner.
#[derive(Debug)]
struct Conn {
    model: String,
    out: mpsc::UnboundedSender<ToRunner>,
    next_id: AtomicU64,
    state: Mutex<ConnState>,
    started: Instant,
    /// Ask the monitor to stop the runner.
    stop: Mutex<Option<oneshot::Sender<()>>>,
    /// Resolves when the runner has exited.
    exited: tokio::sync::watch::Receiver<bool>,
    /// The runner's process id.
    pid: Option<u32>,
}

#[derive(Debug, Default)]
struct ConnState {
    pending: HashMap<RequestId, Waiter>,
    /// Set once the runner is gone: why.
    dead: Option<String>,
    /// Whether the exit was asked for (not a crash).
    stopping: bool,
}

impl Supervisor {
    /// Runners for the models of `files`, started with `command`.
    pub fn new(files: Arc<ModelFiles>, command: RunnerCommand) -> Self {
        Supervisor {
            files,
            command,
            slots: Mutex::default(),
        }
    }

    /// The registered files.
    pub fn files(&self) -> &Arc<ModelFiles> {
        &self.files
    }

    /// Process ids of the running runners, by model (for operators and tests).
    pub async fn runner_pids(&self) -> Vec<(String, u32)> {
        let slots: Vec<_> = lock(&self.slots).values().cloned().collect();
        let mut out = Vec::new();
        for slot in slots {
            if let Some(conn) = &slot.lock().await.conn
                && let Some(pid) = conn.pid()
            {
                out.push((conn.model.clone(), pid));
            }
        }
        out.sort();
        out
    }

    /// Stop every runner: close its socket and send SIGTERM, then SIGKILL after
    /// the grace period; returns once all have exited.
    pub async fn shutdown(&self) {
        let slots: Vec<_> = lock(&self.slots).drain().map(|(_, s)| s).collect();
        for slot in slots {
            let conn = slot.lock().await.conn.take();
            if let Some(conn) = conn {
                conn.stop().await;
            }
        }
    }

    /// The connection to `name`'s runner, starting it if needed.
    async fn conn(&self, name: &str) -> Result<Arc<Conn>, BackendError> {
        let (key, file) = self.files.entry(name)?;
        let slot = lock(&self.slots).entry(key.clone()).or_default().clone();
        let mut slot = slot.lock().await;
        if let Some(conn) = slot.conn.clone() {
            match conn.death() {
                None => return Ok(conn),
                Some((_, true)) => {}
                Some((why, false)) => {
                    slot.last_error = Some(why);
                    // A crash: the backoff grows unless the runner had been healthy.
                    if conn.started.elapsed() >= HEALTHY_AFTER {
                        slot.crashes = 0;
                    }
                    slot.crashes += 1;
                    let delay = backoff(slot.crashes);
                    slot.not_before = Some(Instant::now() + delay);
                }
            }
            slot.conn = None;
        }
        if let Some(at) = slot.not_before {
            let wait = at.saturating_duration_since(Instant::now());
            if wait > MAX_WAIT_FOR_RESTART {
                let last = slot
                    .last_error
                    .as_deref()
                    .map(|e| format!(" (last failure: {e})"))
                    .unwrap_or_default();
                return Err(BackendError::Unavailable(format!(
                    "runner for {key} is restarting after repeated crashes; retry in {} s{last}",
                    wait.as_secs().max(1)
                )));
            }
            tokio::time::sleep(wait).await;
        }
        match self.start(&key, &file.path).await {
            Ok(conn) => {
                slot.conn = Some(conn.clone());
                slot.not_before = None;
                slot.last_error = None;
                Ok(conn)
            }
            Err(err) => {
                slot.last_error = Some(err.to_string());
                slot.crashes += 1;
                slot.not_before = Some(Instant::now() + backoff(slot.crashes));
                Err(err)
            }
        }
    }

    /// Start a runner for `name` and wait for its hello.
    async fn start(&self, name: &str, path: &Path) -> Result<Arc<Conn>, BackendError> {
        static SEQ: AtomicU64 = AtomicU64::new(0);
        // A fresh directory only this user can enter, so that no other local
        // user can connect in the runner's place.
        let socket_dir = self.command.socket_dir.join(format!(
            "hearth-runner-{}-{}-{}",
            std::process::id(),
            SEQ.fetch_add(1, Ordering::Relaxed),
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.subsec_nanos())
        ));
        let socket = socket_dir.join("runner.sock");
        let listener = {
            use std::os::unix::fs::DirBuilderExt;
            std::fs::DirBuilder::new()
                .mode(0o700)
                .create(&socket_dir)
                .and_then(|()| UnixListener::bind(&socket))
                .map_err(|e| {
                    let _ = std::fs::remove_dir_all(&socket_dir);
                    BackendError::Unavailable(format!(
                        "cannot create the runner socket {}: {e}",
                        socket.display()
                    ))
                })?
        };
        let mut cmd = Command::new(&self.command.program);
        cmd.args(&self.command.args)
            .arg("--socket")
            .arg(&socket)
            .arg("--model-name")
            .arg(name)
            .arg("--model-file")
            .arg(path)
            .args(&self.command.extra_args)
            .envs(self.command.env.iter().map(|(k, v)| (k, v)))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        if std::env::var_os("OMP_WAIT_POLICY").is_none() {
            // Idle OpenMP threads otherwise spin between requests.
            cmd.env("OMP_WAIT_POLICY", "PASSIVE");
        }
        tracing::info!(model = %name, path = %path.display(), "starting runner");
        let mut child = cmd.spawn().map_err(|e| {
            let _ = std::fs::remove_dir_all(&socket_dir);
            BackendError::Unavailable(format!(
                "cannot start the runner for {name} ({}): {e}",
                self.command.program.display()
            ))
        })?;
        let tail: Arc<Mutex<VecDeque<String>>> = Arc::default();
        let stderr_task = child.stderr.take().map(|stderr| {
            let tail = tail.clone();
            let model = name.to_owned();
            tokio::spawn(async move {
                let mut lines = BufReader::new(stderr).lines();
                while let Ok(Some(line)) = lines.next_line().await {
                    tracing::debug!(target: "hearth::runner", model = %model, "{line}");
                    let mut tail = lock(&tail);
                    if tail.len() == STDERR_LINES {
                        tail.pop_front();
                    }
                    tail.push_back(line);
                }
            })
        });

        // Wait for the connection and the hello, the child's exit, or the timeout.
        let ready = async {
            let (stream, _) = listener.accept().await.map_err(|e| e.to_string())?;
            let (mut reader, writer) = stream.into_split();
            match read_frame::<_, FromRunner>(&mut reader).await {
                Ok(FromRunner::Hello { version, .. }) if version == PROTOCOL_VERSION => {
                    Ok((reader, writer))
                }
                Ok(FromRunner::Hello { version, .. }) => Err(format!(
                    "runner speaks protocol {version}, the server {PROTOCOL_VERSION}"
                )),
                Ok(other) => Err(format!("runner sent {other:?} before its hello")),
                Err(err) => Err(err.to_string()),
            }
        };
        let outcome = tokio::select! {
            r = tokio::time::timeout(self.command.ready_timeout, ready) => match r {
                Ok(r) => r.map_err(|e| (e, None)),
                Err(_) => Err((format!("not ready after {} s", self.command.ready_timeout.as_secs()), None)),
            },
            status = child.wait() => Err(("exited before it was ready".to_owned(), Some(status))),
        };
        let _ = std::fs::remove_dir_all(&socket_dir);
        drop(listener);
        let (reader, writer) = match outcome {
            Ok(halves) => halves,
            Err((why, status)) => {
                let status = match status {
                    Some(status) => status,
                    None => {
                        let _ = child.start_kill();
                        child.wait().await
                    }
                };
                if let Some(task) = stderr_task {
                    let _ = tokio::time::timeout(Duration::from_secs(1), task).await;
                }
                let message = format!(
                    "runner for {name} failed to start ({why}; {}){}",
                    describe_status(status),
                    stderr_suffix(&tail)
                );
                tracing::warn!(model = %name, "{message}");
                return Err(BackendError::Unavailable(message));
            }
        };
        tracing::info!(model = %name, pid = child.id(), "runner ready");

        let (out_tx, mut out_rx) = mpsc::unbounded_channel::<ToRunner>();
        let (stop_tx, stop_rx) = oneshot::channel::<()>();
        let (exited_tx, exited_rx) = tokio::sync::watch::channel(false);
        let pid = child.id();
        let conn = Arc::new(Conn {
            model: name.to_owned(),
            out: out_tx,
            next_id: AtomicU64::new(1),
            state: Mutex::default(),
            started: Instant::now(),
            stop: Mutex::new(Some(stop_tx)),
            exited: exited_rx,
            pid,
        });

        // Writer: frames to the runner; ends when the connection is dropped or stopped.
        let mut writer = writer;
        let writer_task = tokio::spawn(async move {
            while let Some(frame) = out_rx.recv().await {
                if write_frame(&mut writer, &frame).await.is_err() {
                    break;
                }
            }
            // Closing our end tells the runner to exit.
            drop(writer);
        });
        // Reader: frames from the runner to their waiters.
        let reader_conn = Arc::downgrade(&conn);
        let mut reader = reader;
        tokio::spawn(async move {
            loop {
                let frame = match read_frame::<_, FromRunner>(&mut reader).await {
                    Ok(frame) => frame,
                    Err(FrameError::Closed) => break,
                    Err(err) => {
                        tracing::warn!(%err, "runner protocol error");
                        break;
                    }
                };
                let Some(conn) = reader_conn.upgrade() else {
                    break;
                };
                conn.deliver(frame);
            }
            // The connection is over: a runner that is still up is of no use
            // (it exits on its own after a clean close; this covers a broken one).
            if let Some(conn) = reader_conn.upgrade()
                && let Some(stop) = lock(&conn.stop).take()
            {
                let _ = stop.send(());
            }
        });
        // Monitor: waits for the exit (or a stop request), then fails the waiters.
        let monitor_conn = Arc::downgrade(&conn);
        let model = name.to_owned();
        let grace = self.command.stop_grace;
        tokio::spawn(async move {
            let status = tokio::select! {
                biased;
                status = child.wait() => status,
                _ = stop_rx => {
                    writer_task.abort();
                    terminate(&mut child);
                    match tokio::time::timeout(grace, child.wait()).await {
                        Ok(status) => status,
                        Err(_) => {
                            tracing::warn!(model = %model, "runner did not stop in time; killing it");
                            let _ = child.start_kill();
                            child.wait().await
                        }
                    }
                }
            };
            if let Some(task) = stderr_task {
                let _ = tokio::time::timeout(Duration::from_millis(300), task).await;
            }
            let message = format!(
                "runner for {model} exited: {}{}",
                describe_status(status),
                stderr_suffix(&tail)
            );
            if let Some(conn) = monitor_conn.upgrade() {
                conn.fail_all(message);
            } else {
                tracing::info!(model = %model, "{message}");
            }
            let _ = exited_tx.send(true);
        });
        Ok(conn)
    }
}

impl Conn {
    fn pid(&self) -> Option<u32> {
        self.pid.filter(|_| self.death().is_none())
    }

    /// `Some((why, asked))` once the runner is gone.
    fn death(&self) -> Option<(String, bool)> {
        let state = lock(&self.state);
        state.dead.clone().map(|why| (why, state.stopping))
    }

    /// Send `frame` built for a fresh id, registering `waiter` first.
    fn send(
        &self,
        waiter: Waiter,
        frame: impl FnOnce(RequestId) -> ToRunner,
    ) -> Result<RequestId, BackendError> {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        {
            let mut state = lock(&self.state);
            if let Some(why) = &state.dead {
                return Err(BackendError::Failed(why.clone()));
            }
            state.pending.insert(id, waiter);
        }
        if self.out.send(frame(id)).is_err() {
            lock(&self.state).pending.remove(&id);
            return Err(BackendError::Failed(format!(
                "runner for {} is not accepting requests",
                self.model
            )));
        }
        Ok(id)
    }

    /// One request/response exchange.
    async fn call(
        &self,
        frame: impl FnOnce(RequestId) -> ToRunner,
    ) -> Result<FromRunner, BackendError> {
        let (tx, rx) = oneshot::channel();
        self.send(Waiter::Once(tx), frame)?;
        rx.await.unwrap_or_else(|_| {
            Err(BackendError::Failed(format!(
                "runner for {} dropped the request",
                self.model
            )))
        })
    }

    /// Route one frame from the runner.
    fn deliver(&self, frame: FromRunner) {
        let id = match &frame {
            FromRunner::Hello { .. } => return,
            FromRunner::Accepted { id }
            | FromRunner::Event { id, .. }
            | FromRunner::Error { id, .. }
            | FromRunner::Tokens { id, .. }
            | FromRunner::Embedded { id, .. }
            | FromRunner::Pong { id } => *id,
        };
        let mut state = lock(&self.state);
        let finished = match state.pending.get(&id) {
            None => return,
            Some(Waiter::Once(_)) => true,
            Some(Waiter::Stream(tx)) => {
                let (item, last) = match frame {
                    FromRunner::Accepted { .. } => (Ok(None), false),
                    FromRunner::Event { event, .. } => {
                        let last = matches!(event, GenerationEvent::Done { .. });
                        (Ok(Some(event)), last)
                    }
                    FromRunner::Error { error, .. } => (Err(error), true),
                    other => (
                        Err(BackendError::Failed(format!(
                            "unexpected runner frame {other:?}"
                        ))),
                        true,
                    ),
                };
                let gone = tx.send(item).is_err();
                if last || gone {
                    state.pending.remove(&id);
                }
                return;
            }
        };
        if finished && let Some(Waiter::Once(tx)) = state.pending.remove(&id) {
            let _ = tx.send(match frame {
                FromRunner::Error { error, .. } => Err(error),
                other => Ok(other),
            });
        }
    }

    /// The runner is gone: every waiter gets `why` now.
    fn fail_all(&self, why: String) {
        let pending = {
            let mut state = lock(&self.state);
            state.dead = Some(why.clone());
            std::mem::take(&mut state.pending)
        };
        if !pending.is_empty() {
            tracing::warn!(model = %self.model, requests = pending.len(), "{why}");
        } else {
            tracing::info!(model = %self.model, "{why}");
        }
        for (_, waiter) in pending {
            let err = BackendError::Failed(why.clone());
            match waiter {
                Waiter::Stream(tx) => {
                    let _ = tx.send(Err(err));
                }
                Waiter::Once(tx) => {
                    let _ = tx.send(Err(err));
                }
            }
        }
    }

    /// The consumer dropped a stream: forget it and tell the runner.
    fn cancel(&self, id: RequestId) {
        let was_pending = lock(&self.state).pending.remove(&id).is_some();
        if was_pending {
            let _ = self.out.send(ToRunner::Cancel { id });
        }
    }

    /// Ask the runner to stop and wait until it has exited.
    async fn stop(&self) {
        lock(&self.state).stopping = true;
        if let Some(stop) = lock(&self.stop).take() {
            let _ = stop.send(());
        }
        let mut exited = self.exited.clone();
        let _ = exited.wait_for(|e| *e).await;
    }
}

/// A generation stream fed by the runner connection; dropping it cancels.
struct RemoteStream {
    conn: Arc<Conn>,
    id: RequestId,
    rx: mpsc::UnboundedReceiver<Result<Option<GenerationEvent>, BackendError>>,
    done: bool,
}

impl Stream for RemoteStream {
    type Item = Result<GenerationEvent, BackendError>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        if self.done {
            return Poll::Ready(None);
        }
        loop {
            return match self.rx.poll_recv(cx) {
                Poll::Pending => Poll::Pending,
                Poll::Ready(None) => {
                    self.done = true;
                    Poll::Ready(None)
                }
                Poll::Ready(Some(Ok(None))) => continue,
                Poll::Ready(Some(item)) => {
                    let last = !matches!(item, Ok(Some(GenerationEvent::Delta { .. })));
                    if last {
                        self.done = true;
                    }
                    Poll::Ready(Some(item.map(|e| e.expect("accepted frames are skipped"))))
                }
            };
        }
    }
}

impl Drop for RemoteStream {
    fn drop(&mut self) {
        if !self.done {
            self.conn.cancel(self.id);
        }
    }
}

#[async_trait]
impl ModelCatalog for Supervisor {
    async fn list(&self) -> Result<Vec<ModelInfo>, BackendError> {
        self.files.list().await
    }

    async fn get(&self, name: &str) -> Result<ModelInfo, BackendError> {
        self.files.get(name).await
    }
}

#[async_trait]
impl ChatBackend for Supervisor {
    async fn generate(&self, request: GenerateRequest) -> Result<GenerationStream, BackendError> {
        let conn = self.conn(&request.model).await?;
        let (tx, rx) = mpsc::unbounded_channel();
        let id = conn.send(Waiter::Stream(tx), |id| ToRunner::Generate { id, request })?;
        // Built first, so that a caller giving up while waiting cancels.
        let mut stream = RemoteStream {
            conn,
            id,
            rx,
            done: false,
        };
        // Errors known before the first token come back as the first frame.
        match stream.rx.recv().await {
            Some(Ok(None)) => Ok(Box::pin(stream)),
            Some(Err(err)) => {
                stream.done = true;
                Err(err)
            }
            Some(Ok(Some(_))) | None => {
                stream.done = true;
                Err(BackendError::Failed(format!(
                    "runner for {} broke the protocol",
                    stream.conn.model
                )))
            }
        }
    }

    async fn count_tokens(&self, model: &str, prompt: &Prompt) -> Result<u32, BackendError> {
        let conn = self.conn(model).await?;
        let prompt = prompt.clone();
        match conn.call(|id| ToRunner::CountTokens { id, prompt }).await? {
            FromRunner::Tokens { count, .. } => Ok(count),
            other => Err(unexpected(&conn, &other)),
        }
    }
}

#[async_trait]
impl EmbedBackend for Supervisor {
    async fn embed(&self, request: EmbedRequest) -> Result<EmbedResponse, BackendError> {
        let conn = self.conn(&request.model).await?;
        match conn.call(|id| ToRunner::Embed { id, request }).await? {
            FromRunner::Embedded { response, .. } => Ok(response),
            other => Err(unexpected(&conn, &other)),
        }
    }
}

fn unexpected(conn: &Conn, frame: &FromRunner) -> BackendError {
    BackendError::Failed(format!(
        "runner for {} answered with an unexpected frame {frame:?}",
        conn.model
    ))
}

/// Delay before the `crashes`-th restart: 0.5 s doubling, at most 30 s.
fn backoff(crashes: u32) -> Duration {
    let factor = 1u32 << crashes.saturating_sub(1).min(10);
    (BACKOFF_START * factor).min(BACKOFF_MAX)
}

/// SIGTERM (through `kill(1)`, which keeps the crate free of `unsafe`); when
/// that is not possible, SIGKILL.
fn terminate(child: &mut Child) {
    let sent = child.id().is_some_and(|pid| {
        std::process::Command::new("kill")
            .arg("-TERM")
            .arg(pid.to_string())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
    });
    if !sent {
        let _ = child.start_kill();
    }
}

fn describe_status(status: std::io::Result<std::process::ExitStatus>) -> String {
    use std::os::unix::process::ExitStatusExt;
    match status {
        Ok(status) => match (status.code(), status.signal()) {
            (Some(code), _) => format!("exit status {code}"),
            (None, Some(signal)) => format!("killed by signal {signal}{}", signal_name(signal)),
            _ => status.to_string(),
        },
        Err(err) => format!("status unknown ({err})"),
    }
}

fn signal_name(signal: i32) -> &'static str {
    match signal {
        6 => " (SIGABRT)",
        9 => " (SIGKILL)",
        11 => " (SIGSEGV)",
        15 => " (SIGTERM)",
        _ => "",
    }
}

fn stderr_suffix(tail: &Mutex<VecDeque<String>>) -> String {
    let tail = lock(tail);
    if tail.is_empty() {
        "; no stderr output".to_owned()
    } else {
        let lines: Vec<&str> = tail.iter().map(String::as_str).collect();
        format!("; last stderr: {}", lines.join("\n"))
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_up_to_the_cap() {
        assert_eq!(backoff(1), Duration::from_millis(500));
        assert_eq!(backoff(2), Duration::from_secs(1));
        assert_eq!(backoff(3), Duration::from_secs(2));
        assert_eq!(backoff(7), Duration::from_secs(30));
        assert_eq!(backoff(100), Duration::from_secs(30));
    }
}
