//! Wire vocabulary shared by every Hearth crate: the stable error-code table, the
//! error envelope of Hearth's own lanes, and identifiers. Pure data: no I/O, no
//! async, no dependency beyond serde and utoipa.

pub mod error;
pub mod scope;

pub use error::{Code, ErrorBody, ErrorCode, ErrorEnvelope, ErrorKind};
pub use scope::Scope;
