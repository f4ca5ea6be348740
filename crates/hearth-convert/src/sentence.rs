//! The sentence-transformers pipeline of a checkpoint (`modules.json`): how
//! token vectors are pooled into one (`1_Pooling/config.json`) and whether
//! the result is L2-normalized. A module that would change the vectors in a
//! way llama.cpp cannot reproduce (a `Dense` projection, max pooling…) fails
//! the conversion rather than produce different embeddings.

use std::path::Path;

use serde::Deserialize;
use serde_json::Value as Json;

use crate::error::ConvertError;
use crate::read_json;

/// Pooling as llama.cpp knows it (`LLAMA_POOLING_TYPE_*`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pooling {
    /// Mean of the token vectors.
    Mean,
    /// The first (`[CLS]`) token's vector.
    Cls,
    /// The last token's vector.
    Last,
}

impl Pooling {
    /// The `{arch}.pooling_type` value.
    pub fn gguf_id(self) -> u32 {
        match self {
            Pooling::Mean => 1,
            Pooling::Cls => 2,
            Pooling::Last => 3,
        }
    }

    /// Lower-case name.
    pub fn name(self) -> &'static str {
        match self {
            Pooling::Mean => "mean",
            Pooling::Cls => "cls",
            Pooling::Last => "last",
        }
    }
}

/// What the checkpoint's modules declare.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Pipeline {
    /// Pooling, when the checkpoint declares one (no `modules.json`: none).
    pub pooling: Option<Pooling>,
    /// Whether a `Normalize` module L2-normalizes the output.
    pub normalize: bool,
}

#[derive(Deserialize)]
struct Module {
    #[serde(rename = "type")]
    kind: String,
    #[serde(default)]
    path: String,
}

/// Read `dir/modules.json` (optional) and the pooling config it points at.
pub fn load(dir: &Path) -> Result<Pipeline, ConvertError> {
    let modules_path = dir.join("modules.json");
    if !modules_path.exists() {
        return Ok(Pipeline {
            pooling: None,
            normalize: false,
        });
    }
    let modules: Vec<Module> = read_json(&modules_path, "")?;
    let mut pipeline = Pipeline {
        pooling: None,
        normalize: false,
    };
    for module in modules {
        let kind = module.kind.rsplit('.').next().unwrap_or("");
        match kind {
            "Transformer" if module.path.is_empty() => {}
            "Transformer" => {
                return Err(ConvertError::Unsupported(format!(
                    "the transformer lives in {:?}; point `hearth convert` at that folder",
                    module.path
                )));
            }
            "Pooling" => {
                let path = dir.join(&module.path).join("config.json");
                let config: Json = read_json(&path, " (the pooling module's config)")?;
                pipeline.pooling = Some(pooling(&config)?);
            }
            "Normalize" => pipeline.normalize = true,
            _ => {
                return Err(ConvertError::Unsupported(format!(
                    "sentence-transformers module {} changes the embeddings and has no GGUF equivalent",
                    module.kind
                )));
            }
        }
    }
    Ok(pipeline)
}

fn pooling(config: &Json) -> Result<Pooling, ConvertError> {
    let on = |key: &str| config.get(key).and_then(Json::as_bool).unwrap_or(false);
    let supported = [
        ("pooling_mode_mean_tokens", Pooling::Mean),
        ("pooling_mode_cls_token", Pooling::Cls),
        ("pooling_mode_lasttoken", Pooling::Last),
    ];
    let unsupported = [
        "pooling_mode_max_tokens",
        "pooling_mode_mean_sqrt_len_tokens",
        "pooling_mode_weightedmean_tokens",
    ];
    let mut modes: Vec<&str> = unsupported.into_iter().filter(|k| on(k)).collect();
    let chosen: Vec<Pooling> = supported
        .iter()
        .filter(|(k, _)| on(k))
        .map(|&(_, p)| p)
        .collect();
    modes.extend(supported.iter().filter(|(k, _)| on(k)).map(|(k, _)| *k));
    match (chosen.as_slice(), modes.len()) {
        ([one], 1) => Ok(*one),
        _ => Err(ConvertError::UnsupportedPooling(if modes.is_empty() {
            "(none declared)".into()
        } else {
            modes.join(" + ")
        })),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dir_with(modules: &str, pooling: &str) -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("modules.json"), modules).unwrap();
        std::fs::create_dir(dir.path().join("1_Pooling")).unwrap();
        std::fs::write(dir.path().join("1_Pooling/config.json"), pooling).unwrap();
        dir
    }

    const MODULES: &str = r#"[
        {"idx":0,"name":"0","path":"","type":"sentence_transformers.models.Transformer"},
        {"idx":1,"name":"1","path":"1_Pooling","type":"sentence_transformers.models.Pooling"},
        {"idx":2,"name":"2","path":"2_Normalize","type":"sentence_transformers.models.Normalize"}]"#;

    #[test]
    fn reads_pooling_and_normalize() {
        let dir = dir_with(
            MODULES,
            r#"{"pooling_mode_mean_tokens":true,"pooling_mode_cls_token":false}"#,
        );
        let p = load(dir.path()).unwrap();
        assert_eq!(p.pooling, Some(Pooling::Mean));
        assert!(p.normalize);
        let dir = dir_with(MODULES, r#"{"pooling_mode_cls_token":true}"#);
        assert_eq!(load(dir.path()).unwrap().pooling, Some(Pooling::Cls));
        let dir = dir_with(MODULES, r#"{"pooling_mode_lasttoken":true}"#);
        assert_eq!(load(dir.path()).unwrap().pooling, Some(Pooling::Last));
    }

    #[test]
    fn no_modules_means_nothing_declared() {
        let dir = tempfile::tempdir().unwrap();
        let p = load(dir.path()).unwrap();
        assert_eq!((p.pooling, p.normalize), (None, false));
    }

    #[test]
    fn unsupported_pooling_and_modules_fail() {
        for config in [
            r#"{"pooling_mode_max_tokens":true}"#,
            r#"{"pooling_mode_mean_tokens":true,"pooling_mode_cls_token":true}"#,
            r#"{"pooling_mode_mean_tokens":true,"pooling_mode_mean_sqrt_len_tokens":true}"#,
            r#"{}"#,
        ] {
            let dir = dir_with(MODULES, config);
            assert!(
                matches!(load(dir.path()), Err(ConvertError::UnsupportedPooling(_))),
                "{config}"
            );
        }
        let dense = r#"[{"path":"2_Dense","type":"sentence_transformers.models.Dense"}]"#;
        let dir = dir_with(dense, "{}");
        assert!(matches!(
            load(dir.path()),
            Err(ConvertError::Unsupported(_))
        ));
        let dir = dir_with("not json", "{}");
        assert!(matches!(
            load(dir.path()),
            Err(ConvertError::BadConfig { .. })
        ));
    }
}
