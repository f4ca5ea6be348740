//! The scheduler: one per loaded model, a dedicated OS thread that owns the
//! model's llama context (one KV cache shared by all its sequences).
//!
//! Commands arrive on a channel ([`SchedulerHandle`]); each step the thread
//! drops cancelled sequences, admits waiting jobs fairly (see [`queue`]) into
//! free slots reusing cached prefixes (see [`slots`]), then decodes one batch
//! mixing one token of every generating sequence with prefill chunks of new
//! ones under a token budget (see [`worker`]). A panic inside a step fails the
//! sequences of that step and resets the cache; the thread keeps serving.
//!
//! The wait queue is bounded: [`SchedulerHandle::submit`] counts waiting jobs
//! with an atomic and refuses beyond `max_queue` with `Overloaded`.

mod queue;
mod ram_cache;
mod sequence;
pub mod slots;
mod worker;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc::{self, Receiver, Sender};
use std::thread::JoinHandle;

use crate::embed::{EmbedJob, EmbedOptions};
use crate::error::{EngineError, Result};
use crate::model::Model;

pub use sequence::{EventSender, Job};
pub use slots::PrefixScope;

/// How the KV cache is laid out across sequences.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum KvLayout {
    /// Each slot has its own `context_tokens` cells (llama.cpp streams).
    /// Attention only reads a sequence's own cells, so a sequence computes the
    /// same logits whatever runs beside it (batch-invariant greedy output), and
    /// attention cost does not grow with the other sequences' length.
    #[default]
    PerSequence,
    /// One pool of `context_tokens` cells shared by all slots (llama.cpp's
    /// unified KV): less memory, prefixes shared without copying, but the
    /// masked attention reductions then depend on where other sequences' cells
    /// lie, so concurrent greedy outputs can differ from solo runs at near-ties.
    Shared,
}

/// How a model's scheduler runs.
///
/// KV memory: with [`KvLayout::PerSequence`] the cache holds
/// `context_tokens × (parallel + cache_slots)` token cells, each
/// `2 × layers × kv_heads × head_dim × 2` bytes (23 KB for SmolLM2-135M,
/// 128 KB for an 8B Llama 3), so warm conversations beyond the slots are
/// better kept in the RAM tier (`ram_cache_bytes`), which only stores what
/// they actually use.
#[derive(Debug, Clone)]
pub struct SchedulerConfig {
    /// Tokens one sequence (prompt + answer) may hold (0 = the model's trained
    /// context, capped at 4096). Rounded up to a multiple of 256.
    pub context_tokens: u32,
    /// KV cache layout.
    pub kv_layout: KvLayout,
    /// Sequences generating at the same time.
    pub parallel: u32,
    /// Extra idle slots that keep finished conversations' prefixes warm.
    pub cache_slots: u32,
    /// Maximum tokens in one decode step (llama.cpp's `n_batch`).
    pub batch_tokens: u32,
    /// Prompt tokens per step while other sequences are generating, so that a
    /// long prompt does not stall running streams.
    pub interleaved_prefill_tokens: u32,
    /// Jobs allowed to wait for a free sequence before `Overloaded`.
    pub max_queue: usize,
    /// CPU threads (0 = physical cores).
    pub threads: u32,
    /// Who may reuse whose cached prefix.
    pub prefix_scope: PrefixScope,
    /// Host RAM for sequence states displaced from their slot (0 disables).
    pub ram_cache_bytes: usize,
    /// Embedding settings.
    pub embed: EmbedOptions,
}

impl Default for SchedulerConfig {
    fn default() -> Self {
        SchedulerConfig {
            context_tokens: 0,
            kv_layout: KvLayout::PerSequence,
            parallel: 4,
            cache_slots: 0,
            batch_tokens: 512,
            interleaved_prefill_tokens: 128,
            max_queue: 64,
            threads: 0,
            prefix_scope: PrefixScope::Principal,
            ram_cache_bytes: 256 << 20,
            embed: EmbedOptions::default(),
        }
    }
}

impl SchedulerConfig {
    /// Tokens one sequence may hold on `model`.
    pub fn effective_context(&self, model: &Model) -> u32 {
        let wanted = match self.context_tokens {
            0 => model.info().context_length.clamp(256, 4096),
            n => n.max(256),
        };
        wanted.div_ceil(256) * 256
    }

    /// Slots (llama.cpp sequence ids): parallel ones plus warm caches.
    pub fn slot_count(&self) -> u32 {
        self.parallel.max(1) + self.cache_slots
    }

    /// Cells of the whole KV cache.
    pub fn kv_cells(&self, model: &Model) -> u32 {
        match self.kv_layout {
            KvLayout::PerSequence => self.effective_context(model) * self.slot_count(),
            KvLayout::Shared => self.effective_context(model),
        }
    }

    /// CPU threads actually used.
    pub fn effective_threads(&self) -> i32 {
        let threads = if self.threads == 0 {
            crate::model::physical_cores()
        } else {
            self.threads
        };
        i32::try_from(threads.max(1)).unwrap_or(1)
    }
}

/// What the handle sends to the thread.
pub(crate) enum Command {
    Generate(Job),
    Embed(EmbedJob),
    /// Test hook: panic inside the next step.
    InjectPanic,
    Shutdown,
}

/// The submitting side of a model's scheduler. Dropping it stops the thread
/// (after failing what is still queued or running).
#[derive(Debug)]
pub struct SchedulerHandle {
    commands: Sender<Command>,
    waiting: Arc<AtomicUsize>,
    max_queue: usize,
    context_tokens: u32,
    thread: Option<JoinHandle<()>>,
}

impl SchedulerHandle {
    /// Create the context on a new thread; returns once it is ready.
    pub fn spawn(
        model: Arc<Model>,
        config: SchedulerConfig,
        name: &str,
    ) -> Result<SchedulerHandle> {
        let (commands, receiver) = mpsc::channel();
        let (ready_tx, ready_rx) = mpsc::channel();
        let waiting = Arc::new(AtomicUsize::new(0));
        let context_tokens = config.effective_context(&model);
        let max_queue = config.max_queue;
        let thread_waiting = Arc::clone(&waiting);
        let thread = std::thread::Builder::new()
            .name(format!("hearth-sched-{name}"))
            .spawn(move || worker::run(&model, config, receiver, thread_waiting, ready_tx))
            .map_err(|e| EngineError::Failed(format!("cannot start the scheduler thread: {e}")))?;
        match ready_rx.recv() {
            Ok(Ok(())) => {}
            Ok(Err(error)) => return Err(error),
            Err(_) => {
                return Err(EngineError::Failed(
                    "the scheduler thread died while starting".into(),
                ));
            }
        }
        Ok(SchedulerHandle {
            commands,
            waiting,
            max_queue,
            context_tokens,
            thread: Some(thread),
        })
    }

    /// Tokens one sequence may hold at most.
    pub fn context_tokens(&self) -> u32 {
        self.context_tokens
    }

    /// Queue a generation; `Overloaded` when the wait queue is full.
    pub fn submit(&self, job: Job) -> Result<()> {
        self.reserve_queue_place()?;
        self.send(Command::Generate(job))
    }

    /// Queue an embedding request (it shares the wait-queue bound).
    pub(crate) fn submit_embed(&self, job: EmbedJob) -> Result<()> {
        self.reserve_queue_place()?;
        self.send(Command::Embed(job))
    }

    /// Make the next step panic (for tests of the loop's recovery).
    #[doc(hidden)]
    pub fn inject_panic(&self) -> Result<()> {
        self.send(Command::InjectPanic)
    }

    /// Jobs waiting for admission.
    pub fn waiting(&self) -> usize {
        self.waiting.load(Ordering::Acquire)
    }

    fn reserve_queue_place(&self) -> Result<()> {
        self.waiting
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| {
                (n < self.max_queue).then_some(n + 1)
            })
            .map(|_| ())
            .map_err(|_| EngineError::Overloaded {
                retry_after_secs: 1,
            })
    }

    fn send(&self, command: Command) -> Result<()> {
        self.commands
            .send(command)
            .map_err(|_| EngineError::Failed("the scheduler thread has stopped".into()))
    }

    /// Stop the thread and wait for it to exit.
    pub fn shutdown(mut self) {
        let _ = self.commands.send(Command::Shutdown);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

impl Drop for SchedulerHandle {
    fn drop(&mut self) {
        // The thread exits after its current step; it is not joined here so
        // that dropping the last handle never blocks an async runtime thread.
        let _ = self.commands.send(Command::Shutdown);
    }
}

/// The receiving side, for the worker.
pub(crate) type CommandReceiver = Receiver<Command>;
