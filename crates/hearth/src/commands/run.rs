//! `hearth run MODEL [PROMPT]`: chat with a model of a running server from the
//! terminal, like `ollama run`. Interactive on a terminal (streaming answers,
//! `"""` for multi-line input, `/bye`, `/clear`, `/set …`, Ctrl-C stops the
//! answer, not the program); with a prompt argument or piped stdin it answers
//! once and exits, so scripts can use it.
//!
//! It speaks the server's Ollama lane (`POST /api/chat`, NDJSON) with the key in
//! `HEARTH_API_KEY` (never on the command line, where other users could read it).

use std::io::{IsTerminal, Read, Write};
use std::process::ExitCode;

use futures::StreamExt;
use serde_json::{Map, Value, json};
use tokio::sync::mpsc;

use crate::cli::RunArgs;

/// Entry point.
pub fn main(args: RunArgs) -> ExitCode {
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(err) => {
            eprintln!("hearth run: cannot start the async runtime: {err}");
            return ExitCode::FAILURE;
        }
    };
    let code = runtime.block_on(run(args));
    // The stdin reader thread may still be blocked on a read.
    runtime.shutdown_background();
    code
}

async fn run(args: RunArgs) -> ExitCode {
    let mut chat = match Chat::new(&args) {
        Ok(chat) => chat,
        Err(err) => {
            eprintln!("hearth run: {err}");
            return ExitCode::FAILURE;
        }
    };
    let mut prompt = args.prompt.join(" ");
    let stdin = std::io::stdin();
    if !stdin.is_terminal() {
        let mut piped = String::new();
        if let Err(err) = stdin.lock().read_to_string(&mut piped) {
            eprintln!("hearth run: cannot read stdin: {err}");
            return ExitCode::FAILURE;
        }
        if !piped.trim().is_empty() {
            prompt = if prompt.is_empty() {
                piped
            } else {
                format!("{prompt}\n\n{piped}")
            };
        }
    }
    if !prompt.trim().is_empty() || !std::io::stdin().is_terminal() {
        if prompt.trim().is_empty() {
            eprintln!("hearth run: nothing to send (empty prompt)");
            return ExitCode::FAILURE;
        }
        return match chat.send(prompt).await {
            Ok(_) => ExitCode::SUCCESS,
            Err(err) => {
                eprintln!("hearth run: {err}");
                ExitCode::FAILURE
            }
        };
    }
    // Check the model before the first prompt, as `ollama run` loads it.
    if let Err(err) = chat.load().await {
        eprintln!("hearth run: {err}");
        return ExitCode::FAILURE;
    }
    interactive(chat).await
}

/// One conversation with one model.
struct Chat {
    client: reqwest::Client,
    url: String,
    key: Option<String>,
    model: String,
    history: Vec<Value>,
    system: Option<String>,
    options: Map<String, Value>,
    verbose: bool,
}

/// How an answer ended.
enum Ended {
    Done,
    Interrupted,
}

impl Chat {
    fn new(args: &RunArgs) -> Result<Chat, String> {
        let host = args.host.trim_end_matches('/');
        if !(host.starts_with("http://") || host.starts_with("https://")) {
            return Err(format!(
                "--host must be an http:// or https:// URL, got {host:?}"
            ));
        }
        let client = reqwest::Client::builder()
            .connect_timeout(std::time::Duration::from_secs(10))
            .build()
            .map_err(|e| format!("cannot build the HTTP client: {e}"))?;
        Ok(Chat {
            client,
            url: host.to_owned(),
            key: std::env::var("HEARTH_API_KEY")
                .ok()
                .filter(|k| !k.is_empty()),
            model: args.model.clone(),
            history: Vec::new(),
            system: args.system.clone(),
            options: Map::new(),
            verbose: args.verbose,
        })
    }

    async fn post(&self, body: &Value) -> Result<reqwest::Response, String> {
        let mut request = self
            .client
            .post(format!("{}/api/chat", self.url))
            .json(body);
        if let Some(key) = &self.key {
            request = request.bearer_auth(key);
        }
        let response = request.send().await.map_err(|e| {
            if e.is_connect() {
                format!(
                    "cannot reach Hearth at {} (is `hearth serve` running? set HEARTH_HOST or --host)",
                    self.url
                )
            } else {
                format!("request failed: {e}")
            }
        })?;
        let status = response.status();
        if status.is_success() {
            return Ok(response);
        }
        let text = response.text().await.unwrap_or_default();
        let message = serde_json::from_str::<Value>(&text)
            .ok()
            .and_then(|v| v["error"].as_str().map(str::to_owned))
            .unwrap_or(text);
        Err(match status.as_u16() {
            401 => format!("{message} (set HEARTH_API_KEY to an API key of this server)"),
            _ => format!("{message} (HTTP {status})"),
        })
    }

    /// Load the model (an empty chat, as Ollama clients do).
    async fn load(&self) -> Result<(), String> {
        self.post(&json!({"model": self.model, "messages": []}))
            .await
            .map(drop)
    }

    fn messages(&self) -> Vec<Value> {
        let mut messages = Vec::new();
        if let Some(system) = &self.system {
            messages.push(json!({"role": "system", "content": system}));
        }
        messages.extend(self.history.iter().cloned());
        messages
    }

    /// Send `prompt` and stream the answer to stdout.
    async fn send(&mut self, prompt: String) -> Result<Ended, String> {
        self.history
            .push(json!({"role": "user", "content": prompt}));
        let body = json!({
            "model": self.model,
            "messages": self.messages(),
            "stream": true,
            "options": self.options,
        });
        let result = self.stream(&body).await;
        match &result {
            Ok((Ended::Done, answer)) => self
                .history
                .push(json!({"role": "assistant", "content": answer})),
            // An interrupted or failed exchange is forgotten entirely.
            _ => {
                self.history.pop();
            }
        }
        result.map(|(ended, _)| ended)
    }

    async fn stream(&self, body: &Value) -> Result<(Ended, String), String> {
        let response = self.post(body).await?;
        let mut bytes = response.bytes_stream();
        let mut pending = Vec::<u8>::new();
        let mut answer = String::new();
        let mut out = std::io::stdout();
        let interrupt = tokio::signal::ctrl_c();
        tokio::pin!(interrupt);
        loop {
            let chunk = tokio::select! {
                chunk = bytes.next() => chunk,
                _ = &mut interrupt => {
                    // Dropping the response closes the connection; the server
                    // stops generating.
                    let _ = writeln!(out);
                    return Ok((Ended::Interrupted, answer));
                }
            };
            let Some(chunk) = chunk else {
                return Err("the server closed the stream before the answer ended".to_owned());
            };
            let chunk = chunk.map_err(|e| format!("stream broken: {e}"))?;
            pending.extend_from_slice(&chunk);
            while let Some(end) = pending.iter().position(|b| *b == b'\n') {
                let line: Vec<u8> = pending.drain(..=end).collect();
                let Ok(event) = serde_json::from_slice::<Value>(&line) else {
                    continue;
                };
                if let Some(error) = event["error"].as_str() {
                    let _ = writeln!(out);
                    return Err(error.to_owned());
                }
                if let Some(text) = event["message"]["content"].as_str() {
                    answer.push_str(text);
                    let _ = write!(out, "{text}");
                    let _ = out.flush();
                }
                if event["done"] == true {
                    let _ = writeln!(out);
                    if self.verbose {
                        print_stats(&event);
                    }
                    return Ok((Ended::Done, answer));
                }
            }
        }
    }

    /// Handle a `/command`; `false` ends the session.
    fn command(&mut self, line: &str) -> bool {
        let mut words = line.split_whitespace();
        match (words.next(), words.next()) {
            (Some("/bye" | "/exit"), _) => return false,
            (Some("/clear"), _) => {
                self.history.clear();
                println!("Cleared the conversation.");
            }
            (Some("/set"), Some("parameter")) => match (words.next(), words.next()) {
                (Some(name), Some(value)) => {
                    let value = value
                        .parse::<i64>()
                        .map(Value::from)
                        .or_else(|_| value.parse::<f64>().map(Value::from))
                        .unwrap_or_else(|_| Value::from(value));
                    println!("Set parameter '{name}' to '{value}'.");
                    self.options.insert(name.to_owned(), value);
                }
                _ => println!(
                    "Usage: /set parameter NAME VALUE (e.g. temperature 0.2, num_predict 256, seed 7)"
                ),
            },
            (Some("/set"), Some("system")) => {
                let text = line
                    .trim_start()
                    .trim_start_matches("/set")
                    .trim_start()
                    .trim_start_matches("system")
                    .trim();
                if text.is_empty() {
                    self.system = None;
                    println!("Cleared the system prompt.");
                } else {
                    self.system = Some(text.to_owned());
                    println!("Set the system prompt.");
                }
            }
            (Some("/set"), Some("verbose")) => {
                self.verbose = true;
                println!("Set verbose mode.");
            }
            (Some("/set"), Some("quiet")) => {
                self.verbose = false;
                println!("Set quiet mode.");
            }
            (Some("/show"), Some("parameters")) => {
                if self.options.is_empty() {
                    println!("No parameters set (the model's defaults apply).");
                }
                for (name, value) in &self.options {
                    println!("{name:<16} {value}");
                }
            }
            _ => print_help(),
        }
        true
    }
}

fn print_stats(event: &Value) {
    let secs = |key: &str| event[key].as_f64().unwrap_or(0.0) / 1e9;
    let count = |key: &str| event[key].as_u64().unwrap_or(0);
    let rate = |n: u64, s: f64| if s > 0.0 { n as f64 / s } else { 0.0 };
    let (prompt, prompt_s) = (count("prompt_eval_count"), secs("prompt_eval_duration"));
    let (eval, eval_s) = (count("eval_count"), secs("eval_duration"));
    eprintln!("total duration:       {:.3} s", secs("total_duration"));
    eprintln!("prompt eval count:    {prompt} token(s)");
    eprintln!(
        "prompt eval rate:     {:.2} tokens/s",
        rate(prompt, prompt_s)
    );
    eprintln!("eval count:           {eval} token(s)");
    eprintln!("eval rate:            {:.2} tokens/s", rate(eval, eval_s));
}

fn print_help() {
    println!(
        "Available commands:\n  \
         /set parameter NAME VALUE   set a sampling option (temperature, top_p, top_k, seed, num_predict, …)\n  \
         /set system TEXT            set (or with no text, clear) the system prompt\n  \
         /set verbose | quiet        show or hide timings after each answer\n  \
         /show parameters            list the options set\n  \
         /clear                      forget the conversation so far\n  \
         /bye                        exit\n\
         Use \"\"\" to begin and end a multi-line message. Ctrl-C stops an answer; Ctrl-D exits."
    );
}

/// Lines of the terminal, read on a thread so that Ctrl-C can be awaited too.
fn stdin_lines() -> mpsc::Receiver<String> {
    let (tx, rx) = mpsc::channel(16);
    std::thread::spawn(move || {
        for line in std::io::stdin().lines() {
            let Ok(line) = line else { break };
            if tx.blocking_send(line).is_err() {
                break;
            }
        }
    });
    rx
}

async fn interactive(mut chat: Chat) -> ExitCode {
    let mut lines = stdin_lines();
    loop {
        print!(">>> ");
        let _ = std::io::stdout().flush();
        let line = tokio::select! {
            line = lines.recv() => line,
            _ = tokio::signal::ctrl_c() => {
                println!("\nUse Ctrl + d or /bye to exit.");
                continue;
            }
        };
        let Some(line) = line else {
            println!();
            return ExitCode::SUCCESS;
        };
        let mut message = line.clone();
        if let Some(first) = line.trim_start().strip_prefix("\"\"\"") {
            // Multi-line: until a line ending with """.
            let mut parts = vec![first.to_owned()];
            let mut closed = first.trim_end().ends_with("\"\"\"") && !first.trim().is_empty();
            while !closed {
                print!("... ");
                let _ = std::io::stdout().flush();
                let Some(next) = lines.recv().await else {
                    return ExitCode::SUCCESS;
                };
                closed = next.trim_end().ends_with("\"\"\"");
                parts.push(next);
            }
            message = parts.join("\n");
            message = message.trim_end().trim_end_matches("\"\"\"").to_owned();
        } else if line.trim_start().starts_with('/') {
            if !chat.command(line.trim()) {
                return ExitCode::SUCCESS;
            }
            continue;
        }
        if message.trim().is_empty() {
            continue;
        }
        match chat.send(message).await {
            Ok(Ended::Done) => println!(),
            Ok(Ended::Interrupted) => {}
            Err(err) => eprintln!("Error: {err}"),
        }
    }
}
