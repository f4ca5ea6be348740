//! Shared helpers for the engine's integration tests on the real test models.
#![allow(dead_code)]

use std::path::PathBuf;
use std::time::Duration;

use futures::StreamExt;
use hearth_core::backend::{
    ChatMessage, FinishReason, GenerateRequest, GenerationEvent, GenerationStats, GenerationStream,
    Principal, Prompt, SamplingParams, TokenLogprob,
};
use hearth_engine::{Engine, EngineConfig, SchedulerConfig};

/// Model name used in the tests.
pub const MODEL: &str = "smol";

/// `$HEARTH_TEST_MODELS`, else `$XDG_CACHE_HOME/hearth/test-models`, else `$HOME/.cache/hearth/test-models`.
pub fn models_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("HEARTH_TEST_MODELS") {
        return dir.into();
    }
    let cache = std::env::var_os("XDG_CACHE_HOME")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(std::env::var_os("HOME").expect("HOME is set")).join(".cache")
        });
    cache.join("hearth/test-models")
}

/// The SmolLM2 test model; fails (never skips) when it is missing.
pub fn smollm2() -> PathBuf {
    let path = models_dir().join("smollm2-135m-instruct-q4_1.gguf");
    assert!(
        path.exists(),
        "test model {} is missing: run `cargo xtask fetch-test-models`",
        path.display()
    );
    path
}

/// Scheduler settings small enough for fast tests. One thread per engine:
/// the test harness runs tests side by side, and oversubscribed OpenMP
/// threads spin-wait each other to a crawl.
pub fn small_config(parallel: u32) -> SchedulerConfig {
    SchedulerConfig {
        context_tokens: 2048,
        parallel,
        cache_slots: 2,
        threads: 1,
        ..SchedulerConfig::default()
    }
}

/// An engine with SmolLM2 loaded as [`MODEL`].
pub async fn engine(scheduler: SchedulerConfig) -> Engine {
    let engine = Engine::new(EngineConfig {
        scheduler,
        ..EngineConfig::default()
    });
    engine.load(MODEL, &smollm2()).await.expect("SmolLM2 loads");
    engine
}

/// A one-message chat request from `principal`.
pub fn chat(principal: &str, text: &str, params: SamplingParams) -> GenerateRequest {
    chat_messages(principal, vec![ChatMessage::text("user", text)], params)
}

/// A chat request with a whole conversation.
pub fn chat_messages(
    principal: &str,
    messages: Vec<ChatMessage>,
    params: SamplingParams,
) -> GenerateRequest {
    GenerateRequest {
        model: MODEL.into(),
        prompt: Prompt::Chat {
            messages,
            tools: Vec::new(),
            template: None,
        },
        params,
        principal: Principal(principal.into()),
        weight: 1,
        shares_prompt: false,
    }
}

/// Greedy with a token cap.
pub fn greedy(max_tokens: u32) -> SamplingParams {
    SamplingParams {
        max_tokens: Some(max_tokens),
        temperature: Some(0.0),
        ..SamplingParams::default()
    }
}

/// Everything a finished stream produced.
#[derive(Debug)]
pub struct Outcome {
    pub deltas: Vec<String>,
    pub logprobs: Vec<TokenLogprob>,
    pub finish: FinishReason,
    pub stats: GenerationStats,
}

impl Outcome {
    pub fn text(&self) -> String {
        self.deltas.concat()
    }
}

/// Drain a stream to its `Done`, failing the test on an error or a timeout.
pub async fn collect(mut stream: GenerationStream) -> Outcome {
    let mut deltas = Vec::new();
    let mut logprobs = Vec::new();
    loop {
        let item = tokio::time::timeout(Duration::from_secs(120), stream.next())
            .await
            .expect("no event within 120 s")
            .expect("stream ended without Done")
            .expect("generation failed");
        match item {
            GenerationEvent::Delta { text, logprobs: lp } => {
                deltas.push(text);
                logprobs.extend(lp);
            }
            GenerationEvent::Done {
                finish_reason,
                stats,
            } => {
                assert!(stream.next().await.is_none(), "nothing may follow Done");
                return Outcome {
                    deltas,
                    logprobs,
                    finish: finish_reason,
                    stats,
                };
            }
        }
    }
}
