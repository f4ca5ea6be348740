//! One module per subcommand.

use std::process::ExitCode;

use hearth_core::config::{Config, ConfigError, Sources};

use crate::cli::ConfigArgs;

pub mod accounts;
pub mod config;
pub mod convert;
pub mod engine;
pub mod key;
pub mod models;
pub mod quota;
pub mod run;
pub mod serve;
pub mod user;

/// Exit code for unusable configuration or arguments.
pub const EXIT_CONFIG: u8 = 2;

/// `hearth version`
pub fn version() -> ExitCode {
    println!("hearth {}", env!("CARGO_PKG_VERSION"));
    ExitCode::SUCCESS
}

/// Load the configuration from the file, the process environment and flags.
pub fn load_config(args: &ConfigArgs) -> Result<Config, ConfigError> {
    load_config_with(args, Vec::new())
}

/// Like [`load_config`], with more flag overrides from the subcommand.
pub fn load_config_with(
    args: &ConfigArgs,
    extra_flags: Vec<(String, String)>,
) -> Result<Config, ConfigError> {
    let mut flags = args.overrides();
    flags.extend(extra_flags);
    Config::load(&Sources {
        file: args.config.clone(),
        env: std::env::vars().collect(),
        flags,
    })
}

/// Print a configuration error and return the exit code for it.
pub fn config_failure(err: &ConfigError) -> ExitCode {
    eprintln!("hearth: {err}");
    eprintln!("hint: `hearth config example` lists every key with its default and allowed values");
    ExitCode::from(EXIT_CONFIG)
}
