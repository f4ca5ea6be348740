//! Logging set-up: human or JSON lines on stderr, filtered by `log.level`
//! (overridable with RUST_LOG for debugging).

use hearth_core::config::{LogConfig, LogFormat};
use tracing_subscriber::EnvFilter;

/// Install the global subscriber. Errors name the bad `log.level`.
pub fn init(log: &LogConfig) -> Result<(), String> {
    let filter = match std::env::var("RUST_LOG") {
        Ok(directives) if !directives.is_empty() => EnvFilter::try_new(directives),
        _ => EnvFilter::try_new(&log.level),
    }
    .map_err(|e| format!("invalid configuration: `log.level`: {e}"))?;
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    match log.format {
        LogFormat::Human => builder.with_target(false).init(),
        LogFormat::Json => builder
            .json()
            .with_current_span(true)
            .with_span_list(false)
            .init(),
    }
    Ok(())
}
