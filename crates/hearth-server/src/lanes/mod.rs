//! Handlers, one module per lane; inside a lane, one module per resource.

pub mod admin;
pub mod meta;
pub mod ui;
pub mod views;
