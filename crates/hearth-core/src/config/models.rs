//! `[models]` and `[engine]`: which model files are served and how the local
//! engine runs them.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

/// `[models]`
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(deny_unknown_fields, default)]
pub struct ModelsConfig {
    /// Directory whose `*.gguf` files are served, named by file stem. Default:
    /// `DATA_DIR/models`.
    pub dir: Option<PathBuf>,
    /// More GGUF files to serve, each named by its file stem.
    pub files: Vec<PathBuf>,
    /// Disk quota of the model registry (`DATA_DIR/registry`) in MiB; a pull or
    /// import that would exceed it is refused. 0: no quota.
    pub quota_mb: u64,
}

/// Who may reuse whose cached prompt prefix.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum PrefixCacheScope {
    /// Only the same principal (user or API key): timing cannot reveal another
    /// tenant's prompt.
    Principal,
    /// Everyone on this server (more reuse, e.g. of shared system prompts).
    Server,
}

/// Where models execute.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Isolation {
    /// Each loaded model runs in a supervised child process (a runner): a native
    /// crash fails that model's requests, the server keeps serving.
    Process,
    /// Models run inside the server process (no process overhead; a native crash
    /// takes the server down).
    InProcess,
}

/// `[engine]`
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct EngineSettings {
    /// CPU threads per model (0 = physical cores).
    pub threads: u32,
    /// Tokens one sequence (prompt + answer) may hold (0 = the model's trained
    /// context, capped at 4096).
    pub context_tokens: u32,
    /// Sequences generated at the same time per model.
    pub parallel: u32,
    /// Requests that may wait for a free sequence before `E_OVERLOADED`.
    pub max_queue: u32,
    /// `principal` or `server`.
    pub prefix_cache_scope: PrefixCacheScope,
    /// Host RAM (MiB) keeping conversations' computed prompts warm beyond the
    /// parallel sequences (0 disables).
    pub ram_cache_mb: u32,
    /// `process` (a supervised runner per model) or `in_process`.
    pub isolation: Isolation,
    /// Seconds an idle model stays loaded (negative: until evicted; 0: unload
    /// when idle). Requests may override it (Ollama's `keep_alive`).
    pub keep_alive_secs: i64,
    /// Memory (MiB) the loaded models may hold together, estimated from their
    /// files plus KV and prompt caches (0 = three quarters of physical RAM).
    pub memory_budget_mb: u64,
}

impl Default for EngineSettings {
    fn default() -> Self {
        EngineSettings {
            threads: 0,
            context_tokens: 4096,
            parallel: 4,
            max_queue: 64,
            prefix_cache_scope: PrefixCacheScope::Principal,
            ram_cache_mb: 256,
            isolation: Isolation::Process,
            keep_alive_secs: 300,
            memory_budget_mb: 0,
        }
    }
}
