//! The model catalog port: which models exist, with the metadata clients list
//! (`/v1/models`, `/api/tags`, `/api/show`). The registry of the models issue
//! implements it over content-addressed blobs; until then a directory scan does.

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

use crate::backend::{BackendError, Capabilities};

/// A model as the catalog knows it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ModelInfo {
    /// Name clients use, `name:tag` (e.g. `smollm2:135m`).
    pub name: String,
    /// File size in bytes.
    pub size_bytes: u64,
    /// `sha256:…` of the file, when computed.
    pub digest: Option<String>,
    /// Architecture (`llama`, `gemma3`, `bert`).
    pub architecture: String,
    /// Parameter count, when known.
    pub parameter_count: Option<u64>,
    /// Quantization (`Q4_1`, `Q4_K_M`, `F16`).
    pub quantization: Option<String>,
    /// Trained context length.
    pub context_length: Option<u32>,
    /// Embedding width.
    pub embedding_length: Option<u32>,
    /// The chat template, if the model has one.
    pub chat_template: Option<String>,
    /// What it can do.
    pub capabilities: Capabilities,
    /// Last change, Unix milliseconds.
    pub modified_at_ms: i64,
}

/// Read access to the models.
#[async_trait]
pub trait ModelCatalog: Send + Sync {
    /// Every model, sorted by name.
    async fn list(&self) -> Result<Vec<ModelInfo>, BackendError>;
    /// One model; `BackendError::ModelNotFound` when absent.
    async fn get(&self, name: &str) -> Result<ModelInfo, BackendError>;

    /// The models resident in memory now (`/api/ps`). Sources that do not
    /// manage memory list none.
    async fn loaded(&self) -> Result<Vec<LoadedModel>, BackendError> {
        Ok(Vec::new())
    }

    /// How long `name` stays loaded once idle, from now on (Ollama's
    /// per-request `keep_alive`); `None` goes back to the configured default.
    async fn keep_alive(
        &self,
        name: &str,
        keep_alive: Option<KeepAlive>,
    ) -> Result<(), BackendError> {
        let _ = (name, keep_alive);
        Ok(())
    }

    /// Load `name` now (a warm-up), under the memory budget like a request.
    async fn preload(&self, name: &str) -> Result<(), BackendError> {
        self.get(name).await.map(|_| ())
    }

    /// Unload `name` once its running requests are done; `false` when it was
    /// not loaded.
    async fn unload(&self, name: &str) -> Result<bool, BackendError> {
        self.get(name).await.map(|_| false)
    }
}

/// How long an idle model stays in memory.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum KeepAlive {
    /// This long after its last request ends.
    For(std::time::Duration),
    /// Until unloaded explicitly or evicted for room.
    Forever,
}

impl KeepAlive {
    /// From seconds as configured: negative keeps forever, 0 unloads as soon
    /// as the model is idle.
    pub fn from_secs(secs: i64) -> KeepAlive {
        match u64::try_from(secs) {
            Ok(secs) => KeepAlive::For(std::time::Duration::from_secs(secs)),
            Err(_) => KeepAlive::Forever,
        }
    }

    /// Ollama's `keep_alive`: a number of seconds, or a duration string such as
    /// `"5m"`, `"1h30m"`, `"90s"`, `"0"`, `"-1"` (negative keeps forever).
    pub fn parse(value: &serde_json::Value) -> Result<KeepAlive, String> {
        let bad = || {
            format!(
                "keep_alive must be seconds or a duration such as \"5m\", \"1h\", \"0\" or \"-1\", got {value}"
            )
        };
        match value {
            serde_json::Value::Number(n) => {
                let secs = n.as_f64().filter(|f| f.is_finite()).ok_or_else(bad)?;
                Ok(if secs < 0.0 {
                    KeepAlive::Forever
                } else {
                    KeepAlive::For(std::time::Duration::from_secs_f64(secs.min(1e9)))
                })
            }
            serde_json::Value::String(s) => parse_duration(s.trim()).ok_or_else(bad),
            _ => Err(bad()),
        }
    }
}

/// `"5m"`, `"1h30m"`, `"2.5s"`, `"300"`, `"-1m"`; negative means forever.
fn parse_duration(s: &str) -> Option<KeepAlive> {
    if let Some(rest) = s.strip_prefix('-') {
        return parse_duration(rest).map(|_| KeepAlive::Forever);
    }
    if let Ok(secs) = s.parse::<f64>() {
        return (secs.is_finite() && secs >= 0.0)
            .then(|| KeepAlive::For(std::time::Duration::from_secs_f64(secs.min(1e9))));
    }
    let mut total = 0f64;
    let mut rest = s;
    while !rest.is_empty() {
        let digits = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(rest.len());
        let number: f64 = rest[..digits].parse().ok()?;
        rest = &rest[digits..];
        let unit = rest
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(rest.len());
        let scale = match &rest[..unit] {
            "h" => 3600.0,
            "m" => 60.0,
            "s" => 1.0,
            "ms" => 0.001,
            _ => return None,
        };
        rest = &rest[unit..];
        total += number * scale;
    }
    (!s.is_empty() && total.is_finite())
        .then(|| KeepAlive::For(std::time::Duration::from_secs_f64(total.min(1e9))))
}

/// A model resident in memory.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LoadedModel {
    /// Its catalog name.
    pub name: String,
    /// Estimated bytes it holds (weights, KV cache, prompt cache).
    pub memory_bytes: u64,
    /// When it will be unloaded if no request comes (Unix ms); `None` = never.
    pub expires_at_ms: Option<i64>,
    /// Requests running or waiting on it.
    pub active_requests: u32,
    /// The runner process, when it runs in one.
    pub pid: Option<u32>,
}

/// The backend of a server with no models: lists nothing, knows no model. Used
/// until a model source is configured, and in tests of routes that need none.
#[derive(Debug, Default, Clone, Copy)]
pub struct NoModels;

#[async_trait]
impl ModelCatalog for NoModels {
    async fn list(&self) -> Result<Vec<ModelInfo>, BackendError> {
        Ok(Vec::new())
    }

    async fn get(&self, name: &str) -> Result<ModelInfo, BackendError> {
        Err(BackendError::ModelNotFound(name.to_owned()))
    }
}

#[async_trait]
impl crate::backend::ChatBackend for NoModels {
    async fn generate(
        &self,
        request: crate::backend::GenerateRequest,
    ) -> Result<crate::backend::GenerationStream, BackendError> {
        Err(BackendError::ModelNotFound(request.model))
    }

    async fn count_tokens(
        &self,
        model: &str,
        _prompt: &crate::backend::Prompt,
    ) -> Result<u32, BackendError> {
        Err(BackendError::ModelNotFound(model.to_owned()))
    }
}

#[async_trait]
impl crate::backend::EmbedBackend for NoModels {
    async fn embed(
        &self,
        request: crate::backend::EmbedRequest,
    ) -> Result<crate::backend::EmbedResponse, BackendError> {
        Err(BackendError::ModelNotFound(request.model))
    }
}

#[cfg(test)]
mod keep_alive_tests {
    use super::KeepAlive;
    use serde_json::json;
    use std::time::Duration;

    #[test]
    fn ollama_keep_alive_forms() {
        let secs = |n| KeepAlive::For(Duration::from_secs(n));
        assert_eq!(KeepAlive::parse(&json!("5m")), Ok(secs(300)));
        assert_eq!(KeepAlive::parse(&json!("1h30m")), Ok(secs(5400)));
        assert_eq!(KeepAlive::parse(&json!("90s")), Ok(secs(90)));
        assert_eq!(KeepAlive::parse(&json!("0")), Ok(secs(0)));
        assert_eq!(KeepAlive::parse(&json!(0)), Ok(secs(0)));
        assert_eq!(KeepAlive::parse(&json!(600)), Ok(secs(600)));
        assert_eq!(KeepAlive::parse(&json!(-1)), Ok(KeepAlive::Forever));
        assert_eq!(KeepAlive::parse(&json!("-1")), Ok(KeepAlive::Forever));
        assert_eq!(KeepAlive::parse(&json!("-1m")), Ok(KeepAlive::Forever));
        for bad in [
            json!("soon"),
            json!("5x"),
            json!(""),
            json!(true),
            json!([1]),
        ] {
            assert!(KeepAlive::parse(&bad).is_err(), "{bad}");
        }
        assert_eq!(KeepAlive::from_secs(-5), KeepAlive::Forever);
        assert_eq!(KeepAlive::from_secs(0), secs(0));
    }
}
