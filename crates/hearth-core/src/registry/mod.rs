//! The model registry: models live in the data directory as content-addressed
//! blobs (`registry/blobs/sha256-HEX`), each name (`name:tag`, like Ollama) is a
//! manifest row in the database pointing at one blob, with the metadata read from
//! the GGUF header and the model's provenance.
//!
//! - [`Registry`] is the service (import, pull, list, show, copy, remove,
//!   presets, export/import bundles, garbage collection); it runs on the caller's
//!   task, file work on the blocking pool, pulls on tasks of their own.
//! - Ports: [`RegistryRepo`] (manifests, in `hearth-store`), [`ModelInspector`]
//!   (GGUF headers, in `hearth-engine`), [`Fetcher`](pull::Fetcher) (HTTP, in
//!   `hearth-providers`), [`ServedModels`] and [`LoadedModels`] (the serving
//!   side, wired by the binary).
//!
//! Invariants: a blob file exists under its final name only once its whole
//! content was written and its digest checked (temp file + rename); a manifest
//! row is written only after its blob exists; removing the last manifest of a
//! blob removes the blob.

pub mod blobs;
pub mod bundle;
pub mod pull;
pub mod quantize;
pub mod routing;
mod service;

use std::path::Path;

use async_trait::async_trait;
use hearth_types::{Code, ErrorCode};
use serde::{Deserialize, Serialize};

use crate::models::ModelInfo;
use crate::store::StoreError;

pub use routing::RegistryRouting;
pub use service::{ConvertHook, GcReport, ImportFile, Registry, RegistryOptions, Route};

/// The tag of a name given without one.
pub const DEFAULT_TAG: &str = "latest";

/// A validated model name: `name:tag`, lower-case.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ModelRef {
    /// `smollm2`, `hf.co/org/repo`.
    pub name: String,
    /// `latest`, `135m`, `q4_k_m`.
    pub tag: String,
}

impl ModelRef {
    /// Parse `name` or `name:tag` (case-insensitive; stored lower-case).
    pub fn parse(input: &str) -> Result<ModelRef, RegistryError> {
        let text = input.trim().to_lowercase();
        let invalid = |why: &str| RegistryError::InvalidName(format!("'{input}': {why}"));
        let (name, tag) = match text.rsplit_once(':') {
            Some((name, tag)) if !tag.contains('/') => (name, tag),
            _ => (text.as_str(), DEFAULT_TAG),
        };
        if name.is_empty() || name.len() > 128 {
            return Err(invalid("the name must have 1 to 128 characters"));
        }
        if tag.is_empty() || tag.len() > 64 {
            return Err(invalid("the tag must have 1 to 64 characters"));
        }
        let name_ok = name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-' | '/'))
            && name.starts_with(|c: char| c.is_ascii_alphanumeric())
            && !name.contains("//")
            && !name.ends_with('/');
        if !name_ok {
            return Err(invalid(
                "use letters, digits, '.', '_', '-' and '/', starting with a letter or digit",
            ));
        }
        if !tag
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'))
        {
            return Err(invalid("the tag may use letters, digits, '.', '_' and '-'"));
        }
        Ok(ModelRef {
            name: name.to_owned(),
            tag: tag.to_owned(),
        })
    }

    /// `name:tag`
    pub fn full(&self) -> String {
        format!("{}:{}", self.name, self.tag)
    }

    /// The name the serving side uses: `name` for `:latest`, else `name:tag`
    /// (the engine treats `x` and `x:latest` as one model).
    pub fn served(&self) -> String {
        if self.tag == DEFAULT_TAG {
            self.name.clone()
        } else {
            self.full()
        }
    }
}

impl std::fmt::Display for ModelRef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:{}", self.name, self.tag)
    }
}

/// Parse a SHA-256 digest given as `sha256:HEX`, `sha256-HEX` or bare hex into
/// `sha256:hex` (lower-case).
pub fn parse_digest(input: &str) -> Result<String, RegistryError> {
    let text = input.trim().to_lowercase();
    let hex = text
        .strip_prefix("sha256:")
        .or_else(|| text.strip_prefix("sha256-"))
        .unwrap_or(&text);
    if hex.len() == 64 && hex.chars().all(|c| c.is_ascii_hexdigit()) {
        Ok(format!("sha256:{hex}"))
    } else {
        Err(RegistryError::Invalid {
            field: "digest",
            message: format!("'{input}' is not a SHA-256 digest (sha256:<64 hex digits>)"),
        })
    }
}

/// Where a model came from.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Provenance {
    /// `import`, `pull`, `bundle`, `convert`, `quantize`.
    pub kind: String,
    /// The URL it was downloaded from.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    /// The Hugging Face repository (`org/repo`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hf_repo: Option<String>,
    /// The repository revision (commit when the hub said it, else the branch).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hf_revision: Option<String>,
    /// The local file it was imported from.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub file: Option<String>,
    /// The licence the file declares (`general.license`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub license: Option<String>,
    /// The model it was derived from (presets, quantization).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parent: Option<String>,
}

/// Defaults a preset applies to every request on its name.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Preset {
    /// System prompt used when a request has none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub system: Option<String>,
    /// Chat template replacing the file's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub template: Option<String>,
    /// Sampling defaults (`temperature`, `top_p`, `top_k`, `num_ctx`, `stop`,
    /// `seed`, `num_predict`, `repeat_penalty`, …), Ollama's option names.
    #[serde(default, skip_serializing_if = "serde_json::Map::is_empty")]
    pub parameters: serde_json::Map<String, serde_json::Value>,
}

/// The option names a preset may set (Ollama's `PARAMETER` names).
pub const PRESET_PARAMETERS: &[&str] = &[
    "temperature",
    "top_p",
    "top_k",
    "min_p",
    "num_ctx",
    "num_predict",
    "stop",
    "seed",
    "repeat_penalty",
    "presence_penalty",
    "frequency_penalty",
];

/// One manifest: a name and the blob it points at.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RegistryModel {
    /// `name:tag`.
    pub name: String,
    /// `sha256:…` of the blob.
    pub digest: String,
    /// Blob size in bytes.
    pub size_bytes: u64,
    /// What the GGUF header says (its `name` and `digest` match this row's).
    pub info: ModelInfo,
    /// Where it came from.
    pub source: Provenance,
    /// Defaults applied when served under this name (presets).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub preset: Option<Preset>,
    /// Creation time, Unix milliseconds.
    pub created_at_ms: i64,
    /// Last change, Unix milliseconds.
    pub updated_at_ms: i64,
}

/// Manifests in the database.
#[async_trait]
pub trait RegistryRepo: Send + Sync {
    /// Insert or replace the manifest of `model.name` (creation time is kept).
    async fn put(&self, model: &RegistryModel) -> Result<(), StoreError>;
    /// One manifest; `StoreError::NotFound` when absent.
    async fn get(&self, name: &str) -> Result<RegistryModel, StoreError>;
    /// Every manifest, sorted by name.
    async fn list(&self) -> Result<Vec<RegistryModel>, StoreError>;
    /// Remove a manifest; `StoreError::NotFound` when absent.
    async fn delete(&self, name: &str) -> Result<(), StoreError>;
    /// How many manifests point at `digest`.
    async fn count_digest(&self, digest: &str) -> Result<u64, StoreError>;
}

/// What a model file's header says.
#[derive(Debug, Clone, PartialEq)]
pub struct Inspected {
    /// Metadata (name and digest are filled in by the registry).
    pub info: ModelInfo,
    /// `general.license`, when present.
    pub license: Option<String>,
}

/// Reads a model file's header without loading weights (the engine's GGUF
/// reader). Blocking: the registry calls it on the blocking pool.
pub trait ModelInspector: Send + Sync {
    /// The metadata of the file, or why it is not a usable model file.
    fn inspect(&self, path: &Path) -> Result<Inspected, String>;

    /// Whether `source` is a chat template the engine can render (a preset's
    /// template is checked when the preset is created, not on every chat).
    fn check_template(&self, source: &str) -> Result<(), String> {
        let _ = source;
        Ok(())
    }
}

/// The serving side's table of model files: the registry publishes each
/// manifest there so the model is servable by its name.
pub trait ServedModels: Send + Sync {
    /// Serve `path` under `name` (replacing any earlier entry).
    fn publish(&self, name: &str, path: &Path, info: &ModelInfo);
    /// Stop offering `name` (a loaded copy finishes its work).
    fn withdraw(&self, name: &str);
}

/// A model loaded in memory.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LoadedModel {
    /// The served name.
    pub name: String,
    /// The runner's process id, when it runs in its own process.
    pub pid: Option<u32>,
    /// Memory it holds, when the engine knows it.
    pub memory_bytes: Option<u64>,
    /// When it will be unloaded, Unix milliseconds, when it will.
    pub expires_at_ms: Option<i64>,
}

/// Which models are loaded (the engine or the runner supervisor).
#[async_trait]
pub trait LoadedModels: Send + Sync {
    /// Every loaded model.
    async fn loaded(&self) -> Vec<LoadedModel>;
}

/// Errors of the registry.
#[derive(Debug, thiserror::Error)]
pub enum RegistryError {
    /// The name is not a valid `name:tag`.
    #[error("invalid model name {0}")]
    InvalidName(String),
    /// A field of the request is wrong.
    #[error("{message}")]
    Invalid {
        /// The field.
        field: &'static str,
        /// What is wrong and what to do.
        message: String,
    },
    /// No manifest of that name.
    #[error("model '{0}' not found")]
    NotFound(String),
    /// The operation conflicts with the current state.
    #[error("{0}")]
    Conflict(String),
    /// The models would exceed the disk quota.
    #[error(
        "the model needs {needed} bytes but only {available} of the {quota}-byte disk quota \
         (models.quota_mb) are free: remove models with `hearth rm` or raise the quota"
    )]
    Quota {
        /// Bytes the operation needs.
        needed: u64,
        /// Bytes left under the quota.
        available: u64,
        /// The quota.
        quota: u64,
    },
    /// The downloaded or imported bytes do not have the expected digest.
    #[error("digest mismatch: expected {expected}, got {actual}; the download was discarded")]
    DigestMismatch {
        /// What was expected.
        expected: String,
        /// What the bytes hash to.
        actual: String,
    },
    /// The file is not a model this server can read.
    #[error("not a usable model file: {0}")]
    BadModel(String),
    /// The remote server failed or cannot be reached.
    #[error("download failed: {0}")]
    Fetch(String),
    /// The operation is not offered by this server.
    #[error("{0}")]
    Unsupported(String),
    /// The storage failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// A file operation in the data directory failed.
    #[error("file error: {0}")]
    Io(String),
}

impl RegistryError {
    /// An I/O error with the path it concerns.
    pub fn io(path: &Path, err: std::io::Error) -> RegistryError {
        RegistryError::Io(format!("{}: {err}", path.display()))
    }
}

impl ErrorCode for RegistryError {
    fn code(&self) -> Code {
        match self {
            RegistryError::InvalidName(_)
            | RegistryError::Invalid { .. }
            | RegistryError::BadModel(_)
            | RegistryError::DigestMismatch { .. } => Code::Validation,
            RegistryError::NotFound(_) => Code::ModelNotFound,
            RegistryError::Conflict(_) => Code::Conflict,
            RegistryError::Quota { .. } => Code::StorageQuota,
            RegistryError::Fetch(_) => Code::ProviderUnavailable,
            RegistryError::Unsupported(_) => Code::NotSupported,
            RegistryError::Store(e) => e.code(),
            RegistryError::Io(_) => Code::Internal,
        }
    }

    fn detail(&self) -> Option<serde_json::Value> {
        match self {
            RegistryError::Invalid { field, .. } => Some(serde_json::json!({ "field": field })),
            RegistryError::InvalidName(_) => Some(serde_json::json!({ "field": "model" })),
            RegistryError::Quota {
                needed,
                available,
                quota,
            } => Some(serde_json::json!({
                "needed_bytes": needed, "available_bytes": available, "quota_bytes": quota
            })),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_parse_with_default_tag_and_lower_case() {
        let r = ModelRef::parse("SmolLM2").unwrap();
        assert_eq!((r.name.as_str(), r.tag.as_str()), ("smollm2", "latest"));
        assert_eq!(r.served(), "smollm2");
        let r = ModelRef::parse("hf.co/Org/Repo:Q4_K_M").unwrap();
        assert_eq!(r.full(), "hf.co/org/repo:q4_k_m");
        assert_eq!(r.served(), "hf.co/org/repo:q4_k_m");
        let r = ModelRef::parse("localhost/x").unwrap();
        assert_eq!(r.full(), "localhost/x:latest");
    }

    #[test]
    fn bad_names_are_refused() {
        for bad in [
            "", ":tag", "a:", "-x", "a b", "a//b", "a/", "x:t/g", "a:b:c", "é",
        ] {
            assert!(ModelRef::parse(bad).is_err(), "{bad:?} accepted");
        }
        assert!(ModelRef::parse(&"a".repeat(129)).is_err());
    }

    #[test]
    fn digests_normalize() {
        let hex = "AB".repeat(32);
        let want = format!("sha256:{}", "ab".repeat(32));
        assert_eq!(parse_digest(&format!("sha256:{hex}")).unwrap(), want);
        assert_eq!(parse_digest(&format!("sha256-{hex}")).unwrap(), want);
        assert_eq!(parse_digest(&hex).unwrap(), want);
        assert!(parse_digest("sha256:abc").is_err());
        assert!(parse_digest(&"zz".repeat(32)).is_err());
    }
}
