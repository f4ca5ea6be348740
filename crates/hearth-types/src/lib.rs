//! Wire vocabulary shared by every Hearth crate: the stable error-code table, the
//! error envelope of Hearth's own lanes, identifiers, and the DTOs of the
//! compatible lanes ([`openai`], [`ollama`], [`anthropic`]). Pure data: no I/O,
//! no async, no dependency beyond serde and utoipa.

pub mod anthropic;
pub mod error;
pub mod ollama;
pub mod openai;
pub mod scope;

pub use error::{Code, ErrorBody, ErrorCode, ErrorEnvelope, ErrorKind};
pub use scope::Scope;
