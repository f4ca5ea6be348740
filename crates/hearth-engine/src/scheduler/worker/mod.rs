//! The scheduler thread's loop and one decode step.
//!
//! Runs only on the model's scheduler thread, which owns the llama context.
//! Invariants: `slots[s].tokens` is exactly what the KV cache holds for
//! sequence id `s`; a running sequence owns its slot (`busy`) and, while
//! prefilling, `slot.tokens.len() == prompt_done`; after a failed decode the
//! cells the batch may have written are removed again.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc::{Sender, TryRecvError};

use hearth_core::backend::FinishReason;
use llama_cpp_2::DecodeError;
use llama_cpp_2::context::LlamaContext;
use llama_cpp_2::context::params::LlamaContextParams;
use llama_cpp_2::context::session::SeqState;
use llama_cpp_2::llama_batch::LlamaBatch;
use llama_cpp_2::token::LlamaToken;

use super::queue::FairQueue;
use super::ram_cache::RamCache;
use super::sequence::{Job, Next, Sequence};
use super::slots::{self, Slot};
use super::{Command, CommandReceiver, KvLayout, SchedulerConfig};
use crate::embed::{EmbedJob, Embedder};
use crate::error::{EngineError, Result};
use crate::model::{Model, backend};

mod kv;

/// Thread entry point: create the context, report readiness, serve commands.
pub(super) fn run(
    model: &Arc<Model>,
    config: SchedulerConfig,
    commands: CommandReceiver,
    waiting: Arc<AtomicUsize>,
    ready: Sender<Result<()>>,
) {
    let ctx = match create_context(model, &config) {
        Ok(ctx) => ctx,
        Err(error) => {
            let _ = ready.send(Err(error));
            return;
        }
    };
    let _ = ready.send(Ok(()));
    let mut worker = Worker::new(model, ctx, config, waiting);
    worker.serve(&commands);
}

fn create_context<'m>(model: &'m Model, config: &SchedulerConfig) -> Result<LlamaContext<'m>> {
    let n_ctx = config.kv_cells(model);
    let n_seq = config.slot_count();
    let threads = config.effective_threads();
    let params = LlamaContextParams::default()
        .with_n_ctx(std::num::NonZeroU32::new(n_ctx))
        .with_n_batch(config.batch_tokens)
        .with_n_ubatch(config.batch_tokens)
        .with_n_seq_max(n_seq)
        .with_kv_unified(config.kv_layout == KvLayout::Shared)
        .with_swa_full(true)
        .with_n_threads(threads)
        .with_n_threads_batch(threads);
    model
        .llama()
        .new_context(backend(), params)
        .map_err(|e| EngineError::LoadFailed {
            path: model.info().path.clone(),
            detail: format!("cannot create a context of {n_ctx} tokens for {n_seq} sequences: {e}"),
        })
}

/// One batch entry: tokens of one sequence decoded this step.
struct Entry {
    seq: usize,
    tokens: Vec<LlamaToken>,
    logits_at: Option<i32>,
}

struct Worker<'m> {
    model: &'m Model,
    ctx: LlamaContext<'m>,
    batch: LlamaBatch<'static>,
    config: SchedulerConfig,
    n_ctx: usize,
    slots: Vec<Slot>,
    queue: FairQueue<Job>,
    running: Vec<Sequence>,
    waiting: Arc<AtomicUsize>,
    clock: u64,
    ram: RamCache<SeqState>,
    embedder: Option<Embedder<'m>>,
    panic_next_step: bool,
}

impl<'m> Worker<'m> {
    fn new(
        model: &'m Model,
        ctx: LlamaContext<'m>,
        config: SchedulerConfig,
        waiting: Arc<AtomicUsize>,
    ) -> Self {
        let config_ram_bytes = config.ram_cache_bytes;
        let n_slots = config.slot_count() as usize;
        let n_ctx = match config.kv_layout {
            KvLayout::PerSequence => ctx.n_ctx() as usize / n_slots,
            KvLayout::Shared => ctx.n_ctx() as usize,
        };
        Worker {
            model,
            n_ctx,
            ctx,
            batch: LlamaBatch::new(config.batch_tokens as usize, 1),
            config,
            slots: vec![Slot::default(); n_slots],
            queue: FairQueue::default(),
            running: Vec::new(),
            waiting,
            clock: 0,
            embedder: None,
            panic_next_step: false,
            ram: RamCache::new(config_ram_bytes),
        }
    }

    fn serve(&mut self, commands: &CommandReceiver) {
        loop {
            if self.running.is_empty() && self.queue.is_empty() {
                match commands.recv() {
                    Ok(command) => {
                        if !self.handle(command) {
                            break;
                        }
                    }
                    Err(_) => break,
                }
            }
            let open = loop {
                match commands.try_recv() {
                    Ok(command) => {
                        if !self.handle(command) {
                            break false;
                        }
                    }
                    Err(TryRecvError::Disconnected) => break false,
                    Err(TryRecvError::Empty) => break true,
                }
            };
            if !open {
                break;
            }
            self.guarded_step();
        }
        self.shut_down();
    }

    /// Returns false on shutdown.
    fn handle(&mut self, command: Command) -> bool {
        match command {
            Command::Generate(job) => {
                let principal = job.principal.clone();
                let weight = job.weight;
                self.queue.push(&principal, weight, job);
            }
            Command::Embed(job) => self.embed(job),
            Command::InjectPanic => self.panic_next_step = true,
            Command::Shutdown => return false,
        }
        true
    }

    fn embed(&mut self, job: EmbedJob) {
        self.waiting.fetch_sub(1, Ordering::AcqRel);
        if self.embedder.is_none() {
            match Embedder::new(self.model, &self.config) {
                Ok(embedder) => self.embedder = Some(embedder),
                Err(error) => return job.reply(Err(error)),
            }
        }
        let embedder = self.embedder.as_mut().expect("created above");
        let result = catch_unwind(AssertUnwindSafe(|| {
            embedder.embed(&job.inputs, job.normalize)
        }));
        let result = result.unwrap_or_else(|panic| Err(EngineError::Failed(panic_message(&panic))));
        if result.is_err() {
            self.embedder = None; // rebuilt on next use, from a clean state
        }
        job.reply(result);
    }

    fn guarded_step(&mut self) {
        if let Err(panic) = catch_unwind(AssertUnwindSafe(|| self.step())) {
            let message = panic_message(&panic);
            tracing::error!(%message, "scheduler step panicked; failing its sequences and resetting the cache");
            for seq in self.running.drain(..) {
                seq.fail(EngineError::Failed(format!(
                    "internal error in the scheduler: {message}"
                )));
            }
            self.ctx.clear_kv_cache();
            self.slots.iter_mut().for_each(|s| *s = Slot::default());
        }
    }

    fn step(&mut self) {
        if std::mem::take(&mut self.panic_next_step) {
            panic!("injected panic (test hook)");
        }
        self.reap_cancelled();
        self.admit();
        let entries = self.build_batch();
        if entries.is_empty() {
            return;
        }
        match self.decode(&entries) {
            Ok(()) => self.after_decode(entries),
            Err(DecodeError::NoKvCacheSlot) => self.preempt_newest(),
            Err(error) => self.fail_entries(&entries, &error),
        }
    }

    fn reap_cancelled(&mut self) {
        let mut i = 0;
        while i < self.running.len() {
            if self.running[i].is_cancelled() {
                let seq = self.running.remove(i);
                self.release(seq.slot);
                seq.finish(FinishReason::Cancelled);
            } else {
                i += 1;
            }
        }
        let dropped = self.queue.retain(|job| !job.events.is_closed());
        self.waiting.fetch_sub(dropped, Ordering::AcqRel);
    }

    fn build_batch(&mut self) -> Vec<Entry> {
        self.batch.clear();
        let mut entries = Vec::new();
        for i in 0..self.running.len() {
            let (slot, next) = (self.running[i].slot, self.running[i].next);
            if let Some(token) = next {
                let pos = self.slots[slot].tokens.len();
                let at = self.add(token, pos, slot, true);
                entries.push(Entry {
                    seq: i,
                    tokens: vec![token],
                    logits_at: Some(at),
                });
            }
        }
        let capacity = (self.config.batch_tokens as usize).saturating_sub(entries.len());
        let budget = if entries.is_empty() {
            capacity
        } else {
            self.config.interleaved_prefill_tokens as usize
        };
        self.add_prefill_chunks(&mut entries, budget.min(capacity).max(1));
        entries
    }

    /// Prompt chunks, earliest admitted first, so early arrivals stream first.
    /// At most one prompt completes per step: on a CPU, prefill cost is about
    /// linear in tokens, so finishing prompts one at a time gives the first
    /// arrival its first token sooner without slowing the others on average.
    fn add_prefill_chunks(&mut self, entries: &mut Vec<Entry>, mut budget: usize) {
        let mut prefilling: Vec<usize> = (0..self.running.len())
            .filter(|&i| self.running[i].next.is_none())
            .collect();
        prefilling.sort_by_key(|&i| self.running[i].admitted);
        for i in prefilling {
            let (slot, start, end) = {
                let seq = &self.running[i];
                let take = (seq.prompt.len() - seq.prompt_done).min(budget);
                (seq.slot, seq.prompt_done, seq.prompt_done + take)
            };
            if start == end {
                break;
            }
            let tokens = self.running[i].prompt[start..end].to_vec();
            let last_of_prompt = end == self.running[i].prompt.len();
            let mut logits_at = None;
            for (k, &token) in tokens.iter().enumerate() {
                let is_last = last_of_prompt && k + 1 == tokens.len();
                let at = self.add(token, start + k, slot, is_last);
                logits_at = is_last.then_some(at).or(logits_at);
            }
            budget -= tokens.len();
            entries.push(Entry {
                seq: i,
                tokens,
                logits_at,
            });
            if last_of_prompt {
                break;
            }
        }
    }

    fn add(&mut self, token: LlamaToken, pos: usize, slot: usize, logits: bool) -> i32 {
        let at = self.batch.n_tokens();
        self.batch
            .add(token, pos as i32, &[slot as i32], logits)
            .expect("batch sized to the step budget");
        at
    }

    fn decode(&mut self, entries: &[Entry]) -> Result<(), DecodeError> {
        loop {
            match self.ctx.decode(&mut self.batch) {
                Ok(()) => return Ok(()),
                Err(DecodeError::NoKvCacheSlot) => {
                    self.rollback(entries);
                    let Some(&victim) = slots::eviction_order(&self.slots).first() else {
                        return Err(DecodeError::NoKvCacheSlot);
                    };
                    tracing::debug!(slot = victim, "KV cache full: evicting an idle prefix");
                    self.evict(victim);
                }
                Err(error) => {
                    self.rollback(entries);
                    return Err(error);
                }
            }
        }
    }

    /// Remove any cells a failed decode may have written.
    fn rollback(&mut self, entries: &[Entry]) {
        for entry in entries {
            let slot = self.running[entry.seq].slot;
            let len = self.slots[slot].tokens.len() as u32;
            let _ = self.ctx.kv_cache_seq_rm(slot as i32, Some(len), None);
        }
    }

    fn after_decode(&mut self, entries: Vec<Entry>) {
        let mut ended: Vec<(usize, Result<FinishReason>)> = Vec::new();
        for entry in entries {
            let seq = &mut self.running[entry.seq];
            let slot = &mut self.slots[seq.slot];
            slot.tokens.extend_from_slice(&entry.tokens);
            if seq.next.is_none() {
                seq.prompt_done += entry.tokens.len();
            }
            let Some(at) = entry.logits_at else { continue };
            let positions_left = self.n_ctx.saturating_sub(slot.tokens.len() + 1);
            let logits = self.ctx.get_logits_ith(at);
            match seq.sample(self.model, logits, positions_left) {
                Ok(Next::Continue) => {}
                Ok(Next::Finish(reason)) => ended.push((entry.seq, Ok(reason))),
                Err(error) => ended.push((entry.seq, Err(error))),
            }
        }
        ended.sort_by_key(|&(i, _)| std::cmp::Reverse(i));
        for (i, outcome) in ended {
            let seq = self.running.remove(i);
            self.release(seq.slot);
            match outcome {
                Ok(reason) => seq.finish(reason),
                Err(error) => seq.fail(error),
            }
        }
    }

    /// The KV cache is full of running sequences: end the newest one.
    fn preempt_newest(&mut self) {
        let Some(i) = (0..self.running.len()).max_by_key(|&i| self.running[i].admitted) else {
            return;
        };
        let seq = self.running.remove(i);
        self.release(seq.slot);
        tracing::warn!(slot = seq.slot, "KV cache full: ending the newest sequence");
        if seq.next.is_some() {
            seq.finish(FinishReason::Length);
        } else {
            seq.fail(EngineError::Overloaded {
                retry_after_secs: 1,
            });
        }
    }

    fn fail_entries(&mut self, entries: &[Entry], error: &DecodeError) {
        tracing::error!(%error, "decode failed; failing the batch's sequences");
        let mut indices: Vec<usize> = entries.iter().map(|e| e.seq).collect();
        indices.sort_unstable_by(|a, b| b.cmp(a));
        indices.dedup();
        for i in indices {
            let seq = self.running.remove(i);
            self.release(seq.slot);
            seq.fail(EngineError::Failed(format!("decode failed: {error}")));
        }
    }

    fn shut_down(&mut self) {
        let reason = || EngineError::ShuttingDown("this model".into());
        for seq in self.running.drain(..) {
            seq.fail(reason());
        }
        for job in self.queue.drain() {
            job_failed(job, reason());
        }
    }
}

fn job_failed(job: Job, error: EngineError) {
    let _ = job.events.send(Err(error.into()));
}

fn panic_message(panic: &Box<dyn std::any::Any + Send>) -> String {
    panic
        .downcast_ref::<&str>()
        .map(|s| (*s).to_owned())
        .or_else(|| panic.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "unknown panic".to_owned())
}
