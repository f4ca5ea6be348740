//! A Hearth router over the deterministic fake backend, on a real socket: lets
//! the black-box compatibility suite (`tests/compat/`) check the wire protocol
//! with the official client libraries without a model.
//!
//! `cargo run -p hearth-server --example fake_server -- [ADDR]` (default
//! `127.0.0.1:0`); prints `listening on http://HOST:PORT` once ready. Models:
//! `fake-chat` (answers with a Hermes-style call of the first tool whenever tools
//! are offered) and `fake-embed`.

use std::sync::Arc;

use hearth_core::config::Config;
use hearth_server::{AppState, Parts, router};
use hearth_testkit::fake::FakeBackend;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let addr = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "127.0.0.1:0".to_owned());
    let dir = tempfile::tempdir()?;
    let url = format!("sqlite://{}", dir.path().join("fake.db").display());
    let store = hearth_store::open(&url, &Default::default()).await?;
    let fake = Arc::new(FakeBackend::new().call_tools());
    let state = AppState::new(Parts {
        // Protocol checks only: no accounts on the fake server.
        config: Arc::new({
            let mut config = Config::default();
            config.auth.enabled = false;
            config
        }),
        store,
        chat: fake.clone(),
        embed: fake.clone(),
        models: fake,
        metrics: None,
    });
    let listener = tokio::net::TcpListener::bind(&addr).await?;
    println!("listening on http://{}", listener.local_addr()?);
    axum::serve(listener, router(state)).await?;
    Ok(())
}
