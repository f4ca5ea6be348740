//! Rough throughput figures (ignored by default; not a benchmark — see the
//! `cargo xtask bench` plan in the engine issue). Run with
//! `cargo test -p hearth-engine --test throughput -- --ignored --nocapture`.

mod common;

use std::time::Instant;

use common::*;
use hearth_core::backend::{ChatBackend, Prompt};
use hearth_engine::SchedulerConfig;

#[tokio::test]
#[ignore = "prints figures; slow"]
async fn single_and_concurrent_streams() {
    let config = SchedulerConfig {
        threads: 2,
        context_tokens: 2048,
        ..small_config(4)
    };
    let engine = engine(config).await;
    let prompt = "The history of the world is long and full of surprises. ".repeat(20);
    let mut request = chat("warmup", "", greedy(8));
    request.prompt = Prompt::Text(prompt.clone());
    let _ = collect(engine.generate(request.clone()).await.unwrap()).await;
    for round in 0..3 {
        let mut request = chat(&format!("p{round}"), "", greedy(128));
        request.prompt = Prompt::Text(format!("{round} {prompt}"));
        let out = collect(engine.generate(request).await.unwrap()).await;
        let s = &out.stats;
        println!(
            "single: prompt {} tok in {:?} ({:.1} tok/s, cached {}), generation {} tok in {:?} ({:.1} tok/s)",
            s.prompt_tokens,
            s.prompt_duration,
            f64::from(s.prompt_tokens - s.cached_tokens) / s.prompt_duration.as_secs_f64(),
            s.cached_tokens,
            s.completion_tokens,
            s.generation_duration,
            f64::from(s.completion_tokens - 1) / s.generation_duration.as_secs_f64(),
        );
    }
    for n in [2usize, 4] {
        let started = Instant::now();
        let outs = futures::future::join_all((0..n).map(|i| {
            let mut request = chat(&format!("c{n}-{i}"), "", greedy(64));
            request.prompt = Prompt::Text(format!("Story number {i}: once upon a time"));
            let engine = &engine;
            async move { collect(engine.generate(request).await.unwrap()).await }
        }))
        .await;
        let tokens: u32 = outs.iter().map(|o| o.stats.completion_tokens).sum();
        let ttft: Vec<_> = outs
            .iter()
            .map(|o| o.stats.queue_time + o.stats.prompt_duration)
            .collect();
        println!(
            "{n} concurrent: {tokens} tok in {:?} = {:.1} tok/s aggregate; TTFT {:?}",
            started.elapsed(),
            f64::from(tokens) / started.elapsed().as_secs_f64(),
            ttft
        );
    }
}

#[test]
#[ignore = "prints figures"]
fn sampler_cost_per_token() {
    use hearth_core::backend::SamplingParams;
    use hearth_engine::sampling::{SamplingDefaults, SequenceSampler};
    let model =
        hearth_engine::Model::load(&smollm2(), &hearth_engine::LoadOptions::default()).unwrap();
    let logits: Vec<f32> = (0..model.vocab_size())
        .map(|i| ((i * 7919) % 1000) as f32 / 100.0)
        .collect();
    for (name, params) in [
        ("greedy", greedy(1)),
        (
            "top-k/p + temp",
            SamplingParams {
                temperature: Some(0.8),
                seed: Some(1),
                ..SamplingParams::default()
            },
        ),
    ] {
        let mut sampler =
            SequenceSampler::new(&model, &params, &SamplingDefaults::default()).unwrap();
        let started = Instant::now();
        for _ in 0..200 {
            let _ = sampler.sample(&logits).unwrap();
        }
        println!("{name}: {:?} per token", started.elapsed() / 200);
    }
}
