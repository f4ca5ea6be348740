//! The engine's side of the model registry (`hearth_core::registry`):
//! [`GgufInspector`] reads a file's GGUF header for the registry's metadata, and
//! [`ModelFiles`] takes the registry's manifests as servable names, and the
//! backends say what they have loaded ([`LoadedModels`]).

use std::path::Path;

use async_trait::async_trait;
use hearth_core::models::ModelInfo;
use hearth_core::registry::{Inspected, LoadedModel, LoadedModels, ModelInspector, ServedModels};

use crate::local::{LocalModels, ModelFiles, default_name, describe};
use crate::model::gguf;
use crate::runner::Supervisor;

/// Reads GGUF headers (no weights are loaded).
#[derive(Debug, Default, Clone, Copy)]
pub struct GgufInspector;

impl ModelInspector for GgufInspector {
    fn inspect(&self, path: &Path) -> Result<Inspected, String> {
        let header = gguf::read_header(path).map_err(|e| e.to_string())?;
        Ok(Inspected {
            info: describe(&default_name(path), path, &header),
            license: header.string("general.license").map(str::to_owned),
        })
    }

    fn check_template(&self, source: &str) -> Result<(), String> {
        crate::template::ChatTemplate::new(source, "", "")
            .map(drop)
            .map_err(|e| e.to_string())
    }
}

impl ServedModels for ModelFiles {
    fn publish(&self, name: &str, path: &Path, info: &ModelInfo) {
        let mut info = info.clone();
        info.name = name.to_owned();
        self.insert(name, path, info);
    }

    fn withdraw(&self, name: &str) {
        self.remove(name);
    }
}

/// The residency view of the catalog port, in the registry's terms.
async fn loaded_models(catalog: &dyn hearth_core::models::ModelCatalog) -> Vec<LoadedModel> {
    catalog
        .loaded()
        .await
        .unwrap_or_default()
        .into_iter()
        .map(|m| LoadedModel {
            name: m.name,
            pid: m.pid,
            memory_bytes: Some(m.memory_bytes),
            expires_at_ms: m.expires_at_ms,
        })
        .collect()
}

#[async_trait]
impl LoadedModels for Supervisor {
    async fn loaded(&self) -> Vec<LoadedModel> {
        loaded_models(self).await
    }
}

#[async_trait]
impl LoadedModels for LocalModels {
    async fn loaded(&self) -> Vec<LoadedModel> {
        loaded_models(self).await
    }
}
