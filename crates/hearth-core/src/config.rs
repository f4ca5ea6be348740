//! Hearth's configuration: one typed struct, documented here at its source.
//!
//! Layers, lowest to highest precedence: built-in defaults < TOML file <
//! `HEARTH_*` environment variables < command-line flags. Every layer is merged
//! into one TOML tree and deserialized strictly: an unknown key or an invalid
//! value is an error naming the key, the layer it came from and what is allowed.
//! The environment is passed in as a map so tests never touch the process env.

use std::collections::BTreeMap;
use std::fmt;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

mod conversations;
mod models;

pub use conversations::{ContextPolicy, ConversationsConfig};
pub use models::{EngineSettings, Isolation, ModelsConfig, PrefixCacheScope};

/// Default address: loopback only, Hearth's documented port.
pub const DEFAULT_BIND: &str = "127.0.0.1:4327";

/// Environment variables that start with `HEARTH_` but are not configuration keys
/// (besides the `HEARTH_TEST_` prefix, reserved for test set-ups).
const NON_CONFIG_ENV: &[&str] = &["HEARTH_CONFIG", "HEARTH_HOST", "HEARTH_API_KEY"];

fn is_config_env(name: &str) -> bool {
    name.starts_with("HEARTH_")
        && !name.starts_with("HEARTH_TEST_")
        && !NON_CONFIG_ENV.contains(&name)
}

/// The whole configuration.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// HTTP listener and request handling.
    pub server: ServerConfig,
    /// Where Hearth keeps its files.
    pub storage: StorageConfig,
    /// The database.
    pub database: DatabaseConfig,
    /// Logging.
    pub log: LogConfig,
    /// Prometheus metrics.
    pub metrics: MetricsConfig,
    /// Switches for whole capabilities.
    pub capabilities: CapabilitiesConfig,
    /// Authentication, sessions and registration.
    pub auth: AuthConfig,
    /// Rate limits and concurrency caps.
    pub limits: LimitsConfig,
    /// Which model files are served.
    pub models: ModelsConfig,
    /// How the local engine runs models.
    pub engine: EngineSettings,
    /// Conversations: context management, retention, admin access.
    pub conversations: ConversationsConfig,
}

/// `[server]`
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ServerConfig {
    /// Address and port to listen on.
    pub bind: SocketAddr,
    /// Largest accepted request body, in bytes.
    pub body_limit_bytes: u64,
    /// Time limit for a request until its response starts, in seconds (streams,
    /// once started, are not cut).
    pub request_timeout_secs: u64,
    /// On SIGTERM/SIGINT: how long in-flight requests and streams may run on.
    pub shutdown_grace_secs: u64,
    /// Origins allowed by CORS; empty means CORS is off.
    pub cors_origins: Vec<String>,
    /// PEM certificate chain: serve HTTPS (with `tls_key`); reloaded on SIGHUP.
    pub tls_cert: Option<PathBuf>,
    /// PEM private key of `tls_cert`.
    pub tls_key: Option<PathBuf>,
    /// Allow a non-loopback `bind` without TLS (behind a TLS-terminating proxy).
    pub allow_insecure_bind: bool,
}

impl ServerConfig {
    /// Whether Hearth itself serves HTTPS.
    pub fn is_tls(&self) -> bool {
        self.tls_cert.is_some() && self.tls_key.is_some()
    }
}

impl Default for ServerConfig {
    fn default() -> Self {
        ServerConfig {
            bind: DEFAULT_BIND.parse().expect("valid default address"),
            body_limit_bytes: 16 * 1024 * 1024,
            request_timeout_secs: 300,
            shutdown_grace_secs: 20,
            cors_origins: Vec::new(),
            tls_cert: None,
            tls_key: None,
            allow_insecure_bind: false,
        }
    }
}

/// `[storage]`
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(deny_unknown_fields, default)]
pub struct StorageConfig {
    /// Data directory (database, models). Default: `$XDG_DATA_HOME/hearth`, else
    /// `~/.local/share/hearth`.
    pub data_dir: Option<PathBuf>,
}

/// How hard SQLite pushes each commit to disk.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SqliteSync {
    /// fsync on every commit: survives power loss.
    Full,
    /// fsync at checkpoints: survives a process crash, may lose the last commits on
    /// power loss.
    Normal,
}

/// `[database]`
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DatabaseConfig {
    /// `sqlite://PATH` or `postgres://USER:PASSWORD@HOST/DB`. Default: SQLite file
    /// `hearth.db` in the data directory.
    pub url: Option<String>,
    /// Connection pool size.
    pub max_connections: u32,
    /// SQLite only: `full` or `normal`.
    pub sqlite_synchronous: SqliteSync,
}

impl Default for DatabaseConfig {
    fn default() -> Self {
        DatabaseConfig {
            url: None,
            max_connections: 8,
            sqlite_synchronous: SqliteSync::Full,
        }
    }
}

/// Log line format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    /// Human-readable lines.
    Human,
    /// One JSON object per line.
    Json,
}

/// `[log]`
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LogConfig {
    /// Level or filter directives (`info`, `hearth=debug,tower_http=info`).
    pub level: String,
    /// `human` or `json`.
    pub format: LogFormat,
}

impl Default for LogConfig {
    fn default() -> Self {
        LogConfig {
            level: "info".to_owned(),
            format: LogFormat::Human,
        }
    }
}

/// `[metrics]`
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct MetricsConfig {
    /// Serve `/metrics` in Prometheus text format.
    pub enabled: bool,
    /// Serve metrics on this separate address instead of the main listener.
    pub bind: Option<SocketAddr>,
    /// Serve `/metrics` on the main listener without credentials (otherwise it
    /// needs an admin or a key with the `metrics` scope).
    pub public: bool,
}

impl Default for MetricsConfig {
    fn default() -> Self {
        MetricsConfig {
            enabled: true,
            bind: None,
            public: false,
        }
    }
}

/// `[capabilities]`: whole features that can be switched off.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct CapabilitiesConfig {
    /// OpenAI-compatible API under `/v1`.
    pub openai_api: bool,
    /// Ollama-compatible API under `/api`.
    pub ollama_api: bool,
    /// Anthropic Messages API under `/v1/messages`.
    pub anthropic_api: bool,
    /// The web app.
    pub web_ui: bool,
    /// Embeddings endpoints.
    pub embeddings: bool,
}

impl Default for CapabilitiesConfig {
    fn default() -> Self {
        CapabilitiesConfig {
            openai_api: true,
            ollama_api: true,
            anthropic_api: true,
            web_ui: true,
            embeddings: true,
        }
    }
}

impl CapabilitiesConfig {
    /// Each capability with its state, for `/v1/meta`.
    pub fn list(&self) -> Vec<(&'static str, bool)> {
        vec![
            ("openai_api", self.openai_api),
            ("ollama_api", self.ollama_api),
            ("anthropic_api", self.anthropic_api),
            ("web_ui", self.web_ui),
            ("embeddings", self.embeddings),
        ]
    }
}

/// `[auth]`
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AuthConfig {
    /// Require credentials on every non-open route. Turning it off is allowed
    /// only when `server.bind` is a loopback address.
    pub enabled: bool,
    /// Anyone may create a `user` account; otherwise accounts come from invites.
    pub open_registration: bool,
    /// A web session unused this long (seconds) ends.
    pub session_idle_secs: u64,
    /// A web session ends this long (seconds) after login, used or not.
    pub session_absolute_secs: u64,
    /// Mark the session cookie `Secure` (turn off only for plain-http loopback).
    pub cookie_secure: bool,
    /// Send the session cookie `SameSite=None; Secure` so a web app on another
    /// site (listed in `server.cors_origins`) can use it; `SameSite=Lax` otherwise.
    pub cookie_cross_site: bool,
    /// How long (seconds) an invite stays valid.
    pub invite_ttl_secs: u64,
}

impl Default for AuthConfig {
    fn default() -> Self {
        AuthConfig {
            enabled: true,
            open_registration: false,
            session_idle_secs: 12 * 3600,
            session_absolute_secs: 7 * 24 * 3600,
            cookie_secure: true,
            cookie_cross_site: false,
            invite_ttl_secs: 7 * 24 * 3600,
        }
    }
}

/// `[limits]`
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LimitsConfig {
    /// Requests per minute for one API key or session (0 = unlimited).
    pub requests_per_minute_per_key: u32,
    /// Requests per minute for one user over all its keys and sessions (0 = unlimited).
    pub requests_per_minute_per_user: u32,
    /// Generations one user may run at once (0 = unlimited).
    pub concurrent_streams_per_user: u32,
    /// Login attempts per minute per client address and per user name.
    pub login_attempts_per_minute: u32,
    /// Tokens (prompt + completion) per minute for one API key (0 = unlimited).
    pub tokens_per_minute_per_key: u64,
    /// Tokens per minute for one user over all its keys and sessions (0 = unlimited).
    pub tokens_per_minute_per_user: u64,
    /// Tokens per UTC day for one API key (0 = unlimited).
    pub tokens_per_day_per_key: u64,
    /// Tokens per UTC day for one user (0 = unlimited).
    pub tokens_per_day_per_user: u64,
    /// Tokens per UTC calendar month for one API key (0 = unlimited).
    pub tokens_per_month_per_key: u64,
    /// Tokens per UTC calendar month for one user (0 = unlimited).
    pub tokens_per_month_per_user: u64,
    /// `redis://HOST:PORT` to share limits between replicas; unset keeps them
    /// in this process.
    pub redis_url: Option<String>,
}

impl Default for LimitsConfig {
    fn default() -> Self {
        LimitsConfig {
            requests_per_minute_per_key: 600,
            requests_per_minute_per_user: 1200,
            concurrent_streams_per_user: 8,
            login_attempts_per_minute: 10,
            tokens_per_minute_per_key: 0,
            tokens_per_minute_per_user: 0,
            tokens_per_day_per_key: 0,
            tokens_per_day_per_user: 0,
            tokens_per_month_per_key: 0,
            tokens_per_month_per_user: 0,
            redis_url: None,
        }
    }
}

/// Documentation of every key, in file order: key, explanation, example value for
/// keys that are unset by default. The example config is rendered from this table
/// and the defaults; a test checks the table covers every key.
pub const KEY_DOCS: &[(&str, &str, Option<&str>)] = &[
    (
        "server.bind",
        "Address and port to listen on. Loopback by default.",
        None,
    ),
    (
        "server.body_limit_bytes",
        "Largest accepted request body, in bytes.",
        None,
    ),
    (
        "server.request_timeout_secs",
        "Seconds a request may take until its response starts (streams are not cut).",
        None,
    ),
    (
        "server.shutdown_grace_secs",
        "On SIGTERM/SIGINT, seconds in-flight requests and streams may run on.",
        None,
    ),
    (
        "server.cors_origins",
        "Origins allowed by CORS; empty turns CORS off.",
        None,
    ),
    (
        "server.tls_cert",
        "PEM certificate chain; with tls_key Hearth serves HTTPS (and sends HSTS). Re-read on SIGHUP.",
        Some("\"/etc/hearth/cert.pem\""),
    ),
    (
        "server.tls_key",
        "PEM private key (PKCS#8, PKCS#1 or SEC1) of tls_cert.",
        Some("\"/etc/hearth/key.pem\""),
    ),
    (
        "server.allow_insecure_bind",
        "Allow a non-loopback bind without TLS (only behind a TLS-terminating proxy); logged as a warning.",
        None,
    ),
    (
        "storage.data_dir",
        "Data directory. Default: $XDG_DATA_HOME/hearth, else ~/.local/share/hearth.",
        Some("\"/var/lib/hearth\""),
    ),
    (
        "database.url",
        "sqlite://PATH or postgres://USER:PASSWORD@HOST/DB. Default: DATA_DIR/hearth.db.",
        Some("\"postgres://hearth:secret@127.0.0.1/hearth\""),
    ),
    ("database.max_connections", "Connection pool size.", None),
    (
        "database.sqlite_synchronous",
        "SQLite only: \"full\" (fsync every commit) or \"normal\".",
        None,
    ),
    (
        "log.level",
        "Level or filter directives, e.g. \"info\" or \"hearth=debug\".",
        None,
    ),
    ("log.format", "\"human\" or \"json\".", None),
    (
        "metrics.enabled",
        "Serve /metrics in Prometheus text format.",
        None,
    ),
    (
        "metrics.bind",
        "Serve metrics on this separate address instead of the main listener, without credentials; an address other than loopback needs metrics.public = true.",
        Some("\"127.0.0.1:9464\""),
    ),
    (
        "metrics.public",
        "Serve /metrics on the main listener without credentials; otherwise it needs an admin or a key with the metrics scope.",
        None,
    ),
    (
        "capabilities.openai_api",
        "OpenAI-compatible API under /v1.",
        None,
    ),
    (
        "capabilities.ollama_api",
        "Ollama-compatible API under /api.",
        None,
    ),
    (
        "capabilities.anthropic_api",
        "Anthropic Messages API under /v1/messages.",
        None,
    ),
    ("capabilities.web_ui", "The web app.", None),
    ("capabilities.embeddings", "Embeddings endpoints.", None),
    (
        "auth.enabled",
        "Require credentials on every non-open route. false is allowed only on a loopback bind.",
        None,
    ),
    (
        "auth.open_registration",
        "Anyone may create a user account; otherwise accounts come from admin invites.",
        None,
    ),
    (
        "auth.session_idle_secs",
        "Seconds of inactivity after which a web session ends.",
        None,
    ),
    (
        "auth.session_absolute_secs",
        "Seconds after login at which a web session ends, used or not.",
        None,
    ),
    (
        "auth.cookie_secure",
        "Mark the session cookie Secure; turn off only for plain-http loopback.",
        None,
    ),
    (
        "auth.cookie_cross_site",
        "Send the session cookie SameSite=None; Secure for a web app on another site (listed in server.cors_origins); SameSite=Lax otherwise.",
        None,
    ),
    (
        "auth.invite_ttl_secs",
        "Seconds an invite stays valid.",
        None,
    ),
    (
        "limits.requests_per_minute_per_key",
        "Requests per minute for one API key or session (0 = unlimited).",
        None,
    ),
    (
        "limits.requests_per_minute_per_user",
        "Requests per minute for one user over all its keys and sessions (0 = unlimited).",
        None,
    ),
    (
        "limits.concurrent_streams_per_user",
        "Generations one user may run at once (0 = unlimited).",
        None,
    ),
    (
        "limits.login_attempts_per_minute",
        "Login attempts per minute per client address and per user name.",
        None,
    ),
    (
        "limits.tokens_per_minute_per_key",
        "Tokens (prompt + completion) per minute for one API key (0 = unlimited); per-key overrides: `hearth key quota`, PUT /admin/keys/{id}/quota.",
        None,
    ),
    (
        "limits.tokens_per_minute_per_user",
        "Tokens per minute for one user over all its keys and sessions (0 = unlimited).",
        None,
    ),
    (
        "limits.tokens_per_day_per_key",
        "Tokens per UTC day for one API key, counted from the usage records (0 = unlimited).",
        None,
    ),
    (
        "limits.tokens_per_day_per_user",
        "Tokens per UTC day for one user (0 = unlimited); per-user overrides: `hearth user quota`, PUT /admin/users/{id}/quota.",
        None,
    ),
    (
        "limits.tokens_per_month_per_key",
        "Tokens per UTC calendar month for one API key (0 = unlimited).",
        None,
    ),
    (
        "limits.tokens_per_month_per_user",
        "Tokens per UTC calendar month for one user (0 = unlimited).",
        None,
    ),
    (
        "limits.redis_url",
        "redis://HOST:PORT to share limits between replicas; unset keeps them in this process.",
        Some("\"redis://127.0.0.1:6379\""),
    ),
    (
        "models.dir",
        "Directory whose *.gguf files are served, named by file stem. Default: DATA_DIR/models.",
        Some("\"/var/lib/hearth/models\""),
    ),
    (
        "models.files",
        "More GGUF files to serve, each named by its file stem.",
        None,
    ),
    (
        "models.quota_mb",
        "Disk quota of the model registry (DATA_DIR/registry) in MiB; pulls and imports beyond it are refused. 0: none.",
        None,
    ),
    (
        "engine.threads",
        "CPU threads per model (0 = physical cores).",
        None,
    ),
    (
        "engine.context_tokens",
        "Tokens one sequence (prompt + answer) may hold (0 = the model's trained context, capped at 4096).",
        None,
    ),
    (
        "engine.parallel",
        "Sequences generated at the same time per model.",
        None,
    ),
    (
        "engine.max_queue",
        "Requests that may wait for a free sequence before E_OVERLOADED (503 with Retry-After).",
        None,
    ),
    (
        "engine.prefix_cache_scope",
        "Who may reuse a cached prompt prefix: \"principal\" (same user or key) or \"server\".",
        None,
    ),
    (
        "engine.ram_cache_mb",
        "Host RAM (MiB) keeping conversations' computed prompts warm beyond the parallel sequences.",
        None,
    ),
    (
        "engine.isolation",
        "Where models run: \"process\" (one supervised runner process per model; a native crash fails only that model's requests) or \"in_process\".",
        None,
    ),
    (
        "engine.keep_alive_secs",
        "Seconds an idle model stays loaded (negative: until evicted for room; 0: unload when idle). Ollama's keep_alive overrides it per request.",
        None,
    ),
    (
        "engine.memory_budget_mb",
        "Memory (MiB) loaded models may hold together, estimated from file size plus KV and prompt caches; least recently used idle models are unloaded to make room (0 = 3/4 of physical RAM).",
        None,
    ),
    (
        "conversations.context_policy",
        "When a conversation outgrows the model's context: \"drop\" the oldest turns, or \"summarize\" them once with the model (the summary is stored and reused by later turns and sibling branches; drop is the fallback when summarizing fails).",
        None,
    ),
    (
        "conversations.reserved_answer_tokens",
        "Tokens of the context kept free for the answer when fitting a conversation's prompt.",
        None,
    ),
    (
        "conversations.default_max_tokens",
        "Answer length when a conversation or message sets no max_tokens.",
        None,
    ),
    (
        "conversations.retention_days",
        "Days a deleted conversation is kept before it is purged (0 = purge at the next hourly sweep).",
        None,
    ),
    (
        "conversations.keep_generating_on_disconnect",
        "An answer keeps being generated (and stored) when its client disconnects; otherwise it is cancelled.",
        None,
    ),
    (
        "conversations.generate_titles",
        "Title a conversation with the model after its first exchange.",
        None,
    ),
    (
        "conversations.admin_can_read",
        "Admins may read any user's conversations through /admin/users/{user_id}/conversations (each read, allowed or not, is audited). Off by default.",
        None,
    ),
];

/// Where a configuration value came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Layer {
    /// Built-in defaults.
    Defaults,
    /// The TOML file at this path.
    File(PathBuf),
    /// A `HEARTH_*` environment variable.
    Env(String),
    /// A command-line flag.
    Flag(String),
    /// All layers together (rules that tie several keys, checked once at the end).
    Combined,
}

impl fmt::Display for Layer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Layer::Defaults => write!(f, "defaults"),
            Layer::File(p) => write!(f, "config file {}", p.display()),
            Layer::Env(v) => write!(f, "environment variable {v}"),
            Layer::Flag(k) => write!(f, "flag --{k}"),
            Layer::Combined => write!(f, "defaults, file, environment and flags combined"),
        }
    }
}

/// A configuration that cannot be used. The binary exits with code 2 on it.
#[derive(Debug, thiserror::Error)]
#[error("invalid configuration ({layer}): `{key}`: {message}")]
pub struct ConfigError {
    /// Dotted key, e.g. `server.bind`.
    pub key: String,
    /// What is wrong and what is allowed.
    pub message: String,
    /// Where the bad value came from.
    pub layer: Layer,
}

/// Everything a configuration is built from.
#[derive(Debug, Default)]
pub struct Sources {
    /// Explicit config file (`--config`); missing file is an error.
    pub file: Option<PathBuf>,
    /// The process environment (or a test's map).
    pub env: BTreeMap<String, String>,
    /// Flag overrides as (dotted key, value), e.g. `("server.bind", "0.0.0.0:80")`.
    pub flags: Vec<(String, String)>,
}

impl Config {
    /// Build the configuration from its layers and resolve derived defaults.
    pub fn load(sources: &Sources) -> Result<Config, ConfigError> {
        let defaults = toml::Value::try_from(Config::default()).expect("defaults serialize");
        let mut tree = defaults.clone();
        if let Some((path, file)) = read_file(sources)? {
            let layer = Layer::File(path);
            merge(&mut tree, file);
            check(&tree, &layer)?;
        }
        for (name, value) in sources.env.iter().filter(|(k, _)| is_config_env(k)) {
            let layer = Layer::Env(name.clone());
            let key = key_for_env(name).ok_or_else(|| ConfigError {
                key: name.clone(),
                message: "unknown environment variable; config keys map to HEARTH_SECTION_KEY \
                          (see `hearth config example`)"
                    .to_owned(),
                layer: layer.clone(),
            })?;
            set_key(&mut tree, &defaults, key, value);
            check(&tree, &layer)?;
        }
        for (key, value) in &sources.flags {
            let layer = Layer::Flag(key.clone());
            set_key(&mut tree, &defaults, key, value);
            check(&tree, &layer)?;
        }
        let mut config = check(&tree, &Layer::Defaults)?;
        config
            .validate_combination()
            .map_err(|(key, message)| ConfigError {
                key,
                message,
                layer: Layer::Combined,
            })?;
        config.resolve(&sources.env);
        Ok(config)
    }

    /// The data directory (resolved by [`Config::load`]).
    pub fn data_dir(&self) -> &Path {
        self.storage.data_dir.as_deref().unwrap_or(Path::new("."))
    }

    /// The database URL, defaulting to SQLite in the data directory.
    pub fn database_url(&self) -> String {
        match &self.database.url {
            Some(url) => url.clone(),
            None => format!("sqlite://{}", self.data_dir().join("hearth.db").display()),
        }
    }

    /// The configuration as TOML with secrets replaced by `****`.
    pub fn to_redacted_toml(&self) -> String {
        let mut shown = self.clone();
        if let Some(url) = &shown.database.url {
            shown.database.url = Some(redact_url(url));
        }
        if let Some(url) = &shown.limits.redis_url {
            shown.limits.redis_url = Some(redact_url(url));
        }
        toml::to_string_pretty(&shown).expect("config serializes")
    }

    /// A commented example configuration with every key at its default.
    pub fn example_toml() -> String {
        let defaults = toml::Value::try_from(Config::default()).expect("defaults serialize");
        let mut out = String::from(
            "# Hearth configuration. Every key is optional; shown values are the defaults.\n\
             # Precedence: defaults < this file < HEARTH_SECTION_KEY env vars < flags.\n",
        );
        let mut section = "";
        for (key, doc, example) in KEY_DOCS {
            let (sec, name) = key.split_once('.').expect("dotted key");
            if sec != section {
                out.push_str(&format!("\n[{sec}]\n"));
                section = sec;
            }
            out.push_str(&format!("# {doc}\n# env: {}\n", env_for_key(key)));
            match lookup(&defaults, key) {
                Some(value) => out.push_str(&format!("{name} = {value}\n")),
                None => out.push_str(&format!("# {name} = {}\n", example.unwrap_or("\"\""))),
            }
        }
        out
    }

    fn resolve(&mut self, env: &BTreeMap<String, String>) {
        if self.storage.data_dir.is_none() {
            self.storage.data_dir = Some(default_data_dir(env));
        }
        if self.models.dir.is_none() {
            self.models.dir = Some(self.data_dir().join("models"));
        }
    }

    /// Rules that tie several keys together: checked once on the combined
    /// layers, so the order in which env vars or flags are applied never matters.
    fn validate_combination(&self) -> Result<(), (String, String)> {
        let fail = |k: &str, m: &str| Err((k.to_owned(), m.to_owned()));
        if !self.auth.enabled && !self.server.bind.ip().is_loopback() {
            return fail(
                "auth.enabled",
                "authentication may be off only when server.bind is a loopback address",
            );
        }
        if self.server.tls_cert.is_some() != self.server.tls_key.is_some() {
            return fail(
                "server.tls_cert",
                "set both server.tls_cert and server.tls_key (PEM files), or neither",
            );
        }
        if !self.server.bind.ip().is_loopback()
            && !self.server.is_tls()
            && !self.server.allow_insecure_bind
        {
            return fail(
                "server.bind",
                "a non-loopback address needs TLS (server.tls_cert and server.tls_key), or \
                 server.allow_insecure_bind = true when a TLS-terminating proxy is in front",
            );
        }
        if let Some(addr) = self.metrics.bind
            && !addr.ip().is_loopback()
            && !self.metrics.public
        {
            return fail(
                "metrics.bind",
                "the metrics listener asks for no credentials: bind it to a loopback address, \
                 or set metrics.public = true to expose it on another address",
            );
        }
        if self.auth.cookie_cross_site && !self.auth.cookie_secure {
            return fail(
                "auth.cookie_cross_site",
                "a cross-site (SameSite=None) cookie must be Secure: keep auth.cookie_secure = true",
            );
        }
        Ok(())
    }

    fn validate(&self) -> Result<(), (String, String)> {
        let fail = |k: &str, m: &str| Err((k.to_owned(), m.to_owned()));
        if self.server.body_limit_bytes < 1024 {
            return fail("server.body_limit_bytes", "must be at least 1024");
        }
        if self.server.request_timeout_secs == 0 {
            return fail("server.request_timeout_secs", "must be at least 1");
        }
        if !(1..=1024).contains(&self.database.max_connections) {
            return fail("database.max_connections", "must be between 1 and 1024");
        }
        if let Some(url) = &self.database.url
            && !(url.starts_with("sqlite:")
                || url.starts_with("postgres://")
                || url.starts_with("postgresql://"))
        {
            return fail(
                "database.url",
                "must start with sqlite:, postgres:// or postgresql://",
            );
        }
        for origin in &self.server.cors_origins {
            if !(origin.starts_with("http://") || origin.starts_with("https://")) {
                return fail(
                    "server.cors_origins",
                    "each origin must start with http:// or https://",
                );
            }
        }
        if self.auth.session_idle_secs == 0 || self.auth.session_absolute_secs == 0 {
            return fail(
                "auth.session_idle_secs",
                "session lifetimes must be at least 1",
            );
        }
        if self.auth.invite_ttl_secs == 0 {
            return fail("auth.invite_ttl_secs", "must be at least 1");
        }
        if self.limits.login_attempts_per_minute == 0 {
            return fail("limits.login_attempts_per_minute", "must be at least 1");
        }
        if let Some(url) = &self.limits.redis_url
            && !(url.starts_with("redis://") || url.starts_with("rediss://"))
        {
            return fail("limits.redis_url", "must start with redis:// or rediss://");
        }
        if !(1..=64).contains(&self.engine.parallel) {
            return fail("engine.parallel", "must be between 1 and 64");
        }
        if self.engine.context_tokens != 0 && self.engine.context_tokens < 256 {
            return fail(
                "engine.context_tokens",
                "must be 0 (model default) or at least 256",
            );
        }
        if self.conversations.reserved_answer_tokens < 16 {
            return fail(
                "conversations.reserved_answer_tokens",
                "must be at least 16",
            );
        }
        if !(1..=32768).contains(&self.conversations.default_max_tokens) {
            return fail(
                "conversations.default_max_tokens",
                "must be between 1 and 32768",
            );
        }
        if self.conversations.retention_days > 36500 {
            return fail("conversations.retention_days", "must be at most 36500");
        }
        if self.log.level.trim().is_empty() {
            return fail("log.level", "must not be empty (e.g. \"info\")");
        }
        Ok(())
    }
}

/// The environment variable for a dotted key: `server.bind` → `HEARTH_SERVER_BIND`.
pub fn env_for_key(key: &str) -> String {
    format!("HEARTH_{}", key.replace('.', "_").to_uppercase())
}

fn key_for_env(name: &str) -> Option<&'static str> {
    KEY_DOCS
        .iter()
        .map(|(k, _, _)| *k)
        .find(|k| env_for_key(k) == name)
}

fn default_data_dir(env: &BTreeMap<String, String>) -> PathBuf {
    if let Some(xdg) = env.get("XDG_DATA_HOME").filter(|v| !v.is_empty()) {
        return PathBuf::from(xdg).join("hearth");
    }
    match env.get("HOME").filter(|v| !v.is_empty()) {
        Some(home) => PathBuf::from(home).join(".local/share/hearth"),
        None => PathBuf::from("hearth-data"),
    }
}

fn read_file(sources: &Sources) -> Result<Option<(PathBuf, toml::Value)>, ConfigError> {
    let path = match (&sources.file, sources.env.get("HEARTH_CONFIG")) {
        (Some(p), _) => p.clone(),
        (None, Some(p)) => PathBuf::from(p),
        (None, None) => return Ok(None),
    };
    let layer = Layer::File(path.clone());
    let text = std::fs::read_to_string(&path).map_err(|e| ConfigError {
        key: "--config".to_owned(),
        message: format!("cannot read {}: {e}", path.display()),
        layer: layer.clone(),
    })?;
    let value: toml::Table = toml::from_str(&text).map_err(|e| ConfigError {
        key: "(syntax)".to_owned(),
        message: e.to_string().trim().to_owned(),
        layer,
    })?;
    Ok(Some((path, toml::Value::Table(value))))
}

/// Deserialize strictly and validate; errors name the key and the layer.
fn check(tree: &toml::Value, layer: &Layer) -> Result<Config, ConfigError> {
    let config: Config = serde_path_to_error::deserialize(tree.clone()).map_err(|e| {
        ConfigError {
            key: e.path().to_string(),
            // toml appends "in `key`" on a second line; the key is reported separately.
            message: e
                .inner()
                .to_string()
                .lines()
                .next()
                .unwrap_or_default()
                .to_owned(),
            layer: layer.clone(),
        }
    })?;
    config.validate().map_err(|(key, message)| ConfigError {
        key,
        message,
        layer: layer.clone(),
    })?;
    Ok(config)
}

fn merge(base: &mut toml::Value, over: toml::Value) {
    match (base, over) {
        (toml::Value::Table(b), toml::Value::Table(o)) => {
            for (k, v) in o {
                match b.get_mut(&k) {
                    Some(existing) if existing.is_table() && v.is_table() => merge(existing, v),
                    _ => {
                        b.insert(k, v);
                    }
                }
            }
        }
        (b, o) => *b = o,
    }
}

fn lookup<'a>(tree: &'a toml::Value, key: &str) -> Option<&'a toml::Value> {
    key.split('.').try_fold(tree, |node, part| node.get(part))
}

/// Set a dotted key from a string, typed like the default value at that key.
fn set_key(tree: &mut toml::Value, defaults: &toml::Value, key: &str, raw: &str) {
    let value = match lookup(defaults, key) {
        Some(toml::Value::Integer(_)) => raw
            .trim()
            .parse::<i64>()
            .map(toml::Value::Integer)
            .unwrap_or_else(|_| toml::Value::String(raw.to_owned())),
        Some(toml::Value::Boolean(_)) => match raw.trim().to_ascii_lowercase().as_str() {
            "true" | "1" | "yes" | "on" => toml::Value::Boolean(true),
            "false" | "0" | "no" | "off" => toml::Value::Boolean(false),
            _ => toml::Value::String(raw.to_owned()),
        },
        Some(toml::Value::Array(_)) => toml::Value::Array(
            raw.split(',')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(|s| toml::Value::String(s.to_owned()))
                .collect(),
        ),
        _ => toml::Value::String(raw.to_owned()),
    };
    let mut node = tree;
    let parts: Vec<&str> = key.split('.').collect();
    for part in &parts[..parts.len() - 1] {
        let table = node.as_table_mut().expect("config tree is tables");
        node = table
            .entry(part.to_string())
            .or_insert_with(|| toml::Value::Table(toml::Table::new()));
    }
    if let Some(table) = node.as_table_mut() {
        table.insert(parts[parts.len() - 1].to_owned(), value);
    }
}

/// Replace the password of a URL with `****`.
pub fn redact_url(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_owned();
    };
    let Some((auth, host)) = rest.split_once('@') else {
        return url.to_owned();
    };
    match auth.split_once(':') {
        Some((user, _)) => format!("{scheme}://{user}:****@{host}"),
        None => url.to_owned(),
    }
}

#[cfg(test)]
mod tests;
