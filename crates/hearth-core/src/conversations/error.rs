//! Errors of the conversation service, each a row of the code table.

use hearth_types::{Code, ErrorCode};

use crate::store::StoreError;

/// What can go wrong in a conversation operation.
#[derive(Debug, thiserror::Error)]
pub enum ConversationError {
    /// No such conversation for this owner (another owner's is answered the same).
    #[error("conversation '{0}' does not exist")]
    ConversationNotFound(String),
    /// No such message in this conversation.
    #[error("message '{0}' does not exist in this conversation")]
    MessageNotFound(String),
    /// No such persona for this owner (another owner's is answered the same).
    #[error("persona '{0}' does not exist")]
    PersonaNotFound(String),
    /// An input is malformed or out of range.
    #[error("{message}")]
    Invalid {
        /// The field at fault.
        field: &'static str,
        /// What is wrong and what is accepted.
        message: String,
    },
    /// The request conflicts with the state (busy message, reused key).
    #[error("{0}")]
    Conflict(String),
    /// An admin tried to read a user's conversations while the configuration
    /// does not allow it.
    #[error(
        "admins may not read users' conversations on this server; \
         an operator can allow it with conversations.admin_can_read (every read is audited)"
    )]
    AdminReadDisabled,
    /// Storage failed.
    #[error(transparent)]
    Store(StoreError),
}

impl ConversationError {
    /// A validation error naming its field.
    pub fn invalid(field: &'static str, message: impl Into<String>) -> Self {
        ConversationError::Invalid {
            field,
            message: message.into(),
        }
    }
}

impl From<StoreError> for ConversationError {
    fn from(e: StoreError) -> Self {
        ConversationError::Store(e)
    }
}

impl ErrorCode for ConversationError {
    fn code(&self) -> Code {
        match self {
            ConversationError::ConversationNotFound(_)
            | ConversationError::MessageNotFound(_)
            | ConversationError::PersonaNotFound(_) => Code::NotFound,
            ConversationError::Invalid { .. } => Code::Validation,
            ConversationError::Conflict(_) => Code::Conflict,
            ConversationError::AdminReadDisabled => Code::CapabilityDisabled,
            ConversationError::Store(e) => e.code(),
        }
    }

    fn detail(&self) -> Option<serde_json::Value> {
        match self {
            ConversationError::Invalid { field, .. } => Some(serde_json::json!({ "field": field })),
            _ => None,
        }
    }
}
