//! Project chores, run as `cargo xtask <command>` (alias in `.cargo/config.toml`).

mod bench;
mod fetch_models;

use std::process::ExitCode;

const USAGE: &str = "\
usage: cargo xtask <command>

commands:
  fetch-test-models [--rehash]   download, verify and cache the test models
  test-models-dir                print the test-models directory
  bench [options]                Hearth vs llama-server / llama-bench (--help for options)";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let Some((command, rest)) = args.split_first() else {
        eprintln!("{USAGE}");
        return ExitCode::from(2);
    };
    let result = match command.as_str() {
        "fetch-test-models" => fetch_models::fetch(rest),
        "test-models-dir" => fetch_models::print_dir(),
        "bench" => bench::run(rest),
        "help" | "-h" | "--help" => {
            println!("{USAGE}");
            Ok(())
        }
        other => {
            eprintln!("unknown command {other:?}\n\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}
