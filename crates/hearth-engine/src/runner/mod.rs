//! Crash isolation: each model runs in a child process of the same binary (a
//! "runner"), supervised by the server.
//!
//! - [`protocol`]: the length-prefixed JSON frames both sides speak.
//! - [`child`]: the runner process (`hearth runner`): one model, one engine.
//! - [`supervisor`]: the server side, implementing the core ports.

pub mod child;
pub mod protocol;
pub mod supervisor;

pub use supervisor::{Residency, RunnerCommand, Supervisor};
