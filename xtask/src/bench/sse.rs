//! Server-Sent Events parsing and OpenAI chat-completion chunk reading.
//!
//! [`SseParser`] turns the bytes of a `text/event-stream` body, fed in whatever
//! pieces the socket delivers, into the `data` payloads of complete events.
//! [`Chunk::parse`] reads one payload of `POST /v1/chat/completions` with
//! `stream: true` as OpenAI and llama-server send it. Both are pure and run on
//! the thread that reads the response.

use serde_json::Value;

/// Incremental SSE parser: buffers a partial event until its blank line arrives.
#[derive(Debug, Default)]
pub struct SseParser {
    buf: Vec<u8>,
}

impl SseParser {
    /// Feeds bytes and returns the `data` payloads of every event completed by them,
    /// in order. Multi-line `data:` fields are joined with `\n` (per the SSE spec);
    /// comments (`:`), `event:`, `id:` and `retry:` lines are ignored, and so are
    /// events without data.
    pub fn feed(&mut self, bytes: &[u8]) -> Vec<String> {
        self.buf.extend_from_slice(bytes);
        let mut events = Vec::new();
        while let Some((end, sep)) = find_event_end(&self.buf) {
            let raw: Vec<u8> = self.buf.drain(..end + sep).collect();
            if let Some(data) = event_data(&raw[..end]) {
                events.push(data);
            }
        }
        events
    }

    /// Whether bytes of an unfinished event are buffered.
    pub fn has_partial(&self) -> bool {
        self.buf.iter().any(|b| !b.is_ascii_whitespace())
    }
}

/// Position of the first event terminator (a blank line) and its length.
fn find_event_end(buf: &[u8]) -> Option<(usize, usize)> {
    let mut i = 0;
    while i < buf.len() {
        for sep in [&b"\r\n\r\n"[..], b"\n\n", b"\r\r"] {
            if buf[i..].starts_with(sep) {
                return Some((i, sep.len()));
            }
        }
        i += 1;
    }
    None
}

/// The joined `data` lines of one event's text, or `None` without any.
fn event_data(raw: &[u8]) -> Option<String> {
    let text = String::from_utf8_lossy(raw);
    let mut data: Option<String> = None;
    for line in text.split(['\n', '\r']) {
        let (field, value) = match line.split_once(':') {
            Some((field, value)) => (field, value.strip_prefix(' ').unwrap_or(value)),
            None => (line, ""),
        };
        if field == "data" {
            match &mut data {
                Some(d) => {
                    d.push('\n');
                    d.push_str(value);
                }
                None => data = Some(value.to_owned()),
            }
        }
    }
    data
}

/// What one streamed chat-completion payload says.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct Chunk {
    /// The `[DONE]` sentinel that ends an OpenAI stream.
    pub is_done: bool,
    /// Text of the first choice's delta (`content`, plus `reasoning_content`
    /// for servers that split reasoning out); empty when the chunk has none.
    pub text: String,
    /// `usage.completion_tokens`, when present (final chunk with `include_usage`).
    pub completion_tokens: Option<u64>,
    /// `usage.prompt_tokens`, when present.
    pub prompt_tokens: Option<u64>,
    /// Prompt tokens served from a cache: `usage.prompt_tokens_details.cached_tokens`
    /// (OpenAI), else llama-server's `timings.cache_n`.
    pub cached_tokens: Option<u64>,
    /// `choices[0].finish_reason`, when set.
    pub finish_reason: Option<String>,
    /// An error reported inside the stream (`{"error": …}`).
    pub error: Option<String>,
}

impl Chunk {
    /// Reads one `data` payload. A payload that is not JSON is an error chunk.
    pub fn parse(data: &str) -> Self {
        let data = data.trim();
        if data == "[DONE]" {
            return Self {
                is_done: true,
                ..Self::default()
            };
        }
        let value: Value = match serde_json::from_str(data) {
            Ok(v) => v,
            Err(e) => {
                return Self {
                    error: Some(format!("payload is not JSON ({e}): {}", clip(data, 200))),
                    ..Self::default()
                };
            }
        };
        let mut chunk = Self::default();
        if let Some(err) = value.get("error") {
            let message = err
                .get("message")
                .and_then(Value::as_str)
                .map_or_else(|| err.to_string(), str::to_owned);
            chunk.error = Some(message);
        }
        let choice = value.pointer("/choices/0");
        if let Some(delta) = choice.and_then(|c| c.get("delta")) {
            for key in ["reasoning_content", "content"] {
                if let Some(text) = delta.get(key).and_then(Value::as_str) {
                    chunk.text.push_str(text);
                }
            }
        }
        chunk.finish_reason = choice
            .and_then(|c| c.get("finish_reason"))
            .and_then(Value::as_str)
            .map(str::to_owned);
        if let Some(usage) = value.get("usage").filter(|u| u.is_object()) {
            chunk.completion_tokens = usage.get("completion_tokens").and_then(Value::as_u64);
            chunk.prompt_tokens = usage.get("prompt_tokens").and_then(Value::as_u64);
            chunk.cached_tokens = usage
                .pointer("/prompt_tokens_details/cached_tokens")
                .and_then(Value::as_u64);
        }
        if chunk.cached_tokens.is_none() {
            chunk.cached_tokens = value.pointer("/timings/cache_n").and_then(Value::as_u64);
        }
        chunk
    }
}

/// At most `n` characters of `s`.
pub fn clip(s: &str, n: usize) -> String {
    match s.char_indices().nth(n) {
        Some((i, _)) => format!("{}…", &s[..i]),
        None => s.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_split_across_reads_are_reassembled() {
        let mut p = SseParser::default();
        assert!(p.feed(b"data: {\"a\"").is_empty());
        assert!(p.has_partial());
        assert_eq!(p.feed(b":1}\n\ndata: [DO"), vec!["{\"a\":1}"]);
        assert_eq!(p.feed(b"NE]\n\n"), vec!["[DONE]"]);
        assert!(!p.has_partial());
    }

    #[test]
    fn crlf_comments_multiline_and_fields() {
        let mut p = SseParser::default();
        let stream =
            b": keep-alive\r\n\r\nevent: message\r\nid: 7\r\ndata: a\r\ndata:b\r\n\r\nretry: 5\n\n";
        assert_eq!(p.feed(stream), vec!["a\nb"]);
        // Two events in one read.
        assert_eq!(p.feed(b"data: x\n\ndata: y\n\n"), vec!["x", "y"]);
    }

    #[test]
    fn openai_chunks_are_read() {
        let c = Chunk::parse(
            r#"{"choices":[{"index":0,"delta":{"content":"Hi"},"finish_reason":null}]}"#,
        );
        assert_eq!(c.text, "Hi");
        assert_eq!(c.finish_reason, None);
        assert!(!c.is_done);

        let c = Chunk::parse(r#"{"choices":[{"delta":{"role":"assistant","content":null}}]}"#);
        assert_eq!(c.text, "");

        let c = Chunk::parse(
            r#"{"choices":[],"usage":{"completion_tokens":64,"prompt_tokens":250,
                "prompt_tokens_details":{"cached_tokens":3}},"timings":{"cache_n":9}}"#,
        );
        assert_eq!(
            (c.completion_tokens, c.prompt_tokens, c.cached_tokens),
            (Some(64), Some(250), Some(3))
        );
        assert!(Chunk::parse(" [DONE] ").is_done);
    }

    #[test]
    fn llama_server_timings_and_errors() {
        let c = Chunk::parse(
            r#"{"choices":[{"delta":{},"finish_reason":"length"}],"timings":{"cache_n":236,"prompt_n":1}}"#,
        );
        assert_eq!(c.cached_tokens, Some(236));
        assert_eq!(c.finish_reason.as_deref(), Some("length"));

        let c = Chunk::parse(r#"{"error":{"code":500,"message":"boom","type":"server_error"}}"#);
        assert_eq!(c.error.as_deref(), Some("boom"));
        assert!(Chunk::parse("not json").error.is_some());

        let c =
            Chunk::parse(r#"{"choices":[{"delta":{"reasoning_content":"think","content":"!"}}]}"#);
        assert_eq!(c.text, "think!");
    }

    #[test]
    fn clip_counts_characters() {
        assert_eq!(clip("héllo", 2), "hé…");
        assert_eq!(clip("hé", 2), "hé");
    }
}
