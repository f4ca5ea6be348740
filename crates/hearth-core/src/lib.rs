//! Hearth's domain: configuration, services and the ports (traits) they need.
//! Adapters (storage, engine, providers, HTTP) live in other crates and depend on
//! this one; this crate depends on no adapter.

pub mod auth;
pub mod backend;
pub mod chat;
pub mod config;
pub mod conversations;
pub mod embed;
pub mod jobs;
pub mod limits;
pub mod models;
pub mod registry;
pub mod store;
pub mod usage;
pub mod validate;
