//! Handlers, one module per lane; inside a lane, one module per resource.

pub mod admin;
pub mod anthropic;
pub mod conversations;
pub mod meta;
pub mod ollama;
pub mod openai;
pub mod pulls;
pub mod stream;
pub mod ui;
pub mod views;
