//! The [`Limiter`] port on Redis, so several Hearth replicas share one budget.
//! Fixed windows are `INCR` + `PEXPIRE` on a key named after the window
//! (`hearth:rl:KEY:INDEX`); concurrent slots are a counter taken with a script
//! that refuses past the cap, and given back with one that never goes below 0.
//! Token counters are plain integers (`hearth:ct:NAME`): seeded with `SET NX`,
//! added to with `INCRBY` (or a script that adds only to an existing one).
//! Every key expires, so a crashed replica's slots free themselves.

use std::time::Duration;

use async_trait::async_trait;
use hearth_core::jobs::now_ms;
use hearth_core::limits::{LimitError, Limiter, Verdict, secs_to_window_end};
use redis::Script;
use redis::aio::ConnectionManager;

/// Slots are forgotten this long after their last change (a replica that died
/// holding slots gives them back by expiry).
const SLOT_TTL_SECS: u64 = 3600;

/// Limiter backed by Redis.
#[derive(Clone)]
pub struct RedisLimiter {
    conn: ConnectionManager,
    acquire: Script,
    release: Script,
    add_existing: Script,
}

fn ttl_ms(ttl: Duration) -> u64 {
    u64::try_from(ttl.as_millis()).unwrap_or(u64::MAX).max(1)
}

fn fail(err: redis::RedisError) -> LimitError {
    LimitError(err.to_string())
}

impl RedisLimiter {
    /// Connect (and keep reconnecting) to `redis://HOST:PORT`.
    pub async fn connect(url: &str) -> Result<Self, LimitError> {
        let client = redis::Client::open(url).map_err(fail)?;
        let conn = tokio::time::timeout(Duration::from_secs(5), client.get_connection_manager())
            .await
            .map_err(|_| LimitError("no answer from Redis within 5 s".to_owned()))?
            .map_err(fail)?;
        Ok(RedisLimiter {
            conn,
            acquire: Script::new(
                r"local n = redis.call('INCR', KEYS[1])
                  redis.call('EXPIRE', KEYS[1], ARGV[2])
                  if n > tonumber(ARGV[1]) then redis.call('DECR', KEYS[1]) return 0 end
                  return 1",
            ),
            release: Script::new(
                r"local n = redis.call('DECR', KEYS[1])
                  if n <= 0 then redis.call('DEL', KEYS[1]) end
                  return n",
            ),
            add_existing: Script::new(
                r"if redis.call('EXISTS', KEYS[1]) == 1 then
                    return redis.call('INCRBY', KEYS[1], ARGV[1])
                  end
                  return -1",
            ),
        })
    }
}

#[async_trait]
impl Limiter for RedisLimiter {
    async fn hit(&self, key: &str, limit: u32, window: Duration) -> Result<Verdict, LimitError> {
        let now = now_ms();
        let window_ms = window.as_millis().max(1) as i64;
        let name = format!("hearth:rl:{key}:{}", now.div_euclid(window_ms));
        let mut conn = self.conn.clone();
        let (count, _): (i64, i64) = redis::pipe()
            .atomic()
            .incr(&name, 1)
            .pexpire(&name, window_ms)
            .query_async(&mut conn)
            .await
            .map_err(fail)?;
        if count > i64::from(limit) {
            return Ok(Verdict::Denied {
                retry_after_secs: secs_to_window_end(now, window),
            });
        }
        Ok(Verdict::Allowed)
    }

    async fn acquire(&self, key: &str, max: u32) -> Result<Verdict, LimitError> {
        let mut conn = self.conn.clone();
        let taken: i64 = self
            .acquire
            .key(format!("hearth:cc:{key}"))
            .arg(max)
            .arg(SLOT_TTL_SECS)
            .invoke_async(&mut conn)
            .await
            .map_err(fail)?;
        Ok(if taken == 1 {
            Verdict::Allowed
        } else {
            Verdict::Denied {
                retry_after_secs: 1,
            }
        })
    }

    async fn release(&self, key: &str) -> Result<(), LimitError> {
        let mut conn = self.conn.clone();
        let _: i64 = self
            .release
            .key(format!("hearth:cc:{key}"))
            .invoke_async(&mut conn)
            .await
            .map_err(fail)?;
        Ok(())
    }

    async fn counter(&self, name: &str) -> Result<Option<u64>, LimitError> {
        let mut conn = self.conn.clone();
        let value: Option<u64> = redis::cmd("GET")
            .arg(format!("hearth:ct:{name}"))
            .query_async(&mut conn)
            .await
            .map_err(fail)?;
        Ok(value)
    }

    async fn seed_counter(&self, name: &str, value: u64, ttl: Duration) -> Result<u64, LimitError> {
        let key = format!("hearth:ct:{name}");
        let mut conn = self.conn.clone();
        let (_, held): (Option<String>, u64) = redis::pipe()
            .atomic()
            .cmd("SET")
            .arg(&key)
            .arg(value)
            .arg("NX")
            .arg("PX")
            .arg(ttl_ms(ttl))
            .cmd("GET")
            .arg(&key)
            .query_async(&mut conn)
            .await
            .map_err(fail)?;
        Ok(held)
    }

    async fn add_counter(
        &self,
        name: &str,
        amount: u64,
        ttl: Duration,
        create: bool,
    ) -> Result<(), LimitError> {
        let key = format!("hearth:ct:{name}");
        let mut conn = self.conn.clone();
        if create {
            let _: (i64, i64) = redis::pipe()
                .atomic()
                .incr(&key, amount)
                .pexpire(&key, i64::try_from(ttl_ms(ttl)).unwrap_or(i64::MAX))
                .query_async(&mut conn)
                .await
                .map_err(fail)?;
        } else {
            let _: i64 = self
                .add_existing
                .key(key)
                .arg(amount)
                .invoke_async(&mut conn)
                .await
                .map_err(fail)?;
        }
        Ok(())
    }
}
