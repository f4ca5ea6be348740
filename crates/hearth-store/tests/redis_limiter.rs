//! The Redis limiter against a real `redis-server` (started by
//! scripts/services.sh): two limiter instances, standing for two Hearth
//! replicas, share one budget.

use std::sync::Arc;
use std::time::Duration;

use hearth_core::limits::{Limiter, Verdict, acquire_permit};
use hearth_store::RedisLimiter;

fn redis_url() -> Option<String> {
    match std::env::var("HEARTH_TEST_REDIS_URL") {
        Ok(url) if !url.is_empty() => Some(url),
        _ => {
            assert!(
                std::env::var_os("CI").is_none(),
                "CI is set but HEARTH_TEST_REDIS_URL is not: run the tests with scripts/test.sh"
            );
            eprintln!("HEARTH_TEST_REDIS_URL not set: Redis limiter test not run");
            None
        }
    }
}

fn unique(name: &str) -> String {
    format!("{name}:{}", uuid::Uuid::new_v4().simple())
}

#[tokio::test]
async fn two_replicas_share_one_request_budget() {
    let Some(url) = redis_url() else { return };
    let a = RedisLimiter::connect(&url).await.unwrap();
    let b = RedisLimiter::connect(&url).await.unwrap();
    let key = unique("key");
    let minute = Duration::from_secs(60);
    let mut allowed = 0;
    for i in 0..10 {
        let limiter = if i % 2 == 0 { &a } else { &b };
        if limiter.hit(&key, 6, minute).await.unwrap().is_allowed() {
            allowed += 1;
        }
    }
    assert_eq!(allowed, 6, "one budget of 6 across both replicas");
    match b.hit(&key, 6, minute).await.unwrap() {
        Verdict::Denied { retry_after_secs } => assert!((1..=60).contains(&retry_after_secs)),
        Verdict::Allowed => panic!("over budget"),
    }
    assert!(
        a.hit(&unique("other"), 6, minute)
            .await
            .unwrap()
            .is_allowed()
    );
}

#[tokio::test]
async fn two_replicas_share_one_stream_cap() {
    let Some(url) = redis_url() else { return };
    let a: Arc<dyn Limiter> = Arc::new(RedisLimiter::connect(&url).await.unwrap());
    let b: Arc<dyn Limiter> = Arc::new(RedisLimiter::connect(&url).await.unwrap());
    let key = unique("streams");
    let first = acquire_permit(&a, &key, 2).await.unwrap().unwrap();
    let _second = acquire_permit(&b, &key, 2).await.unwrap().unwrap();
    assert!(acquire_permit(&a, &key, 2).await.unwrap().is_err());
    assert!(acquire_permit(&b, &key, 2).await.unwrap().is_err());
    drop(first);
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert!(acquire_permit(&b, &key, 2).await.unwrap().is_ok());
}

#[tokio::test]
async fn unreachable_redis_is_an_error_not_a_hang() {
    let started = std::time::Instant::now();
    assert!(RedisLimiter::connect("redis://127.0.0.1:1").await.is_err());
    assert!(started.elapsed() < Duration::from_secs(10));
}
