//! Generation on the real SmolLM2 model: determinism, stop strings, UTF-8,
//! constrained output, logprobs.

mod common;

use common::*;
use hearth_core::backend::{ChatBackend, FinishReason, OutputConstraint, Prompt, SamplingParams};

#[tokio::test]
async fn greedy_is_deterministic_and_plain_completion_works() {
    let engine = engine(small_config(2)).await;
    let prompt = "What is the capital of France?";
    let a = collect(
        engine
            .generate(chat("u", prompt, greedy(16)))
            .await
            .unwrap(),
    )
    .await;
    let b = collect(
        engine
            .generate(chat("u", prompt, greedy(16)))
            .await
            .unwrap(),
    )
    .await;
    assert!(!a.text().is_empty());
    assert_eq!(a.text(), b.text());
    assert_eq!(a.stats.completion_tokens, 16.min(a.stats.completion_tokens));

    let mut raw = chat("u", "", greedy(8));
    raw.prompt = Prompt::Text("The quick brown fox".into());
    let c = collect(engine.generate(raw).await.unwrap()).await;
    assert_eq!(c.finish, FinishReason::Length);
    assert_eq!(c.stats.completion_tokens, 8);
}

#[tokio::test]
async fn seeded_sampling_is_deterministic() {
    let engine = engine(small_config(2)).await;
    let params = |seed| SamplingParams {
        max_tokens: Some(16),
        temperature: Some(1.0),
        seed: Some(seed),
        ..SamplingParams::default()
    };
    let run = |seed| {
        let request = chat("u", "Tell me a story about a dragon.", params(seed));
        let engine = &engine;
        async move {
            collect(engine.generate(request).await.unwrap())
                .await
                .text()
        }
    };
    let first = run(7).await;
    assert_eq!(first, run(7).await);
    let others = [run(8).await, run(9).await, run(10).await];
    assert!(
        others.iter().any(|t| *t != first),
        "different seeds should (almost surely) differ"
    );
}

#[tokio::test]
async fn stop_strings_never_leak() {
    let engine = engine(small_config(2)).await;
    let prompt = "List three fruits, one per line.";
    let full = collect(
        engine
            .generate(chat("u", prompt, greedy(32)))
            .await
            .unwrap(),
    )
    .await
    .text();
    assert!(full.chars().count() > 12, "need some text to cut: {full:?}");
    // A stop string spanning several tokens, starting mid-text.
    let start = full.char_indices().nth(6).unwrap().0;
    let end = full.char_indices().nth(11).map_or(full.len(), |(i, _)| i);
    let stop = full[start..end].to_owned();
    let expected = &full[..full.find(&stop).unwrap()];
    let params = SamplingParams {
        stop: vec!["NEVER-SEEN".into(), stop.clone()],
        ..greedy(32)
    };
    let cut = collect(engine.generate(chat("u", prompt, params)).await.unwrap()).await;
    assert_eq!(cut.finish, FinishReason::Stop);
    assert_eq!(cut.text(), expected, "stop {stop:?}");
    assert!(!cut.text().contains(&stop));
}

#[tokio::test]
async fn streaming_never_splits_a_character() {
    let engine = engine(small_config(2)).await;
    // Byte-level BPE spells these with several tokens each; the grammar forces them.
    let grammar = r#"root ::= ("é" | "☃" | "日本" | "🙂" | " ")+"#;
    let params = SamplingParams {
        constraint: OutputConstraint::Grammar(grammar.into()),
        temperature: Some(1.0),
        seed: Some(3),
        ..greedy(24)
    };
    let out = collect(
        engine
            .generate(chat("u", "Write symbols.", params))
            .await
            .unwrap(),
    )
    .await;
    let (last, body) = out.deltas.split_last().expect("some deltas");
    for delta in body {
        assert!(
            !delta.contains('\u{FFFD}'),
            "a delta split a character: {delta:?}"
        );
        assert!(delta.chars().all(|c| "é☃日本🙂 ".contains(c)), "{delta:?}");
    }
    // Only the final flush may end in an incomplete character (cut by max_tokens).
    assert!(
        last.trim_end_matches('\u{FFFD}')
            .chars()
            .all(|c| "é☃日本🙂 ".contains(c))
    );
    assert!(!out.text().is_ascii(), "{:?}", out.text());
}

#[tokio::test]
async fn json_schema_output_always_parses_and_validates() {
    let engine = engine(small_config(4)).await;
    let schema = serde_json::json!({
        "type": "object",
        "properties": {
            "name": {"type": "string", "maxLength": 12},
            "age": {"type": "integer", "minimum": 0, "maximum": 120},
            "color": {"enum": ["red", "green", "blue"]}
        },
        "required": ["name", "age", "color"],
        "additionalProperties": false
    });
    let requests = (0..4u64).map(|seed| {
        let params = SamplingParams {
            constraint: OutputConstraint::JsonSchema(schema.clone()),
            temperature: Some(1.0),
            seed: Some(seed),
            ..greedy(96)
        };
        chat("u", "Describe a person as JSON.", params)
    });
    let streams = futures::future::join_all(requests.map(|r| engine.generate(r))).await;
    for stream in streams {
        let out = collect(stream.unwrap()).await;
        let value: serde_json::Value =
            serde_json::from_str(&out.text()).unwrap_or_else(|e| panic!("{e}: {:?}", out.text()));
        let object = value.as_object().expect("an object");
        assert_eq!(object.len(), 3, "{value}");
        assert!(
            object["name"]
                .as_str()
                .is_some_and(|s| s.chars().count() <= 12),
            "{value}"
        );
        assert!(
            object["age"]
                .as_i64()
                .is_some_and(|a| (0..=120).contains(&a)),
            "{value}"
        );
        assert!(
            ["red", "green", "blue"].contains(&object["color"].as_str().unwrap_or("")),
            "{value}"
        );
    }
}

#[tokio::test]
async fn logprobs_come_with_their_tokens() {
    let engine = engine(small_config(2)).await;
    let params = SamplingParams {
        logprobs: true,
        top_logprobs: 3,
        ..greedy(6)
    };
    let out = collect(
        engine
            .generate(chat("u", "Say hello.", params))
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(out.logprobs.len(), out.stats.completion_tokens as usize);
    for lp in &out.logprobs {
        assert!(lp.logprob <= 0.0);
        assert_eq!(lp.top.len(), 3);
        // Greedy: the chosen token is the most likely one.
        assert_eq!(lp.top[0].0, lp.token);
    }
}

#[tokio::test]
async fn bad_parameters_are_rejected_before_the_stream() {
    let engine = engine(small_config(1)).await;
    let bad = [
        SamplingParams {
            temperature: Some(-1.0),
            ..greedy(4)
        },
        SamplingParams {
            logit_bias: vec![(1_000_000, 1.0)],
            ..greedy(4)
        },
        SamplingParams {
            constraint: OutputConstraint::Grammar("root ::= (".into()),
            ..greedy(4)
        },
        SamplingParams {
            max_tokens: Some(0),
            ..SamplingParams::default()
        },
    ];
    for params in bad {
        let error = engine.generate(chat("u", "hi", params.clone())).await.err();
        assert!(
            matches!(
                error,
                Some(hearth_core::backend::BackendError::InvalidRequest(_))
            ),
            "{params:?} → {error:?}"
        );
    }
}

#[tokio::test]
async fn json_object_mode_and_token_counting() {
    let engine = engine(small_config(1)).await;
    let params = SamplingParams {
        constraint: OutputConstraint::JsonObject,
        ..greedy(48)
    };
    let out = collect(
        engine
            .generate(chat("u", "Give me a JSON object.", params))
            .await
            .unwrap(),
    )
    .await;
    if out.finish == FinishReason::Stop {
        let value: serde_json::Value = serde_json::from_str(&out.text()).unwrap();
        assert!(value.is_object(), "{value}");
    } else {
        assert!(out.text().starts_with('{'), "{:?}", out.text());
    }
    let prompt = Prompt::Chat {
        messages: vec![hearth_core::backend::ChatMessage::text(
            "user",
            "Give me a JSON object.",
        )],
        tools: Vec::new(),
        template: None,
    };
    let counted = engine.count_tokens(MODEL, &prompt).await.unwrap();
    assert_eq!(counted, out.stats.prompt_tokens);
    assert!(
        counted > 20,
        "the default system prompt is counted: {counted}"
    );
}

#[tokio::test]
async fn ignore_eos_generates_exactly_max_tokens() {
    let engine = engine(small_config(1)).await;
    // A greeting that the model answers briefly and ends with its end token.
    let natural = collect(
        engine
            .generate(chat("u", "Say hi.", greedy(200)))
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(
        natural.finish,
        FinishReason::Stop,
        "the model ends this answer by itself"
    );
    let wanted = natural.stats.completion_tokens + 20;
    let params = SamplingParams {
        ignore_eos: true,
        ..greedy(wanted)
    };
    let forced = collect(engine.generate(chat("u", "Say hi.", params)).await.unwrap()).await;
    assert_eq!(forced.finish, FinishReason::Length);
    assert_eq!(forced.stats.completion_tokens, wanted);
    assert!(
        forced.text().starts_with(&natural.text()),
        "same greedy start"
    );
}
