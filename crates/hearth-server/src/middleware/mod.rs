//! Middleware applied to every route, outermost first: request id and tracing
//! span ([`request_id`]), error rendering ([`errors`]), metrics ([`metrics`]),
//! panic capture, timeout, body limit, compression, CORS.

pub mod errors;
pub mod metrics;
pub mod request_id;
pub mod timeout;
