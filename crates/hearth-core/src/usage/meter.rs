//! Metering decorators around the model ports: every generation and every
//! embedding call through [`MeteredChat`] / [`MeteredEmbed`] produces one
//! [`UsageRecord`] with the request's [`UsageContext`], whatever lane or
//! service started it. A generation is recorded when its `Done` event passes
//! (after charging its tokens, so the next request of the same caller sees
//! them), when it fails, or when its stream is dropped early (cancelled).

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
            is_done: false,
        }
    }

    fn record(&mut self, outcome: Outcome, stats: &GenerationStats) -> UsageRecord {
        self.is_done = true;
        let ms = |d: std::time::Duration| u64::try_from(d.as_millis()).unwrap_or(u64::MAX);
        let record = UsageRecord {
            id: uuid::Uuid::now_v7().to_string(),
            at_ms: now_ms(),
            request_id: self.context.request_id.clone(),
            user_id: self.context.user_id.clone(),
            key_id: self.context.key_id.clone(),
            route: self.context.route.clone(),
            model: self.model.clone(),
            prompt_tokens: stats.prompt_tokens,
            cached_tokens: stats.cached_tokens,
            completion_tokens: stats.completion_tokens,
            ttft_ms: self.first_text.map(|t| ms(t - self.started)),
            total_ms: ms(self.started.elapsed()),
            outcome,
        };
        self.recorder.record(record.clone());
        record
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
        // Cut short: the backend's own figures never came. Count what was
        // generated as unknown (0); the prompt was read, but its size is not
        // known here without a tokenizer round trip.
        let record = self.record(Outcome::Cancelled, &GenerationStats::default());
        if let (Some(quotas), Ok(handle)) = (
            self.context.quotas.clone(),
            tokio::runtime::Handle::try_current(),
        ) {
            let subjects = self.context.subjects();
            let tokens = record.charged_tokens();
            handle.spawn(async move { quotas.charge(&subjects, tokens).await });
        }
    }
}

#[async_trait]
impl ChatBackend for MeteredChat {
    async fn generate(&self, request: GenerateRequest) -> Result<GenerationStream, BackendError> {
        let mut meter = Meter::start(&self.recorder, &request.model);
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
                }
                Some(Ok(GenerationEvent::Done { stats, .. })) => {
                    meter.finish(Outcome::Ok, stats).await;
                }
                Some(Err(_)) => {
                    meter
                        .finish(Outcome::Error, &GenerationStats::default())
                        .await
                }
                // Ended without `Done`: a backend bug, counted as an error.
                None => {
                    meter
                        .finish(Outcome::Error, &GenerationStats::default())
                        .await;
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
