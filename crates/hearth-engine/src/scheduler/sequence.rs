//! One admitted request on the scheduler thread: its prompt progress, sampler,
//! text stream, timings, and the channel its events go to.
//!
//! Invariant: a sequence sends exactly one terminal item (`Done` or an error)
//! and nothing after it; `finish`/`fail` consume the sequence to enforce that.

use std::time::{Duration, Instant};

use hearth_core::backend::{
    BackendError, FinishReason, GenerationEvent, GenerationStats, Principal, TokenLogprob,
};
use llama_cpp_2::token::LlamaToken;
use tokio::sync::mpsc::UnboundedSender;

use crate::error::EngineError;
use crate::model::Model;
use crate::sampling::{Sampled, SequenceSampler};
use crate::stream::{Push, TextStream};

/// Where a sequence's events go.
pub type EventSender = UnboundedSender<Result<GenerationEvent, BackendError>>;

/// A request waiting for admission.
#[derive(Debug)]
pub struct Job {
    /// Prompt tokens (BOS included when the model wants it).
    pub prompt: Vec<LlamaToken>,
    /// The sampler, built and validated by the submitter.
    pub sampler: SequenceSampler,
    /// Generation ends after this many tokens.
    pub max_tokens: u32,
    /// Stop strings.
    pub stop: Vec<String>,
    /// Generate past end-of-generation tokens (benchmarks).
    pub ignore_eos: bool,
    /// On whose behalf.
    pub principal: Principal,
    /// Its principal's admission weight (consecutive admissions per turn).
    pub weight: u32,
    /// Event channel.
    pub events: EventSender,
    /// When it was submitted.
    pub enqueued_at: Instant,
}

/// What handling one sampled token decided.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Next {
    /// Feed the token back and keep going.
    Continue,
    /// End with this reason.
    Finish(FinishReason),
}

/// An admitted, running request.
#[derive(Debug)]
pub struct Sequence {
    /// Its slot (llama.cpp sequence id).
    pub slot: usize,
    /// Prompt tokens.
    pub prompt: Vec<LlamaToken>,
    /// Prompt tokens whose KV is computed (cached ones included).
    pub prompt_done: usize,
    /// Prompt tokens that came from the prefix cache.
    pub cached: usize,
    /// The sampled token to decode next; `None` while prefilling.
    pub next: Option<LlamaToken>,
    /// Tokens generated so far.
    pub generated: u32,
    /// Admission order, for prefill priority.
    pub admitted: u64,
    max_tokens: u32,
    ignore_eos: bool,
    sampler: SequenceSampler,
    text: TextStream,
    logprobs: Vec<TokenLogprob>,
    events: EventSender,
    enqueued_at: Instant,
    admitted_at: Instant,
    first_token_at: Option<Instant>,
}

impl Sequence {
    /// Start `job` on `slot` with `cached` prompt tokens already in the KV cache.
    pub fn start(job: Job, slot: usize, cached: usize, admitted: u64) -> Sequence {
        Sequence {
            slot,
            prompt_done: cached,
            cached,
            next: None,
            generated: 0,
            admitted,
            max_tokens: job.max_tokens,
            ignore_eos: job.ignore_eos,
            sampler: job.sampler,
            text: TextStream::new(&job.stop),
            logprobs: Vec::new(),
            events: job.events,
            enqueued_at: job.enqueued_at,
            admitted_at: Instant::now(),
            first_token_at: None,
            prompt: job.prompt,
        }
    }

    /// The consumer dropped its stream.
    pub fn is_cancelled(&self) -> bool {
        self.events.is_closed()
    }

    /// Pick the next token from `logits` and handle it.
    pub fn sample(
        &mut self,
        model: &Model,
        logits: &[f32],
        positions_left: usize,
    ) -> Result<Next, EngineError> {
        let sampled = self.sampler.sample(logits)?;
        self.first_token_at.get_or_insert_with(Instant::now);
        if model.is_end_of_generation(sampled.token) && !self.ignore_eos {
            return Ok(Next::Finish(FinishReason::Stop));
        }
        self.sampler.accept(sampled.token)?;
        self.generated += 1;
        self.record_logprobs(model, &sampled);
        match self.text.push(&model.token_bytes(sampled.token)) {
            Push::Stopped(text) => {
                self.send_delta(text);
                return Ok(Next::Finish(FinishReason::Stop));
            }
            Push::Text(text) => self.send_delta(text),
        }
        self.next = Some(sampled.token);
        if self.generated >= self.max_tokens || positions_left == 0 {
            return Ok(Next::Finish(FinishReason::Length));
        }
        Ok(Next::Continue)
    }

    fn record_logprobs(&mut self, model: &Model, sampled: &Sampled) {
        let Some(logprob) = sampled.logprob else {
            return;
        };
        self.logprobs.push(TokenLogprob {
            token: model.token_text(sampled.token),
            logprob,
            top: sampled
                .top
                .iter()
                .map(|&(t, lp)| (model.token_text(t), lp))
                .collect(),
        });
    }

    fn send_delta(&mut self, text: String) {
        if text.is_empty() {
            return;
        }
        let logprobs = std::mem::take(&mut self.logprobs);
        let _ = self
            .events
            .send(Ok(GenerationEvent::Delta { text, logprobs }));
    }

    /// Flush held text and send `Done`.
    pub fn finish(mut self, reason: FinishReason) {
        let rest = self.text.finish();
        if reason != FinishReason::Cancelled {
            self.send_delta(rest);
        }
        let stats = self.stats();
        tracing::debug!(
            slot = self.slot,
            ?reason,
            prompt = stats.prompt_tokens,
            cached = stats.cached_tokens,
            completion = stats.completion_tokens,
            queue_ms = stats.queue_time.as_millis() as u64,
            prompt_ms = stats.prompt_duration.as_millis() as u64,
            generation_ms = stats.generation_duration.as_millis() as u64,
            "sequence finished"
        );
        let _ = self.events.send(Ok(GenerationEvent::Done {
            finish_reason: reason,
            stats,
        }));
    }

    /// Send an error as the terminal item.
    pub fn fail(self, error: EngineError) {
        let _ = self.events.send(Err(error.into()));
    }

    fn stats(&self) -> GenerationStats {
        let now = Instant::now();
        let first = self.first_token_at.unwrap_or(now);
        GenerationStats {
            prompt_tokens: self.prompt.len() as u32,
            cached_tokens: self.cached as u32,
            completion_tokens: self.generated,
            queue_time: self.admitted_at.saturating_duration_since(self.enqueued_at),
            prompt_duration: first.saturating_duration_since(self.admitted_at),
            generation_duration: if self.first_token_at.is_some() {
                now.saturating_duration_since(first)
            } else {
                Duration::ZERO
            },
        }
    }
}
