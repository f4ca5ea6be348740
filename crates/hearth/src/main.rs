//! The `hearth` binary: parses the command line and dispatches. Each subcommand
//! lives in `commands/`; wiring of adapters happens in `commands::serve`.

mod cli;
mod commands;
mod telemetry;

use std::process::ExitCode;

use clap::Parser;

use crate::cli::{Cli, Command, ConfigCommand};

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::Serve(args) => commands::serve::run(args),
        Command::Config {
            command: ConfigCommand::Show(args),
        } => commands::config::show(args),
        Command::Config {
            command: ConfigCommand::Example,
        } => commands::config::example(),
        Command::User { command } => commands::user::main(command),
        Command::Key { command } => commands::key::main(command),
        Command::Run(args) => commands::run::main(args),
        Command::Convert(args) => commands::convert::run(args),
        Command::Pull(args) => commands::models::pull(args),
        Command::Import(args) => commands::models::import(args),
        Command::Export(args) => commands::models::export(args),
        Command::List(args) => commands::models::list(args),
        Command::Show(args) => commands::models::show(args),
        Command::Ps(args) => commands::models::ps(args),
        Command::Rm(args) => commands::models::rm(args),
        Command::Cp(args) => commands::models::cp(args),
        Command::Create(args) => commands::models::create(args),
        Command::Gc(args) => commands::models::gc(args),
        Command::Quantize(args) => commands::models::quantize(args),
        Command::QuantizeFile(args) => commands::models::quantize_file(args),
        Command::Version => commands::version(),
        Command::Runner(args) => commands::engine::runner(args),
    }
}
