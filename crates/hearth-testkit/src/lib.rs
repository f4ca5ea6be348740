//! Dev-only helpers for Hearth's tests: where the test models are, how to reach
//! the test PostgreSQL, fresh temporary databases. Never a dependency of shipped
//! code.

pub mod fake;
pub mod models;
pub mod postgres;
pub mod tls;
