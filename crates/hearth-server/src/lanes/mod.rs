//! Handlers, one module per lane; inside a lane, one module per resource.

pub mod admin;
pub mod conversations;
pub mod meta;
