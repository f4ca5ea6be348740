//! Metering decorators around the model ports: every generation and every
//! embedding call through [`MeteredChat`] / [`MeteredEmbed`] produces one
//! [`UsageRecord`] with the request's [`UsageContext`], whatever lane or
//! service started it. A generation is recorded when its `Done` event passes
//! (after charging its tokens, so the next request of the same caller sees
//! them), when it fails, or when its stream is dropped early (cancelled).
//! A generation cut short never gets the backend's figures: it is charged
//! its text deltas as completion tokens (a lower bound: one delta holds at
//! least one token) and its prompt counted with the backend's tokenizer, so
//! hanging up just before the end does not make a generation free.

use std::sync::Arc;
use std::time::Instant;

use async_trait::async_trait;
use futures::StreamExt;

use super::{Outcome, UsageContext, UsageRecord, UsageRecorder};
use crate::backend::{
    BackendError, ChatBackend, EmbedBackend, EmbedRequest, EmbedResponse, GenerateRequest,
    GenerationEvent, GenerationStats, GenerationStream, Prompt,
};
use crate::jobs::now_ms;

/// A [`ChatBackend`] that records usage of the one it wraps.
pub struct MeteredChat {
    inner: Arc<dyn ChatBackend>,
    recorder: UsageRecorder,
}

impl MeteredChat {
    /// Meter `inner`, writing through `recorder`.
    pub fn new(inner: Arc<dyn ChatBackend>, recorder: UsageRecorder) -> Self {
        MeteredChat { inner, recorder }
    }
}

/// A [`EmbedBackend`] that records usage of the one it wraps.
pub struct MeteredEmbed {
    inner: Arc<dyn EmbedBackend>,
    recorder: UsageRecorder,
}

impl MeteredEmbed {
    /// Meter `inner`, writing through `recorder`.
    pub fn new(inner: Arc<dyn EmbedBackend>, recorder: UsageRecorder) -> Self {
        MeteredEmbed { inner, recorder }
    }
}

/// One call being metered; records itself once, at the latest when dropped.
struct Meter {
    recorder: UsageRecorder,
    context: UsageContext,
    model: String,
    started: Instant,
    first_text: Option<Instant>,
    /// Text deltas seen (completion tokens, at least).
    deltas: u32,
    /// How to count the prompt if the generation ends without figures.
    prompt: Option<(Arc<dyn ChatBackend>, Prompt)>,
    /// A sibling choice carries the prompt: count none here.
    shares_prompt: bool,
    /// Whether a drop may finish on a task of its own (not for the meter
    /// already moved to such a task: its drop, if the runtime is shutting
    /// down and drops the task unpolled, records at once).
    may_spawn: bool,
    is_done: bool,
}

impl Meter {
    fn start(recorder: &UsageRecorder, model: &str) -> Self {
        Meter {
            recorder: recorder.clone(),
            context: UsageContext::current().unwrap_or_else(|| UsageContext {
                route: "internal".to_owned(),
                ..UsageContext::default()
            }),
            model: model.to_owned(),
            started: Instant::now(),
            first_text: None,
            deltas: 0,
            prompt: None,
            shares_prompt: false,
            may_spawn: true,
            is_done: false,
        }
    }

    fn record(&mut self, outcome: Outcome, stats: &GenerationStats) -> UsageRecord {
        let record = self.build(outcome, stats);
        self.recorder.record(record.clone());
        record
    }

    fn build(&mut self, outcome: Outcome, stats: &GenerationStats) -> UsageRecord {
        self.is_done = true;
        let (prompt_tokens, cached_tokens) = match self.shares_prompt {
            true => (0, 0),
            false => (stats.prompt_tokens, stats.cached_tokens),
        };
        let ms = |d: std::time::Duration| u64::try_from(d.as_millis()).unwrap_or(u64::MAX);
        UsageRecord {
            id: uuid::Uuid::now_v7().to_string(),
            at_ms: now_ms(),
            request_id: self.context.request_id.clone(),
            user_id: self.context.user_id.clone(),
            key_id: self.context.key_id.clone(),
            route: self.context.route.clone(),
            model: self.model.clone(),
            prompt_tokens,
            cached_tokens,
            completion_tokens: stats.completion_tokens,
            ttft_ms: self.first_text.map(|t| ms(t - self.started)),
            total_ms: ms(self.started.elapsed()),
            outcome,
        }
    }

    /// Figures of a generation that ended without the backend's: deltas seen,
    /// and the prompt counted by the backend (0 if that fails).
    async fn estimate(&mut self) -> GenerationStats {
        let prompt_tokens = match self.prompt.take() {
            Some((backend, prompt)) => backend
                .count_tokens(&self.model, &prompt)
                .await
                .unwrap_or(0),
            None => 0,
        };
        GenerationStats {
            prompt_tokens,
            completion_tokens: self.deltas,
            ..GenerationStats::default()
        }
    }

    /// Record and charge, waiting for the charge.
    async fn finish(&mut self, outcome: Outcome, stats: &GenerationStats) {
        if self.is_done {
            return;
        }
        let record = self.record(outcome, stats);
        if let Some(quotas) = &self.context.quotas {
            quotas
                .charge(&self.context.subjects(), record.charged_tokens())
                .await;
        }
    }
}

impl Drop for Meter {
    fn drop(&mut self) {
        if self.is_done {
            return;
        }
        let runtime = tokio::runtime::Handle::try_current().ok();
        let Some(runtime) = runtime.filter(|_| self.may_spawn) else {
            let stats = GenerationStats {
                completion_tokens: self.deltas,
                ..GenerationStats::default()
            };
            self.record(Outcome::Cancelled, &stats);
            return;
        };
        // Finish on a task of its own: counting the prompt is async.
        let mut meter = Meter {
            recorder: self.recorder.clone(),
            context: self.context.clone(),
            model: std::mem::take(&mut self.model),
            started: self.started,
            first_text: self.first_text,
            deltas: self.deltas,
            prompt: self.prompt.take(),
            shares_prompt: self.shares_prompt,
            may_spawn: false,
            is_done: false,
        };
        self.is_done = true;
        let pending = self.recorder.pending();
        runtime.spawn(async move {
            let _pending = pending;
            let stats = meter.estimate().await;
            meter.finish(Outcome::Cancelled, &stats).await;
        });
    }
}

#[async_trait]
impl ChatBackend for MeteredChat {
    async fn generate(
        &self,
        mut request: GenerateRequest,
    ) -> Result<GenerationStream, BackendError> {
        let mut meter = Meter::start(&self.recorder, &request.model);
        request.weight = share(&meter.context).await.max(request.weight);
        meter.shares_prompt = request.shares_prompt;
        if !request.shares_prompt {
            meter.prompt = Some((self.inner.clone(), request.prompt.clone()));
        }
        let stream = match self.inner.generate(request).await {
            Ok(stream) => stream,
            Err(err) => {
                meter
                    .finish(Outcome::Error, &GenerationStats::default())
                    .await;
                return Err(err);
            }
        };
        let metered = futures::stream::unfold(Some((stream, meter)), |state| async move {
            let (mut stream, mut meter) = state?;
            let item = stream.next().await;
            match &item {
                Some(Ok(GenerationEvent::Delta { .. })) => {
                    meter.first_text.get_or_insert_with(Instant::now);
                    meter.deltas = meter.deltas.saturating_add(1);
                }
                Some(Ok(GenerationEvent::Done { stats, .. })) => {
                    meter.finish(Outcome::Ok, stats).await;
                }
                Some(Err(_)) => {
                    let stats = meter.estimate().await;
                    meter.finish(Outcome::Error, &stats).await;
                }
                // Ended without `Done`: a backend bug, counted as an error.
                None => {
                    if !meter.is_done {
                        let stats = meter.estimate().await;
                        meter.finish(Outcome::Error, &stats).await;
                    }
                    return None;
                }
            }
            Some((item?, Some((stream, meter))))
        });
        Ok(Box::pin(metered))
    }

    async fn count_tokens(&self, model: &str, prompt: &Prompt) -> Result<u32, BackendError> {
        self.inner.count_tokens(model, prompt).await
    }
}

#[async_trait]
impl EmbedBackend for MeteredEmbed {
    async fn embed(&self, request: EmbedRequest) -> Result<EmbedResponse, BackendError> {
        let mut meter = Meter::start(&self.recorder, &request.model);
        let result = self.inner.embed(request).await;
        let (outcome, prompt_tokens) = match &result {
            Ok(response) => (Outcome::Ok, response.prompt_tokens),
            Err(_) => (Outcome::Error, 0),
        };
        let stats = GenerationStats {
            prompt_tokens,
            ..GenerationStats::default()
        };
        meter.finish(outcome, &stats).await;
        result
    }
}

/// The admission weight of the caller: the largest share among its key and
/// user (1 when there is no quota service, e.g. auth off).
async fn share(context: &UsageContext) -> u32 {
    let Some(quotas) = &context.quotas else {
        return 1;
    };
    let mut share = 1;
    for subject in context.subjects() {
        if let Ok(limits) = quotas.limits(&subject).await {
            share = share.max(u32::try_from(limits.share).unwrap_or(u32::MAX));
        }
    }
    share.clamp(1, MAX_SHARE)
}

/// The largest admission weight (a share above it is read as it).
pub const MAX_SHARE: u32 = 64;
