//! Security headers on Hearth's own lane (web app, admin, meta): a strict CSP
//! without `unsafe-inline`, no MIME sniffing, no referrer leaks, no framing.
//! The API lanes (`/v1`, `/api`) serve machines and are left alone. When
//! Hearth serves TLS itself, every response carries HSTS ([`hsts`]).

use axum::extract::Request;
use axum::http::{HeaderName, HeaderValue, header};
use axum::middleware::Next;
use axum::response::Response;

use crate::error::Lane;

/// The Content-Security-Policy of the web lane.
pub const CSP: &str = "default-src 'self'; script-src 'self'; style-src 'self'; \
                       img-src 'self' data:; connect-src 'self'; object-src 'none'; \
                       base-uri 'none'; frame-ancestors 'none'; form-action 'self'";

/// Add the headers to responses of Hearth's lane.
pub async fn layer(req: Request, next: Next) -> Response {
    let is_web = Lane::for_path(req.uri().path()) == Lane::Hearth;
    let mut response = next.run(req).await;
    if is_web {
        let headers = response.headers_mut();
        let set = [
            (header::CONTENT_SECURITY_POLICY, CSP),
            (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
            (header::REFERRER_POLICY, "no-referrer"),
            (header::X_FRAME_OPTIONS, "DENY"),
            (
                HeaderName::from_static("cross-origin-opener-policy"),
                "same-origin",
            ),
        ];
        for (name, value) in set {
            headers
                .entry(name)
                .or_insert(HeaderValue::from_static(value));
        }
    }
    response
}

/// `Strict-Transport-Security` sent when Hearth serves TLS itself: a year,
/// subdomains not included (other services may share the domain).
pub const HSTS: &str = "max-age=31536000";

/// Add HSTS to every response (mounted only when TLS is on).
pub async fn hsts(req: Request, next: Next) -> Response {
    let mut response = next.run(req).await;
    response
        .headers_mut()
        .entry(header::STRICT_TRANSPORT_SECURITY)
        .or_insert(HeaderValue::from_static(HSTS));
    response
}
