//! The one documented location of the test models (filled by
//! `cargo xtask fetch-test-models`): `$HEARTH_TEST_MODELS`, else
//! `$XDG_CACHE_HOME/hearth/test-models`, else `$HOME/.cache/hearth/test-models`.

use std::path::PathBuf;

/// The default chat model for tests (SmolLM2-135M-Instruct, Q4_1).
pub const SMOLLM2: &str = "smollm2-135m-instruct-q4_1.gguf";
/// The second architecture (Gemma 3 270M base, Q4_K_M; no chat template).
pub const GEMMA3: &str = "gemma3-270m-q4_k_m.gguf";
/// The embedding model checkpoint directory (safetensors + tokenizer).
pub const MINILM_DIR: &str = "all-minilm-l6-v2";

/// Directory holding the test models.
pub fn dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("HEARTH_TEST_MODELS").filter(|v| !v.is_empty()) {
        return PathBuf::from(dir);
    }
    if let Some(xdg) = std::env::var_os("XDG_CACHE_HOME").filter(|v| !v.is_empty()) {
        return PathBuf::from(xdg).join("hearth/test-models");
    }
    let home = std::env::var_os("HOME").unwrap_or_default();
    PathBuf::from(home).join(".cache/hearth/test-models")
}

/// Path of a test model; panics with the fix when it is missing.
pub fn path(name: &str) -> PathBuf {
    let path = dir().join(name);
    assert!(
        path.exists(),
        "test model {} is missing: run `cargo xtask fetch-test-models`",
        path.display()
    );
    path
}
