//! Hearth's HTTP layer (axum + tower). The router is a function of [`AppState`];
//! every route is declared once in the [`routes`] table, which feeds the router,
//! the capability switches, metrics labels and the OpenAPI document.
//!
//! Handlers are thin: extract, call one service, map the result to a view. Errors
//! are [`ApiError`]s, rendered in the shape of the lane the request came in on by
//! one middleware ([`middleware::errors`]).

pub mod auth;
pub mod error;
pub mod extract;
pub mod lanes;
pub mod metrics;
pub mod middleware;
pub mod openapi;
pub mod routes;
pub mod serve;
pub mod state;
pub mod tls;

pub use error::{ApiError, Lane};
pub use routes::router;
pub use serve::{ShutdownSignal, Stopped, serve, serve_router};
pub use state::{AppState, Parts};
