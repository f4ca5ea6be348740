//! Hearth's domain: configuration, services and the ports (traits) they need.
//! Adapters (storage, engine, providers, HTTP) live in other crates and depend on
//! this one; this crate depends on no adapter.

pub mod backend;
pub mod config;
pub mod conversations;
pub mod jobs;
pub mod models;
pub mod store;
