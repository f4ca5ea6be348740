//! The [`Limiter`] port: requests per window and concurrent slots, counted per
//! key (`key:ID`, `user:ID`, `login:…`). The in-process implementation here
//! serves one replica; the Redis adapter in `hearth-store` lets several replicas
//! share one budget. Fixed windows: cheap, and exact enough for abuse control.
//! Token budgets use named counters ([`Limiter::add_counter`]): the caller names
//! the window in the counter's name and gives it an expiry.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use hearth_types::{Code, ErrorCode};

use crate::jobs::now_ms;

/// The limiter's backend failed (Redis unreachable).
#[derive(Debug, thiserror::Error)]
#[error("rate limiter unavailable: {0}")]
pub struct LimitError(pub String);

impl ErrorCode for LimitError {
    fn code(&self) -> Code {
        Code::Unavailable
    }
}

/// The answer to one count.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Within the budget.
    Allowed,
    /// Over the budget: retry after this many seconds (at least 1).
    Denied {
        /// Seconds until the window resets or a slot may free up.
        retry_after_secs: u32,
    },
}

impl Verdict {
    /// Whether the event may proceed.
    pub fn is_allowed(self) -> bool {
        self == Verdict::Allowed
    }
}

/// Counts events and concurrent slots.
#[async_trait]
pub trait Limiter: Send + Sync {
    /// Count one event for `key`: at most `limit` per `window`.
    async fn hit(&self, key: &str, limit: u32, window: Duration) -> Result<Verdict, LimitError>;
    /// Take one of at most `max` concurrent slots of `key`; pair with
    /// [`Limiter::release`] (or use [`acquire_permit`]).
    async fn acquire(&self, key: &str, max: u32) -> Result<Verdict, LimitError>;
    /// Give back a slot.
    async fn release(&self, key: &str) -> Result<(), LimitError>;
    /// The value of counter `name`; `None` when it does not exist (or expired).
    async fn counter(&self, name: &str) -> Result<Option<u64>, LimitError>;
    /// Create counter `name` at `value`, expiring after `ttl`, unless it
    /// exists; return the value it holds afterwards.
    async fn seed_counter(&self, name: &str, value: u64, ttl: Duration) -> Result<u64, LimitError>;
    /// Add `amount` to counter `name`. An absent counter is created (expiring
    /// after `ttl`) only when `create`; otherwise the addition is dropped (the
    /// next check seeds it from the records).
    async fn add_counter(
        &self,
        name: &str,
        amount: u64,
        ttl: Duration,
        create: bool,
    ) -> Result<(), LimitError>;
}

/// A concurrent slot, given back when dropped (also when a stream is cut).
pub struct Permit {
    limiter: Arc<dyn Limiter>,
    key: String,
}

impl Drop for Permit {
    fn drop(&mut self) {
        let limiter = self.limiter.clone();
        let key = std::mem::take(&mut self.key);
        if let Ok(handle) = tokio::runtime::Handle::try_current() {
            handle.spawn(async move {
                if let Err(err) = limiter.release(&key).await {
                    tracing::warn!(%err, "could not release a concurrency slot");
                }
            });
        }
    }
}

/// Take a slot as a [`Permit`]; `Ok(Err(retry_after_secs))` when all are taken.
pub async fn acquire_permit(
    limiter: &Arc<dyn Limiter>,
    key: &str,
    max: u32,
) -> Result<Result<Permit, u32>, LimitError> {
    match limiter.acquire(key, max).await? {
        Verdict::Allowed => Ok(Ok(Permit {
            limiter: limiter.clone(),
            key: key.to_owned(),
        })),
        Verdict::Denied { retry_after_secs } => Ok(Err(retry_after_secs)),
    }
}

/// Seconds from `now_ms` to the end of the fixed window it falls in (≥ 1).
pub fn secs_to_window_end(now_ms: i64, window: Duration) -> u32 {
    let window_ms = window.as_millis().max(1) as i64;
    let left_ms = window_ms - now_ms.rem_euclid(window_ms);
    u32::try_from((left_ms + 999) / 1000)
        .unwrap_or(u32::MAX)
        .max(1)
}

/// Limiter for a single process.
#[derive(Default)]
pub struct InProcessLimiter {
    windows: Mutex<HashMap<String, (i64, u32)>>,
    slots: Mutex<HashMap<String, u32>>,
    /// name → (value, expiry in Unix ms)
    counters: Mutex<HashMap<String, (u64, i64)>>,
}

impl InProcessLimiter {
    fn live_counters(&self) -> std::sync::MutexGuard<'_, HashMap<String, (u64, i64)>> {
        let now = now_ms();
        let mut counters = self.counters.lock().unwrap_or_else(|e| e.into_inner());
        if counters.len() > 100_000 {
            counters.retain(|_, (_, expires)| *expires > now);
        }
        counters
    }
}

fn expiry(ttl: Duration) -> i64 {
    now_ms().saturating_add(i64::try_from(ttl.as_millis()).unwrap_or(i64::MAX))
}

impl InProcessLimiter {
    /// An empty limiter.
    pub fn new() -> Self {
        Self::default()
    }
}

#[async_trait]
impl Limiter for InProcessLimiter {
    async fn hit(&self, key: &str, limit: u32, window: Duration) -> Result<Verdict, LimitError> {
        let now = now_ms();
        let window_ms = window.as_millis().max(1) as i64;
        let index = now.div_euclid(window_ms);
        let mut windows = self.windows.lock().unwrap_or_else(|e| e.into_inner());
        if windows.len() > 100_000 {
            windows.retain(|_, (i, _)| *i >= index);
        }
        let entry = windows.entry(key.to_owned()).or_insert((index, 0));
        if entry.0 != index {
            *entry = (index, 0);
        }
        if entry.1 >= limit {
            return Ok(Verdict::Denied {
                retry_after_secs: secs_to_window_end(now, window),
            });
        }
        entry.1 += 1;
        Ok(Verdict::Allowed)
    }

    async fn acquire(&self, key: &str, max: u32) -> Result<Verdict, LimitError> {
        let mut slots = self.slots.lock().unwrap_or_else(|e| e.into_inner());
        let taken = slots.entry(key.to_owned()).or_insert(0);
        if *taken >= max {
            return Ok(Verdict::Denied {
                retry_after_secs: 1,
            });
        }
        *taken += 1;
        Ok(Verdict::Allowed)
    }

    async fn release(&self, key: &str) -> Result<(), LimitError> {
        let mut slots = self.slots.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(taken) = slots.get_mut(key) {
            *taken = taken.saturating_sub(1);
            if *taken == 0 {
                slots.remove(key);
            }
        }
        Ok(())
    }

    async fn counter(&self, name: &str) -> Result<Option<u64>, LimitError> {
        let now = now_ms();
        let counters = self.live_counters();
        Ok(counters
            .get(name)
            .filter(|(_, expires)| *expires > now)
            .map(|(value, _)| *value))
    }

    async fn seed_counter(&self, name: &str, value: u64, ttl: Duration) -> Result<u64, LimitError> {
        let now = now_ms();
        let mut counters = self.live_counters();
        let entry = counters
            .entry(name.to_owned())
            .or_insert((value, expiry(ttl)));
        if entry.1 <= now {
            *entry = (value, expiry(ttl));
        }
        Ok(entry.0)
    }

    async fn add_counter(
        &self,
        name: &str,
        amount: u64,
        ttl: Duration,
        create: bool,
    ) -> Result<(), LimitError> {
        let now = now_ms();
        let mut counters = self.live_counters();
        match counters.get_mut(name) {
            Some(entry) if entry.1 > now => entry.0 = entry.0.saturating_add(amount),
            _ if create => {
                counters.insert(name.to_owned(), (amount, expiry(ttl)));
            }
            _ => {
                counters.remove(name);
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn window_budget_is_enforced_with_retry_after() {
        let limiter = InProcessLimiter::new();
        let window = Duration::from_secs(60);
        for _ in 0..3 {
            assert!(limiter.hit("k", 3, window).await.unwrap().is_allowed());
        }
        match limiter.hit("k", 3, window).await.unwrap() {
            Verdict::Denied { retry_after_secs } => assert!((1..=60).contains(&retry_after_secs)),
            Verdict::Allowed => panic!("fourth hit allowed"),
        }
        assert!(limiter.hit("other", 3, window).await.unwrap().is_allowed());
    }

    #[tokio::test]
    async fn permits_free_their_slot_on_drop() {
        let limiter: Arc<dyn Limiter> = Arc::new(InProcessLimiter::new());
        let first = acquire_permit(&limiter, "s", 1).await.unwrap().unwrap();
        assert!(acquire_permit(&limiter, "s", 1).await.unwrap().is_err());
        drop(first);
        tokio::time::sleep(Duration::from_millis(20)).await;
        assert!(acquire_permit(&limiter, "s", 1).await.unwrap().is_ok());
    }

    #[tokio::test]
    async fn counters_seed_once_and_add_only_when_asked() {
        let limiter = InProcessLimiter::new();
        let ttl = Duration::from_secs(60);
        assert_eq!(limiter.counter("c").await.unwrap(), None);
        limiter.add_counter("c", 5, ttl, false).await.unwrap();
        assert_eq!(limiter.counter("c").await.unwrap(), None);
        assert_eq!(limiter.seed_counter("c", 10, ttl).await.unwrap(), 10);
        assert_eq!(limiter.seed_counter("c", 99, ttl).await.unwrap(), 10);
        limiter.add_counter("c", 5, ttl, false).await.unwrap();
        assert_eq!(limiter.counter("c").await.unwrap(), Some(15));
        limiter.add_counter("d", 7, ttl, true).await.unwrap();
        assert_eq!(limiter.counter("d").await.unwrap(), Some(7));
        limiter
            .add_counter("gone", 1, Duration::ZERO, true)
            .await
            .unwrap();
        assert_eq!(limiter.counter("gone").await.unwrap(), None);
    }

    #[test]
    fn window_end_is_at_least_one_second() {
        assert_eq!(secs_to_window_end(0, Duration::from_secs(60)), 60);
        assert_eq!(secs_to_window_end(59_999, Duration::from_secs(60)), 1);
        assert_eq!(secs_to_window_end(30_500, Duration::from_secs(60)), 30);
    }
}
