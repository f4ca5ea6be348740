//! Quantization jobs: a registry model written again with another tensor type
//! (`Q8_0`, `Q4_K_M`, …) by the engine, recorded under a new name with the
//! original as its parent. The work runs through a [`QuantizeHook`] (the
//! binary runs llama.cpp in a child process) on the blocking pool; the job is
//! persisted and started again from the beginning after a restart.

use std::path::Path;
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use super::{ModelRef, Provenance, Registry, RegistryError, RegistryModel};
use crate::jobs::{Job, JobId, JobState, NewJob};

/// Kind of the quantization jobs.
pub const QUANTIZE_JOB: &str = "model.quantize";

/// Writes a GGUF file quantized to another type (blocking).
pub trait QuantizeHook: Send + Sync {
    /// The type names it writes (`Q8_0`, `Q4_K_M`, …).
    fn types(&self) -> Vec<String>;
    /// Quantize `input` to `file_type` into `output`.
    fn quantize(&self, input: &Path, output: &Path, file_type: &str) -> Result<(), String>;
}

/// The persisted input of a quantization job.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct QuantizeJob {
    /// The model quantized (`name:tag`).
    pub from: String,
    /// Target type, upper-case.
    pub file_type: String,
    /// Name of the result (`name:tag`).
    pub name: String,
}

impl Registry {
    /// Record and start the quantization of `from` to `file_type`, named
    /// `name` (default: `FROM-NAME:TAG-TYPE`, e.g. `smollm2:135m-q8_0`).
    pub async fn start_quantize(
        self: &Arc<Self>,
        from: &str,
        file_type: &str,
        name: Option<&str>,
    ) -> Result<Job, RegistryError> {
        let Some(quantizer) = self.quantizer.clone() else {
            return Err(RegistryError::Unsupported(
                "this process cannot quantize models".to_owned(),
            ));
        };
        let base = self.get(from).await?;
        let file_type = file_type.trim().to_ascii_uppercase();
        let types = quantizer.types();
        if !types.contains(&file_type) {
            return Err(RegistryError::Invalid {
                field: "type",
                message: format!(
                    "'{file_type}' is not a quantization type; one of {}",
                    types.join(", ")
                ),
            });
        }
        let base_ref = ModelRef::parse(&base.name)?;
        let target = match name {
            Some(name) => ModelRef::parse(name)?,
            None => ModelRef::parse(&format!(
                "{}:{}-{}",
                base_ref.name,
                base_ref.tag,
                file_type.to_lowercase()
            ))?,
        };
        // The result is at most about the size of an F16 file; the base's size
        // is the estimate the quota is checked against.
        self.check_quota(base.size_bytes)?;
        let job = QuantizeJob {
            from: base.name,
            file_type,
            name: target.full(),
        };
        let payload = serde_json::to_value(&job)
            .map_err(|e| RegistryError::Io(format!("quantize job payload: {e}")))?;
        let recorded = self
            .store
            .jobs()
            .create(NewJob {
                kind: QUANTIZE_JOB.to_owned(),
                payload,
            })
            .await?;
        self.spawn_quantize(recorded.id.clone(), job);
        Ok(recorded)
    }

    pub(super) fn spawn_quantize(self: &Arc<Self>, id: JobId, job: QuantizeJob) {
        let this = self.clone();
        tokio::spawn(async move {
            let outcome = this.run_quantize(&id, &job).await;
            let finished = match &outcome {
                Ok(model) => {
                    this.store
                        .jobs()
                        .finish(
                            &id,
                            Ok(serde_json::json!({
                                "name": model.name, "digest": model.digest, "size_bytes": model.size_bytes,
                            })),
                        )
                        .await
                }
                Err(err) => {
                    tracing::warn!(job = %id, error = %err, "quantization failed");
                    this.store.jobs().finish(&id, Err(err.to_string())).await
                }
            };
            if let Err(e) = finished {
                tracing::warn!(job = %id, error = %e, "cannot record the end of a quantization");
            }
        });
    }

    async fn run_quantize(
        &self,
        id: &JobId,
        job: &QuantizeJob,
    ) -> Result<RegistryModel, RegistryError> {
        self.store.jobs().set_state(id, JobState::Running).await?;
        let quantizer = self.quantizer.clone().ok_or_else(|| {
            RegistryError::Unsupported("this process cannot quantize models".to_owned())
        })?;
        let base = self.get(&job.from).await?;
        let name = ModelRef::parse(&job.name)?;
        self.blobs.ensure_dirs()?;
        let out = self
            .blobs
            .partial_dir()
            .join(format!("quantize-{}.tmp", id.0));
        let (input, output, file_type) = (self.path_of(&base), out.clone(), job.file_type.clone());
        let done =
            tokio::task::spawn_blocking(move || quantizer.quantize(&input, &output, &file_type))
                .await
                .map_err(|e| RegistryError::Io(format!("quantization task failed: {e}")))?;
        let ingested = match done {
            Ok(()) => {
                let (blobs, path) = (self.blobs.clone(), out.clone());
                tokio::task::spawn_blocking(move || blobs.ingest(&path, true, None))
                    .await
                    .map_err(|e| RegistryError::Io(format!("hashing task failed: {e}")))?
            }
            Err(e) => Err(RegistryError::BadModel(format!("quantization failed: {e}"))),
        };
        let _ = std::fs::remove_file(&out);
        let (digest, _) = ingested?;
        let source = Provenance {
            kind: "quantize".to_owned(),
            parent: Some(base.name.clone()),
            ..base.source.clone()
        };
        self.record_blob(&name, &digest, source).await
    }
}
