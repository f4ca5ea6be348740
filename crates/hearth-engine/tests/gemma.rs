//! The second architecture: Gemma 3 270M (a base model without chat template,
//! sliding-window attention), on the real test file.

mod common;

use common::*;
use hearth_core::backend::{
    BackendError, ChatBackend, FinishReason, GenerateRequest, Principal, Prompt,
};
use hearth_engine::{Engine, EngineConfig};

const GEMMA: &str = "gemma";

fn gemma3() -> std::path::PathBuf {
    let path = models_dir().join("gemma3-270m-q4_k_m.gguf");
    assert!(
        path.exists(),
        "test model {} is missing: run `cargo xtask fetch-test-models`",
        path.display()
    );
    path
}

fn complete(principal: &str, text: &str, max_tokens: u32) -> GenerateRequest {
    GenerateRequest {
        model: GEMMA.into(),
        prompt: Prompt::Text(text.into()),
        params: greedy(max_tokens),
        principal: Principal(principal.into()),
        weight: 1,
        shares_prompt: false,
    }
}

async fn gemma_engine() -> Engine {
    let engine = Engine::new(EngineConfig {
        scheduler: small_config(2),
        ..EngineConfig::default()
    });
    engine.load(GEMMA, &gemma3()).await.expect("Gemma 3 loads");
    engine
}

#[tokio::test]
async fn gemma_metadata_and_no_chat_template() {
    let engine = gemma_engine().await;
    let model = engine.get(GEMMA).unwrap();
    let info = model.info();
    assert_eq!(info.architecture, "gemma3");
    assert_eq!(info.quantization.as_deref(), Some("Q4_K_M"));
    assert_eq!(info.embedding_length, 640);
    assert!(info.chat_template.is_none());
    assert!(info.add_bos);
    assert!(!model.capabilities().chat && model.capabilities().completion);
    let mut request = chat("u", "Hello", greedy(4));
    request.model = GEMMA.into();
    match engine.generate(request).await.err() {
        Some(BackendError::InvalidRequest(message)) => {
            assert!(message.contains("no chat template"))
        }
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn gemma_completes_deterministically_and_reuses_prefixes() {
    let engine = gemma_engine().await;
    let a = collect(
        engine
            .generate(complete("u", "The capital of France is", 12))
            .await
            .unwrap(),
    )
    .await;
    let b = collect(
        engine
            .generate(complete("v", "The capital of France is", 12))
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(a.finish, FinishReason::Length);
    assert_eq!(a.text(), b.text());
    assert!(!a.text().trim().is_empty());
    // A prompt longer than the 512-token sliding window, then its continuation.
    let long = "In the beginning there was a small village by the river. ".repeat(60);
    let first = collect(engine.generate(complete("u", &long, 4)).await.unwrap()).await;
    assert!(first.stats.prompt_tokens > 512);
    let next = format!("{long}{} And then", first.text());
    let second = collect(engine.generate(complete("u", &next, 4)).await.unwrap()).await;
    assert!(
        second.stats.cached_tokens >= first.stats.prompt_tokens,
        "{:?}",
        second.stats
    );
}
