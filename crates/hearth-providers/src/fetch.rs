//! [`HttpFetcher`]: model downloads over HTTP(S) for the registry's pulls.
//!
//! - `probe` sends HEAD and follows redirects by hand, so the headers of every
//!   hop are seen: the Hugging Face hub announces an LFS file's SHA-256
//!   (`x-linked-etag`), size (`x-linked-size`) and commit (`x-repo-commit`) on
//!   the redirect, not on the CDN's final answer. A server that refuses HEAD
//!   yields an empty probe (the size is then learnt from the GET).
//! - `fetch` asks `Range: bytes=FROM-` and reports where the body really starts
//!   (206 with `Content-Range`, or 0 when the server sent the whole file).

use async_trait::async_trait;
use futures::StreamExt;
use hearth_core::registry::pull::{Download, FetchError, Fetcher, Probe};
use reqwest::header::{self, HeaderMap};
use reqwest::{Client, StatusCode};

/// Redirects `probe` follows.
const MAX_REDIRECTS: usize = 10;

/// The pull fetcher.
#[derive(Debug, Clone)]
pub struct HttpFetcher {
    client: Client,
    no_redirect: Client,
}

/// The error and its causes on one line (reqwest's own message is terse).
fn network(err: reqwest::Error) -> FetchError {
    let mut message = err.to_string();
    let mut source = std::error::Error::source(&err);
    while let Some(cause) = source {
        message.push_str(": ");
        message.push_str(&cause.to_string());
        source = cause.source();
    }
    FetchError::Network(message)
}

fn text<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
}

fn number(headers: &HeaderMap, name: &str) -> Option<u64> {
    text(headers, name).and_then(|v| v.parse().ok())
}

/// `bytes START-END/TOTAL` → (START, TOTAL); `bytes */TOTAL` → (None, TOTAL).
fn content_range(headers: &HeaderMap) -> (Option<u64>, Option<u64>) {
    let Some(range) = text(headers, "content-range").and_then(|v| v.strip_prefix("bytes ")) else {
        return (None, None);
    };
    let (span, total) = range.split_once('/').unwrap_or((range, "*"));
    let start = span.split_once('-').and_then(|(s, _)| s.parse().ok());
    (start, total.parse().ok())
}

impl HttpFetcher {
    /// A fetcher with the factory's defaults.
    pub fn new() -> Result<HttpFetcher, String> {
        let build = |builder: reqwest::ClientBuilder| {
            builder
                .build()
                .map_err(|e| format!("cannot build the HTTP client: {e}"))
        };
        Ok(HttpFetcher {
            client: build(crate::client())?,
            no_redirect: build(crate::client().redirect(reqwest::redirect::Policy::none()))?,
        })
    }

    fn status(status: StatusCode, url: &str) -> FetchError {
        FetchError::Status {
            status: status.as_u16(),
            url: url.to_owned(),
        }
    }
}

#[async_trait]
impl Fetcher for HttpFetcher {
    async fn probe(&self, url: &str) -> Result<Probe, FetchError> {
        let mut probe = Probe::default();
        let mut current =
            reqwest::Url::parse(url).map_err(|e| FetchError::Network(e.to_string()))?;
        for _ in 0..=MAX_REDIRECTS {
            let response = self
                .no_redirect
                .head(current.clone())
                .send()
                .await
                .map_err(network)?;
            let headers = response.headers();
            if probe.sha256.is_none() {
                probe.sha256 = text(headers, "x-linked-etag")
                    .map(|v| v.trim_matches('"').to_owned())
                    .filter(|v| v.len() == 64 && v.chars().all(|c| c.is_ascii_hexdigit()));
            }
            probe.revision = probe
                .revision
                .or_else(|| text(headers, "x-repo-commit").map(str::to_owned));
            probe.length = probe.length.or_else(|| number(headers, "x-linked-size"));
            let status = response.status();
            if status.is_redirection() {
                let location = text(headers, header::LOCATION.as_str())
                    .ok_or_else(|| Self::status(status, current.as_str()))?;
                current = current
                    .join(location)
                    .map_err(|e| FetchError::Network(format!("bad redirect: {e}")))?;
                continue;
            }
            if matches!(
                status,
                StatusCode::METHOD_NOT_ALLOWED | StatusCode::NOT_IMPLEMENTED
            ) {
                return Ok(probe);
            }
            if !status.is_success() {
                return Err(Self::status(status, current.as_str()));
            }
            probe.length = probe
                .length
                .or_else(|| number(headers, header::CONTENT_LENGTH.as_str()));
            return Ok(probe);
        }
        Err(FetchError::Network(format!("{url}: too many redirects")))
    }

    async fn fetch(&self, url: &str, from: u64) -> Result<Download, FetchError> {
        let mut request = self.client.get(url);
        if from > 0 {
            request = request.header(header::RANGE, format!("bytes={from}-"));
        }
        let response = request.send().await.map_err(network)?;
        let status = response.status();
        let headers = response.headers();
        let (start, total) = match status {
            StatusCode::PARTIAL_CONTENT => {
                let (start, total) = content_range(headers);
                let start = start.ok_or_else(|| {
                    FetchError::Network("206 answer without a Content-Range".to_owned())
                })?;
                (start, total)
            }
            StatusCode::RANGE_NOT_SATISFIABLE if from > 0 => match content_range(headers) {
                // The file is already complete.
                (_, Some(total)) if total == from => {
                    return Ok(Download {
                        start: from,
                        total: Some(total),
                        body: futures::stream::empty().boxed(),
                    });
                }
                _ => return Err(Self::status(status, url)),
            },
            s if s.is_success() => (0, number(headers, header::CONTENT_LENGTH.as_str())),
            s => return Err(Self::status(s, url)),
        };
        let body = response
            .bytes_stream()
            .map(|chunk| chunk.map(|b| b.to_vec()).map_err(network))
            .boxed();
        Ok(Download { start, total, body })
    }

    async fn fetch_json(&self, url: &str) -> Result<serde_json::Value, FetchError> {
        let response = self.client.get(url).send().await.map_err(network)?;
        if !response.status().is_success() {
            return Err(Self::status(response.status(), url));
        }
        response.json().await.map_err(network)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn content_ranges_parse() {
        let mut headers = HeaderMap::new();
        headers.insert("content-range", "bytes 100-199/200".parse().unwrap());
        assert_eq!(content_range(&headers), (Some(100), Some(200)));
        headers.insert("content-range", "bytes */200".parse().unwrap());
        assert_eq!(content_range(&headers), (None, Some(200)));
        headers.insert("content-range", "bytes 0-9/*".parse().unwrap());
        assert_eq!(content_range(&headers), (Some(0), None));
        headers.remove("content-range");
        assert_eq!(content_range(&headers), (None, None));
    }
}
