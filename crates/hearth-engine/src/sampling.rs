//! Per-sequence sampling: turns [`SamplingParams`] into a llama.cpp sampler
//! chain (grammar → logit bias → penalties → top-k → top-p → min-p →
//! temperature → seeded dist, or greedy at temperature 0) and picks a token
//! from one row of logits, with optional log-probabilities.
//!
//! A [`SequenceSampler`] is built on the caller's thread (so a bad grammar or
//! schema is an error before the stream starts) and then owned by the
//! sequence on the scheduler thread. Invariant: the grammar is applied first,
//! and a token whose logit the chain left at −∞ is never accepted (llama.cpp
//! would abort on it), nor is an end-of-generation token fed to the grammar.

use hearth_core::backend::{OutputConstraint, SamplingParams};
use llama_cpp_2::sampling::LlamaSampler;
use llama_cpp_2::token::LlamaToken;
use llama_cpp_2::token::data::LlamaTokenData;
use llama_cpp_2::token::data_array::LlamaTokenDataArray;
use llama_cpp_2::token::logit_bias::LlamaLogitBias;

use crate::error::{EngineError, Result};
use crate::model::Model;

/// Defaults for parameters a request leaves unset (llama.cpp's defaults).
#[derive(Debug, Clone)]
pub struct SamplingDefaults {
    /// Temperature.
    pub temperature: f32,
    /// Top-k (0 disables).
    pub top_k: u32,
    /// Top-p.
    pub top_p: f32,
    /// Min-p.
    pub min_p: f32,
    /// Tokens looked back by the penalties.
    pub penalty_last_n: i32,
}

impl Default for SamplingDefaults {
    fn default() -> Self {
        SamplingDefaults {
            temperature: 0.8,
            top_k: 40,
            top_p: 0.95,
            min_p: 0.05,
            penalty_last_n: 64,
        }
    }
}

/// Largest `top_logprobs` accepted (OpenAI's limit).
pub const MAX_TOP_LOGPROBS: u8 = 20;
const MAX_ABS_LOGIT_BIAS: f32 = 100.0;

/// A sampled token and, when asked, its log-probability and the alternatives.
#[derive(Debug, Clone, PartialEq)]
pub struct Sampled {
    /// The token.
    pub token: LlamaToken,
    /// `ln p(token)` under the model's raw distribution, when logprobs are on.
    pub logprob: Option<f32>,
    /// The most likely tokens with their log-probabilities.
    pub top: Vec<(LlamaToken, f32)>,
}

/// Sampler state of one sequence.
pub struct SequenceSampler {
    chain: LlamaSampler,
    /// Plain greedy (nothing else in the chain): an argmax over the logits,
    /// skipping the candidate array.
    is_plain_greedy: bool,
    want_logprobs: bool,
    top_logprobs: usize,
}

impl std::fmt::Debug for SequenceSampler {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SequenceSampler")
            .field("top_logprobs", &self.top_logprobs)
            .finish_non_exhaustive()
    }
}

impl SequenceSampler {
    /// Validate `params` and build the chain.
    pub fn new(
        model: &Model,
        params: &SamplingParams,
        defaults: &SamplingDefaults,
    ) -> Result<SequenceSampler> {
        validate(model, params)?;
        let mut stages = Vec::new();
        if let Some(grammar) = grammar_source(&params.constraint)? {
            let sampler = LlamaSampler::grammar(model.llama(), &grammar, "root").map_err(|e| {
                EngineError::InvalidParams(format!("the grammar does not parse: {e}"))
            })?;
            stages.push(sampler);
        }
        if !params.logit_bias.is_empty() {
            let biases: Vec<LlamaLogitBias> = params
                .logit_bias
                .iter()
                .map(|&(token, bias)| {
                    LlamaLogitBias::new(
                        LlamaToken(token),
                        bias.clamp(-MAX_ABS_LOGIT_BIAS, MAX_ABS_LOGIT_BIAS),
                    )
                })
                .collect();
            stages.push(LlamaSampler::logit_bias(model.vocab_size(), &biases));
        }
        let repeat = params.repeat_penalty.unwrap_or(1.0);
        let frequency = params.frequency_penalty.unwrap_or(0.0);
        let presence = params.presence_penalty.unwrap_or(0.0);
        if repeat != 1.0 || frequency != 0.0 || presence != 0.0 {
            stages.push(LlamaSampler::penalties(
                model.vocab_size(),
                defaults.penalty_last_n,
                repeat,
                frequency,
                presence,
            ));
        }
        let temperature = params.temperature.unwrap_or(defaults.temperature);
        let is_plain_greedy = temperature <= 0.0 && stages.is_empty();
        if temperature <= 0.0 {
            stages.push(LlamaSampler::greedy());
        } else {
            push_stochastic(&mut stages, params, defaults, temperature);
        }
        Ok(SequenceSampler {
            chain: LlamaSampler::chain_simple(stages),
            is_plain_greedy,
            want_logprobs: params.logprobs || params.top_logprobs > 0,
            top_logprobs: usize::from(params.top_logprobs),
        })
    }

    /// Pick the next token from one row of logits.
    pub fn sample(&mut self, logits: &[f32]) -> Result<Sampled> {
        let token = if self.is_plain_greedy {
            argmax(logits)
        } else {
            self.sample_with_chain(logits)?
        };
        let (logprob, top) = if self.want_logprobs {
            logprobs(logits, token, self.top_logprobs)
        } else {
            (None, Vec::new())
        };
        Ok(Sampled {
            token,
            logprob,
            top,
        })
    }

    fn sample_with_chain(&mut self, logits: &[f32]) -> Result<LlamaToken> {
        let mut candidates = LlamaTokenDataArray::from_iter(
            (0..)
                .zip(logits)
                .map(|(id, &logit)| LlamaTokenData::new(LlamaToken(id), logit, 0.0)),
            false,
        );
        candidates.apply_sampler(&mut self.chain);
        let chosen = candidates
            .selected
            .and_then(|i| candidates.data.get(i))
            .filter(|d| d.logit().is_finite())
            .ok_or_else(|| {
                EngineError::Failed("no token satisfies the output constraint".into())
            })?;
        Ok(chosen.id())
    }

    /// Record a generated token (updates grammar, penalties, RNG state).
    /// End-of-generation tokens must not be passed: a grammar aborts on them.
    pub fn accept(&mut self, token: LlamaToken) -> Result<()> {
        if self.is_plain_greedy {
            return Ok(());
        }
        self.chain
            .try_accept(token)
            .map_err(|e| EngineError::Failed(format!("the sampler rejected a token: {e}")))
    }
}

fn push_stochastic(
    stages: &mut Vec<LlamaSampler>,
    params: &SamplingParams,
    defaults: &SamplingDefaults,
    temp: f32,
) {
    let top_k = params.top_k.unwrap_or(defaults.top_k);
    if top_k > 0 {
        stages.push(LlamaSampler::top_k(
            i32::try_from(top_k).unwrap_or(i32::MAX),
        ));
    }
    let top_p = params.top_p.unwrap_or(defaults.top_p);
    if top_p < 1.0 {
        stages.push(LlamaSampler::top_p(top_p, 1));
    }
    let min_p = params.min_p.unwrap_or(defaults.min_p);
    if min_p > 0.0 {
        stages.push(LlamaSampler::min_p(min_p, 1));
    }
    stages.push(LlamaSampler::temp(temp));
    stages.push(LlamaSampler::dist(seed_u32(params.seed)));
}

/// A 32-bit seed from the request's, or a fresh one per request.
fn seed_u32(seed: Option<u64>) -> u32 {
    let seed = seed.unwrap_or_else(|| {
        use std::hash::{BuildHasher, RandomState};
        RandomState::new().hash_one(std::time::SystemTime::now())
    });
    (seed ^ (seed >> 32)) as u32
}

fn validate(model: &Model, params: &SamplingParams) -> Result<()> {
    let invalid = |msg: String| Err(EngineError::InvalidParams(msg));
    let finite_in = |v: Option<f32>, lo: f32, hi: f32| {
        v.is_none_or(|v| v.is_finite() && (lo..=hi).contains(&v))
    };
    if !finite_in(params.temperature, 0.0, 10.0) {
        return invalid("temperature must be between 0 and 10".into());
    }
    if !finite_in(params.top_p, 0.0, 1.0) || !finite_in(params.min_p, 0.0, 1.0) {
        return invalid("top_p and min_p must be between 0 and 1".into());
    }
    if !finite_in(params.repeat_penalty, 0.0, 10.0) {
        return invalid("repeat_penalty must be between 0 and 10".into());
    }
    if !finite_in(params.frequency_penalty, -2.0, 2.0)
        || !finite_in(params.presence_penalty, -2.0, 2.0)
    {
        return invalid("frequency_penalty and presence_penalty must be between -2 and 2".into());
    }
    if params.top_logprobs > MAX_TOP_LOGPROBS {
        return invalid(format!("top_logprobs must be at most {MAX_TOP_LOGPROBS}"));
    }
    let vocab = model.vocab_size();
    if let Some(&(token, _)) = params
        .logit_bias
        .iter()
        .find(|(t, b)| *t < 0 || *t >= vocab || b.is_nan())
    {
        return invalid(format!(
            "logit_bias token {token} is not in the vocabulary (0..{vocab})"
        ));
    }
    Ok(())
}

/// The GBNF text for a constraint, if any.
fn grammar_source(constraint: &OutputConstraint) -> Result<Option<String>> {
    let schema_grammar = |schema: &str| {
        llama_cpp_2::json_schema_to_grammar(schema)
            .map(|grammar| Some(compact_space(&grammar)))
            .map_err(|e| EngineError::InvalidParams(format!("unsupported JSON schema: {e}")))
    };
    match constraint {
        OutputConstraint::None => Ok(None),
        OutputConstraint::JsonObject => schema_grammar(r#"{"type": "object"}"#),
        OutputConstraint::JsonSchema(schema) => schema_grammar(&schema.to_string()),
        OutputConstraint::Grammar(gbnf) => Ok(Some(gbnf.clone())),
    }
}

/// llama.cpp's schema converter lets the model write up to two newlines and
/// twenty blanks between JSON tokens; a small model sampling freely spends its
/// token budget there and gets cut off before the JSON closes. Constrained
/// output allows one space at most between tokens.
fn compact_space(grammar: &str) -> String {
    let mut out = String::with_capacity(grammar.len());
    for line in grammar.lines() {
        out.push_str(if line.starts_with("space ::=") {
            "space ::= | \" \""
        } else {
            line
        });
        out.push('\n');
    }
    out
}

/// The most likely token (the first on ties, like llama.cpp's greedy sampler).
fn argmax(logits: &[f32]) -> LlamaToken {
    let mut best = 0;
    for (i, &logit) in logits.iter().enumerate() {
        if logit > logits[best] {
            best = i;
        }
    }
    LlamaToken(best as i32)
}

/// Log-softmax of the raw logits: the chosen token's value and the top `n`.
fn logprobs(logits: &[f32], token: LlamaToken, n: usize) -> (Option<f32>, Vec<(LlamaToken, f32)>) {
    let max = logits.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    let log_sum = logits.iter().map(|&l| (l - max).exp()).sum::<f32>().ln() + max;
    let chosen = usize::try_from(token.0)
        .ok()
        .and_then(|i| logits.get(i))
        .map(|&l| l - log_sum);
    let mut top: Vec<(LlamaToken, f32)> = Vec::with_capacity(n + 1);
    if n > 0 {
        for (id, &logit) in (0..).zip(logits) {
            if top.len() < n || logit > top[top.len() - 1].1 {
                let at = top.partition_point(|&(_, l)| l >= logit);
                top.insert(at, (LlamaToken(id), logit));
                top.truncate(n);
            }
        }
    }
    let top = top.into_iter().map(|(t, l)| (t, l - log_sum)).collect();
    (chosen, top)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn schema_grammars_allow_one_space_between_tokens() {
        let grammar = grammar_source(&OutputConstraint::JsonObject)
            .unwrap()
            .unwrap();
        let space: Vec<&str> = grammar
            .lines()
            .filter(|l| l.starts_with("space ::="))
            .collect();
        assert_eq!(space, ["space ::= | \" \""], "{grammar}");
        assert!(
            grammar
                .lines()
                .any(|l| !l.starts_with("space ::=") && l.contains("space")),
            "other rules still use it: {grammar}"
        );
    }

    #[test]
    fn logprobs_are_a_log_softmax() {
        let logits = [1.0f32, 3.0, 2.0, -1.0];
        let (chosen, top) = logprobs(&logits, LlamaToken(1), 2);
        let total: f32 = logits.iter().map(|l| l.exp()).sum();
        assert!((chosen.unwrap() - (3.0f32.exp() / total).ln()).abs() < 1e-5);
        assert_eq!(top.iter().map(|(t, _)| t.0).collect::<Vec<_>>(), [1, 2]);
    }
}
