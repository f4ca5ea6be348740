//! The compatible lanes (OpenAI, Ollama, Anthropic) against the deterministic
//! fake backend: response shapes, streaming framing, errors in each lane's
//! shape, and cancellation when a client disconnects (over a real socket).

use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::http::{Method, Request, StatusCode};
use hearth_core::backend::{OutputConstraint, Prompt};
use hearth_core::config::Config;
use hearth_server::{AppState, Parts, router};
use hearth_testkit::fake::{DEFAULT_REPLY, EMBED_WIDTH, FAKE_CHAT, FAKE_EMBED, FakeBackend};
use http_body_util::BodyExt;
use serde_json::{Value, json};
use tower::ServiceExt;

struct Harness {
    state: AppState,
    fake: FakeBackend,
    _dir: tempfile::TempDir,
}

/// Lanes are tested with authentication off (anonymous caller); the auth policy
/// of every route is tested in tests/accounts.rs.
async fn harness_with(fake: FakeBackend, mut config: Config) -> Harness {
    config.auth.enabled = false;
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("t.db").display());
    let store = hearth_store::open(&url, &Default::default()).await.unwrap();
    let backend = Arc::new(fake.clone());
    let state = AppState::new(Parts {
        config: Arc::new(config),
        store,
        chat: backend.clone(),
        embed: backend.clone(),
        models: backend,
        metrics: None,
    });
    Harness {
        state,
        fake,
        _dir: dir,
    }
}

async fn harness(fake: FakeBackend) -> Harness {
    harness_with(fake, Config::default()).await
}

struct Answer {
    status: StatusCode,
    content_type: String,
    text: String,
}

impl Answer {
    fn json(&self) -> Value {
        serde_json::from_str(&self.text).unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.text))
    }

    /// SSE frames as (event name, data).
    fn sse(&self) -> Vec<(Option<String>, String)> {
        assert!(
            self.content_type.starts_with("text/event-stream"),
            "{}",
            self.content_type
        );
        self.text
            .split("\n\n")
            .filter(|f| !f.is_empty())
            .map(|frame| {
                let mut event = None;
                let mut data = String::new();
                for line in frame.lines() {
                    if let Some(e) = line.strip_prefix("event: ") {
                        event = Some(e.to_owned());
                    } else if let Some(d) = line.strip_prefix("data: ") {
                        data.push_str(d);
                    }
                }
                (event, data)
            })
            .collect()
    }

    fn ndjson(&self) -> Vec<Value> {
        assert!(
            self.content_type.starts_with("application/x-ndjson"),
            "{}",
            self.content_type
        );
        self.text
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect()
    }
}

impl Harness {
    async fn send(&self, method: Method, path: &str, body: Option<String>) -> Answer {
        let mut req = Request::builder().method(method).uri(path);
        if body.is_some() {
            req = req.header("content-type", "application/json");
        }
        let req = req.body(body.map(Body::from).unwrap_or_default()).unwrap();
        let response = router(self.state.clone()).oneshot(req).await.unwrap();
        let status = response.status();
        let content_type = response
            .headers()
            .get("content-type")
            .map(|v| v.to_str().unwrap().to_owned())
            .unwrap_or_default();
        let bytes = response.into_body().collect().await.unwrap().to_bytes();
        Answer {
            status,
            content_type,
            text: String::from_utf8(bytes.to_vec()).unwrap(),
        }
    }

    async fn post(&self, path: &str, body: Value) -> Answer {
        self.send(Method::POST, path, Some(body.to_string())).await
    }

    async fn get(&self, path: &str) -> Answer {
        self.send(Method::GET, path, None).await
    }
}

fn chat_body(extra: Value) -> Value {
    let mut body = json!({"model": FAKE_CHAT, "messages": [{"role": "user", "content": "hi"}]});
    for (k, v) in extra.as_object().unwrap() {
        body[k] = v.clone();
    }
    body
}

const WEATHER_TOOL: &str = r#"[{"type": "function", "function": {"name": "get_weather",
    "description": "Weather in a city",
    "parameters": {"type": "object", "properties": {"city": {"type": "string"}},
                   "required": ["city"]}}}]"#;

fn tools() -> Value {
    serde_json::from_str(WEATHER_TOOL).unwrap()
}

const HERMES_CALL: &str =
    "<tool_call>{\"name\": \"get_weather\", \"arguments\": {\"city\": \"Oslo\"}}</tool_call>";

// ---------------------------------------------------------------- OpenAI

#[tokio::test]
async fn openai_chat_answers_like_openai() {
    let h = harness(FakeBackend::new()).await;
    let a = h.post("/v1/chat/completions", chat_body(json!({}))).await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.text);
    let body = a.json();
    assert_eq!(body["object"], "chat.completion");
    assert!(body["id"].as_str().unwrap().starts_with("chatcmpl-"));
    assert_eq!(body["model"], FAKE_CHAT);
    assert_eq!(body["choices"][0]["message"]["role"], "assistant");
    assert_eq!(body["choices"][0]["message"]["content"], DEFAULT_REPLY);
    assert_eq!(body["choices"][0]["finish_reason"], "stop");
    let usage = &body["usage"];
    assert_eq!(usage["completion_tokens"], 9);
    assert_eq!(
        usage["total_tokens"].as_u64().unwrap(),
        usage["prompt_tokens"].as_u64().unwrap() + 9
    );
    assert_eq!(usage["prompt_tokens_details"]["cached_tokens"], 0);
}

#[tokio::test]
async fn openai_unknown_parameters_are_accepted_and_ignored() {
    let h = harness(FakeBackend::new()).await;
    let extra = json!({"reasoning_effort": "low", "store": true, "metadata": {"k": "v"}});
    let a = h
        .post("/v1/chat/completions", chat_body(extra.clone()))
        .await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.text);
    assert_eq!(a.json()["choices"][0]["message"]["content"], DEFAULT_REPLY);
    let mut body = json!({"model": FAKE_CHAT, "prompt": "hi", "future_knob": 3});
    body["service_tier"] = json!("auto");
    let a = h.post("/v1/completions", body).await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.text);
    let a = h
        .post(
            "/v1/embeddings",
            json!({"model": FAKE_EMBED, "input": "x", "user_tag": 1}),
        )
        .await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.text);
}

#[tokio::test]
async fn openai_chat_n3_gives_three_distinctly_seeded_choices() {
    let h = harness(FakeBackend::new()).await;
    let a = h
        .post(
            "/v1/chat/completions",
            chat_body(json!({"n": 3, "seed": 10})),
        )
        .await;
    let body = a.json();
    let choices = body["choices"].as_array().unwrap();
    assert_eq!(choices.len(), 3);
    for (i, c) in choices.iter().enumerate() {
        assert_eq!(c["index"], i);
        assert_eq!(c["message"]["content"], DEFAULT_REPLY);
    }
    assert_eq!(body["usage"]["completion_tokens"], 27);
    let seeds: Vec<_> = h.fake.requests().iter().map(|r| r.params.seed).collect();
    assert_eq!(seeds, vec![Some(10), Some(11), Some(12)]);
}

#[tokio::test]
async fn openai_chat_stream_framing() {
    let h = harness(FakeBackend::new()).await;
    let a = h
        .post(
            "/v1/chat/completions",
            chat_body(json!({"stream": true, "n": 2, "stream_options": {"include_usage": true}})),
        )
        .await;
    assert_eq!(a.status, StatusCode::OK);
    let frames = a.sse();
    assert_eq!(frames.last().unwrap().1, "[DONE]");
    let chunks: Vec<Value> = frames[..frames.len() - 1]
        .iter()
        .map(|(_, d)| serde_json::from_str(d).unwrap())
        .collect();
    let id = chunks[0]["id"].clone();
    for choice in 0..2 {
        let mine: Vec<&Value> = chunks
            .iter()
            .filter(|c| c["choices"].get(0).is_some_and(|x| x["index"] == choice))
            .collect();
        assert_eq!(mine[0]["choices"][0]["delta"]["role"], "assistant");
        assert!(
            mine[1..]
                .iter()
                .all(|c| c["choices"][0]["delta"].get("role").is_none())
        );
        let finishes: Vec<&Value> = mine
            .iter()
            .copied()
            .filter(|c| !c["choices"][0]["finish_reason"].is_null())
            .collect();
        assert_eq!(finishes.len(), 1, "one finish_reason per choice");
        assert_eq!(finishes[0]["choices"][0]["finish_reason"], "stop");
        let text: String = mine
            .iter()
            .filter_map(|c| c["choices"][0]["delta"]["content"].as_str())
            .collect();
        assert_eq!(text, DEFAULT_REPLY);
    }
    for chunk in &chunks {
        assert_eq!(chunk["object"], "chat.completion.chunk");
        assert_eq!(chunk["id"], id);
    }
    let last = chunks.last().unwrap();
    assert_eq!(last["choices"], json!([]));
    assert_eq!(last["usage"]["completion_tokens"], 18);
    assert!(
        chunks[..chunks.len() - 1]
            .iter()
            .all(|c| c.get("usage").is_none())
    );
}

#[tokio::test]
async fn openai_stream_error_after_start_is_an_error_event_without_done() {
    let h = harness(FakeBackend::new().fail_after(2)).await;
    let a = h
        .post("/v1/chat/completions", chat_body(json!({"stream": true})))
        .await;
    assert_eq!(a.status, StatusCode::OK);
    let frames = a.sse();
    let (_, last) = frames.last().unwrap();
    let error: Value = serde_json::from_str(last).unwrap();
    assert_eq!(error["error"]["type"], "server_error");
    assert!(
        !error["error"]["message"]
            .as_str()
            .unwrap()
            .contains("injected"),
        "no internals"
    );
    assert!(frames.iter().all(|(_, d)| d != "[DONE]"));
}

#[tokio::test]
async fn openai_tool_calls_auto_parsed_and_streamed() {
    let h = harness(FakeBackend::new().reply(HERMES_CALL)).await;
    let a = h
        .post("/v1/chat/completions", chat_body(json!({"tools": tools()})))
        .await;
    let body = a.json();
    let choice = &body["choices"][0];
    assert_eq!(choice["finish_reason"], "tool_calls");
    assert!(choice["message"]["content"].is_null());
    let call = &choice["message"]["tool_calls"][0];
    assert_eq!(call["type"], "function");
    assert_eq!(call["function"]["name"], "get_weather");
    let args: Value =
        serde_json::from_str(call["function"]["arguments"].as_str().unwrap()).unwrap();
    assert_eq!(args, json!({"city": "Oslo"}));
    let Prompt::Chat { tools: shown, .. } = &h.fake.requests()[0].prompt else {
        panic!("chat prompt expected")
    };
    assert_eq!(
        shown[0]["function"]["name"], "get_weather",
        "tools reach the template"
    );

    let a = h
        .post(
            "/v1/chat/completions",
            chat_body(json!({"tools": tools(), "stream": true})),
        )
        .await;
    let chunks: Vec<Value> = a
        .sse()
        .iter()
        .filter(|(_, d)| d != "[DONE]")
        .map(|(_, d)| serde_json::from_str(d).unwrap())
        .collect();
    let deltas: Vec<&Value> = chunks
        .iter()
        .filter_map(|c| c["choices"][0]["delta"].get("tool_calls"))
        .collect();
    assert_eq!(deltas.len(), 1);
    assert_eq!(deltas[0][0]["index"], 0);
    assert!(deltas[0][0]["id"].as_str().unwrap().starts_with("call_"));
    assert_eq!(deltas[0][0]["function"]["name"], "get_weather");
    let text: String = chunks
        .iter()
        .filter_map(|c| c["choices"][0]["delta"]["content"].as_str())
        .collect();
    assert_eq!(text, "", "the call's markup is not leaked as content");
}

#[tokio::test]
async fn openai_tool_choice_required_and_none() {
    let h = harness(FakeBackend::new()).await;
    let a = h
        .post(
            "/v1/chat/completions",
            chat_body(json!({"tools": tools(), "tool_choice": "required"})),
        )
        .await;
    let body = a.json();
    assert_eq!(
        body["choices"][0]["message"]["tool_calls"][0]["function"]["name"],
        "get_weather"
    );
    let OutputConstraint::JsonSchema(schema) = &h.fake.requests()[0].params.constraint else {
        panic!("required tool_choice must constrain the output")
    };
    assert_eq!(schema["properties"]["name"]["const"], "get_weather");

    let h = harness(FakeBackend::new().reply(HERMES_CALL)).await;
    let a = h
        .post(
            "/v1/chat/completions",
            chat_body(json!({"tools": tools(), "tool_choice": "none"})),
        )
        .await;
    let body = a.json();
    assert_eq!(body["choices"][0]["message"]["content"], HERMES_CALL);
    let Prompt::Chat { tools, .. } = &h.fake.requests()[0].prompt else {
        panic!()
    };
    assert!(tools.is_empty(), "tool_choice none drops the tools");
}

#[tokio::test]
async fn openai_response_format_logprobs_and_limits() {
    let h = harness(FakeBackend::new()).await;
    let schema = json!({"type": "object", "properties": {"n": {"type": "integer"}}});
    let a = h
        .post(
            "/v1/chat/completions",
            chat_body(json!({"response_format": {"type": "json_schema",
                "json_schema": {"name": "x", "schema": schema, "strict": true}}})),
        )
        .await;
    let content = a.json()["choices"][0]["message"]["content"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(
        serde_json::from_str::<Value>(&content).unwrap(),
        json!({"n": 1})
    );

    let a = h
        .post(
            "/v1/chat/completions",
            chat_body(json!({"logprobs": true, "top_logprobs": 2})),
        )
        .await;
    let lp = &a.json()["choices"][0]["logprobs"]["content"];
    assert_eq!(lp.as_array().unwrap().len(), 9);
    assert_eq!(lp[0]["token"], "The ");
    assert_eq!(lp[0]["top_logprobs"].as_array().unwrap().len(), 2);
    assert_eq!(lp[0]["bytes"], json!(b"The ".to_vec()));

    let a = h
        .post("/v1/chat/completions", chat_body(json!({"max_tokens": 2})))
        .await;
    let body = a.json();
    assert_eq!(body["choices"][0]["finish_reason"], "length");
    assert_eq!(body["choices"][0]["message"]["content"], "The quick ");
    let a = h
        .post(
            "/v1/chat/completions",
            chat_body(json!({"stop": ["brown"]})),
        )
        .await;
    assert_eq!(a.json()["choices"][0]["message"]["content"], "The quick ");
}

#[tokio::test]
async fn openai_errors_have_openai_shape_and_name_the_param() {
    let h = harness(FakeBackend::new()).await;
    let a = h
        .post("/v1/chat/completions", chat_body(json!({"model": "nope"})))
        .await;
    assert_eq!(a.status, StatusCode::NOT_FOUND);
    let e = a.json();
    assert_eq!(e["error"]["code"], "model_not_found");
    assert_eq!(e["error"]["type"], "invalid_request_error");
    assert!(e["error"]["message"].as_str().unwrap().contains("nope"));

    for (body, param) in [
        (chat_body(json!({"temperature": 5})), "temperature"),
        (chat_body(json!({"n": 0})), "n"),
        (json!({"model": FAKE_CHAT}), "messages"),
        (
            chat_body(json!({"messages": [{"content": "x"}]})),
            "messages[0].role",
        ),
        (chat_body(json!({"max_tokens": -1})), "max_tokens"),
    ] {
        let a = h.post("/v1/chat/completions", body.clone()).await;
        assert_eq!(a.status, StatusCode::BAD_REQUEST, "{body}");
        let e = a.json();
        assert_eq!(e["error"]["param"], param, "{body}: {e}");
        assert_eq!(e["error"]["type"], "invalid_request_error");
    }
    let a = h
        .send(
            Method::POST,
            "/v1/chat/completions",
            Some("{\"model\":".to_owned()),
        )
        .await;
    assert_eq!(a.status, StatusCode::BAD_REQUEST);
    assert!(
        a.json()["error"]["message"]
            .as_str()
            .unwrap()
            .contains("malformed JSON")
    );
    // The server still serves after each error.
    let a = h.post("/v1/chat/completions", chat_body(json!({}))).await;
    assert_eq!(a.status, StatusCode::OK);
}

#[tokio::test]
async fn openai_completions_prompts_echo_logprobs_and_stream() {
    let h = harness(FakeBackend::new()).await;
    let a = h
        .post(
            "/v1/completions",
            json!({"model": FAKE_CHAT, "prompt": ["Once", "Twice"], "n": 2, "max_tokens": 3,
                   "echo": true, "logprobs": 1}),
        )
        .await;
    let body = a.json();
    assert_eq!(body["object"], "text_completion");
    let choices = body["choices"].as_array().unwrap();
    assert_eq!(choices.len(), 4);
    assert_eq!(choices[0]["text"], "OnceThe quick brown ");
    assert_eq!(choices[2]["text"], "TwiceThe quick brown ");
    assert_eq!(choices[3]["index"], 3);
    assert_eq!(choices[0]["finish_reason"], "length");
    assert_eq!(choices[0]["logprobs"]["tokens"][0], "The ");
    assert_eq!(body["usage"]["completion_tokens"], 12);
    assert!(matches!(h.fake.requests()[0].prompt, Prompt::Text(_)));

    let a = h
        .post(
            "/v1/completions",
            json!({"model": FAKE_CHAT, "prompt": "Once", "stream": true,
                   "stream_options": {"include_usage": true}}),
        )
        .await;
    let frames = a.sse();
    assert_eq!(frames.last().unwrap().1, "[DONE]");
    let events: Vec<Value> = frames[..frames.len() - 1]
        .iter()
        .map(|(_, d)| serde_json::from_str(d).unwrap())
        .collect();
    let text: String = events
        .iter()
        .filter_map(|e| e["choices"].get(0).and_then(|c| c["text"].as_str()))
        .collect();
    assert_eq!(text, DEFAULT_REPLY);
    assert_eq!(events.last().unwrap()["usage"]["completion_tokens"], 9);

    let a = h
        .post(
            "/v1/completions",
            json!({"model": FAKE_CHAT, "prompt": "a", "suffix": "b"}),
        )
        .await;
    // Accepted by validation; the fake chat model has no FIM tokens.
    assert_eq!(a.status, StatusCode::BAD_REQUEST);
    let message = a.json()["error"]["message"].as_str().unwrap().to_owned();
    assert!(message.contains("fill-in-the-middle"), "{message}");
}

#[tokio::test]
async fn openai_embeddings_float_base64_dimensions() {
    let h = harness(FakeBackend::new()).await;
    let a = h
        .post(
            "/v1/embeddings",
            json!({"model": FAKE_EMBED, "input": ["a b", "c"]}),
        )
        .await;
    let body = a.json();
    assert_eq!(body["object"], "list");
    assert_eq!(body["data"].as_array().unwrap().len(), 2);
    assert_eq!(body["data"][1]["index"], 1);
    assert_eq!(
        body["data"][0]["embedding"].as_array().unwrap().len(),
        EMBED_WIDTH
    );
    assert_eq!(body["usage"]["prompt_tokens"], 3);

    let a = h
        .post(
            "/v1/embeddings",
            json!({"model": FAKE_EMBED, "input": "a", "encoding_format": "base64"}),
        )
        .await;
    let b64 = a.json()["data"][0]["embedding"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(b64.len(), (EMBED_WIDTH * 4).div_ceil(3) * 4);

    let a = h
        .post(
            "/v1/embeddings",
            json!({"model": FAKE_EMBED, "input": "a", "dimensions": 4}),
        )
        .await;
    let v: Vec<f64> = serde_json::from_value(a.json()["data"][0]["embedding"].clone()).unwrap();
    assert_eq!(v.len(), 4);
    assert!(
        (v.iter().map(|x| x * x).sum::<f64>() - 1.0).abs() < 1e-4,
        "re-normalized"
    );

    let a = h
        .post(
            "/v1/embeddings",
            json!({"model": FAKE_EMBED, "input": "a", "dimensions": 99}),
        )
        .await;
    assert_eq!(a.status, StatusCode::BAD_REQUEST);
    assert_eq!(a.json()["error"]["param"], "dimensions");
    let a = h
        .post("/v1/embeddings", json!({"model": "nope", "input": "a"}))
        .await;
    assert_eq!(a.status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn openai_models_list_and_get() {
    let h = harness(FakeBackend::new()).await;
    let body = h.get("/v1/models").await.json();
    assert_eq!(body["object"], "list");
    assert_eq!(body["data"][0]["id"], FAKE_CHAT);
    assert_eq!(body["data"][0]["object"], "model");
    assert_eq!(body["data"][0]["owned_by"], "hearth");
    let a = h.get(&format!("/v1/models/{FAKE_EMBED}")).await;
    assert_eq!(a.json()["id"], FAKE_EMBED);
    let a = h.get("/v1/models/nope").await;
    assert_eq!(a.status, StatusCode::NOT_FOUND);
    assert_eq!(a.json()["error"]["code"], "model_not_found");
}

#[tokio::test]
async fn switched_off_capabilities_answer_403() {
    let mut config = Config::default();
    config.capabilities.openai_api = false;
    config.capabilities.embeddings = false;
    let h = harness_with(FakeBackend::new(), config).await;
    let a = h.post("/v1/chat/completions", chat_body(json!({}))).await;
    assert_eq!(a.status, StatusCode::FORBIDDEN);
    assert_eq!(a.json()["error"]["code"], "E_CAPABILITY_DISABLED");
    let a = h
        .post("/api/embed", json!({"model": FAKE_EMBED, "input": "a"}))
        .await;
    assert_eq!(a.status, StatusCode::FORBIDDEN);
    assert!(a.json()["error"].is_string());
    let a = h.get("/api/tags").await;
    assert_eq!(a.status, StatusCode::OK, "the Ollama lane stays on");
}

// ---------------------------------------------------------------- Ollama

#[tokio::test]
async fn ollama_chat_streams_ndjson_by_default() {
    let h = harness(FakeBackend::new()).await;
    let a = h
        .post(
            "/api/chat",
            chat_body(json!({"options": {"num_predict": 3}})),
        )
        .await;
    assert_eq!(a.status, StatusCode::OK);
    let lines = a.ndjson();
    assert_eq!(lines.len(), 4);
    for line in &lines[..3] {
        assert_eq!(line["done"], false);
        assert_eq!(line["message"]["role"], "assistant");
        assert!(line["created_at"].as_str().unwrap().ends_with('Z'));
    }
    let text: String = lines
        .iter()
        .map(|l| l["message"]["content"].as_str().unwrap())
        .collect();
    assert_eq!(text, "The quick brown ");
    let last = lines.last().unwrap();
    assert_eq!(last["done"], true);
    assert_eq!(last["done_reason"], "length");
    assert_eq!(last["eval_count"], 3);
    assert!(last["prompt_eval_count"].as_u64().unwrap() > 0);
    assert!(last["total_duration"].as_u64().unwrap() > 0);
}

#[tokio::test]
async fn ollama_chat_non_stream_with_tool_calls() {
    let h = harness(FakeBackend::new().reply(HERMES_CALL)).await;
    let a = h
        .post(
            "/api/chat",
            chat_body(json!({"stream": false, "tools": tools()})),
        )
        .await;
    let body = a.json();
    assert_eq!(body["done"], true);
    assert_eq!(body["done_reason"], "stop");
    let call = &body["message"]["tool_calls"][0]["function"];
    assert_eq!(call["name"], "get_weather");
    assert_eq!(
        call["arguments"],
        json!({"city": "Oslo"}),
        "arguments are an object"
    );
    // A tool result goes back in as role tool with tool_name.
    let a = h
        .post(
            "/api/chat",
            chat_body(json!({"stream": false, "messages": [
                {"role": "user", "content": "weather?"},
                {"role": "assistant", "content": "", "tool_calls": [body["message"]["tool_calls"][0]]},
                {"role": "tool", "content": "sunny", "tool_name": "get_weather"}]})),
        )
        .await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.text);
    let Prompt::Chat { messages, .. } = &h.fake.requests()[1].prompt else {
        panic!()
    };
    assert_eq!(messages[2].name.as_deref(), Some("get_weather"));
}

#[tokio::test]
async fn ollama_generate_raw_format_and_load() {
    let h = harness(FakeBackend::new()).await;
    let a = h
        .post(
            "/api/generate",
            json!({"model": FAKE_CHAT, "prompt": "Hi", "raw": true, "stream": false}),
        )
        .await;
    let body = a.json();
    assert_eq!(body["response"], DEFAULT_REPLY);
    assert_eq!(body["done"], true);
    assert_eq!(h.fake.requests()[0].prompt, Prompt::Text("Hi".to_owned()));

    let a = h
        .post(
            "/api/generate",
            json!({"model": FAKE_CHAT, "prompt": "Hi", "system": "S", "format": "json"}),
        )
        .await;
    let lines = a.ndjson();
    let text: String = lines
        .iter()
        .map(|l| l["response"].as_str().unwrap())
        .collect();
    assert!(serde_json::from_str::<Value>(&text).unwrap().is_object());
    let req = &h.fake.requests()[1];
    assert_eq!(req.params.constraint, OutputConstraint::JsonObject);
    let Prompt::Chat { messages, .. } = &req.prompt else {
        panic!()
    };
    assert_eq!(messages[0].role, "system");

    let a = h.post("/api/generate", json!({"model": FAKE_CHAT})).await;
    let body = a.json();
    assert_eq!(
        (body["done"].clone(), body["done_reason"].clone()),
        (json!(true), json!("load"))
    );
    let a = h.post("/api/generate", json!({"model": "nope"})).await;
    assert_eq!(a.status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn ollama_embed_and_legacy_embeddings() {
    let h = harness(FakeBackend::new()).await;
    let body = h
        .post(
            "/api/embed",
            json!({"model": FAKE_EMBED, "input": ["a", "b"]}),
        )
        .await
        .json();
    assert_eq!(body["model"], FAKE_EMBED);
    assert_eq!(body["embeddings"].as_array().unwrap().len(), 2);
    assert_eq!(body["prompt_eval_count"], 2);
    let body = h
        .post("/api/embed", json!({"model": FAKE_EMBED, "input": "a"}))
        .await
        .json();
    assert_eq!(body["embeddings"].as_array().unwrap().len(), 1);
    let body = h
        .post(
            "/api/embeddings",
            json!({"model": FAKE_EMBED, "prompt": "a"}),
        )
        .await
        .json();
    assert_eq!(body["embedding"].as_array().unwrap().len(), EMBED_WIDTH);
}

#[tokio::test]
async fn ollama_tags_show_ps_version() {
    let h = harness(FakeBackend::new()).await;
    let tags = h.get("/api/tags").await.json();
    let first = &tags["models"][0];
    assert_eq!(first["name"], FAKE_CHAT);
    assert_eq!(first["details"]["family"], "llama");
    assert_eq!(first["details"]["parameter_size"], "135M");
    assert_eq!(first["details"]["quantization_level"], "Q4_1");
    assert_eq!(first["digest"].as_str().unwrap().len(), 64);

    let show = h
        .post("/api/show", json!({"model": FAKE_CHAT}))
        .await
        .json();
    assert_eq!(show["model_info"]["llama.context_length"], 2048);
    assert_eq!(show["model_info"]["general.basename"], FAKE_CHAT);
    assert_eq!(show["model_info"]["general.architecture"], "llama");
    assert_eq!(show["capabilities"], json!(["completion", "tools"]));
    assert!(show["template"].as_str().unwrap().contains("im_start"));
    let show = h
        .post("/api/show", json!({"name": FAKE_EMBED}))
        .await
        .json();
    assert_eq!(show["capabilities"], json!(["embedding"]));
    let a = h.post("/api/show", json!({"model": "nope"})).await;
    assert_eq!(a.status, StatusCode::NOT_FOUND);
    assert!(a.json()["error"].as_str().unwrap().contains("nope"));
    let a = h.post("/api/show", json!({})).await;
    assert_eq!(a.status, StatusCode::BAD_REQUEST);

    assert_eq!(h.get("/api/ps").await.json(), json!({"models": []}));
    let version = h.get("/api/version").await.json();
    assert_eq!(version["version"], "0.6.4");
}

#[tokio::test]
async fn ollama_errors_are_strings_and_mid_stream_errors_are_lines() {
    let h = harness(FakeBackend::new().fail_after(1)).await;
    let a = h
        .post("/api/chat", chat_body(json!({"model": "nope"})))
        .await;
    assert_eq!(a.status, StatusCode::NOT_FOUND);
    assert!(a.json()["error"].is_string());
    let a = h
        .post(
            "/api/chat",
            chat_body(json!({"options": {"temperature": 9}})),
        )
        .await;
    assert_eq!(a.status, StatusCode::BAD_REQUEST);
    assert!(
        a.json()["error"]
            .as_str()
            .unwrap()
            .contains("options.temperature")
    );
    let a = h.post("/api/chat", chat_body(json!({}))).await;
    let lines = a.ndjson();
    assert_eq!(lines.len(), 2);
    assert!(lines[1]["error"].is_string());
}

// ---------------------------------------------------------------- Anthropic

fn messages_body(extra: Value) -> Value {
    let mut body = json!({"model": FAKE_CHAT, "max_tokens": 64,
                          "messages": [{"role": "user", "content": "hi"}]});
    for (k, v) in extra.as_object().unwrap() {
        body[k] = v.clone();
    }
    body
}

#[tokio::test]
async fn anthropic_message_and_count_tokens() {
    let h = harness(FakeBackend::new()).await;
    let a = h
        .post("/v1/messages", messages_body(json!({"system": "be nice"})))
        .await;
    let body = a.json();
    assert_eq!(body["type"], "message");
    assert_eq!(body["role"], "assistant");
    assert!(body["id"].as_str().unwrap().starts_with("msg_"));
    assert_eq!(
        body["content"],
        json!([{"type": "text", "text": DEFAULT_REPLY}])
    );
    assert_eq!(body["stop_reason"], "end_turn");
    assert_eq!(body["usage"]["output_tokens"], 9);
    let a = h
        .post("/v1/messages", messages_body(json!({"max_tokens": 2})))
        .await;
    assert_eq!(a.json()["stop_reason"], "max_tokens");

    let a = h
        .post(
            "/v1/messages/count_tokens",
            json!({"model": FAKE_CHAT, "system": "one two",
               "messages": [{"role": "user", "content": "three four"}]}),
        )
        .await;
    assert_eq!(
        a.json()["input_tokens"],
        6,
        "system one two user three four"
    );
}

#[tokio::test]
async fn anthropic_stream_event_sequence() {
    let h = harness(FakeBackend::new()).await;
    let a = h
        .post("/v1/messages", messages_body(json!({"stream": true})))
        .await;
    let frames = a.sse();
    let names: Vec<&str> = frames.iter().map(|(e, _)| e.as_deref().unwrap()).collect();
    assert_eq!(
        &names[..4],
        [
            "message_start",
            "ping",
            "content_block_start",
            "content_block_delta"
        ]
    );
    assert_eq!(
        &names[names.len() - 3..],
        ["content_block_stop", "message_delta", "message_stop"]
    );
    for (event, data) in &frames {
        let data: Value = serde_json::from_str(data).unwrap();
        assert_eq!(
            data["type"],
            event.as_deref().unwrap(),
            "event name = data.type"
        );
    }
    let delta: Value = serde_json::from_str(&frames[frames.len() - 2].1).unwrap();
    assert_eq!(delta["delta"]["stop_reason"], "end_turn");
    assert_eq!(delta["usage"]["output_tokens"], 9);
    let text: String = frames
        .iter()
        .filter(|(e, _)| e.as_deref() == Some("content_block_delta"))
        .map(|(_, d)| {
            serde_json::from_str::<Value>(d).unwrap()["delta"]["text"]
                .as_str()
                .unwrap()
                .to_owned()
        })
        .collect();
    assert_eq!(text, DEFAULT_REPLY);
}

#[tokio::test]
async fn anthropic_tool_use_blocks() {
    let h = harness(FakeBackend::new().reply(&format!("Checking. {HERMES_CALL}"))).await;
    let tools = json!([{"name": "get_weather", "input_schema": {"type": "object"}}]);
    let body = h
        .post("/v1/messages", messages_body(json!({"tools": tools})))
        .await
        .json();
    assert_eq!(body["stop_reason"], "tool_use");
    assert_eq!(body["content"][0]["text"], "Checking. ");
    assert_eq!(body["content"][1]["type"], "tool_use");
    assert!(
        body["content"][1]["id"]
            .as_str()
            .unwrap()
            .starts_with("toolu_")
    );
    assert_eq!(body["content"][1]["input"], json!({"city": "Oslo"}));

    let a = h
        .post(
            "/v1/messages",
            messages_body(json!({"tools": tools, "stream": true})),
        )
        .await;
    let frames = a.sse();
    let starts: Vec<Value> = frames
        .iter()
        .filter(|(e, _)| e.as_deref() == Some("content_block_start"))
        .map(|(_, d)| serde_json::from_str(d).unwrap())
        .collect();
    assert_eq!(starts.len(), 2);
    assert_eq!(starts[1]["index"], 1);
    assert_eq!(starts[1]["content_block"]["type"], "tool_use");
    let json_delta = frames
        .iter()
        .find(|(_, d)| d.contains("input_json_delta"))
        .map(|(_, d)| serde_json::from_str::<Value>(d).unwrap())
        .unwrap();
    let partial = json_delta["delta"]["partial_json"].as_str().unwrap();
    assert_eq!(
        serde_json::from_str::<Value>(partial).unwrap(),
        json!({"city": "Oslo"})
    );
}

#[tokio::test]
async fn anthropic_errors_have_anthropic_shape() {
    let h = harness(FakeBackend::new()).await;
    let a = h
        .post("/v1/messages", json!({"model": FAKE_CHAT, "messages": []}))
        .await;
    assert_eq!(a.status, StatusCode::BAD_REQUEST);
    let e = a.json();
    assert_eq!(e["type"], "error");
    assert_eq!(e["error"]["type"], "invalid_request_error");
    assert!(
        e["error"]["message"]
            .as_str()
            .unwrap()
            .contains("max_tokens")
    );
    let a = h
        .post("/v1/messages", messages_body(json!({"model": "nope"})))
        .await;
    assert_eq!(a.status, StatusCode::NOT_FOUND);
    assert_eq!(a.json()["error"]["type"], "not_found_error");
    let h = harness(FakeBackend::new().fail_after(1)).await;
    let frames = h
        .post("/v1/messages", messages_body(json!({"stream": true})))
        .await
        .sse();
    let (event, data) = frames.last().unwrap();
    assert_eq!(event.as_deref(), Some("error"));
    assert_eq!(
        serde_json::from_str::<Value>(data).unwrap()["type"],
        "error"
    );
}

// ---------------------------------------------------------------- real socket

async fn serve(h: &Harness) -> std::net::SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let app = router(h.state.clone());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    addr
}

async fn raw_post(addr: std::net::SocketAddr, path: &str, body: &Value) -> tokio::net::TcpStream {
    use tokio::io::AsyncWriteExt;
    let body = body.to_string();
    let mut socket = tokio::net::TcpStream::connect(addr).await.unwrap();
    let request = format!(
        "POST {path} HTTP/1.1\r\nhost: test\r\ncontent-type: application/json\r\n\
         content-length: {}\r\n\r\n{body}",
        body.len()
    );
    socket.write_all(request.as_bytes()).await.unwrap();
    socket
}

async fn read_until(socket: &mut tokio::net::TcpStream, needle: &str) -> String {
    use tokio::io::AsyncReadExt;
    let mut seen = Vec::new();
    let mut buf = [0u8; 4096];
    while !String::from_utf8_lossy(&seen).contains(needle) {
        let n = tokio::time::timeout(Duration::from_secs(5), socket.read(&mut buf))
            .await
            .expect("server answers")
            .unwrap();
        assert!(
            n > 0,
            "connection closed early: {}",
            String::from_utf8_lossy(&seen)
        );
        seen.extend_from_slice(&buf[..n]);
    }
    String::from_utf8_lossy(&seen).into_owned()
}

#[tokio::test]
async fn client_disconnect_mid_stream_drops_the_generation() {
    let long = "word ".repeat(200);
    let h = harness(
        FakeBackend::new()
            .reply(&long)
            .token_delay(Duration::from_millis(20)),
    )
    .await;
    let addr = serve(&h).await;
    for (path, body, marker) in [
        (
            "/v1/chat/completions",
            chat_body(json!({"stream": true, "n": 2})),
            "word",
        ),
        ("/api/chat", chat_body(json!({})), "word"),
        (
            "/v1/messages",
            messages_body(json!({"stream": true})),
            "word",
        ),
    ] {
        let mut socket = raw_post(addr, path, &body).await;
        let head = read_until(&mut socket, marker).await;
        assert!(head.starts_with("HTTP/1.1 200"), "{head}");
        assert!(h.fake.active_streams() > 0, "{path}: generation running");
        drop(socket);
        let deadline = tokio::time::Instant::now() + Duration::from_secs(3);
        while h.fake.active_streams() > 0 {
            assert!(
                tokio::time::Instant::now() < deadline,
                "{path}: generation not dropped"
            );
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }
}

#[tokio::test]
async fn ndjson_stream_arrives_line_by_line_even_with_gzip_accepted() {
    use tokio::io::AsyncWriteExt;
    let h = harness(FakeBackend::new().token_delay(Duration::from_millis(30))).await;
    let addr = serve(&h).await;
    let body = chat_body(json!({})).to_string();
    let mut socket = tokio::net::TcpStream::connect(addr).await.unwrap();
    let request = format!(
        "POST /api/chat HTTP/1.1\r\nhost: t\r\naccept-encoding: gzip\r\n\
         content-type: application/json\r\ncontent-length: {}\r\n\r\n{body}",
        body.len()
    );
    socket.write_all(request.as_bytes()).await.unwrap();
    let head = read_until(&mut socket, "\"done\":false").await;
    assert!(
        !head.to_lowercase().contains("content-encoding: gzip"),
        "{head}"
    );
    assert!(
        h.fake.active_streams() > 0,
        "first line arrived before the end"
    );
}
