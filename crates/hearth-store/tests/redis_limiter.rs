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

#[tokio::test]
async fn two_replicas_share_token_counters() {
    let Some(url) = redis_url() else { return };
    let a = RedisLimiter::connect(&url).await.unwrap();
    let b = RedisLimiter::connect(&url).await.unwrap();
    let name = unique("ct");
    let ttl = Duration::from_secs(60);
    assert_eq!(a.counter(&name).await.unwrap(), None);
    b.add_counter(&name, 5, ttl, false).await.unwrap();
    assert_eq!(
        a.counter(&name).await.unwrap(),
        None,
        "no add to an absent one"
    );
    assert_eq!(a.seed_counter(&name, 100, ttl).await.unwrap(), 100);
    assert_eq!(
        b.seed_counter(&name, 7, ttl).await.unwrap(),
        100,
        "seeded once"
    );
    b.add_counter(&name, 5, ttl, false).await.unwrap();
    a.add_counter(&name, 1, ttl, true).await.unwrap();
    assert_eq!(b.counter(&name).await.unwrap(), Some(106));
    let fresh = unique("ct");
    a.add_counter(&fresh, 3, ttl, true).await.unwrap();
    assert_eq!(b.counter(&fresh).await.unwrap(), Some(3));
}

/// Tokens per minute charged on one replica are refused on the other.
#[tokio::test]
async fn two_replicas_share_one_tokens_per_minute_budget() {
    use hearth_core::auth::{AuthService, AuthSettings, PasswordHasher};
    use hearth_core::config::Config;
    use hearth_core::usage::{QuotaLimits, QuotaSettings, Quotas, Subject};

    let Some(url) = redis_url() else { return };
    let dir = tempfile::tempdir().unwrap();
    let db = format!("sqlite://{}", dir.path().join("t.db").display());
    let store = hearth_store::open(&db, &Default::default()).await.unwrap();
    let settings = QuotaSettings {
        key: QuotaLimits {
            tokens_per_minute: 10,
            ..QuotaLimits::default()
        },
        user: QuotaLimits::default(),
    };
    let replica = |limiter: Arc<dyn Limiter>| {
        let auth = Arc::new(AuthService::new(
            store.clone(),
            limiter.clone(),
            PasswordHasher::with_cost(64, 1, 1),
            AuthSettings::from_config(&Config::default()),
        ));
        Quotas::new(store.clone(), limiter, auth, settings)
    };
    let a = replica(Arc::new(RedisLimiter::connect(&url).await.unwrap()));
    let b = replica(Arc::new(RedisLimiter::connect(&url).await.unwrap()));
    // A minute boundary between charge and check resets the budget: retry
    // with a fresh key in that (rare) case.
    for _ in 0..3 {
        let key = [Subject::Key(unique("key"))];
        let minute = hearth_core::jobs::now_ms() / 60_000;
        assert!(a.check(&key).await.unwrap().is_ok());
        b.check(&key).await.unwrap().unwrap();
        a.charge(&key, 6).await;
        let after_six = b.check(&key).await.unwrap();
        b.charge(&key, 6).await;
        let after_twelve = a.check(&key).await.unwrap();
        let on_b = b.check(&key).await.unwrap();
        if hearth_core::jobs::now_ms() / 60_000 != minute {
            continue;
        }
        assert!(after_six.is_ok(), "6 of 10 used");
        let denied = after_twelve.expect_err("12 of 10 used, seen by replica a");
        assert_eq!(denied.code, hearth_types::Code::RateLimited);
        assert!((1..=60).contains(&denied.retry_after_secs));
        assert!(on_b.is_err(), "and by replica b");
        return;
    }
    panic!("three minute boundaries in a row");
}
