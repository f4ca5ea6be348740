//! The HTTP workloads, run against any OpenAI-compatible server.
//!
//! Every request is `POST /v1/chat/completions` with `stream: true`,
//! `temperature: 0`, a fixed `max_tokens` and `stream_options.include_usage`,
//! plus per-server extra fields (e.g. llama-server's `ignore_eos`, so that every
//! request generates exactly `max_tokens`). Time to first token (TTFT) is taken
//! from the request's first byte sent to the first streamed chunk that carries
//! text; generation speed from the first to the last text chunk.
//!
//! Every prompt starts with a nonce so that no request can reuse a cache filled
//! by an earlier one, except where reuse is the point (multi-turn).
//! Simultaneous requests run one per thread (scoped threads, joined before the
//! workload returns).

use std::collections::BTreeMap;
use std::io::Read;
use std::net::SocketAddr;
use std::sync::Barrier;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use serde_json::{Map, Value, json};

use super::http;
use super::sse::{Chunk, SseParser, clip};
use super::stats::{median, percentile};

/// Metric name → value, for one server in one round.
pub type Metrics = BTreeMap<String, f64>;

/// Where and how to send requests.
#[derive(Debug, Clone)]
pub struct Target {
    pub addr: SocketAddr,
    /// Sent as `Authorization: Bearer …` when set.
    pub api_key: Option<String>,
    /// The request's `model` field.
    pub model: String,
    /// Extra top-level fields merged into every request body.
    pub extra: Map<String, Value>,
    /// Bound on connecting and on each read (not on a whole stream).
    pub timeout: Duration,
}

/// Sizes of the workloads (the same for both servers).
#[derive(Debug, Clone)]
pub struct Shape {
    /// Words in the single-stream and concurrency user prompts (~1.3 tokens each).
    pub prompt_words: usize,
    /// Tokens generated per single-stream request.
    pub single_tokens: u32,
    /// Single-stream repetitions per round (their median is the round's value).
    pub single_reps: usize,
    /// Simultaneous request counts.
    pub concurrency: Vec<usize>,
    /// Tokens generated per request in the concurrency workload.
    pub concurrent_tokens: u32,
    /// Conversations, turns and tokens per turn in the multi-turn workload.
    pub conversations: usize,
    pub turns: usize,
    pub turn_tokens: u32,
    /// In-flight requests in the multi-turn workload (the parallel sequences).
    pub parallel: usize,
}

/// One chat message.
#[derive(Debug, Clone)]
pub struct Message {
    pub role: &'static str,
    pub content: String,
}

/// What one streamed request measured.
#[derive(Debug, Clone)]
pub struct Outcome {
    pub sent: Instant,
    pub done: Instant,
    /// Time to the first chunk with text.
    pub ttft: Option<Duration>,
    /// Time from the first to the last chunk with text.
    pub decode: Option<Duration>,
    /// Generated tokens: `usage.completion_tokens`, else the number of text chunks.
    pub completion_tokens: u64,
    pub prompt_tokens: Option<u64>,
    pub cached_tokens: Option<u64>,
    pub text: String,
}

impl Outcome {
    /// Generation speed after the first token, tokens per second.
    pub fn decode_tps(&self) -> Option<f64> {
        let decode = self.decode?.as_secs_f64();
        (self.completion_tokens >= 2 && decode > 0.0)
            .then(|| (self.completion_tokens - 1) as f64 / decode)
    }

    /// Prompt tokens actually computed (not cached) per second of TTFT.
    pub fn prompt_tps(&self) -> Option<f64> {
        let computed = self
            .prompt_tokens?
            .saturating_sub(self.cached_tokens.unwrap_or(0));
        let ttft = self.ttft?.as_secs_f64();
        (ttft > 0.0).then(|| computed as f64 / ttft)
    }
}

/// Streams one chat completion and measures it.
pub fn chat(target: &Target, messages: &[Message], max_tokens: u32) -> Result<Outcome> {
    let body = request_body(target, messages, max_tokens);
    let mut headers = vec![
        ("Content-Type", "application/json".to_owned()),
        ("Accept", "text/event-stream".to_owned()),
    ];
    if let Some(key) = &target.api_key {
        headers.push(("Authorization", format!("Bearer {key}")));
    }
    let req = http::Request {
        method: "POST",
        path: "/v1/chat/completions",
        headers,
        body: body.as_bytes(),
    };
    let sent = Instant::now();
    let mut resp = http::send(target.addr, &req, target.timeout)?;
    if resp.status != 200 {
        let status = resp.status;
        let text = resp.text().unwrap_or_default();
        bail!(
            "HTTP {status} from /v1/chat/completions: {}",
            clip(&text, 300)
        );
    }
    let content_type = resp.header("content-type").unwrap_or_default().to_owned();
    if !content_type.starts_with("text/event-stream") {
        let text = resp.text().unwrap_or_default();
        bail!(
            "expected an event stream, got {content_type:?}: {}",
            clip(&text, 300)
        );
    }
    let mut parser = SseParser::default();
    let mut buf = vec![0u8; 16 * 1024];
    let (mut first, mut last) = (None, None);
    let mut out = Outcome {
        sent,
        done: sent,
        ttft: None,
        decode: None,
        completion_tokens: 0,
        prompt_tokens: None,
        cached_tokens: None,
        text: String::new(),
    };
    let mut chunks_with_text = 0;
    'read: loop {
        let n = resp
            .body
            .read(&mut buf)
            .context("reading the event stream")?;
        if n == 0 {
            break;
        }
        let now = Instant::now();
        for data in parser.feed(&buf[..n]) {
            let chunk = Chunk::parse(&data);
            if let Some(err) = chunk.error {
                bail!("error inside the stream: {err}");
            }
            if chunk.is_done {
                break 'read;
            }
            if !chunk.text.is_empty() {
                first.get_or_insert(now);
                last = Some(now);
                chunks_with_text += 1;
                out.text.push_str(&chunk.text);
            }
            out.completion_tokens = chunk.completion_tokens.unwrap_or(out.completion_tokens);
            out.prompt_tokens = chunk.prompt_tokens.or(out.prompt_tokens);
            out.cached_tokens = chunk.cached_tokens.or(out.cached_tokens);
        }
    }
    out.done = Instant::now();
    if parser.has_partial() {
        bail!("the stream ended inside an event");
    }
    if out.completion_tokens == 0 {
        out.completion_tokens = chunks_with_text;
    }
    out.ttft = first.map(|f| f - sent);
    out.decode = first.zip(last).map(|(f, l)| l - f);
    if out.ttft.is_none() {
        bail!("the stream ended without any text");
    }
    Ok(out)
}

/// The JSON body of a streamed, greedy chat completion.
fn request_body(target: &Target, messages: &[Message], max_tokens: u32) -> String {
    let messages: Vec<Value> = messages
        .iter()
        .map(|m| json!({"role": m.role, "content": m.content}))
        .collect();
    let mut body = json!({
        "model": target.model,
        "messages": messages,
        "stream": true,
        "stream_options": {"include_usage": true},
        "max_tokens": max_tokens,
        "temperature": 0,
        "seed": 42,
    });
    if let Value::Object(map) = &mut body {
        for (k, v) in &target.extra {
            map.insert(k.clone(), v.clone());
        }
    }
    body.to_string()
}

/// Runs `count` requests at once (released together by a barrier).
fn simultaneous(
    target: &Target,
    count: usize,
    max_tokens: u32,
    prompt: impl Fn(usize) -> Vec<Message> + Sync,
) -> Result<Vec<Outcome>> {
    let barrier = Barrier::new(count);
    std::thread::scope(|s| {
        let handles: Vec<_> = (0..count)
            .map(|i| {
                let (barrier, prompt) = (&barrier, &prompt);
                s.spawn(move || {
                    let messages = prompt(i);
                    barrier.wait();
                    chat(target, &messages, max_tokens)
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| {
                h.join()
                    .unwrap_or_else(|_| bail!("request thread panicked"))
            })
            .collect()
    })
}

/// Counts requests that generated fewer tokens than asked (the server stopped
/// at an end-of-generation token despite the extra fields).
fn short_count(outcomes: &[Outcome], max_tokens: u32) -> usize {
    outcomes
        .iter()
        .filter(|o| o.completion_tokens < u64::from(max_tokens))
        .count()
}

fn secs(d: Option<Duration>) -> Option<f64> {
    d.map(|d| d.as_secs_f64())
}

fn put(m: &mut Metrics, key: impl Into<String>, value: Option<f64>) {
    if let Some(v) = value {
        m.insert(key.into(), v);
    }
}

/// Single stream: one ~250-token chat prompt at a time, `single_reps` times.
/// Records TTFT, prompt tokens/s and generation tokens/s (medians of the reps).
pub fn single_stream(target: &Target, shape: &Shape, nonce: &str, m: &mut Metrics) -> Result<()> {
    let mut outs = Vec::new();
    for rep in 0..shape.single_reps {
        let messages = prompt_messages(&format!("{nonce}-s{rep}"), shape.prompt_words, rep);
        outs.push(chat(target, &messages, shape.single_tokens).context("single-stream request")?);
    }
    let col =
        |f: &dyn Fn(&Outcome) -> Option<f64>| -> Vec<f64> { outs.iter().filter_map(f).collect() };
    put(m, "single.ttft_s", median(&col(&|o| secs(o.ttft))));
    put(m, "single.pp_tps", median(&col(&|o| o.prompt_tps())));
    put(m, "single.tg_tps", median(&col(&|o| o.decode_tps())));
    put(
        m,
        "single.prompt_tokens",
        median(&col(&|o| o.prompt_tokens.map(|t| t as f64))),
    );
    put(
        m,
        "single.cached_tokens",
        median(&col(&|o| o.cached_tokens.map(|t| t as f64))),
    );
    put(
        m,
        "single.completion_tokens",
        median(&col(&|o| Some(o.completion_tokens as f64))),
    );
    m.insert(
        "single.short".into(),
        short_count(&outs, shape.single_tokens) as f64,
    );
    Ok(())
}

/// N simultaneous requests for each N in `shape.concurrency`: aggregate
/// generation tokens/s (all generated tokens over the wall time from the first
/// request sent to the last stream closed) and TTFT p50/p95.
pub fn concurrency(target: &Target, shape: &Shape, nonce: &str, m: &mut Metrics) -> Result<()> {
    for &n in &shape.concurrency {
        let outs = simultaneous(target, n, shape.concurrent_tokens, |i| {
            prompt_messages(&format!("{nonce}-c{n}-{i}"), shape.prompt_words, i)
        })
        .with_context(|| format!("{n} simultaneous requests"))?;
        let start = outs.iter().map(|o| o.sent).min().context("no requests")?;
        let end = outs.iter().map(|o| o.done).max().context("no requests")?;
        let tokens: u64 = outs.iter().map(|o| o.completion_tokens).sum();
        let wall = (end - start).as_secs_f64();
        let ttfts: Vec<f64> = outs.iter().filter_map(|o| secs(o.ttft)).collect();
        put(
            m,
            format!("conc{n}.agg_tps"),
            (wall > 0.0).then(|| tokens as f64 / wall),
        );
        put(m, format!("conc{n}.ttft_p50_s"), percentile(&ttfts, 50.0));
        put(m, format!("conc{n}.ttft_p95_s"), percentile(&ttfts, 95.0));
        m.insert(
            format!("conc{n}.short"),
            short_count(&outs, shape.concurrent_tokens) as f64,
        );
    }
    Ok(())
}

/// Multi-turn: `conversations` conversations of `turns` turns, interleaved:
/// turn t of every conversation, in waves of `parallel` simultaneous requests,
/// before turn t+1. Each turn resends the whole history (with the server's
/// previous answers). Records TTFT p50/p95 of turns 2.., turn 1's TTFT p50,
/// and per turn the mean prompt and cached tokens.
pub fn multi_turn(target: &Target, shape: &Shape, nonce: &str, m: &mut Metrics) -> Result<()> {
    let mut convs: Vec<Vec<Message>> = (0..shape.conversations)
        .map(|c| {
            vec![Message {
                role: "system",
                content: system_prompt(&format!("{nonce}-m{c}"), c),
            }]
        })
        .collect();
    let mut later_ttfts = Vec::new();
    for turn in 0..shape.turns {
        let mut turn_outs = Vec::new();
        for wave in convs.chunks_mut(shape.parallel.max(1)) {
            let outs = run_wave(target, wave, turn, shape.turn_tokens)
                .with_context(|| format!("multi-turn, turn {}", turn + 1))?;
            turn_outs.extend(outs);
        }
        let ttfts: Vec<f64> = turn_outs.iter().filter_map(|o| secs(o.ttft)).collect();
        let mean = |f: &dyn Fn(&Outcome) -> Option<u64>| {
            let v: Vec<f64> = turn_outs.iter().filter_map(f).map(|t| t as f64).collect();
            (!v.is_empty()).then(|| v.iter().sum::<f64>() / v.len() as f64)
        };
        let t = turn + 1;
        put(
            m,
            format!("multiturn.turn{t}.ttft_p50_s"),
            percentile(&ttfts, 50.0),
        );
        put(
            m,
            format!("multiturn.turn{t}.prompt_tokens"),
            mean(&|o| o.prompt_tokens),
        );
        put(
            m,
            format!("multiturn.turn{t}.cached_tokens"),
            mean(&|o| o.cached_tokens),
        );
        if turn > 0 {
            later_ttfts.extend(ttfts);
        }
    }
    put(m, "multiturn.ttft_p50_s", percentile(&later_ttfts, 50.0));
    put(m, "multiturn.ttft_p95_s", percentile(&later_ttfts, 95.0));
    Ok(())
}

/// Sends turn `turn` of each conversation in `wave` at once and appends the
/// user message and the answer to each history.
fn run_wave(
    target: &Target,
    wave: &mut [Vec<Message>],
    turn: usize,
    max_tokens: u32,
) -> Result<Vec<Outcome>> {
    for (i, conv) in wave.iter_mut().enumerate() {
        conv.push(Message {
            role: "user",
            content: user_turn(turn, i),
        });
    }
    let barrier = Barrier::new(wave.len());
    let outs: Vec<Outcome> = std::thread::scope(|s| {
        let handles: Vec<_> = wave
            .iter()
            .map(|conv| {
                let barrier = &barrier;
                s.spawn(move || {
                    barrier.wait();
                    chat(target, conv, max_tokens)
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| {
                h.join()
                    .unwrap_or_else(|_| bail!("request thread panicked"))
            })
            .collect::<Result<_>>()
    })?;
    for (conv, out) in wave.iter_mut().zip(&outs) {
        conv.push(Message {
            role: "assistant",
            content: out.text.clone(),
        });
    }
    Ok(outs)
}

/// Sentences the prompts are cut from: plain English, varied, no markup.
const CORPUS: &[&str] = &[
    "The old stone house at the edge of the village kept its fire burning through every winter.",
    "Each morning the baker opened the shutters and set fresh loaves on the long wooden counter.",
    "Rain moved across the valley in grey curtains while the river rose slowly behind the mill.",
    "A small library in the square lent books, seeds and tools to anyone who signed the ledger.",
    "Children learned to mend nets, read maps and count the stars from the top of the hill.",
    "In spring the orchard turned white with blossom and the bees worked from dawn to dusk.",
    "The carpenter measured twice, cut once and sanded every edge until it felt like silk.",
    "Travellers were welcome at the inn as long as they shared a story by the evening fire.",
    "Snow closed the mountain pass for weeks, so the village stored grain, oil and firewood.",
    "The schoolteacher kept a journal of the weather, the harvest and the names of the birds.",
    "On market day the square filled with cheese, wool, honey, pottery and loud bargaining.",
    "At night the lighthouse keeper climbed the spiral stairs to trim the wick and wind the clock.",
];

/// About `words` words of corpus text, starting at sentence `offset`.
pub fn filler(words: usize, offset: usize) -> String {
    let mut out = String::new();
    let mut count = 0;
    let mut i = offset;
    while count < words {
        for word in CORPUS[i % CORPUS.len()].split(' ') {
            if count == words {
                break;
            }
            if !out.is_empty() {
                out.push(' ');
            }
            out.push_str(word);
            count += 1;
        }
        i += 1;
    }
    out
}

/// A single-turn request: a short system message carrying the nonce, then a
/// user message of `words` words asking for a summary.
pub fn prompt_messages(nonce: &str, words: usize, offset: usize) -> Vec<Message> {
    vec![
        Message {
            role: "system",
            content: format!("Request {nonce}. You are a concise assistant."),
        },
        Message {
            role: "user",
            content: format!(
                "Summarise the following notes in a few sentences.\n\n{}",
                filler(words, offset)
            ),
        },
    ]
}

/// The system prompt of conversation `c` (~120 words after the nonce).
fn system_prompt(nonce: &str, c: usize) -> String {
    format!(
        "Conversation {nonce}. You are a helpful assistant for a village archive. \
         Background notes: {}",
        filler(100, c)
    )
}

/// The user message of turn `turn` (~30 words).
fn user_turn(turn: usize, i: usize) -> String {
    format!(
        "Question {}: tell me more about this detail, in plain words: {}",
        turn + 1,
        filler(24, turn * 3 + i)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filler_has_the_requested_word_count() {
        assert_eq!(filler(5, 0).split(' ').count(), 5);
        assert_eq!(filler(200, 3).split(' ').count(), 200);
        assert!(filler(3, 1).starts_with("Each morning the"));
    }

    #[test]
    fn body_is_greedy_streamed_and_carries_extras() {
        let mut extra = Map::new();
        extra.insert("ignore_eos".into(), Value::Bool(true));
        let target = Target {
            addr: "127.0.0.1:1".parse().unwrap(),
            api_key: None,
            model: "m".into(),
            extra,
            timeout: Duration::from_secs(1),
        };
        let msgs = prompt_messages("n1", 10, 0);
        let body: Value = serde_json::from_str(&request_body(&target, &msgs, 16)).unwrap();
        assert_eq!(body["stream"], true);
        assert_eq!(body["temperature"], 0);
        assert_eq!(body["max_tokens"], 16);
        assert_eq!(body["ignore_eos"], true);
        assert_eq!(body["stream_options"]["include_usage"], true);
        assert!(
            body["messages"][0]["content"]
                .as_str()
                .unwrap()
                .contains("n1")
        );
    }

    /// Serves one streamed completion on a loopback port: three text chunks
    /// 20 ms apart, in chunked encoding, then usage and `[DONE]`.
    fn fake_server() -> SocketAddr {
        use std::io::{BufRead, BufReader, Write};
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        std::thread::spawn(move || {
            let (stream, _) = listener.accept().unwrap();
            let mut reader = BufReader::new(stream.try_clone().unwrap());
            let mut len = 0;
            loop {
                let mut line = String::new();
                reader.read_line(&mut line).unwrap();
                if let Some(v) = line.to_ascii_lowercase().strip_prefix("content-length:") {
                    len = v.trim().parse().unwrap();
                }
                if line == "\r\n" {
                    break;
                }
            }
            let mut body = vec![0; len];
            reader.read_exact(&mut body).unwrap();
            let body: Value = serde_json::from_slice(&body).unwrap();
            assert_eq!(body["stream"], true);
            let mut w = stream;
            w.write_all(b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nTransfer-Encoding: chunked\r\n\r\n")
                .unwrap();
            let mut event = |data: &str| {
                let e = format!("data: {data}\n\n");
                w.write_all(format!("{:x}\r\n{e}\r\n", e.len()).as_bytes())
                    .unwrap();
                w.flush().unwrap();
            };
            event(r#"{"choices":[{"delta":{"role":"assistant"}}]}"#);
            for word in ["a", "b", "c"] {
                std::thread::sleep(Duration::from_millis(20));
                event(&format!(
                    r#"{{"choices":[{{"delta":{{"content":"{word}"}}}}]}}"#
                ));
            }
            event(
                r#"{"choices":[],"usage":{"completion_tokens":3,"prompt_tokens":40,"prompt_tokens_details":{"cached_tokens":8}}}"#,
            );
            event("[DONE]");
            w.write_all(b"0\r\n\r\n").unwrap();
        });
        addr
    }

    #[test]
    fn chat_measures_a_streamed_completion() {
        let target = Target {
            addr: fake_server(),
            api_key: Some("k".into()),
            model: "m".into(),
            extra: Map::new(),
            timeout: Duration::from_secs(5),
        };
        let out = chat(&target, &prompt_messages("t", 5, 0), 3).unwrap();
        assert_eq!(out.text, "abc");
        assert_eq!(out.completion_tokens, 3);
        assert_eq!((out.prompt_tokens, out.cached_tokens), (Some(40), Some(8)));
        let ttft = out.ttft.unwrap();
        let decode = out.decode.unwrap();
        assert!(ttft >= Duration::from_millis(15), "{ttft:?}");
        assert!(decode >= Duration::from_millis(30), "{decode:?}");
        let tps = out.decode_tps().unwrap();
        assert!(tps > 1.0 && tps < 100.0, "{tps}");
    }

    #[test]
    fn outcome_rates() {
        let t0 = Instant::now();
        let o = Outcome {
            sent: t0,
            done: t0,
            ttft: Some(Duration::from_secs(2)),
            decode: Some(Duration::from_secs(1)),
            completion_tokens: 11,
            prompt_tokens: Some(250),
            cached_tokens: Some(50),
            text: String::new(),
        };
        assert_eq!(o.decode_tps(), Some(10.0));
        assert_eq!(o.prompt_tps(), Some(100.0));
    }
}
