//! Conversations as trees: persistent, branchable, resumable chat.
//!
//! - [`model`]: conversations, messages (a tree by `parent_id`), statuses.
//! - [`repo`]: the storage port ([`ConversationRepo`]), reached through
//!   [`Store::conversations`](crate::store::Store::conversations).
//! - [`service`] and [`generate`]: the operations the lanes call; generations
//!   run on their own tasks and are followed through the [`live`] registry.
//! - [`export`] and [`chatgpt`]: the `hearth.conversation` JSON format,
//!   Markdown, and ChatGPT import.

pub mod admin;
pub mod chatgpt;
pub mod context;
pub mod error;
pub mod export;
pub mod generate;
pub mod live;
pub mod model;
pub mod params;
pub mod personas;
pub mod repo;
pub mod service;
pub mod tree;
pub mod user_personas;

pub use error::ConversationError;
pub use generate::{GenerateOptions, SendInput, Turn};
pub use live::{LiveEvent, LiveStream};
pub use model::{
    ContextAction, ContextNote, Conversation, ConversationId, ConversationPage, ConversationPatch,
    ListCursor, ListFilter, Message, MessageFinish, MessageId, MessageStatus, OwnerId, Role,
    StoredSummary, Timings, Usage,
};
pub use personas::{AnyPersona, PersonaRef, UserPersona};
pub use repo::ConversationRepo;
pub use service::{
    ConversationDetail, ConversationService, ConversationSettings, NewConversation, TreeView,
};
pub use tree::Shape;
pub use user_personas::PersonaInput;
