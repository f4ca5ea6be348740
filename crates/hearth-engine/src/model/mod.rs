//! The model wrapper: loads a GGUF file through llama.cpp (after [`gguf`] has
//! checked its header), exposes its metadata as [`ModelInfo`] and its vocabulary
//! (tokenize, token bytes, end-of-generation test).
//!
//! A [`Model`] is immutable once loaded and `Send + Sync`: tokenization may run on
//! any thread, while contexts (KV caches) are created and owned by the scheduler
//! thread of that model. The llama.cpp backend is initialized once per process,
//! with its logging routed to `tracing` at debug level ([`logging`]).

pub mod arch;
pub mod gguf;
mod logging;
pub mod quantize;

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use llama_cpp_2::llama_backend::LlamaBackend;
use llama_cpp_2::model::LlamaModel;
use llama_cpp_2::model::params::LlamaModelParams;
use llama_cpp_2::token::LlamaToken;

use crate::error::{EngineError, Result};
use gguf::GgufHeader;

/// The process-wide llama.cpp backend (initialized on first use).
pub(crate) fn backend() -> &'static LlamaBackend {
    static BACKEND: OnceLock<LlamaBackend> = OnceLock::new();
    BACKEND.get_or_init(|| {
        logging::route_llama_logs_to_tracing();
        // `init` fails only if someone else in this process initialized the
        // backend already; that is a programming error we cannot recover from.
        LlamaBackend::init().expect("llama.cpp backend initialized twice in one process")
    })
}

/// Number of physical cores (the default thread count), falling back to the
/// logical count when `/proc/cpuinfo` cannot tell.
pub fn physical_cores() -> u32 {
    let logical = std::thread::available_parallelism().map_or(1, |n| n.get() as u32);
    let Ok(cpuinfo) = std::fs::read_to_string("/proc/cpuinfo") else {
        return logical;
    };
    let mut cores = std::collections::BTreeSet::new();
    let mut physical_id = String::new();
    for line in cpuinfo.lines() {
        let mut parts = line.splitn(2, ':').map(str::trim);
        match (parts.next(), parts.next()) {
            (Some("physical id"), Some(v)) => physical_id = v.to_owned(),
            (Some("core id"), Some(v)) => {
                cores.insert((physical_id.clone(), v.to_owned()));
            }
            _ => {}
        }
    }
    if cores.is_empty() {
        logical
    } else {
        (cores.len() as u32).min(logical)
    }
}

/// Physical RAM in bytes (`MemTotal` of /proc/meminfo), if it can be read.
pub fn total_memory_bytes() -> Option<u64> {
    let meminfo = std::fs::read_to_string("/proc/meminfo").ok()?;
    let line = meminfo.lines().find(|l| l.starts_with("MemTotal:"))?;
    let kib: u64 = line
        .trim_start_matches("MemTotal:")
        .trim()
        .trim_end_matches("kB")
        .trim()
        .parse()
        .ok()?;
    Some(kib * 1024)
}

/// How to load a model.
#[derive(Debug, Clone)]
pub struct LoadOptions {
    /// Map the file instead of reading it (default true).
    pub use_mmap: bool,
    /// Layers to offload to a GPU (0 = CPU only).
    pub gpu_layers: u32,
}

impl Default for LoadOptions {
    fn default() -> Self {
        LoadOptions {
            use_mmap: true,
            gpu_layers: 0,
        }
    }
}

/// One special token of the vocabulary.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SpecialToken {
    /// Token id.
    pub id: i32,
    /// Its text (rendered with special tokens shown).
    pub text: String,
}

/// What a model file declares about itself.
#[derive(Debug, Clone)]
pub struct ModelInfo {
    /// The file.
    pub path: PathBuf,
    /// `general.architecture` (e.g. `llama`, `gemma3`, `bert`).
    pub architecture: String,
    /// `general.name`, when present.
    pub display_name: Option<String>,
    /// Number of weights.
    pub parameter_count: u64,
    /// Quantization of the file (`Q4_1`, `Q4_K_M`, `F16`…), from `general.file_type`.
    pub quantization: Option<String>,
    /// Size of the file in bytes.
    pub file_size: u64,
    /// Context length the model was trained with.
    pub context_length: u32,
    /// Width of the hidden state (embedding size).
    pub embedding_length: u32,
    /// Number of tokens in the vocabulary.
    pub vocab_size: u32,
    /// Beginning-of-sequence token.
    pub bos: Option<SpecialToken>,
    /// End-of-sequence token.
    pub eos: Option<SpecialToken>,
    /// Whether the tokenizer prepends BOS to a prompt.
    pub add_bos: bool,
    /// The Jinja chat template (`tokenizer.chat_template`), if the file has one.
    pub chat_template: Option<String>,
    /// `{arch}.pooling_type` as declared (0 none, 1 mean, 2 cls, 3 last, 4 rank).
    pub pooling_type: Option<u32>,
    /// Whether the model attends causally (decoder) rather than bidirectionally (encoder).
    pub is_causal: bool,
}

/// A loaded model: weights mapped, vocabulary ready. Cheap to share in an `Arc`.
#[derive(Debug)]
pub struct Model {
    llama: LlamaModel,
    info: ModelInfo,
}

impl Model {
    /// Check the file's header, then load it with llama.cpp.
    pub fn load(path: &Path, options: &LoadOptions) -> Result<Model> {
        let header = gguf::read_header(path)?;
        let params = LlamaModelParams::default()
            .with_use_mmap(options.use_mmap)
            .with_n_gpu_layers(options.gpu_layers);
        let path_buf = path.to_path_buf();
        let llama = LlamaModel::load_from_file(backend(), path, &params).map_err(|e| {
            EngineError::LoadFailed {
                path: path_buf.clone(),
                detail: e.to_string(),
            }
        })?;
        let file_size = std::fs::metadata(path).map(|m| m.len()).unwrap_or(0);
        let info = describe(&llama, &header, path_buf, file_size);
        tracing::info!(
            path = %path.display(),
            architecture = %info.architecture,
            parameters = info.parameter_count,
            quantization = info.quantization.as_deref().unwrap_or("?"),
            "model loaded"
        );
        Ok(Model { llama, info })
    }

    /// What the file declares.
    pub fn info(&self) -> &ModelInfo {
        &self.info
    }

    /// The llama.cpp model.
    pub(crate) fn llama(&self) -> &LlamaModel {
        &self.llama
    }

    /// Tokenize `text`; `add_special` adds BOS/EOS (CLS/SEP) as the vocabulary
    /// declares, `parse_special` lets text like `<|im_start|>` become its special token.
    pub fn tokenize(&self, text: &str, add_special: bool, parse_special: bool) -> Vec<LlamaToken> {
        self.llama
            .vocab()
            .tokenize(text.as_bytes(), add_special, parse_special)
    }

    /// The bytes a generated token stands for (special tokens render as nothing).
    pub fn token_bytes(&self, token: LlamaToken) -> Vec<u8> {
        self.llama.vocab().token_to_piece(token, false, None)
    }

    /// The text of a token, special tokens shown, for logprob listings.
    pub fn token_text(&self, token: LlamaToken) -> String {
        String::from_utf8_lossy(&self.llama.vocab().token_to_piece(token, true, None)).into_owned()
    }

    /// Whether the token ends generation (EOS, EOT, `<|im_end|>`…).
    pub fn is_end_of_generation(&self, token: LlamaToken) -> bool {
        self.llama.vocab().is_eog(token)
    }

    /// The fill-in-the-middle tokens (prefix, suffix, middle), when the
    /// vocabulary has all three.
    pub fn fim_tokens(&self) -> Option<[LlamaToken; 3]> {
        let vocab = self.llama.vocab();
        let tokens = [vocab.fim_pre(), vocab.fim_suf(), vocab.fim_mid()];
        tokens.iter().all(|t| t.0 >= 0).then_some(tokens)
    }

    /// Size of the vocabulary.
    pub fn vocab_size(&self) -> i32 {
        self.llama.n_vocab()
    }
}

fn describe(llama: &LlamaModel, header: &GgufHeader, path: PathBuf, file_size: u64) -> ModelInfo {
    let vocab = llama.vocab();
    let special = |token: LlamaToken| {
        (token.0 >= 0 && token.0 < llama.n_vocab()).then(|| SpecialToken {
            id: token.0,
            text: String::from_utf8_lossy(&vocab.token_to_piece(token, true, None)).into_owned(),
        })
    };
    let architecture = header.architecture().unwrap_or_default().to_owned();
    ModelInfo {
        display_name: header.string("general.name").map(str::to_owned),
        parameter_count: llama.n_params(),
        quantization: header
            .uint("general.file_type")
            .and_then(file_type_name)
            .map(str::to_owned),
        file_size,
        context_length: llama.n_ctx_train(),
        embedding_length: u32::try_from(llama.n_embd()).unwrap_or(0),
        vocab_size: u32::try_from(llama.n_vocab()).unwrap_or(0),
        bos: special(vocab.bos()),
        eos: special(vocab.eos()),
        add_bos: vocab.should_add_bos(),
        chat_template: header.string("tokenizer.chat_template").map(str::to_owned),
        pooling_type: header
            .arch_u64("pooling_type")
            .and_then(|v| u32::try_from(v).ok()),
        is_causal: header
            .metadata
            .get(&format!("{architecture}.attention.causal"))
            .is_none_or(|v| !matches!(v, gguf::MetaValue::Bool(false))),
        architecture,
        path,
    }
}

/// Name of a `general.file_type` (llama.cpp's `llama_ftype`).
pub(crate) fn file_type_name(id: u64) -> Option<&'static str> {
    const NAMES: &[(u64, &str)] = &[
        (0, "F32"),
        (1, "F16"),
        (2, "Q4_0"),
        (3, "Q4_1"),
        (7, "Q8_0"),
        (8, "Q5_0"),
        (9, "Q5_1"),
        (10, "Q2_K"),
        (11, "Q3_K_S"),
        (12, "Q3_K_M"),
        (13, "Q3_K_L"),
        (14, "Q4_K_S"),
        (15, "Q4_K_M"),
        (16, "Q5_K_S"),
        (17, "Q5_K_M"),
        (18, "Q6_K"),
        (19, "IQ2_XXS"),
        (20, "IQ2_XS"),
        (21, "Q2_K_S"),
        (22, "IQ3_XS"),
        (23, "IQ3_XXS"),
        (24, "IQ1_S"),
        (25, "IQ4_NL"),
        (26, "IQ3_S"),
        (27, "IQ3_M"),
        (28, "IQ2_S"),
        (29, "IQ2_M"),
        (30, "IQ4_XS"),
        (31, "IQ1_M"),
        (32, "BF16"),
        (36, "TQ1_0"),
        (37, "TQ2_0"),
        (38, "MXFP4_MOE"),
        (39, "NVFP4"),
        (40, "Q1_0"),
        (41, "Q2_0"),
    ];
    NAMES.iter().find(|(n, _)| *n == id).map(|(_, name)| *name)
}
