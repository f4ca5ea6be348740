//! The engine's one error type, [`EngineError`], and its mapping onto the code
//! table ([`ErrorCode`]) and onto the port's [`BackendError`].
//!
//! Invariant: every failure a caller can cause (bad file, prompt too long, bad
//! grammar, full queue) is a typed variant here; only genuine internal failures
//! (decode error, panic in the scheduler loop) become [`EngineError::Failed`].

use std::path::PathBuf;

use hearth_core::backend::BackendError;
use hearth_types::{Code, ErrorCode};

/// Everything that can go wrong in the engine.
#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    /// The model file could not be read.
    #[error("cannot read model file {path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },
    /// The file does not start with the GGUF magic.
    #[error("{path} is not a GGUF file (magic {found:?}, expected \"GGUF\")")]
    NotGguf {
        /// The file.
        path: PathBuf,
        /// The first four bytes found.
        found: [u8; 4],
    },
    /// The file ends before the header or the tensor data it announces.
    #[error("{path} is truncated: {detail}; download it again")]
    Truncated {
        /// The file.
        path: PathBuf,
        /// What was missing.
        detail: String,
    },
    /// The header is not valid GGUF.
    #[error("{path} is not a valid GGUF file: {detail}")]
    Malformed {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        detail: String,
    },
    /// The model's architecture is not one llama.cpp can run.
    #[error("unsupported model architecture '{architecture}' in {path}")]
    UnsupportedArchitecture {
        /// The file.
        path: PathBuf,
        /// `general.architecture` as found in the file.
        architecture: String,
    },
    /// llama.cpp refused the file or could not create a context.
    #[error("llama.cpp could not load {path}: {detail}")]
    LoadFailed {
        /// The file.
        path: PathBuf,
        /// What failed.
        detail: String,
    },
    /// A model with this name is already loaded.
    #[error("a model named '{0}' is already loaded")]
    AlreadyLoaded(String),
    /// No model with this name is loaded.
    #[error("model '{0}' is not loaded")]
    ModelNotFound(String),
    /// The prompt does not fit in the context window.
    #[error(
        "the prompt has {prompt_tokens} tokens but the context holds {context_tokens} \
         (at least one must stay free for the answer); shorten the prompt"
    )]
    PromptTooLong {
        /// Tokens in the prompt.
        prompt_tokens: u32,
        /// Tokens one sequence may hold.
        context_tokens: u32,
    },
    /// A chat request for a model whose file has no chat template.
    #[error("model '{0}' has no chat template; use plain completion (a raw text prompt)")]
    NoChatTemplate(String),
    /// The chat template failed to render.
    #[error("the chat template failed: {0}")]
    Template(String),
    /// A request parameter is out of range or malformed.
    #[error("invalid parameter: {0}")]
    InvalidParams(String),
    /// The model cannot produce embeddings as asked.
    #[error("model '{0}' cannot produce embeddings: {1}")]
    EmbeddingUnsupported(String, String),
    /// The wait queue is full.
    #[error("the model is overloaded; retry in {retry_after_secs} s")]
    Overloaded {
        /// Suggested wait before retrying.
        retry_after_secs: u32,
    },
    /// The model is being unloaded or its scheduler stopped.
    #[error("model '{0}' is shutting down")]
    ShuttingDown(String),
    /// Inference failed (decode error, panic in the scheduler loop).
    #[error("inference failed: {0}")]
    Failed(String),
}

impl ErrorCode for EngineError {
    fn code(&self) -> Code {
        use EngineError as E;
        match self {
            E::Io { .. } | E::LoadFailed { .. } => Code::Unavailable,
            E::NotGguf { .. }
            | E::Truncated { .. }
            | E::Malformed { .. }
            | E::UnsupportedArchitecture { .. } => Code::Validation,
            E::AlreadyLoaded(_) => Code::Conflict,
            E::ModelNotFound(_) => Code::ModelNotFound,
            E::PromptTooLong { .. } | E::InvalidParams(_) | E::Template(_) => Code::Validation,
            E::NoChatTemplate(_) | E::EmbeddingUnsupported(..) => Code::CapabilityDisabled,
            E::Overloaded { .. } => Code::Overloaded,
            E::ShuttingDown(_) => Code::Unavailable,
            E::Failed(_) => Code::Internal,
        }
    }
}

impl From<EngineError> for BackendError {
    fn from(error: EngineError) -> Self {
        use EngineError as E;
        match error {
            E::ModelNotFound(name) => BackendError::ModelNotFound(name),
            E::Overloaded { retry_after_secs } => BackendError::Overloaded { retry_after_secs },
            E::PromptTooLong { .. }
            | E::NoChatTemplate(_)
            | E::Template(_)
            | E::InvalidParams(_)
            | E::EmbeddingUnsupported(..) => BackendError::InvalidRequest(error.to_string()),
            E::Failed(_) => BackendError::Failed(error.to_string()),
            other => BackendError::Unavailable(other.to_string()),
        }
    }
}

/// Shorthand for results in this crate.
pub type Result<T, E = EngineError> = std::result::Result<T, E>;
