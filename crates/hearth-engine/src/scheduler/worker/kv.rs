//! Admission and the prefix cache, on the scheduler thread: where a new
//! sequence goes, which cached prefix it starts from (a slot's cells, another
//! running slot's cells, or a state saved in RAM), and what happens to the
//! cells it displaces (saved to RAM when worth it, else dropped).
//!
//! Invariant kept here: after any of these operations `slots[s].tokens` is
//! exactly what the KV cache holds for sequence id `s`.

use std::sync::atomic::Ordering;

use llama_cpp_2::context::session::{LlamaStateSeqFlags, SeqState};
use llama_cpp_2::token::LlamaToken;

use super::{Worker, job_failed};
use crate::error::EngineError;
use crate::scheduler::KvLayout;
use crate::scheduler::sequence::{Job, Sequence};
use crate::scheduler::slots::{self, Placement, Reuse};

/// Saving a slot to RAM is worth it only when it holds at least this many
/// tokens that the new occupant will not keep.
const MIN_SAVED_TOKENS: usize = slots::SIGNIFICANT_TAIL;

impl Worker<'_> {
    /// Move waiting jobs into free parallel sequences, fairly.
    pub(super) fn admit(&mut self) {
        while self.running.len() < self.config.parallel.max(1) as usize {
            let Some(job) = self.queue.pop() else { break };
            self.waiting.fetch_sub(1, Ordering::AcqRel);
            let placement = slots::place(
                &self.slots,
                &job.prompt,
                &job.principal,
                self.config.prefix_scope,
            );
            let Some(placement) = placement else {
                job_failed(job, EngineError::Failed("no free sequence slot".into()));
                continue;
            };
            let (slot, cached) = self.prepare_slot(placement, &job);
            self.clock += 1;
            let state = &mut self.slots[slot];
            state.busy = true;
            state.owner = Some(job.principal.clone());
            state.last_used = self.clock;
            tracing::debug!(slot, cached, prompt = job.prompt.len(), "sequence admitted");
            self.running
                .push(Sequence::start(job, slot, cached, self.clock));
        }
    }

    /// Fill the placement's slot with the best cached prefix; returns the slot
    /// and the number of prompt tokens it already holds.
    fn prepare_slot(&mut self, placement: Placement, job: &Job) -> (usize, usize) {
        let max_keep = job.prompt.len().saturating_sub(1);
        let slot_keep = match placement.reuse {
            Reuse::Fresh => 0,
            Reuse::Truncate { keep } | Reuse::CopyFrom { keep, .. } => keep,
        };
        let from_ram = self.ram.best_match(
            &job.prompt,
            &job.principal,
            self.config.prefix_scope,
            max_keep,
        );
        if let Some((index, keep)) = from_ram.filter(|&(_, keep)| keep > slot_keep) {
            let saved = self.ram.take(index);
            self.displace(placement.slot, 0);
            if self.restore(placement.slot, &saved.state, &saved.tokens[..keep]) {
                return (placement.slot, keep);
            }
            return (placement.slot, 0);
        }
        let cached = self.apply_reuse(placement.slot, placement.reuse, &job.prompt);
        (placement.slot, cached)
    }

    /// Make the slot's cells hold the reused prefix; returns its length.
    fn apply_reuse(&mut self, slot: usize, reuse: Reuse, prompt: &[LlamaToken]) -> usize {
        let kept = match reuse {
            Reuse::Fresh => {
                self.displace(slot, 0);
                return 0;
            }
            Reuse::Truncate { keep } => {
                self.displace(slot, keep);
                keep > 0 && self.truncate(slot, keep)
            }
            Reuse::CopyFrom { source, keep } => {
                self.displace(slot, 0);
                self.copy_prefix(source, slot, keep)
            }
        };
        let keep = match reuse {
            Reuse::Truncate { keep } | Reuse::CopyFrom { keep, .. } if kept => keep,
            _ => {
                self.clear_slot(slot);
                return 0;
            }
        };
        self.slots[slot].tokens = prompt[..keep].to_vec();
        keep
    }

    /// The slot's tokens beyond `keep` are about to be dropped: save the whole
    /// sequence to RAM first when enough would be lost; with `keep == 0` the
    /// slot is emptied.
    fn displace(&mut self, slot: usize, keep: usize) {
        let lost = self.slots[slot].tokens.len().saturating_sub(keep);
        if lost >= MIN_SAVED_TOKENS && self.ram.is_enabled() {
            self.save_to_ram(slot);
        }
        if keep == 0 {
            self.clear_slot(slot);
        }
    }

    fn save_to_ram(&mut self, slot: usize) {
        let Some(owner) = self.slots[slot].owner.clone() else {
            return;
        };
        match self
            .ctx
            .state_seq_get(slot as i32, LlamaStateSeqFlags::empty())
        {
            Ok(state) => {
                let bytes = state.byte_len();
                let tokens = self.slots[slot].tokens.clone();
                let len = tokens.len();
                self.ram.insert(owner, tokens, state, bytes);
                let (entries, used) = (self.ram.len(), self.ram.used_bytes());
                tracing::debug!(
                    slot,
                    tokens = len,
                    bytes,
                    entries,
                    used,
                    "prefix saved to RAM"
                );
            }
            Err(error) => tracing::warn!(slot, %error, "could not save a sequence state"),
        }
    }

    /// Load a saved state into an empty slot and cut it to `tokens`.
    fn restore(&mut self, slot: usize, state: &SeqState, tokens: &[LlamaToken]) -> bool {
        let restored = self.ctx.state_seq_set(state, slot as i32).is_ok();
        if !restored || !self.truncate(slot, tokens.len()) {
            self.clear_slot(slot);
            return false;
        }
        tracing::debug!(slot, tokens = tokens.len(), "prefix restored from RAM");
        self.slots[slot].tokens = tokens.to_vec();
        true
    }

    fn truncate(&mut self, slot: usize, keep: usize) -> bool {
        self.ctx
            .kv_cache_seq_rm(slot as i32, Some(keep as u32), None)
            .is_ok()
    }

    /// Share `source`'s first `keep` cells with `target`. Across llama.cpp
    /// streams only whole sequences can be copied, so the tail is cut after.
    fn copy_prefix(&mut self, source: usize, target: usize, keep: usize) -> bool {
        let (src, dst) = (source as i32, target as i32);
        match self.config.kv_layout {
            KvLayout::Shared => {
                let copied = self
                    .ctx
                    .kv_cache_seq_cp(src, dst, Some(0), Some(keep as u32));
                copied.is_ok()
            }
            KvLayout::PerSequence => {
                self.ctx.kv_cache_seq_cp(src, dst, None, None).is_ok()
                    && self.truncate(target, keep)
            }
        }
    }

    /// Empty a slot's cells.
    pub(super) fn clear_slot(&mut self, slot: usize) {
        let _ = self.ctx.kv_cache_seq_rm(slot as i32, None, None);
        self.slots[slot].tokens.clear();
    }

    /// Evict an idle slot to make KV room (shared layout): saved to RAM first.
    pub(super) fn evict(&mut self, slot: usize) {
        self.displace(slot, 0);
    }

    /// A sequence ended: its slot stays warm for the next turn.
    pub(super) fn release(&mut self, slot: usize) {
        self.clock += 1;
        self.slots[slot].busy = false;
        self.slots[slot].last_used = self.clock;
    }
}
