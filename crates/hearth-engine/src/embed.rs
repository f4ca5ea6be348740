//! Embeddings: a second llama context with embeddings on, created lazily on
//! the model's scheduler thread at the first request. Inputs are packed into
//! batches (many sequences per decode, up to the context's token budget),
//! pooled as the model declares (mean when a decoder model declares nothing)
//! and optionally L2-normalized.
//!
//! Runs between generation steps on the scheduler thread, so a large
//! embedding request delays running streams by its compute time.

use hearth_core::backend::EmbedResponse;
use llama_cpp_2::context::LlamaContext;
use llama_cpp_2::context::params::{LlamaContextParams, LlamaPoolingType};
use llama_cpp_2::llama_batch::LlamaBatch;
use llama_cpp_2::token::LlamaToken;
use tokio::sync::oneshot;

use crate::error::{EngineError, Result};
use crate::model::{Model, backend};
use crate::scheduler::SchedulerConfig;

/// Embedding context settings.
#[derive(Debug, Clone)]
pub struct EmbedOptions {
    /// Tokens per decode (and the longest input accepted).
    pub batch_tokens: u32,
    /// Inputs per decode.
    pub batch_sequences: u32,
}

impl Default for EmbedOptions {
    fn default() -> Self {
        EmbedOptions {
            batch_tokens: 2048,
            batch_sequences: 16,
        }
    }
}

/// An embedding request on its way to the scheduler thread.
#[derive(Debug)]
pub(crate) struct EmbedJob {
    /// Tokenized inputs.
    pub inputs: Vec<Vec<LlamaToken>>,
    /// L2-normalize.
    pub normalize: bool,
    /// Where the answer goes.
    pub reply: oneshot::Sender<Result<EmbedResponse>>,
}

impl EmbedJob {
    /// Send the outcome, adding the token count.
    pub fn reply(self, result: Result<Vec<Vec<f32>>>) {
        let prompt_tokens = self.inputs.iter().map(Vec::len).sum::<usize>() as u32;
        let _ = self.reply.send(result.map(|embeddings| EmbedResponse {
            embeddings,
            prompt_tokens,
        }));
    }
}

/// The embedding context of one model.
pub(crate) struct Embedder<'m> {
    ctx: LlamaContext<'m>,
    batch: LlamaBatch<'static>,
    batch_tokens: usize,
    batch_sequences: usize,
}

impl<'m> Embedder<'m> {
    /// Create the context.
    pub fn new(model: &'m Model, config: &SchedulerConfig) -> Result<Embedder<'m>> {
        let options = &config.embed;
        let info = model.info();
        let pooling = match info.pooling_type {
            Some(1..=3) => LlamaPoolingType::Unspecified, // the model's own
            _ => LlamaPoolingType::Mean,
        };
        let threads = config.effective_threads();
        let params = LlamaContextParams::default()
            .with_embeddings(true)
            .with_pooling_type(pooling)
            .with_n_ctx(std::num::NonZeroU32::new(options.batch_tokens))
            .with_n_batch(options.batch_tokens)
            .with_n_ubatch(options.batch_tokens)
            .with_n_seq_max(options.batch_sequences)
            .with_kv_unified(true)
            .with_n_threads(threads)
            .with_n_threads_batch(threads);
        let ctx = model.llama().new_context(backend(), params).map_err(|e| {
            EngineError::EmbeddingUnsupported(
                info.architecture.clone(),
                format!("no embedding context: {e}"),
            )
        })?;
        Ok(Embedder {
            ctx,
            batch: LlamaBatch::new(options.batch_tokens as usize, 1),
            batch_tokens: options.batch_tokens as usize,
            batch_sequences: options.batch_sequences.max(1) as usize,
        })
    }

    /// Embed every input, in order.
    pub fn embed(&mut self, inputs: &[Vec<LlamaToken>], normalize: bool) -> Result<Vec<Vec<f32>>> {
        if let Some(long) = inputs.iter().find(|i| i.len() > self.batch_tokens) {
            return Err(EngineError::InvalidParams(format!(
                "an input has {} tokens; embeddings accept at most {}",
                long.len(),
                self.batch_tokens
            )));
        }
        let mut out = Vec::with_capacity(inputs.len());
        let mut start = 0;
        while start < inputs.len() {
            let end = self.group_end(inputs, start);
            out.extend(self.embed_group(&inputs[start..end])?);
            start = end;
        }
        if normalize {
            out.iter_mut().for_each(|v| l2_normalize(v));
        }
        Ok(out)
    }

    /// End of the longest run of inputs from `start` that fits one decode.
    fn group_end(&self, inputs: &[Vec<LlamaToken>], start: usize) -> usize {
        let mut tokens = 0;
        let mut end = start;
        while end < inputs.len() && end - start < self.batch_sequences {
            let len = inputs[end].len().max(1);
            if end > start && tokens + len > self.batch_tokens {
                break;
            }
            tokens += len;
            end += 1;
        }
        end
    }

    fn embed_group(&mut self, group: &[Vec<LlamaToken>]) -> Result<Vec<Vec<f32>>> {
        self.ctx.clear_kv_cache();
        self.batch.clear();
        for (seq, tokens) in group.iter().enumerate() {
            for (pos, &token) in tokens.iter().enumerate() {
                self.batch
                    .add(token, pos as i32, &[seq as i32], true)
                    .map_err(|e| EngineError::Failed(format!("embedding batch: {e}")))?;
            }
        }
        self.ctx
            .decode(&mut self.batch)
            .map_err(|e| EngineError::Failed(format!("embedding decode failed: {e}")))?;
        (0..group.len())
            .map(|seq| {
                self.ctx
                    .embeddings_seq_ith(seq as i32)
                    .map(<[f32]>::to_vec)
                    .map_err(|e| EngineError::Failed(format!("no pooled embedding: {e}")))
            })
            .collect()
    }
}

fn l2_normalize(v: &mut [f32]) {
    let norm = v.iter().map(|x| x * x).sum::<f32>().sqrt();
    if norm > 0.0 {
        v.iter_mut().for_each(|x| *x /= norm);
    }
}
