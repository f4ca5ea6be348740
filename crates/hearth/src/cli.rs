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
