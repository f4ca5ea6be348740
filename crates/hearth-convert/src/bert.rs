//! The BERT encoder: its `config.json`, and the plan that maps every
//! checkpoint tensor (Hugging Face names) to the name, shape and storage type
//! llama.cpp's `bert` architecture loads (`src/models/bert.cpp`).
//!
//! A tensor the plan does not know is an error, except a short list of heads
//! that embeddings never use (pooler, masked-LM head, `position_ids`): a
//! silently dropped weight would change the model.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use serde::Deserialize;

use crate::error::ConvertError;
use crate::gguf::TensorType;
use crate::read_json;
use crate::safetensors::TensorEntry;

/// The fields of `config.json` the conversion needs.
#[derive(Debug, Clone, Deserialize)]
pub struct BertConfig {
    /// `model_type`; must be `bert`.
    #[serde(default)]
    pub model_type: Option<String>,
    /// `architectures`, e.g. `["BertModel"]`.
    #[serde(default)]
    pub architectures: Vec<String>,
    /// Width of the hidden state.
    pub hidden_size: u64,
    /// Encoder layers.
    pub num_hidden_layers: u64,
    /// Attention heads.
    pub num_attention_heads: u64,
    /// Width of the feed-forward layer.
    pub intermediate_size: u64,
    /// Positions the model was trained with.
    pub max_position_embeddings: u64,
    /// Token type ("segment") embeddings.
    #[serde(default = "two")]
    pub type_vocab_size: u64,
    /// Rows of the word embeddings.
    pub vocab_size: u64,
    /// Layer norm epsilon.
    #[serde(default = "default_eps")]
    pub layer_norm_eps: f64,
    /// Activation; llama.cpp's BERT uses GELU.
    #[serde(default = "gelu")]
    pub hidden_act: String,
    /// Position embedding kind; only `absolute` is what llama.cpp's BERT does.
    #[serde(default = "absolute")]
    pub position_embedding_type: String,
}

fn two() -> u64 {
    2
}
fn default_eps() -> f64 {
    1e-12
}
fn gelu() -> String {
    "gelu".into()
}
fn absolute() -> String {
    "absolute".into()
}

impl BertConfig {
    /// Read and check `dir/config.json`.
    pub fn load(dir: &Path) -> Result<BertConfig, ConvertError> {
        let path = dir.join("config.json");
        let config: BertConfig = read_json(&path, " (the model's config.json)")?;
        config.check()?;
        Ok(config)
    }

    fn check(&self) -> Result<(), ConvertError> {
        let model_type = self.model_type.as_deref().unwrap_or("");
        let is_bert_class = self
            .architectures
            .iter()
            .all(|a| a.starts_with("Bert") && !a.contains("Generation"));
        if model_type != "bert" || !is_bert_class {
            let what = if model_type.is_empty() {
                format!("{:?}", self.architectures)
            } else {
                format!("\"{model_type}\" {:?}", self.architectures)
            };
            return Err(ConvertError::UnsupportedArchitecture(what));
        }
        if !matches!(
            self.hidden_act.as_str(),
            "gelu" | "gelu_new" | "gelu_pytorch_tanh"
        ) {
            return Err(ConvertError::Unsupported(format!(
                "hidden_act \"{}\" (llama.cpp's BERT computes GELU)",
                self.hidden_act
            )));
        }
        if self.position_embedding_type != "absolute" {
            return Err(ConvertError::Unsupported(format!(
                "position_embedding_type \"{}\" (only absolute)",
                self.position_embedding_type
            )));
        }
        let sizes = [
            self.hidden_size,
            self.num_hidden_layers,
            self.num_attention_heads,
            self.intermediate_size,
            self.max_position_embeddings,
            self.vocab_size,
        ];
        if sizes.iter().any(|&s| s == 0 || s > u64::from(u32::MAX))
            || !self.hidden_size.is_multiple_of(self.num_attention_heads)
            || self.num_hidden_layers > 512
        {
            return Err(ConvertError::Unsupported(format!(
                "sizes out of range: hidden {} / heads {} / layers {}",
                self.hidden_size, self.num_attention_heads, self.num_hidden_layers
            )));
        }
        Ok(())
    }
}

/// One tensor to convert.
#[derive(Debug, Clone)]
pub struct Planned {
    /// Name in the checkpoint.
    pub source: String,
    /// Name in the GGUF file.
    pub target: String,
    /// Dimensions for GGUF, innermost first (the checkpoint's, reversed).
    pub dims: Vec<u64>,
    /// Storage type in the GGUF file.
    pub ty: TensorType,
}

/// What becomes of the checkpoint's tensors.
#[derive(Debug)]
pub struct Plan {
    /// Tensors to write, in file order.
    pub tensors: Vec<Planned>,
    /// Checkpoint tensors left out (heads embeddings do not use).
    pub skipped: Vec<String>,
}

/// `(checkpoint name without prefix, GGUF name, PyTorch shape)` of every
/// weight llama.cpp's `bert` loads.
fn expected(c: &BertConfig) -> Vec<(String, String, Vec<u64>)> {
    let (h, ff) = (c.hidden_size, c.intermediate_size);
    let mut out = vec![
        (
            "embeddings.word_embeddings.weight".into(),
            "token_embd.weight".into(),
            vec![c.vocab_size, h],
        ),
        (
            "embeddings.position_embeddings.weight".into(),
            "position_embd.weight".into(),
            vec![c.max_position_embeddings, h],
        ),
        (
            "embeddings.token_type_embeddings.weight".into(),
            "token_types.weight".into(),
            vec![c.type_vocab_size, h],
        ),
        (
            "embeddings.LayerNorm.weight".into(),
            "token_embd_norm.weight".into(),
            vec![h],
        ),
        (
            "embeddings.LayerNorm.bias".into(),
            "token_embd_norm.bias".into(),
            vec![h],
        ),
    ];
    // (Hugging Face module, llama.cpp tensor, [out, in] of its weight)
    let per_layer = [
        ("attention.self.query", "attn_q", [h, h]),
        ("attention.self.key", "attn_k", [h, h]),
        ("attention.self.value", "attn_v", [h, h]),
        ("attention.output.dense", "attn_output", [h, h]),
        ("attention.output.LayerNorm", "attn_output_norm", [h, 0]),
        ("intermediate.dense", "ffn_up", [ff, h]),
        ("output.dense", "ffn_down", [h, ff]),
        ("output.LayerNorm", "layer_output_norm", [h, 0]),
    ];
    for i in 0..c.num_hidden_layers {
        for (hf, gg, [rows, cols]) in per_layer {
            let weight_shape = if cols == 0 {
                vec![rows]
            } else {
                vec![rows, cols]
            };
            out.push((
                format!("encoder.layer.{i}.{hf}.weight"),
                format!("blk.{i}.{gg}.weight"),
                weight_shape,
            ));
            out.push((
                format!("encoder.layer.{i}.{hf}.bias"),
                format!("blk.{i}.{gg}.bias"),
                vec![rows],
            ));
        }
    }
    out
}

/// Checkpoint tensors that embeddings never use.
fn is_unused_head(name: &str) -> bool {
    let name = name.strip_prefix("bert.").unwrap_or(name);
    name.starts_with("pooler.") || name.starts_with("cls.") || name == "embeddings.position_ids"
}

/// The names under which `base` may be stored: with or without the `bert.`
/// prefix of task-head checkpoints, and with the old `gamma`/`beta` names of
/// layer norms.
fn candidates(base: &str) -> Vec<String> {
    let mut names = vec![base.to_owned()];
    if let Some(stem) = base.strip_suffix("LayerNorm.weight") {
        names.push(format!("{stem}LayerNorm.gamma"));
    } else if let Some(stem) = base.strip_suffix("LayerNorm.bias") {
        names.push(format!("{stem}LayerNorm.beta"));
    }
    let prefixed: Vec<String> = names.iter().map(|n| format!("bert.{n}")).collect();
    names.extend(prefixed);
    names
}

/// The storage type of a tensor of PyTorch shape `shape` in a file of `ty`:
/// vectors and the (tiny, added as a raw view) token type table stay `F32`;
/// `Q8_0` needs rows that are whole blocks, else the tensor falls back to `F16`.
fn storage_type(target: &str, shape: &[u64], ty: TensorType) -> TensorType {
    if shape.len() < 2 || target == "token_types.weight" {
        return TensorType::F32;
    }
    let row = shape.last().copied().unwrap_or(0);
    match ty {
        TensorType::Q8_0 if !row.is_multiple_of(32) => TensorType::F16,
        other => other,
    }
}

/// Map the checkpoint's tensors for a file of type `ty`.
pub fn plan(
    config: &BertConfig,
    tensors: &BTreeMap<String, TensorEntry>,
    ty: TensorType,
) -> Result<Plan, ConvertError> {
    let mut used = BTreeSet::new();
    let mut planned = Vec::new();
    for (base, target, shape) in expected(config) {
        let source = candidates(&base)
            .into_iter()
            .find(|n| tensors.contains_key(n))
            .ok_or_else(|| ConvertError::MissingTensor(base.clone()))?;
        let entry = &tensors[&source];
        if entry.shape != shape {
            return Err(ConvertError::ShapeMismatch {
                tensor: source,
                found: entry.shape.clone(),
                expected: shape,
            });
        }
        used.insert(source.clone());
        planned.push(Planned {
            ty: storage_type(&target, &shape, ty),
            dims: shape.iter().rev().copied().collect(),
            source,
            target,
        });
    }
    let mut skipped = Vec::new();
    for name in tensors.keys().filter(|n| !used.contains(*n)) {
        if is_unused_head(name) {
            skipped.push(name.clone());
        } else {
            return Err(ConvertError::UnexpectedTensor(name.clone()));
        }
    }
    Ok(Plan {
        tensors: planned,
        skipped,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::safetensors::Dtype;

    fn config() -> BertConfig {
        serde_json::from_str(
            r#"{"model_type":"bert","architectures":["BertModel"],"hidden_size":64,
            "num_hidden_layers":2,"num_attention_heads":4,"intermediate_size":128,
            "max_position_embeddings":16,"vocab_size":10,"type_vocab_size":2}"#,
        )
        .unwrap()
    }

    fn entries(c: &BertConfig, prefix: &str) -> BTreeMap<String, TensorEntry> {
        expected(c)
            .into_iter()
            .map(|(name, _, shape)| {
                let entry = TensorEntry {
                    dtype: Dtype::F32,
                    dtype_name: "F32".into(),
                    shape,
                    start: 0,
                    len: 0,
                };
                (format!("{prefix}{name}"), entry)
            })
            .collect()
    }

    #[test]
    fn maps_every_weight_with_transposed_dims() {
        let c = config();
        let mut tensors = entries(&c, "");
        let extra = tensors["embeddings.LayerNorm.bias"].clone();
        tensors.insert("pooler.dense.bias".into(), extra.clone());
        tensors.insert("embeddings.position_ids".into(), extra);
        let plan = plan(&c, &tensors, TensorType::Q8_0).unwrap();
        assert_eq!(plan.tensors.len(), 5 + 2 * 16);
        assert_eq!(
            plan.skipped,
            ["embeddings.position_ids", "pooler.dense.bias"]
        );
        let find = |t: &str| plan.tensors.iter().find(|p| p.target == t).unwrap();
        let up = find("blk.1.ffn_up.weight");
        assert_eq!(
            (up.dims.as_slice(), up.ty),
            (&[64u64, 128][..], TensorType::Q8_0)
        );
        assert_eq!(find("blk.0.ffn_down.weight").dims, [128, 64]);
        assert_eq!(find("token_embd.weight").dims, [64, 10]);
        assert_eq!(find("token_types.weight").ty, TensorType::F32);
        assert_eq!(find("blk.0.attn_output_norm.bias").ty, TensorType::F32);
    }

    #[test]
    fn prefixed_and_gamma_beta_names_are_found() {
        let c = config();
        let tensors: BTreeMap<_, _> = entries(&c, "bert.")
            .into_iter()
            .map(|(k, v)| {
                let k = k.replace("LayerNorm.weight", "LayerNorm.gamma");
                (k.replace("LayerNorm.bias", "LayerNorm.beta"), v)
            })
            .collect();
        let plan = plan(&c, &tensors, TensorType::F16).unwrap();
        assert_eq!(plan.tensors[3].source, "bert.embeddings.LayerNorm.gamma");
    }

    #[test]
    fn missing_unexpected_and_misshapen_tensors_fail() {
        let c = config();
        let mut tensors = entries(&c, "");
        tensors.remove("encoder.layer.1.output.dense.weight");
        assert!(matches!(
            plan(&c, &tensors, TensorType::F16),
            Err(ConvertError::MissingTensor(n)) if n == "encoder.layer.1.output.dense.weight"
        ));
        let mut tensors = entries(&c, "");
        let extra = tensors["embeddings.LayerNorm.bias"].clone();
        tensors.insert("encoder.layer.0.attention.self.rotary".into(), extra);
        assert!(matches!(
            plan(&c, &tensors, TensorType::F16),
            Err(ConvertError::UnexpectedTensor(_))
        ));
        let mut tensors = entries(&c, "");
        if let Some(t) = tensors.get_mut("encoder.layer.0.intermediate.dense.weight") {
            t.shape = vec![64, 128];
        }
        assert!(matches!(
            plan(&c, &tensors, TensorType::F16),
            Err(ConvertError::ShapeMismatch { .. })
        ));
    }

    #[test]
    fn q8_0_falls_back_to_f16_for_odd_rows() {
        assert_eq!(
            storage_type("x", &[8, 48], TensorType::Q8_0),
            TensorType::F16
        );
        assert_eq!(
            storage_type("x", &[8, 64], TensorType::Q8_0),
            TensorType::Q8_0
        );
        assert_eq!(storage_type("x", &[64], TensorType::Q8_0), TensorType::F32);
    }

    #[test]
    fn other_architectures_are_refused() {
        let mut c = config();
        c.model_type = Some("roberta".into());
        assert!(matches!(
            c.check(),
            Err(ConvertError::UnsupportedArchitecture(_))
        ));
        let mut c = config();
        c.architectures = vec!["NomicBertModel".into()];
        assert!(matches!(
            c.check(),
            Err(ConvertError::UnsupportedArchitecture(_))
        ));
        let mut c = config();
        c.hidden_act = "relu".into();
        assert!(matches!(c.check(), Err(ConvertError::Unsupported(_))));
        let mut c = config();
        c.num_attention_heads = 5;
        assert!(matches!(c.check(), Err(ConvertError::Unsupported(_))));
    }
}
