//! Hearth's local inference engine on llama.cpp (through `llama-cpp-2`).
//!
//! - [`model`]: checks a GGUF header ([`model::gguf`]), loads the file with mmap,
//!   exposes its metadata ([`ModelInfo`]) and vocabulary. The crate's only
//!   `unsafe` is the logging callback in `model/logging.rs` and the
//!   quantization call in `model/quantize.rs`.
//! - [`template`]: the model's Jinja chat template, rendered with minijinja.
//! - [`scheduler`]: one thread per model owning its llama context; continuous
//!   batching with chunked prefill, fair admission, bounded queue, prefix cache.
//! - [`sampling`], [`stream`]: per-sequence sampling and UTF-8/stop-safe text.
//! - [`embed`]: pooled embeddings.
//! - [`runner`]: crash isolation: one supervised child process per model.
//! - [`Engine`]: loads models by path and name and implements the core ports
//!   `ChatBackend` and `EmbedBackend`.

#![deny(unsafe_code)]
#![warn(missing_docs)]

pub mod embed;
pub mod engine;
pub mod error;
pub mod local;
pub mod model;
pub mod registry;
pub mod runner;
pub mod sampling;
pub mod scheduler;
pub mod stream;
pub mod template;

pub use engine::{Engine, EngineConfig, LoadedModel};
pub use error::EngineError;
pub use local::{LocalModels, ModelFile, ModelFiles};
pub use model::{LoadOptions, Model, ModelInfo};
pub use registry::GgufInspector;
pub use runner::{Residency, RunnerCommand, Supervisor};
pub use sampling::SamplingDefaults;
pub use scheduler::{KvLayout, PrefixScope, SchedulerConfig};
