//! Account wiring shared by `serve` and the `user`/`key` commands: the limiter
//! chosen from `[limits]`, the startup warnings of `[auth]`, the first-run
//! setup token, and the account service over the data directory for the CLI.

use std::net::SocketAddr;
use std::sync::Arc;

use anyhow::Context;
use hearth_core::auth::{AuthService, AuthSettings, PasswordHasher};
use hearth_core::config::Config;
use hearth_core::limits::{InProcessLimiter, Limiter};
use hearth_core::store::Store;
use hearth_server::AppState;

/// Put the configured limiter into the state, warn about unsafe settings and
/// print the setup token when no user exists.
pub async fn wire(state: AppState, config: &Config, addr: SocketAddr) -> anyhow::Result<AppState> {
    let state = match &config.limits.redis_url {
        Some(url) => {
            let redis = hearth_store::RedisLimiter::connect(url)
                .await
                .with_context(|| {
                    format!(
                        "cannot reach Redis at {} (limits.redis_url)",
                        hearth_core::config::redact_url(url)
                    )
                })?;
            tracing::info!("rate limits shared through Redis");
            state.with_accounts(Arc::new(redis), PasswordHasher::default())
        }
        None => state,
    };
    if !config.auth.enabled {
        tracing::warn!(
            "AUTHENTICATION IS OFF (auth.enabled = false): every request acts as an admin. \
             Allowed only because server.bind is loopback; never expose this server."
        );
        return Ok(state);
    }
    if !addr.ip().is_loopback() && !config.server.is_tls() {
        tracing::warn!(
            %addr,
            "LISTENING BEYOND LOOPBACK WITHOUT TLS (server.allow_insecure_bind = true): \
             passwords, session cookies and API keys cross the network in clear unless a \
             TLS-terminating proxy is in front"
        );
    }
    if !config.auth.cookie_secure {
        tracing::warn!("session cookies are not marked Secure (auth.cookie_secure = false)");
    }
    if let Some(token) = state.auth.prepare_setup().await? {
        let scheme = if config.server.is_tls() {
            "https"
        } else {
            "http"
        };
        // The token goes to the terminal, not the structured log.
        eprintln!(
            "\nhearth: no users yet. Create the admin account within this run:\n  \
             POST {scheme}://{addr}/ui/auth/setup  {{\"token\": \"{token}\", \"username\": …, \"password\": …}}\n  \
             or: hearth user add NAME --admin\n"
        );
        tracing::warn!("no users exist: a one-time setup token was printed to the terminal");
    }
    Ok(state)
}

/// Open the configured database and an account service over it (CLI).
pub async fn open(config: &Config) -> anyhow::Result<(Arc<dyn Store>, AuthService)> {
    std::fs::create_dir_all(config.data_dir()).with_context(|| {
        format!(
            "cannot create data directory {}",
            config.data_dir().display()
        )
    })?;
    let store = hearth_store::open(
        &config.database_url(),
        &hearth_store::OpenOptions {
            max_connections: 2,
            sqlite_synchronous: config.database.sqlite_synchronous,
        },
    )
    .await
    .with_context(|| {
        format!(
            "cannot open the database {}",
            hearth_core::config::redact_url(&config.database_url())
        )
    })?;
    let limiter: Arc<dyn Limiter> = Arc::new(InProcessLimiter::new());
    let auth = AuthService::new(
        store.clone(),
        limiter,
        PasswordHasher::default(),
        AuthSettings::from_config(config),
    );
    Ok((store, auth))
}

/// Run an async CLI command on a small runtime; print the error and exit 1.
pub fn run<F>(
    config_args: &crate::cli::ConfigArgs,
    f: impl FnOnce(Config) -> F,
) -> std::process::ExitCode
where
    F: std::future::Future<Output = anyhow::Result<()>>,
{
    let config = match super::load_config(config_args) {
        Ok(config) => config,
        Err(err) => return super::config_failure(&err),
    };
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build();
    let result = match runtime {
        Ok(rt) => rt.block_on(f(config)),
        Err(err) => Err(err.into()),
    };
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("hearth: {err:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

/// Read a password: from stdin with `--password-stdin`, else from the
/// terminal without echo (twice). Never from the command line.
pub fn read_password(from_stdin: bool) -> anyhow::Result<String> {
    use std::io::{BufRead, IsTerminal, Write};
    let stdin = std::io::stdin();
    if from_stdin {
        let mut line = String::new();
        stdin.lock().read_line(&mut line)?;
        return Ok(line.trim_end_matches(['\r', '\n']).to_owned());
    }
    anyhow::ensure!(
        stdin.is_terminal(),
        "no terminal to prompt on: pipe the password with --password-stdin"
    );
    let prompt = |label: &str| -> anyhow::Result<String> {
        eprint!("{label}: ");
        std::io::stderr().flush()?;
        let echo_off = std::process::Command::new("stty")
            .arg("-echo")
            .status()
            .is_ok_and(|s| s.success());
        let mut line = String::new();
        let read = stdin.lock().read_line(&mut line);
        if echo_off {
            let _ = std::process::Command::new("stty").arg("echo").status();
        }
        eprintln!();
        read?;
        Ok(line.trim_end_matches(['\r', '\n']).to_owned())
    };
    let first = prompt("Password")?;
    let second = prompt("Repeat password")?;
    anyhow::ensure!(first == second, "the passwords differ");
    Ok(first)
}
