//! `hearth convert`: a sentence-transformers checkpoint to a GGUF embedding
//! model, through `hearth_convert` (blocking, on the main thread).

use std::process::ExitCode;

use hearth_convert::{ConvertError, ConvertOptions, ConvertReport};

use crate::cli::ConvertArgs;

/// Exit code when the checkpoint cannot be converted (bad or unsupported
/// input); I/O failures exit with 1.
pub const EXIT_UNCONVERTIBLE: u8 = 3;

/// Convert and print a summary.
pub fn run(args: ConvertArgs) -> ExitCode {
    let options = ConvertOptions {
        ty: args.ty,
        overwrite: args.force,
        name: args.name,
    };
    match hearth_convert::convert(&args.src, &args.out, &options) {
        Ok(report) => {
            print_report(&report);
            ExitCode::SUCCESS
        }
        Err(err) => {
            eprintln!("hearth convert: {err}");
            match err {
                ConvertError::Io { .. } => ExitCode::FAILURE,
                _ => ExitCode::from(EXIT_UNCONVERTIBLE),
            }
        }
    }
}

fn print_report(r: &ConvertReport) {
    let pooling = r
        .pooling
        .map_or("not declared (Hearth pools by mean)", |p| p.name());
    println!("wrote {} ({})", r.output.display(), r.ty);
    println!(
        "  model       {} (bert, {} layers, {} dimensions)",
        r.name, r.layers, r.embedding_length
    );
    println!("  tensors     {}", r.tensors);
    println!("  parameters  {:.1} M", r.parameters as f64 / 1e6);
    println!("  size        {:.1} MB", r.bytes as f64 / 1e6);
    println!("  vocabulary  {} tokens", r.vocab_size);
    println!("  pooling     {pooling}");
    println!(
        "  normalize   {}",
        if r.normalize {
            "yes (the model's outputs are L2-normalized)"
        } else {
            "no"
        }
    );
    if !r.skipped.is_empty() {
        println!(
            "  skipped     {} (not used for embeddings)",
            r.skipped.join(", ")
        );
    }
}
