//! The conversion's errors: one enum, each variant naming the file or field at
//! fault and, where a fix exists, what to do.

use std::path::PathBuf;

use hearth_types::error::{Code, ErrorCode};

/// Why a conversion failed.
#[derive(Debug, thiserror::Error)]
pub enum ConvertError {
    /// A file the checkpoint needs is not there.
    #[error("{path} is missing{hint}")]
    MissingFile {
        /// The expected file.
        path: PathBuf,
        /// What it is for / what to do.
        hint: String,
    },
    /// Reading or writing a file failed.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// A JSON file of the checkpoint is unreadable or lacks a field.
    #[error("{path}: {detail}")]
    BadConfig {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        detail: String,
    },
    /// The checkpoint is not a BERT model (or a BERT variant we cannot map).
    #[error(
        "unsupported architecture {0}: `hearth convert` handles BERT-family checkpoints (config.json model_type \"bert\")"
    )]
    UnsupportedArchitecture(String),
    /// The model's settings are outside what the converter or llama.cpp supports.
    #[error("unsupported model setting: {0}")]
    Unsupported(String),
    /// The pooling module declares a mode llama.cpp has no equivalent for.
    #[error("unsupported pooling {0}: llama.cpp pools by mean, CLS or last token")]
    UnsupportedPooling(String),
    /// The safetensors header is corrupt or inconsistent with the file.
    #[error("{path} is not a valid safetensors file: {detail}")]
    BadSafetensors {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        detail: String,
    },
    /// A weight the model needs is not in the checkpoint.
    #[error("the checkpoint has no tensor {0}")]
    MissingTensor(String),
    /// A tensor the converter does not know; converting without it could
    /// silently change the model.
    #[error("unexpected tensor {0} in the checkpoint (not a BERT encoder weight)")]
    UnexpectedTensor(String),
    /// A tensor has a shape other than config.json implies.
    #[error("tensor {tensor} has shape {found:?}, expected {expected:?}")]
    ShapeMismatch {
        /// Checkpoint name of the tensor.
        tensor: String,
        /// Its shape.
        found: Vec<u64>,
        /// The shape config.json implies.
        expected: Vec<u64>,
    },
    /// A tensor is stored in a type we cannot convert.
    #[error(
        "tensor {tensor} is stored as {dtype}; only F32, F16 and BF16 weights can be converted"
    )]
    UnsupportedDtype {
        /// Checkpoint name of the tensor.
        tensor: String,
        /// The stored type.
        dtype: String,
    },
    /// The vocabulary cannot be expressed as llama.cpp's WordPiece vocabulary.
    #[error("tokenizer: {0}")]
    Tokenizer(String),
    /// The output file already exists.
    #[error("{0} already exists; remove it or choose another output path")]
    OutputExists(PathBuf),
}

impl ErrorCode for ConvertError {
    fn code(&self) -> Code {
        match self {
            ConvertError::Io { .. } => Code::Internal,
            ConvertError::OutputExists(_) => Code::Conflict,
            _ => Code::Validation,
        }
    }
}
