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
    /// Print the version.
    Version,
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
