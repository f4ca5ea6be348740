//! Loading on the real SmolLM2 file and on broken copies of it; metadata,
//! context limits, template-less models, embeddings.

mod common;

use std::io::Write;

use common::*;
use hearth_core::backend::{
    BackendError, ChatBackend, EmbedBackend, EmbedRequest, FinishReason, Principal, Prompt,
};
use hearth_engine::{Engine, EngineConfig, EngineError, SchedulerConfig};

fn write_temp(bytes: &[u8]) -> tempfile::NamedTempFile {
    let mut file = tempfile::NamedTempFile::new().unwrap();
    file.write_all(bytes).unwrap();
    file
}

async fn load_error(path: &std::path::Path) -> EngineError {
    Engine::new(EngineConfig::default())
        .load("bad", path)
        .await
        .expect_err("must not load")
}

#[tokio::test]
async fn metadata_is_read() {
    let engine = engine(small_config(1)).await;
    let model = engine.get(MODEL).unwrap();
    let info = model.info();
    assert_eq!(info.architecture, "llama");
    assert_eq!(info.quantization.as_deref(), Some("Q4_1"));
    assert_eq!(info.context_length, 8192);
    assert_eq!(info.embedding_length, 576);
    assert_eq!(info.vocab_size, 49152);
    assert!(
        (130_000_000..140_000_000).contains(&info.parameter_count),
        "{}",
        info.parameter_count
    );
    assert_eq!(
        info.bos.as_ref().map(|t| t.text.as_str()),
        Some("<|im_start|>")
    );
    assert_eq!(
        info.eos.as_ref().map(|t| t.text.as_str()),
        Some("<|im_end|>")
    );
    assert!(info.chat_template.as_deref().unwrap().contains("SmolLM"));
    assert!(model.capabilities().chat);
    assert_eq!(engine.model_names(), [MODEL]);
    assert!(matches!(
        engine.load(MODEL, &smollm2()).await,
        Err(EngineError::AlreadyLoaded(_))
    ));
    engine.unload(MODEL).unwrap();
    assert!(matches!(
        engine.get(MODEL),
        Err(EngineError::ModelNotFound(_))
    ));
}

#[tokio::test]
async fn broken_files_are_typed_errors() {
    let real = std::fs::read(smollm2()).unwrap();
    let truncated = write_temp(&real[..real.len() / 2]);
    assert!(matches!(
        load_error(truncated.path()).await,
        EngineError::Truncated { .. }
    ));
    let header_only = write_temp(&real[..64]);
    assert!(matches!(
        load_error(header_only.path()).await,
        EngineError::Truncated { .. }
    ));
    let mut wrong_magic = real[..4096].to_vec();
    wrong_magic[..4].copy_from_slice(b"GGML");
    let wrong_magic = write_temp(&wrong_magic);
    assert!(matches!(
        load_error(wrong_magic.path()).await,
        EngineError::NotGguf { .. }
    ));
    let missing = load_error(std::path::Path::new("/nonexistent/model.gguf")).await;
    assert!(matches!(missing, EngineError::Io { .. }), "{missing}");
}

#[tokio::test]
async fn an_unsupported_architecture_is_refused_before_llama_cpp() {
    // Same length as "llama", so every offset stays valid.
    let real = std::fs::read(smollm2()).unwrap();
    let patched = patch(
        &real,
        b"\x05\x00\x00\x00\x00\x00\x00\x00llama",
        b"\x05\x00\x00\x00\x00\x00\x00\x00zebra",
    );
    let file = write_temp(&patched);
    match load_error(file.path()).await {
        EngineError::UnsupportedArchitecture { architecture, .. } => {
            assert_eq!(architecture, "zebra")
        }
        other => panic!("{other}"),
    }
}

#[tokio::test]
async fn a_model_without_template_completes_but_refuses_chat() {
    let real = std::fs::read(smollm2()).unwrap();
    let patched = patch(
        &real,
        b"tokenizer.chat_template",
        b"tokenizer.chat_templatX",
    );
    let file = write_temp(&patched);
    let engine = Engine::new(EngineConfig {
        scheduler: small_config(1),
        ..EngineConfig::default()
    });
    engine.load("base", file.path()).await.unwrap();
    let mut request = chat("u", "Hello", greedy(4));
    request.model = "base".into();
    let refused = engine.generate(request.clone()).await.err();
    match refused {
        Some(BackendError::InvalidRequest(message)) => {
            assert!(message.contains("no chat template"), "{message}")
        }
        other => panic!("{other:?}"),
    }
    request.prompt = Prompt::Text("Once upon a time".into());
    let out = collect(engine.generate(request).await.unwrap()).await;
    assert_eq!(out.finish, FinishReason::Length);
}

#[tokio::test]
async fn a_prompt_longer_than_the_context_is_a_typed_error() {
    let config = SchedulerConfig {
        context_tokens: 256,
        ..small_config(1)
    };
    let engine = engine(config).await;
    let long = "word ".repeat(400);
    let model = engine.get(MODEL).unwrap();
    match model.tokenize_prompt(&Prompt::Text(long.clone())) {
        Err(EngineError::PromptTooLong {
            prompt_tokens,
            context_tokens,
        }) => {
            assert!(prompt_tokens >= 400);
            assert_eq!(context_tokens, 256);
        }
        other => panic!("{other:?}"),
    }
    let refused = engine.generate(chat("u", &long, greedy(4))).await.err();
    assert!(
        matches!(refused, Some(BackendError::InvalidRequest(_))),
        "{refused:?}"
    );
    // Generation stops at the context end instead of overflowing it.
    let near_full = "word ".repeat(200);
    let out = collect(
        engine
            .generate(chat("u", &near_full, greedy(10_000)))
            .await
            .unwrap(),
    )
    .await;
    assert!(out.stats.prompt_tokens + out.stats.completion_tokens <= 256);
}

#[tokio::test]
async fn embeddings_are_pooled_normalized_and_batched() {
    let engine = engine(small_config(1)).await;
    let request = |inputs: &[&str]| EmbedRequest {
        model: MODEL.into(),
        inputs: inputs.iter().map(|s| s.to_string()).collect(),
        normalize: true,
        principal: Principal::anonymous(),
    };
    let batch = engine
        .embed(request(&[
            "a cat sat on the mat",
            "quantum physics",
            "a cat sat on the mat",
        ]))
        .await
        .unwrap();
    assert_eq!(batch.embeddings.len(), 3);
    assert!(batch.prompt_tokens > 6);
    for v in &batch.embeddings {
        assert_eq!(v.len(), 576);
        let norm: f32 = v.iter().map(|x| x * x).sum::<f32>().sqrt();
        assert!((norm - 1.0).abs() < 1e-4);
    }
    let alone = engine.embed(request(&["quantum physics"])).await.unwrap();
    let dot = |a: &[f32], b: &[f32]| a.iter().zip(b).map(|(x, y)| x * y).sum::<f32>();
    assert!(
        dot(&alone.embeddings[0], &batch.embeddings[1]) > 0.999,
        "batching must not change a vector"
    );
    assert!(dot(&batch.embeddings[0], &batch.embeddings[2]) > 0.999);
    assert!(dot(&batch.embeddings[0], &batch.embeddings[1]) < 0.999);
    let empty = engine.embed(request(&[])).await.err();
    assert!(matches!(empty, Some(BackendError::InvalidRequest(_))));
}

/// `bytes` with the first occurrence of `from` replaced by `to` (same length).
fn patch(bytes: &[u8], from: &[u8], to: &[u8]) -> Vec<u8> {
    assert_eq!(from.len(), to.len());
    let at = bytes
        .windows(from.len())
        .position(|w| w == from)
        .expect("pattern present");
    let mut out = bytes.to_vec();
    out[at..at + to.len()].copy_from_slice(to);
    out
}
