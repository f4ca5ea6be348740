//! `hearth convert` end to end: the all-MiniLM-L6-v2 test checkpoint
//! (safetensors + tokenizer) is converted to GGUF (F32, F16 and Q8_0), loaded by
//! the engine, and its embeddings compared with reference vectors computed
//! once by sentence-transformers (`scripts/reference-embeddings.py`, output
//! committed in `tests/data/minilm-reference.json`).

mod common;

use std::path::{Path, PathBuf};

use common::*;
use hearth_convert::{ConvertOptions, ConvertType, Pooling};
use hearth_core::backend::{EmbedBackend, EmbedRequest, Principal, Prompt};
use hearth_engine::{Engine, EngineConfig};
use serde::Deserialize;

/// Cosine similarity each converted vector must reach against the reference.
/// Measured on x86-64 with llama.cpp of llama-cpp-sys-2 0.1.161 (printed by
/// the test): F16 worst 0.999998, Q8_0 worst 0.99957. The bounds leave about
/// 50x (F16) and 5x (Q8_0) margin in `1 - cosine` for other CPUs and llama.cpp
/// versions; swapping two attention weights drops a vector well below them.
const MIN_COSINE_F16: f32 = 0.9999;
const MIN_COSINE_Q8_0: f32 = 0.998;

#[derive(Deserialize)]
struct Reference {
    dimension: usize,
    items: Vec<Item>,
}

#[derive(Deserialize)]
struct Item {
    text: String,
    token_ids: Vec<i32>,
    embedding: Vec<f32>,
}

fn reference() -> Reference {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/minilm-reference.json");
    let text = std::fs::read_to_string(&path).expect("reference data is committed");
    serde_json::from_str(&text).expect("reference data parses")
}

/// The MiniLM checkpoint folder; fails (never skips) when it is missing.
fn minilm() -> PathBuf {
    let path = models_dir().join("all-minilm-l6-v2");
    assert!(
        path.join("model.safetensors").exists(),
        "test model {} is missing: run `cargo xtask fetch-test-models`",
        path.display()
    );
    path
}

fn cosine(a: &[f32], b: &[f32]) -> f32 {
    let dot = a.iter().zip(b).map(|(x, y)| x * y).sum::<f32>();
    let norm = |v: &[f32]| v.iter().map(|x| x * x).sum::<f32>().sqrt();
    dot / (norm(a) * norm(b))
}

/// Convert to `ty`, load, and compare every reference sentence.
async fn check(ty: ConvertType, min_cosine: f32) -> u64 {
    let reference = reference();
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join(format!("minilm-{ty}.gguf"));
    let options = ConvertOptions {
        ty,
        ..ConvertOptions::default()
    };
    let report = hearth_convert::convert(&minilm(), &out, &options).expect("conversion succeeds");
    assert_eq!(report.pooling, Some(Pooling::Mean));
    assert!(report.normalize);
    assert_eq!((report.layers, report.embedding_length), (6, 384));
    assert_eq!(report.tensors, 5 + 6 * 16);
    assert_eq!(report.vocab_size, 30522);
    assert!(
        (22_000_000..23_000_000).contains(&report.parameters),
        "{}",
        report.parameters
    );

    let engine = Engine::new(EngineConfig {
        scheduler: small_config(1),
        ..EngineConfig::default()
    });
    let info = engine
        .load("minilm", &out)
        .await
        .expect("converted file loads");
    assert_eq!(info.architecture, "bert");
    assert_eq!(info.embedding_length as usize, reference.dimension);
    assert_eq!(info.pooling_type, Some(1), "mean pooling is declared");
    assert!(!info.is_causal);
    assert_eq!(info.vocab_size, 30522);
    let loaded = engine.get("minilm").unwrap();
    assert!(loaded.capabilities().embedding);

    for item in &reference.items {
        let tokens = loaded
            .tokenize_prompt(&Prompt::Text(item.text.clone()))
            .unwrap();
        let ids: Vec<i32> = tokens.iter().map(|t| t.0).collect();
        assert_eq!(ids, item.token_ids, "tokenization of {:?}", item.text);
    }
    let response = engine
        .embed(EmbedRequest {
            model: "minilm".into(),
            inputs: reference.items.iter().map(|i| i.text.clone()).collect(),
            normalize: true,
            principal: Principal::anonymous(),
        })
        .await
        .expect("embeddings");
    assert_eq!(response.embeddings.len(), reference.items.len());
    let mut worst = 1.0f32;
    for (got, item) in response.embeddings.iter().zip(&reference.items) {
        assert_eq!(got.len(), reference.dimension);
        let c = cosine(got, &item.embedding);
        eprintln!("{ty}: cosine {c:.6} for {:?}", item.text);
        assert!(
            c >= min_cosine,
            "{ty}: cosine {c} < {min_cosine} for {:?}",
            item.text
        );
        worst = worst.min(c);
    }
    eprintln!("{ty}: worst cosine {worst:.6}, file {} bytes", report.bytes);
    // The comparison discriminates: different sentences are far apart.
    let apart = cosine(&response.embeddings[0], &reference.items[3].embedding);
    assert!(apart < 0.5, "unrelated sentences at cosine {apart}");
    report.bytes
}

#[tokio::test]
async fn converted_minilm_embeddings_match_the_reference() {
    let f32 = check(ConvertType::F32, MIN_COSINE_F16).await;
    let f16 = check(ConvertType::F16, MIN_COSINE_F16).await;
    let q8 = check(ConvertType::Q8_0, MIN_COSINE_Q8_0).await;
    assert!(f16 < f32 * 6 / 10, "F16 {f16} bytes vs F32 {f32}");
    assert!(q8 < f16 * 6 / 10, "Q8_0 {q8} bytes vs F16 {f16}");
}

#[test]
fn non_bert_checkpoints_and_missing_files_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("x.gguf");
    let options = ConvertOptions::default();
    let missing = hearth_convert::convert(&dir.path().join("nope"), &out, &options);
    assert!(matches!(
        missing,
        Err(hearth_convert::ConvertError::MissingFile { .. })
    ));
    std::fs::write(
        dir.path().join("config.json"),
        r#"{"model_type":"llama","architectures":["LlamaForCausalLM"],"hidden_size":8,
        "num_hidden_layers":1,"num_attention_heads":1,"intermediate_size":8,
        "max_position_embeddings":8,"vocab_size":8}"#,
    )
    .unwrap();
    let wrong = hearth_convert::convert(dir.path(), &out, &options);
    assert!(matches!(
        wrong,
        Err(hearth_convert::ConvertError::UnsupportedArchitecture(_))
    ));
    assert!(!out.exists());
}
