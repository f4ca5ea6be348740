//! The command line: every subcommand and flag, with `--help` text.

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

/// Hearth: a private AI server in one binary.
#[derive(Debug, Parser)]
#[command(name = "hearth", version, about, propagate_version = true)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the server (default address 127.0.0.1:4327).
    Serve(ServeArgs),
    /// Inspect the configuration.
    Config {
        #[command(subcommand)]
        command: ConfigCommand,
    },
    /// Manage user accounts (works with or without a running server).
    User {
        #[command(subcommand)]
        command: UserCommand,
    },
    /// Manage API keys (works with or without a running server).
    Key {
        #[command(subcommand)]
        command: KeyCommand,
    },
    /// Chat with a model of a running server in the terminal (with a prompt
    /// or piped input: answer once and exit).
    Run(RunArgs),
    /// Convert a BERT-family sentence-transformers checkpoint (safetensors +
    /// tokenizer) into a GGUF embedding model.
    Convert(ConvertArgs),
    /// Download a model into the registry: an https:// URL or a Hugging Face
    /// reference (hf.co/ORG/REPO:QUANT, hf.co/ORG/REPO/FILE.gguf). Resumes an
    /// interrupted download of the same URL.
    Pull(PullArgs),
    /// Import a local GGUF file, or a bundle written by `hearth export`, into the
    /// registry (works while the server is stopped).
    Import(ImportArgs),
    /// Write a model and its file to a bundle that `hearth import` reads on
    /// another machine, without network.
    Export(ExportArgs),
    /// List the models of the registry.
    #[command(visible_alias = "ls")]
    List(ConfigArgs),
    /// Show a model's metadata, capabilities, provenance and preset.
    Show(ShowArgs),
    /// List the models the running server has loaded.
    Ps(ConfigArgs),
    /// Remove models (their files go when no other name uses them).
    Rm(RmArgs),
    /// Copy a model to another name (no bytes are copied).
    Cp(CpArgs),
    /// Create a preset: a name for a model with default parameters and system prompt.
    Create(CreateArgs),
    /// Delete files of the registry no model uses.
    Gc(ConfigArgs),
    /// Write a model again with another quantization (Q8_0, Q4_K_M, …) under a new name.
    Quantize(QuantizeArgs),
    /// Internal: quantize one GGUF file (run by `hearth quantize` and the server
    /// in a child process, so a native crash fails only the job).
    #[command(hide = true)]
    QuantizeFile(QuantizeFileArgs),
    /// Print the version.
    Version,
    /// Internal: serve one model to the server over a Unix socket (started by
    /// `hearth serve` when `engine.isolation = "process"`).
    #[command(hide = true)]
    Runner(RunnerArgs),
}

/// Arguments of `hearth run`.
#[derive(Debug, Args)]
pub struct RunArgs {
    /// The model, as listed by the server (e.g. smollm2-135m-instruct-q4_1).
    pub model: String,
    /// A prompt: answer it once and exit (also when stdin is piped).
    pub prompt: Vec<String>,
    /// The server's URL. The API key, when the server wants one, is read from
    /// HEARTH_API_KEY (never from the command line).
    #[arg(long, env = "HEARTH_HOST", default_value = "http://127.0.0.1:4327")]
    pub host: String,
    /// A system prompt for the conversation.
    #[arg(long)]
    pub system: Option<String>,
    /// Print token counts and rates after each answer.
    #[arg(long)]
    pub verbose: bool,
}

/// Arguments of `hearth convert`.
#[derive(Debug, Args)]
pub struct ConvertArgs {
    /// The checkpoint folder: config.json, model.safetensors, tokenizer.json
    /// or vocab.txt, and (sentence-transformers) modules.json + 1_Pooling/.
    #[arg(value_name = "SRC_DIR")]
    pub src: PathBuf,
    /// The GGUF file to write.
    #[arg(value_name = "OUT.gguf")]
    pub out: PathBuf,
    /// Weight format: f16, q8_0 (about half the size of f16) or f32.
    #[arg(long = "type", value_name = "TYPE", default_value = "f16")]
    pub ty: hearth_convert::ConvertType,
    /// `general.name` of the model; default: the folder's name.
    #[arg(long)]
    pub name: Option<String>,
    /// Replace OUT.gguf if it exists.
    #[arg(long)]
    pub force: bool,
}

/// Arguments of the hidden `hearth runner` subcommand.
#[derive(Debug, Args)]
pub struct RunnerArgs {
    /// The supervisor's socket to connect to.
    #[arg(long)]
    pub socket: PathBuf,
    /// The model's name.
    #[arg(long)]
    pub model_name: String,
    /// The GGUF file.
    #[arg(long)]
    pub model_file: PathBuf,
    /// engine.threads
    #[arg(long, default_value_t = 0)]
    pub threads: u32,
    /// engine.context_tokens
    #[arg(long, default_value_t = 4096)]
    pub context_tokens: u32,
    /// engine.parallel
    #[arg(long, default_value_t = 4)]
    pub parallel: u32,
    /// engine.max_queue
    #[arg(long, default_value_t = 64)]
    pub max_queue: u32,
    /// engine.prefix_cache_scope: principal or server.
    #[arg(long, default_value = "principal")]
    pub prefix_cache_scope: String,
    /// engine.ram_cache_mb
    #[arg(long, default_value_t = 256)]
    pub ram_cache_mb: u32,
    /// Log filter for the runner's stderr (read by the server).
    #[arg(long, default_value = "warn")]
    pub log_level: String,
}

/// `hearth pull`
#[derive(Debug, Args)]
pub struct PullArgs {
    /// URL or Hugging Face reference.
    pub source: String,
    /// Name to record (name:tag); default: from the source.
    #[arg(long)]
    pub name: Option<String>,
    /// Expected digest (sha256:HEX); the download is discarded when it differs.
    #[arg(long)]
    pub digest: Option<String>,
    #[command(flatten)]
    pub config: ConfigArgs,
}

/// `hearth import`
#[derive(Debug, Args)]
pub struct ImportArgs {
    /// The GGUF file, a bundle, or a sentence-transformers checkpoint folder
    /// (converted to GGUF F16 first, as `hearth convert` does).
    pub file: PathBuf,
    /// Name to record (name:tag); default: the file stem (bundles carry their names).
    pub name: Option<String>,
    /// Hard-link the file instead of copying it (same file system; the file
    /// must then never be modified in place).
    #[arg(long)]
    pub link: bool,
    #[command(flatten)]
    pub config: ConfigArgs,
}

/// `hearth quantize`
#[derive(Debug, Args)]
pub struct QuantizeArgs {
    /// Model to quantize.
    pub model: String,
    /// Target type: F16, Q8_0, Q6_K, Q5_K_M, Q5_K_S, Q5_1, Q5_0, Q4_K_M, Q4_K_S,
    /// Q4_1, Q4_0, Q3_K_L, Q3_K_M, Q3_K_S, Q2_K.
    #[arg(long = "type", value_name = "TYPE")]
    pub file_type: String,
    /// Name of the result; default: NAME:TAG-TYPE.
    #[arg(long)]
    pub name: Option<String>,
    #[command(flatten)]
    pub config: ConfigArgs,
}

/// Arguments of the hidden `hearth quantize-file`.
#[derive(Debug, Args)]
pub struct QuantizeFileArgs {
    /// The GGUF file read.
    #[arg(long)]
    pub input: PathBuf,
    /// The GGUF file written.
    #[arg(long)]
    pub output: PathBuf,
    /// Target type.
    #[arg(long = "type")]
    pub file_type: String,
    /// Threads (0: llama.cpp's choice).
    #[arg(long, default_value_t = 0)]
    pub threads: u32,
}

/// `hearth export`
#[derive(Debug, Args)]
pub struct ExportArgs {
    /// Model name.
    pub name: String,
    /// The bundle to write.
    pub file: PathBuf,
    #[command(flatten)]
    pub config: ConfigArgs,
}

/// `hearth show`
#[derive(Debug, Args)]
pub struct ShowArgs {
    /// Model name.
    pub name: String,
    /// Print only the chat template.
    #[arg(long, conflicts_with = "json")]
    pub template: bool,
    /// Print the whole manifest as JSON.
    #[arg(long)]
    pub json: bool,
    #[command(flatten)]
    pub config: ConfigArgs,
}

/// `hearth rm`
#[derive(Debug, Args)]
pub struct RmArgs {
    /// Model names.
    #[arg(required = true)]
    pub names: Vec<String>,
    /// Remove even when the running server has the model loaded.
    #[arg(long)]
    pub force: bool,
    #[command(flatten)]
    pub config: ConfigArgs,
}

/// `hearth cp`
#[derive(Debug, Args)]
pub struct CpArgs {
    /// Existing model.
    pub source: String,
    /// New name.
    pub destination: String,
    #[command(flatten)]
    pub config: ConfigArgs,
}

/// `hearth create`
#[derive(Debug, Args)]
pub struct CreateArgs {
    /// Name of the preset.
    pub name: String,
    /// The model it is based on.
    #[arg(long)]
    pub from: String,
    /// Default system prompt.
    #[arg(long)]
    pub system: Option<String>,
    /// A file with a chat template replacing the model's.
    #[arg(long, value_name = "FILE")]
    pub template_file: Option<PathBuf>,
    /// A default option, KEY=VALUE (temperature, top_p, top_k, num_ctx, stop, seed, …); repeatable.
    #[arg(long = "parameter", value_name = "KEY=VALUE")]
    pub parameters: Vec<String>,
    #[command(flatten)]
    pub config: ConfigArgs,
}

#[derive(Debug, Subcommand)]
pub enum UserCommand {
    /// Create a user; the password is prompted for, or read from stdin.
    Add {
        /// Login name.
        name: String,
        /// Make the user an admin.
        #[arg(long)]
        admin: bool,
        /// Role: admin, user (default) or readonly.
        #[arg(long, conflicts_with = "admin")]
        role: Option<String>,
        /// Read the password from the first line of stdin (never from argv).
        #[arg(long)]
        password_stdin: bool,
        #[command(flatten)]
        config: ConfigArgs,
    },
    /// List users.
    List {
        #[command(flatten)]
        config: ConfigArgs,
    },
    /// Disable a user (ends its sessions; its keys stop working), or enable it.
    Disable {
        /// Login name.
        name: String,
        /// Enable instead.
        #[arg(long)]
        enable: bool,
        #[command(flatten)]
        config: ConfigArgs,
    },
    /// Show a user's token limits, or change them (audited).
    Quota {
        /// Login name.
        name: String,
        #[command(flatten)]
        limits: QuotaArgs,
        #[command(flatten)]
        config: ConfigArgs,
    },
    /// Set a user's password (ends its sessions).
    Passwd {
        /// Login name.
        name: String,
        /// Read the password from the first line of stdin.
        #[arg(long)]
        password_stdin: bool,
        #[command(flatten)]
        config: ConfigArgs,
    },
}

#[derive(Debug, Subcommand)]
pub enum KeyCommand {
    /// Create an API key and print it once.
    Create {
        /// Owner's login name.
        #[arg(long)]
        user: String,
        /// Label.
        #[arg(long)]
        name: String,
        /// Comma-separated scopes (chat, embed, models:read, models:write, admin);
        /// default: all the owner's role holds.
        #[arg(long)]
        scopes: Option<String>,
        /// Comma-separated models the key may use; default: all.
        #[arg(long)]
        models: Option<String>,
        /// Expiry in days, e.g. 30d; default: never.
        #[arg(long)]
        expires: Option<String>,
        #[command(flatten)]
        config: ConfigArgs,
    },
    /// List keys (by prefix; never the keys themselves).
    List {
        /// Only this user's keys.
        #[arg(long)]
        user: Option<String>,
        #[command(flatten)]
        config: ConfigArgs,
    },
    /// Show a key's token limits, or change them (audited).
    Quota {
        /// Key id.
        id: String,
        #[command(flatten)]
        limits: QuotaArgs,
        #[command(flatten)]
        config: ConfigArgs,
    },
    /// Revoke a key by id.
    Revoke {
        /// Key id.
        id: String,
        #[command(flatten)]
        config: ConfigArgs,
    },
}

/// Token limits to change; each takes a number of tokens (0 = unlimited) or
/// `default` (follow `[limits]`). Limits not named keep their stored value.
#[derive(Debug, Args)]
pub struct QuotaArgs {
    /// Tokens (prompt + completion) per minute.
    #[arg(long, value_name = "N|default")]
    pub tokens_per_minute: Option<String>,
    /// Tokens per UTC day.
    #[arg(long, value_name = "N|default")]
    pub tokens_per_day: Option<String>,
    /// Tokens per UTC calendar month.
    #[arg(long, value_name = "N|default")]
    pub tokens_per_month: Option<String>,
    /// Admission weight while requests wait for a model (1-64; default 1):
    /// a share of N gets up to N admissions per round-robin turn.
    #[arg(long, value_name = "N|default")]
    pub share: Option<String>,
}

#[derive(Debug, Subcommand)]
pub enum ConfigCommand {
    /// Print the effective configuration (defaults < file < env < flags), secrets redacted.
    Show(ConfigArgs),
    /// Print a commented example configuration with every key at its default.
    Example,
}

/// Flags that select and override the configuration.
#[derive(Debug, Args, Clone, Default)]
pub struct ConfigArgs {
    /// Configuration file (TOML). Also: HEARTH_CONFIG.
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Address and port to listen on (server.bind).
    #[arg(long, value_name = "ADDR:PORT")]
    pub bind: Option<SocketAddr>,
    /// Data directory (storage.data_dir).
    #[arg(long, value_name = "DIR")]
    pub data_dir: Option<PathBuf>,
    /// Log format: human or json (log.format).
    #[arg(long, value_name = "FORMAT")]
    pub log_format: Option<String>,
}

#[derive(Debug, Args)]
pub struct ServeArgs {
    #[command(flatten)]
    pub config: ConfigArgs,
    /// A GGUF file to serve, named by its file stem (models.files); repeatable.
    #[arg(long = "model", value_name = "FILE")]
    pub models: Vec<PathBuf>,
}

impl ConfigArgs {
    /// The flags as dotted-key overrides, for the highest configuration layer.
    pub fn overrides(&self) -> Vec<(String, String)> {
        let mut out = Vec::new();
        if let Some(bind) = self.bind {
            out.push(("server.bind".to_owned(), bind.to_string()));
        }
        if let Some(dir) = &self.data_dir {
            out.push(("storage.data_dir".to_owned(), dir.display().to_string()));
        }
        if let Some(format) = &self.log_format {
            out.push(("log.format".to_owned(), format.clone()));
        }

        out
    }
}
