//! Storage adapters: one SQL implementation of the core's storage ports that runs
//! on SQLite (embedded default) and PostgreSQL (scale-out), chosen by URL at
//! startup. Both engines are reached through sqlx's `Any` driver with
//! per-engine migrations; SQL that differs between engines is chosen by
//! [`StoreKind`](hearth_core::store::StoreKind).
//!
//! SQLite runs in WAL mode with foreign keys on, a busy timeout, and
//! `synchronous` as configured (FULL by default: an acknowledged write survives a
//! crash or power loss).

mod accounts;
mod conversations;
mod jobs;
mod migrate;
mod open;
mod redis_limiter;
mod registry;
mod usage;

pub use open::{OpenOptions, open};
pub use redis_limiter::RedisLimiter;
