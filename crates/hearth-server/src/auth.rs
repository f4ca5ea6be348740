//! Who is calling: the [`Caller`] extractor. The auth middleware (accounts issue)
//! authenticates each request against the route table's [`Auth`](crate::routes::Auth)
//! and inserts a `Caller` into the request's extensions; handlers only read it.
//! Until that middleware exists every request is the anonymous principal.

use std::convert::Infallible;

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use hearth_core::backend::Principal;

/// The principal a request acts for.
#[derive(Debug, Clone)]
pub struct Caller {
    /// Scheduling, cache scoping and usage accounting key on it.
    pub principal: Principal,
}

impl Caller {
    /// The caller when authentication is off.
    pub fn anonymous() -> Self {
        Caller {
            principal: Principal::anonymous(),
        }
    }
}

impl<S: Send + Sync> FromRequestParts<S> for Caller {
    type Rejection = Infallible;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        Ok(parts
            .extensions
            .get::<Caller>()
            .cloned()
            .unwrap_or_else(Caller::anonymous))
    }
}
