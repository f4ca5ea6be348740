//! Outbound HTTP. Every request Hearth makes to another server goes through the
//! client factory here ([`client`]: timeouts, user agent, bounded redirects);
//! [`fetch::HttpFetcher`] implements the registry's
//! [`Fetcher`](hearth_core::registry::pull::Fetcher) port for model pulls
//! (HEAD with the hub's headers, ranged GET, small JSON listings).
//!
//! Upstream model providers (OpenAI-compatible, Ollama, Anthropic) belong here
//! too when they come.

pub mod fetch;

use std::time::Duration;

/// How long a connection may take to open.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(30);
/// How long a read may wait for bytes before the transfer counts as broken.
pub const READ_TIMEOUT: Duration = Duration::from_secs(60);

/// A client builder with Hearth's defaults: timeouts, user agent, at most 10
/// redirects. Callers add what their use needs.
pub fn client() -> reqwest::ClientBuilder {
    reqwest::Client::builder()
        .connect_timeout(CONNECT_TIMEOUT)
        .read_timeout(READ_TIMEOUT)
        .user_agent(concat!("hearth/", env!("CARGO_PKG_VERSION")))
        .redirect(reqwest::redirect::Policy::limited(10))
}
