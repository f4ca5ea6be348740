//! Middleware applied to every route, outermost first: request id and tracing
//! span ([`request_id`]), error rendering ([`errors`]), metrics ([`metrics`]),
//! panic capture, timeout, body limit, compression, CORS, and the security
//! headers of Hearth's lane ([`security_headers`]). The auth policy ([`auth`]) is
//! applied per route from the route table.

pub mod auth;
pub mod errors;
pub mod metrics;
pub mod request_id;
pub mod security_headers;
pub mod timeout;
