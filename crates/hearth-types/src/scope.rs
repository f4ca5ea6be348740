//! API scopes: the rights an API key or a session carries. Each route of the
//! route table names the one scope it needs; admins hold every scope.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// One right a credential may carry.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, ToSchema,
)]
pub enum Scope {
    /// Generate text (chat and completions).
    #[serde(rename = "chat")]
    Chat,
    /// Compute embeddings.
    #[serde(rename = "embed")]
    Embed,
    /// List and inspect models.
    #[serde(rename = "models:read")]
    ModelsRead,
    /// Pull, create, copy and delete models.
    #[serde(rename = "models:write")]
    ModelsWrite,
    /// Operator actions: users, keys, sessions, audit, jobs, usage.
    #[serde(rename = "admin")]
    Admin,
    /// Read `/metrics` (for a Prometheus scraper's key).
    #[serde(rename = "metrics")]
    Metrics,
}

impl Scope {
    /// Every scope.
    pub const ALL: &'static [Scope] = &[
        Scope::Chat,
        Scope::Embed,
        Scope::ModelsRead,
        Scope::ModelsWrite,
        Scope::Admin,
        Scope::Metrics,
    ];

    /// The stable text (`chat`, `models:read`, …).
    pub const fn as_str(self) -> &'static str {
        match self {
            Scope::Chat => "chat",
            Scope::Embed => "embed",
            Scope::ModelsRead => "models:read",
            Scope::ModelsWrite => "models:write",
            Scope::Admin => "admin",
            Scope::Metrics => "metrics",
        }
    }

    /// Parse the stable text.
    pub fn parse(text: &str) -> Option<Scope> {
        Scope::ALL.iter().copied().find(|s| s.as_str() == text)
    }
}

impl std::fmt::Display for Scope {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scopes_round_trip_text_and_json() {
        for scope in Scope::ALL {
            assert_eq!(Scope::parse(scope.as_str()), Some(*scope));
            let json = serde_json::to_string(scope).unwrap();
            assert_eq!(json, format!("\"{}\"", scope.as_str()));
        }
        assert_eq!(Scope::parse("Admin"), None);
        assert_eq!(Scope::parse(""), None);
    }
}
