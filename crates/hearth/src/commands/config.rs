//! `hearth config show|example`.

use std::process::ExitCode;

use hearth_core::config::Config;

use crate::cli::ConfigArgs;

/// Print the effective configuration, secrets redacted.
pub fn show(args: ConfigArgs) -> ExitCode {
    match super::load_config(&args) {
        Ok(config) => {
            print!("{}", config.to_redacted_toml());
            ExitCode::SUCCESS
        }
        Err(err) => super::config_failure(&err),
    }
}

/// Print the commented example configuration.
pub fn example() -> ExitCode {
    print!("{}", Config::example_toml());
    ExitCode::SUCCESS
}
