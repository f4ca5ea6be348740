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
//! - Memory ([`Residency`]): each runner is charged its estimated footprint
//!   ([`ModelFile::memory_estimate`]); a model that does not fit the budget
//!   first unloads idle models, least recently used first, and is refused with
//!   the numbers when that is not enough. An idle runner stops when its
//!   keep-alive runs out (checked every second by [`Supervisor::start_reaper`]).

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
use hearth_core::models::{KeepAlive, LoadedModel, ModelCatalog, ModelInfo};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::net::UnixListener;
use tokio::process::{Child, Command};
use tokio::sync::{mpsc, oneshot};

use super::protocol::{
    FrameError, FromRunner, PROTOCOL_VERSION, RequestId, ToRunner, read_frame, write_frame,
};
use crate::SchedulerConfig;
use crate::local::{ModelFile, ModelFiles};

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

/// How long runners stay and how much memory they may hold together.
#[derive(Debug, Clone)]
pub struct Residency {
    /// How long an idle runner stays (unless a request said otherwise).
    pub keep_alive: KeepAlive,
    /// Bytes all runners may hold together (estimated).
    pub budget_bytes: u64,
    /// The runners' scheduler settings, for the estimates.
    pub scheduler: SchedulerConfig,
}

impl Default for Residency {
    /// Runners stay until stopped; no budget.
    fn default() -> Self {
        Residency {
            keep_alive: KeepAlive::Forever,
            budget_bytes: u64::MAX,
            scheduler: SchedulerConfig::default(),
        }
    }
}

/// Supervised runner processes, one per model in use.
#[derive(Debug)]
pub struct Supervisor {
    files: Arc<ModelFiles>,
    command: RunnerCommand,
    residency: Residency,
    slots: Mutex<HashMap<String, Arc<SlotCell>>>,
    /// Keep-alive set by requests, by model (else `residency.keep_alive`).
    keep_alive: Mutex<HashMap<String, KeepAlive>>,
    /// Held while a start checks the budget and charges its model.
    admission: tokio::sync::Mutex<()>,
}

/// One model's slot and the memory charged to it.
#[derive(Debug, Default)]
struct SlotCell {
    state: tokio::sync::Mutex<Slot>,
    /// Estimated bytes of its runner (loaded or loading); 0 without one.
    charge: AtomicU64,
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
    /// When its last request ended (or it started).
    last_done: Mutex<Instant>,
    /// Connections handed out by `Supervisor::conn` whose request is not
    /// registered yet: the runner is not idle while one exists, so the reaper
    /// cannot stop it between the hand-out and the send.
    reserved: std::sync::atomic::AtomicUsize,
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
    /// Runners for the models of `files`, started with `command`, kept until
    /// stopped, without a memory budget.
    pub fn new(files: Arc<ModelFiles>, command: RunnerCommand) -> Self {
        Supervisor::with_residency(files, command, Residency::default())
    }

    /// Runners kept and budgeted as `residency` says (call
    /// [`Supervisor::start_reaper`] for the keep-alive to take effect).
    pub fn with_residency(
        files: Arc<ModelFiles>,
        command: RunnerCommand,
        residency: Residency,
    ) -> Self {
        Supervisor {
            files,
            command,
            residency,
            slots: Mutex::default(),
            keep_alive: Mutex::default(),
            admission: tokio::sync::Mutex::new(()),
        }
    }

    /// Stop idle runners whose keep-alive ran out, checking every second, for
    /// as long as the supervisor lives.
    pub fn start_reaper(self: &Arc<Self>) {
        let weak = Arc::downgrade(self);
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(Duration::from_secs(1));
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
            loop {
                tick.tick().await;
                let Some(supervisor) = weak.upgrade() else {
                    break;
                };
                supervisor.reap().await;
            }
        });
    }

    /// One reaper pass.
    async fn reap(&self) {
        let cells: Vec<_> = lock(&self.slots)
            .iter()
            .map(|(name, cell)| (name.clone(), cell.clone()))
            .collect();
        for (name, cell) in cells {
            // A slot that is busy (loading, restarting) is not idle.
            let Ok(mut slot) = cell.state.try_lock() else {
                continue;
            };
            let Some(conn) = slot.conn.clone() else {
                continue;
            };
            if conn.death().is_some() {
                // Gone on its own: it holds no memory; `conn` handles the restart.
                cell.charge.store(0, Ordering::Relaxed);
                continue;
            }
            let keep = self.keep_alive_of(&name);
            if conn
                .idle_deadline(keep)
                .is_some_and(|at| at <= Instant::now())
            {
                slot.conn = None;
                cell.charge.store(0, Ordering::Relaxed);
                tracing::info!(model = %name, "unloading idle model (keep-alive over)");
                conn.stop().await;
            }
        }
    }

    fn keep_alive_of(&self, name: &str) -> KeepAlive {
        lock(&self.keep_alive)
            .get(name)
            .copied()
            .unwrap_or(self.residency.keep_alive)
    }

    fn cell(&self, key: &str) -> Arc<SlotCell> {
        lock(&self.slots).entry(key.to_owned()).or_default().clone()
    }

    /// Make room for `need` bytes beside the other runners: unload idle ones,
    /// least recently used first; refuse with the numbers if that is not enough.
    /// The caller holds `admission` and its own slot.
    async fn make_room(&self, key: &str, need: u64) -> Result<(), BackendError> {
        let budget = self.residency.budget_bytes;
        loop {
            let cells: Vec<_> = lock(&self.slots)
                .iter()
                .filter(|(name, _)| name.as_str() != key)
                .map(|(name, cell)| (name.clone(), cell.clone()))
                .collect();
            let used: u64 = cells
                .iter()
                .map(|(_, c)| c.charge.load(Ordering::Relaxed))
                .sum();
            if used.saturating_add(need) <= budget {
                return Ok(());
            }
            // The least recently used idle runner.
            let mut victim: Option<(Instant, String, Arc<SlotCell>)> = None;
            let mut busy = Vec::new();
            for (name, cell) in cells {
                if cell.charge.load(Ordering::Relaxed) == 0 {
                    continue;
                }
                let idle_since = match cell.state.try_lock() {
                    Ok(slot) => slot.conn.as_ref().and_then(|c| c.idle_since()),
                    Err(_) => None,
                };
                match idle_since {
                    Some(at) if victim.as_ref().is_none_or(|(t, _, _)| at < *t) => {
                        victim = Some((at, name, cell));
                    }
                    Some(_) => {}
                    None => busy.push(name),
                }
            }
            let Some((_, name, cell)) = victim else {
                let in_use = if busy.is_empty() {
                    String::new()
                } else {
                    format!(" by {}, in use", busy.join(", "))
                };
                return Err(BackendError::Unavailable(format!(
                    "not enough memory to load {key}: it needs about {} MiB, the budget \
                     (engine.memory_budget_mb) is {} MiB and {} MiB are held{in_use}",
                    mib(need),
                    mib(budget),
                    mib(used)
                )));
            };
            let conn = match cell.state.try_lock() {
                Ok(mut slot) => slot.conn.take(),
                Err(_) => continue,
            };
            cell.charge.store(0, Ordering::Relaxed);
            if let Some(conn) = conn {
                tracing::info!(model = %name, to_load = %key, "unloading idle model to make room");
                conn.stop().await;
            }
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
            if let Some(conn) = &slot.state.lock().await.conn
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
            let conn = slot.state.lock().await.conn.take();
            slot.charge.store(0, Ordering::Relaxed);
            if let Some(conn) = conn {
                conn.stop().await;
            }
        }
    }

    /// The connection to `name`'s runner, starting it if needed.
    async fn conn(&self, name: &str) -> Result<Arc<Conn>, BackendError> {
        let (key, file) = self.files.entry(name)?;
        let cell = self.cell(&key);
        let mut slot = cell.state.lock().await;
        if let Some(conn) = slot.conn.clone() {
            match conn.death() {
                None => return Ok(conn.reserve()),
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
            cell.charge.store(0, Ordering::Relaxed);
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
        let need = self.estimate(&file);
        {
            let _admission = self.admission.lock().await;
            self.make_room(&key, need).await?;
            cell.charge.store(need, Ordering::Relaxed);
        }
        match self.start(&key, &file.path).await {
            Ok(conn) => {
                slot.conn = Some(conn.clone());
                slot.not_before = None;
                slot.last_error = None;
                Ok(conn.reserve())
            }
            Err(err) => {
                cell.charge.store(0, Ordering::Relaxed);
                slot.last_error = Some(err.to_string());
                slot.crashes += 1;
                slot.not_before = Some(Instant::now() + backoff(slot.crashes));
                Err(err)
            }
        }
    }

    /// Estimated bytes `file` holds once loaded.
    fn estimate(&self, file: &ModelFile) -> u64 {
        file.memory_estimate(&self.residency.scheduler)
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
        // OMP_WAIT_POLICY is left to the operator: OpenMP's default (spin
        // briefly, then sleep) keeps decode steps fast and idle runners cold.
        // PASSIVE, tried before, cut generation speed by half or more.
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
            last_done: Mutex::new(Instant::now()),
            reserved: std::sync::atomic::AtomicUsize::new(0),
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
            // The connection is over: requests in flight end now (the exit
            // status and stderr tail follow in the log once the process is
            // reaped), and a runner that is still up is of no use (it exits on
            // its own after a clean close; this covers a broken one).
            if let Some(conn) = reader_conn.upgrade() {
                if !lock(&conn.state).stopping {
                    conn.fail_all(format!(
                        "runner for {} closed its connection (crashed or killed); \
                         the next request restarts it",
                        conn.model
                    ));
                }
                if let Some(stop) = lock(&conn.stop).take() {
                    let _ = stop.send(());
                }
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
    /// Since when no request runs, if none does.
    fn idle_since(&self) -> Option<Instant> {
        let idle =
            lock(&self.state).pending.is_empty() && self.reserved.load(Ordering::SeqCst) == 0;
        idle.then(|| *lock(&self.last_done))
    }

    /// When an idle runner kept `keep` expires; `None` while busy or forever.
    fn idle_deadline(&self, keep: KeepAlive) -> Option<Instant> {
        match keep {
            KeepAlive::Forever => None,
            KeepAlive::For(d) => self.idle_since().map(|at| at + d),
        }
    }

    /// Handed out for one request (see `reserved`); `send` or `release` ends it.
    fn reserve(self: Arc<Self>) -> Arc<Self> {
        self.reserved.fetch_add(1, Ordering::SeqCst);
        self
    }

    /// End a reservation without a request.
    fn release(&self) {
        let _ = self
            .reserved
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1));
    }

    /// A request ended now.
    fn touch(&self) {
        *lock(&self.last_done) = Instant::now();
    }

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
            // Registered (or refused): the hand-out's reservation ends.
            self.release();
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
                    self.touch();
                }
                return;
            }
        };
        if finished && let Some(Waiter::Once(tx)) = state.pending.remove(&id) {
            self.touch();
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
            self.touch();
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

    async fn loaded(&self) -> Result<Vec<LoadedModel>, BackendError> {
        let cells: Vec<_> = lock(&self.slots)
            .iter()
            .map(|(name, cell)| (name.clone(), cell.clone()))
            .collect();
        let now = Instant::now();
        let now_ms = unix_ms();
        let mut out = Vec::new();
        for (name, cell) in cells {
            let charge = cell.charge.load(Ordering::Relaxed);
            if charge == 0 {
                continue;
            }
            let keep = self.keep_alive_of(&name);
            let mut model = LoadedModel {
                name: name.clone(),
                memory_bytes: charge,
                expires_at_ms: None,
                active_requests: 0,
                pid: None,
            };
            // A slot being loaded is listed without its runner's details.
            if let Ok(slot) = cell.state.try_lock()
                && let Some(conn) = &slot.conn
            {
                if conn.death().is_some() {
                    continue;
                }
                model.pid = conn.pid;
                model.active_requests = lock(&conn.state).pending.len() as u32;
                model.expires_at_ms = match keep {
                    KeepAlive::Forever => None,
                    KeepAlive::For(d) => {
                        let at = conn.idle_since().map_or(now + d, |at| at + d);
                        let ahead = at.saturating_duration_since(now).as_millis() as i64;
                        Some(now_ms + ahead)
                    }
                };
            }
            out.push(model);
        }
        out.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(out)
    }

    async fn keep_alive(
        &self,
        name: &str,
        keep_alive: Option<KeepAlive>,
    ) -> Result<(), BackendError> {
        let (key, _) = self.files.entry(name)?;
        let mut map = lock(&self.keep_alive);
        match keep_alive {
            Some(keep) => map.insert(key, keep),
            None => map.remove(&key),
        };
        Ok(())
    }

    async fn preload(&self, name: &str) -> Result<(), BackendError> {
        let conn = self.conn(name).await?;
        conn.touch();
        conn.release();
        Ok(())
    }

    async fn unload(&self, name: &str) -> Result<bool, BackendError> {
        let (key, _) = self.files.entry(name)?;
        let Some(cell) = lock(&self.slots).get(&key).cloned() else {
            return Ok(false);
        };
        let mut slot = cell.state.lock().await;
        let Some(conn) = slot.conn.clone().filter(|c| c.death().is_none()) else {
            return Ok(false);
        };
        if conn.idle_since().is_some() {
            slot.conn = None;
            cell.charge.store(0, Ordering::Relaxed);
            tracing::info!(model = %key, "unloading model on request");
            conn.stop().await;
        } else {
            // Busy: the reaper stops it once its requests are done.
            lock(&self.keep_alive).insert(key, KeepAlive::For(Duration::ZERO));
        }
        Ok(true)
    }
}

#[async_trait]
impl ChatBackend for Supervisor {
    async fn generate(&self, request: GenerateRequest) -> Result<GenerationStream, BackendError> {
        let conn = self.conn(&request.model).await?;
        let (tx, rx) = mpsc::unbounded_channel();
        let id = conn.send(Waiter::Stream(tx), |id| ToRunner::Generate {
            id,
            request: Box::new(request),
        })?;
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

fn mib(bytes: u64) -> u64 {
    bytes.div_ceil(1 << 20)
}

fn unix_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
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
