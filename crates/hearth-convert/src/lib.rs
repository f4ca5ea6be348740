//! Converts a BERT-family sentence-transformers checkpoint (a folder with
//! `config.json`, `model.safetensors`, the tokenizer and optionally
//! `modules.json` + `1_Pooling/`) into a GGUF file that llama.cpp loads as
//! its `bert` architecture, in `F32`, `F16` or `Q8_0`.
//!
//! Written from the GGUF specification and from what llama.cpp's loader reads
//! (`src/models/bert.cpp`, `src/llama-vocab.cpp`); no llama.cpp code is used.
//! Pure Rust without `unsafe`; runs on the caller's thread (blocking file I/O,
//! one tensor in memory at a time), so async callers should use
//! `spawn_blocking`. The output is written to `<out>.part` and renamed into
//! place, so a failed conversion never leaves a partial file under the final
//! name.
//!
//! - [`safetensors`]: the checkpoint reader.
//! - [`bert`]: `config.json` and the tensor name/shape/type plan.
//! - [`tokenizer`]: the WordPiece vocabulary in llama.cpp's form.
//! - [`sentence`]: pooling and normalization from `modules.json`.
//! - [`gguf`]: the GGUF writer; [`quant`]: `F16` and `Q8_0` encoding.

#![forbid(unsafe_code)]

pub mod bert;
pub mod error;
pub mod gguf;
pub mod quant;
pub mod safetensors;
pub mod sentence;
pub mod tokenizer;

use std::fmt;
use std::fs::File;
use std::io::BufWriter;
use std::path::{Path, PathBuf};
use std::str::FromStr;

pub use error::ConvertError;
pub use sentence::Pooling;

use crate::bert::{BertConfig, Plan};
use crate::gguf::{GgufBuilder, TensorInfo, TensorType, Value};
use crate::safetensors::SafeTensors;
use crate::sentence::Pipeline;
use crate::tokenizer::Vocab;

/// The metadata key recording that the model's outputs are meant to be
/// L2-normalized (a sentence-transformers `Normalize` module). llama.cpp has
/// no key for this; Hearth reads it.
pub const NORMALIZE_KEY: &str = "hearth.embedding.normalize";

/// The weight format of the output file (vectors and norms stay `F32`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ConvertType {
    /// Full precision.
    F32,
    /// Half precision (the default: lossless for these models in practice).
    #[default]
    F16,
    /// 8-bit blocks, about half the size of `F16`.
    Q8_0,
}

impl ConvertType {
    fn tensor_type(self) -> TensorType {
        match self {
            ConvertType::F32 => TensorType::F32,
            ConvertType::F16 => TensorType::F16,
            ConvertType::Q8_0 => TensorType::Q8_0,
        }
    }

    /// `general.file_type` (llama.cpp's `llama_ftype`).
    fn file_type(self) -> u32 {
        match self {
            ConvertType::F32 => 0,
            ConvertType::F16 => 1,
            ConvertType::Q8_0 => 7,
        }
    }
}

impl fmt::Display for ConvertType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ConvertType::F32 => "f32",
            ConvertType::F16 => "f16",
            ConvertType::Q8_0 => "q8_0",
        })
    }
}

impl FromStr for ConvertType {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.to_ascii_lowercase().as_str() {
            "f32" => Ok(ConvertType::F32),
            "f16" => Ok(ConvertType::F16),
            "q8_0" => Ok(ConvertType::Q8_0),
            other => Err(format!("unknown type {other:?}: use f16, q8_0 or f32")),
        }
    }
}

/// How to convert.
#[derive(Debug, Clone, Default)]
pub struct ConvertOptions {
    /// Weight format.
    pub ty: ConvertType,
    /// Replace an existing output file (otherwise [`ConvertError::OutputExists`]).
    pub overwrite: bool,
    /// `general.name`; default: the source folder's name.
    pub name: Option<String>,
}

/// What a conversion produced.
#[derive(Debug, Clone)]
pub struct ConvertReport {
    /// The GGUF file written.
    pub output: PathBuf,
    /// Its weight format.
    pub ty: ConvertType,
    /// `general.name`.
    pub name: String,
    /// Tensors written.
    pub tensors: usize,
    /// Total weights.
    pub parameters: u64,
    /// Size of the file in bytes.
    pub bytes: u64,
    /// Encoder layers.
    pub layers: u64,
    /// Embedding width.
    pub embedding_length: u64,
    /// Tokens in the vocabulary.
    pub vocab_size: usize,
    /// Declared pooling (`None`: the checkpoint declares none).
    pub pooling: Option<Pooling>,
    /// Whether the model's outputs are meant to be L2-normalized.
    pub normalize: bool,
    /// Checkpoint tensors left out (pooler, masked-LM head, position ids).
    pub skipped: Vec<String>,
}

/// Convert the checkpoint in `src` to the GGUF file `dst`.
pub fn convert(
    src: &Path,
    dst: &Path,
    options: &ConvertOptions,
) -> Result<ConvertReport, ConvertError> {
    if !src.is_dir() {
        return Err(ConvertError::MissingFile {
            path: src.into(),
            hint: " (expected a checkpoint folder with config.json and model.safetensors)".into(),
        });
    }
    if dst.exists() && !options.overwrite {
        return Err(ConvertError::OutputExists(dst.into()));
    }
    let config = BertConfig::load(src)?;
    let mut weights = SafeTensors::open(&weights_path(src)?)?;
    // The plan checks every shape against the file first, so sizes taken
    // from config.json (the vocabulary's padding) are backed by real data.
    let plan = bert::plan(&config, &weights.tensors, options.ty.tensor_type())?;
    let vocab = tokenizer::load(src, config.vocab_size)?;
    let pipeline = sentence::load(src)?;
    let name = options.name.clone().unwrap_or_else(|| {
        src.canonicalize()
            .ok()
            .and_then(|p| p.file_name().map(|n| n.to_string_lossy().into_owned()))
            .unwrap_or_else(|| "bert".into())
    });
    let mut builder = GgufBuilder::new();
    describe(&mut builder, &config, &vocab, pipeline, options.ty, &name);
    for t in &plan.tensors {
        builder.add_tensor(TensorInfo {
            name: t.target.clone(),
            dims: t.dims.clone(),
            ty: t.ty,
        });
    }
    let part = part_path(dst);
    let written = write(&builder, &plan, &mut weights, &part);
    if let Err(e) = written {
        let _ = std::fs::remove_file(&part);
        return Err(e);
    }
    std::fs::rename(&part, dst).map_err(|source| {
        let _ = std::fs::remove_file(&part);
        ConvertError::Io {
            path: dst.into(),
            source,
        }
    })?;
    let bytes = std::fs::metadata(dst).map(|m| m.len()).unwrap_or(0);
    Ok(ConvertReport {
        output: dst.into(),
        ty: options.ty,
        name,
        tensors: plan.tensors.len(),
        parameters: builder.tensors().iter().map(TensorInfo::elements).sum(),
        bytes,
        layers: config.num_hidden_layers,
        embedding_length: config.hidden_size,
        vocab_size: vocab.tokens.len(),
        pooling: pipeline.pooling,
        normalize: pipeline.normalize,
        skipped: plan.skipped,
    })
}

fn weights_path(src: &Path) -> Result<PathBuf, ConvertError> {
    let path = src.join("model.safetensors");
    if path.is_file() {
        return Ok(path);
    }
    let hint = if src.join("model.safetensors.index.json").exists() {
        " (sharded checkpoints are not supported)"
    } else if src.join("pytorch_model.bin").exists() {
        " (only safetensors weights can be converted, not pytorch_model.bin)"
    } else {
        " (the model's weights)"
    };
    Err(ConvertError::MissingFile {
        path,
        hint: hint.into(),
    })
}

fn part_path(dst: &Path) -> PathBuf {
    let mut name = dst.file_name().unwrap_or_default().to_os_string();
    name.push(".part");
    dst.with_file_name(name)
}

/// The metadata llama.cpp's `bert` loader and WPM tokenizer read.
fn describe(
    b: &mut GgufBuilder,
    config: &BertConfig,
    vocab: &Vocab,
    pipeline: Pipeline,
    ty: ConvertType,
    name: &str,
) {
    let u32_of = |v: u64| Value::U32(u32::try_from(v).unwrap_or(u32::MAX));
    b.set("general.architecture", Value::Str("bert".into()));
    b.set("general.name", Value::Str(name.into()));
    b.set("general.file_type", Value::U32(ty.file_type()));
    if ty == ConvertType::Q8_0 {
        b.set("general.quantization_version", Value::U32(2));
    }
    b.set(
        "bert.context_length",
        u32_of(config.max_position_embeddings),
    );
    b.set("bert.embedding_length", u32_of(config.hidden_size));
    b.set("bert.block_count", u32_of(config.num_hidden_layers));
    b.set("bert.feed_forward_length", u32_of(config.intermediate_size));
    b.set(
        "bert.attention.head_count",
        u32_of(config.num_attention_heads),
    );
    b.set(
        "bert.attention.layer_norm_epsilon",
        Value::F32(config.layer_norm_eps as f32),
    );
    b.set("bert.attention.causal", Value::Bool(false));
    if let Some(pooling) = pipeline.pooling {
        b.set("bert.pooling_type", Value::U32(pooling.gguf_id()));
    }
    b.set(NORMALIZE_KEY, Value::Bool(pipeline.normalize));
    b.set("tokenizer.ggml.model", Value::Str("bert".into()));
    b.set(
        "tokenizer.ggml.tokens",
        Value::StrArray(vocab.tokens.clone()),
    );
    b.set(
        "tokenizer.ggml.token_type",
        Value::I32Array(vocab.types.clone()),
    );
    b.set(
        "tokenizer.ggml.token_type_count",
        u32_of(config.type_vocab_size),
    );
    b.set("tokenizer.ggml.bos_token_id", Value::U32(vocab.cls));
    b.set("tokenizer.ggml.cls_token_id", Value::U32(vocab.cls));
    b.set("tokenizer.ggml.seperator_token_id", Value::U32(vocab.sep));
    b.set("tokenizer.ggml.unknown_token_id", Value::U32(vocab.unk));
    if let Some(pad) = vocab.pad {
        b.set("tokenizer.ggml.padding_token_id", Value::U32(pad));
    }
    if let Some(mask) = vocab.mask {
        b.set("tokenizer.ggml.mask_token_id", Value::U32(mask));
    }
    b.set("tokenizer.ggml.add_bos_token", Value::Bool(true));
    b.set("tokenizer.ggml.add_sep_token", Value::Bool(true));
    b.set("tokenizer.ggml.add_eos_token", Value::Bool(false));
    b.set(
        "tokenizer.ggml.normalizer.lowercase",
        Value::Bool(vocab.lowercase),
    );
    b.set(
        "tokenizer.ggml.normalizer.strip_accents",
        Value::Bool(vocab.strip_accents),
    );
}

fn write(
    builder: &GgufBuilder,
    plan: &Plan,
    weights: &mut SafeTensors,
    part: &Path,
) -> Result<(), ConvertError> {
    let io = |source| ConvertError::Io {
        path: part.into(),
        source,
    };
    let file = File::create(part).map_err(io)?;
    let mut out = builder
        .start(BufWriter::with_capacity(1 << 20, file))
        .map_err(io)?;
    let mut bytes = Vec::new();
    for t in &plan.tensors {
        let values = weights.read_f32(&t.source)?;
        bytes.clear();
        match t.ty {
            TensorType::F32 => quant::encode_f32(&values, &mut bytes),
            TensorType::F16 => quant::encode_f16(&values, &mut bytes),
            TensorType::Q8_0 => quant::encode_q8_0(&values, &mut bytes),
        }
        out.write(&bytes).map_err(io)?;
    }
    let file = out.finish().map_err(io)?;
    file.into_inner()
        .map_err(|e| io(e.into_error()))?
        .sync_all()
        .map_err(io)
}

/// Read and parse a JSON file; `hint` follows the path in the missing-file
/// error (e.g. " (the model's config.json)").
pub(crate) fn read_json<T: serde::de::DeserializeOwned>(
    path: &Path,
    hint: &str,
) -> Result<T, ConvertError> {
    let bytes = std::fs::read(path).map_err(|source| match source.kind() {
        std::io::ErrorKind::NotFound => ConvertError::MissingFile {
            path: path.into(),
            hint: hint.into(),
        },
        _ => ConvertError::Io {
            path: path.into(),
            source,
        },
    })?;
    serde_json::from_slice(&bytes).map_err(|e| ConvertError::BadConfig {
        path: path.into(),
        detail: e.to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::gguf::reader::{ReadValue, read};

    /// A tiny but complete BERT checkpoint: 1 layer, hidden 32, 6 tokens.
    fn checkpoint(dir: &Path) {
        let config = r#"{"model_type":"bert","architectures":["BertModel"],"hidden_size":32,
            "num_hidden_layers":1,"num_attention_heads":2,"intermediate_size":64,
            "max_position_embeddings":8,"vocab_size":6,"type_vocab_size":2,"layer_norm_eps":1e-5}"#;
        std::fs::write(dir.join("config.json"), config).unwrap();
        std::fs::write(
            dir.join("vocab.txt"),
            "[PAD]\n[UNK]\n[CLS]\n[SEP]\nhi\n##s\n",
        )
        .unwrap();
        std::fs::write(
            dir.join("modules.json"),
            r#"[{"path":"","type":"sentence_transformers.models.Transformer"},
                {"path":"1_Pooling","type":"sentence_transformers.models.Pooling"}]"#,
        )
        .unwrap();
        std::fs::create_dir(dir.join("1_Pooling")).unwrap();
        std::fs::write(
            dir.join("1_Pooling/config.json"),
            r#"{"pooling_mode_cls_token":true}"#,
        )
        .unwrap();
        let mut shapes: Vec<(String, Vec<u64>)> = vec![
            ("embeddings.word_embeddings.weight".into(), vec![6, 32]),
            ("embeddings.position_embeddings.weight".into(), vec![8, 32]),
            (
                "embeddings.token_type_embeddings.weight".into(),
                vec![2, 32],
            ),
            ("embeddings.LayerNorm.weight".into(), vec![32]),
            ("embeddings.LayerNorm.bias".into(), vec![32]),
        ];
        for (m, rows, cols) in [
            ("attention.self.query", 32, 32),
            ("attention.self.key", 32, 32),
            ("attention.self.value", 32, 32),
            ("attention.output.dense", 32, 32),
            ("attention.output.LayerNorm", 32, 0),
            ("intermediate.dense", 64, 32),
            ("output.dense", 32, 64),
            ("output.LayerNorm", 32, 0),
        ] {
            let w = if cols == 0 {
                vec![rows]
            } else {
                vec![rows, cols]
            };
            shapes.push((format!("encoder.layer.0.{m}.weight"), w));
            shapes.push((format!("encoder.layer.0.{m}.bias"), vec![rows]));
        }
        let mut header = serde_json::Map::new();
        let mut data = Vec::new();
        for (i, (name, shape)) in shapes.iter().enumerate() {
            let n: u64 = shape.iter().product();
            let start = data.len();
            for j in 0..n {
                data.extend_from_slice(&((i as f32) + j as f32 / 1000.0).to_le_bytes());
            }
            header.insert(
                name.clone(),
                serde_json::json!({"dtype":"F32","shape":shape,"data_offsets":[start, data.len()]}),
            );
        }
        let header = serde_json::to_vec(&header).unwrap();
        let mut file = (header.len() as u64).to_le_bytes().to_vec();
        file.extend_from_slice(&header);
        file.extend_from_slice(&data);
        std::fs::write(dir.join("model.safetensors"), file).unwrap();
    }

    #[test]
    fn converts_a_tiny_checkpoint_with_the_keys_llama_cpp_reads() {
        let dir = tempfile::tempdir().unwrap();
        checkpoint(dir.path());
        let out = dir.path().join("tiny.gguf");
        let options = ConvertOptions {
            ty: ConvertType::Q8_0,
            name: Some("tiny".into()),
            ..ConvertOptions::default()
        };
        let report = convert(dir.path(), &out, &options).unwrap();
        assert_eq!(
            (report.tensors, report.pooling, report.normalize),
            (21, Some(Pooling::Cls), false)
        );
        let bytes = std::fs::read(&out).unwrap();
        assert_eq!(report.bytes, bytes.len() as u64);
        let file = read(&bytes).unwrap();
        let expect = [
            ("general.architecture", ReadValue::Str("bert".into())),
            ("general.name", ReadValue::Str("tiny".into())),
            ("general.file_type", ReadValue::U32(7)),
            ("bert.context_length", ReadValue::U32(8)),
            ("bert.embedding_length", ReadValue::U32(32)),
            ("bert.block_count", ReadValue::U32(1)),
            ("bert.feed_forward_length", ReadValue::U32(64)),
            ("bert.attention.head_count", ReadValue::U32(2)),
            ("bert.attention.layer_norm_epsilon", ReadValue::F32(1e-5)),
            ("bert.attention.causal", ReadValue::Bool(false)),
            ("bert.pooling_type", ReadValue::U32(2)),
            (NORMALIZE_KEY, ReadValue::Bool(false)),
            ("tokenizer.ggml.model", ReadValue::Str("bert".into())),
            ("tokenizer.ggml.token_type_count", ReadValue::U32(2)),
            ("tokenizer.ggml.bos_token_id", ReadValue::U32(2)),
            ("tokenizer.ggml.seperator_token_id", ReadValue::U32(3)),
            ("tokenizer.ggml.unknown_token_id", ReadValue::U32(1)),
            ("tokenizer.ggml.padding_token_id", ReadValue::U32(0)),
            ("tokenizer.ggml.normalizer.lowercase", ReadValue::Bool(true)),
        ];
        for (key, value) in expect {
            assert_eq!(file.get(key), Some(&value), "{key}");
        }
        assert_eq!(
            file.get("tokenizer.ggml.tokens"),
            Some(&ReadValue::StrArray(
                ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "▁hi", "s"]
                    .map(String::from)
                    .to_vec()
            ))
        );
        let up = file.tensor("blk.0.ffn_up.weight").unwrap();
        assert_eq!((up.dims.as_slice(), up.type_id), (&[32u64, 64][..], 8));
        let types = file.tensor("token_types.weight").unwrap();
        assert_eq!((types.dims.as_slice(), types.type_id), (&[32u64, 2][..], 0));
        // token_types is tensor 2 and F32: its bytes are the checkpoint's.
        let raw = file.tensor_bytes(&bytes, types, 8);
        assert_eq!(f32::from_le_bytes(raw[4..8].try_into().unwrap()), 2.001);
        assert!(!dir.path().join("tiny.gguf.part").exists());
    }

    #[test]
    fn existing_output_and_missing_weights_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        checkpoint(dir.path());
        let out = dir.path().join("x.gguf");
        std::fs::write(&out, b"keep me").unwrap();
        let options = ConvertOptions::default();
        assert!(matches!(
            convert(dir.path(), &out, &options),
            Err(ConvertError::OutputExists(_))
        ));
        assert_eq!(std::fs::read(&out).unwrap(), b"keep me");
        // A config that claims more than the weights hold fails on the
        // shapes, before anything is sized from it.
        let config = std::fs::read_to_string(dir.path().join("config.json")).unwrap();
        let huge = config.replace("\"vocab_size\":6", "\"vocab_size\":4000000000");
        std::fs::write(dir.path().join("config.json"), huge).unwrap();
        let overwrite = ConvertOptions {
            overwrite: true,
            ..ConvertOptions::default()
        };
        assert!(matches!(
            convert(dir.path(), &out, &overwrite),
            Err(ConvertError::ShapeMismatch { .. })
        ));
        std::fs::write(dir.path().join("config.json"), config).unwrap();
        std::fs::remove_file(dir.path().join("model.safetensors")).unwrap();
        std::fs::write(dir.path().join("pytorch_model.bin"), b"").unwrap();
        let err = convert(dir.path(), &out, &overwrite).unwrap_err();
        assert!(err.to_string().contains("pytorch_model.bin"), "{err}");
        assert_eq!(std::fs::read(&out).unwrap(), b"keep me");
    }
}
