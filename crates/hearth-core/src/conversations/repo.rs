//! The storage port of conversations. `hearth-store` implements it on SQLite and
//! PostgreSQL; the contract suite checks both.
//!
//! Ownership is checked here for conversation-level calls (a conversation of
//! another owner is `NotFound`, exactly like a missing one). Message-level calls
//! take a conversation id the service has already resolved for its owner.

use async_trait::async_trait;

use super::model::{
    Conversation, ConversationId, ConversationPage, ConversationPatch, ListFilter, Message,
    MessageFinish, MessageId, OwnerId, StoredSummary,
};
use super::personas::UserPersona;
use crate::store::StoreError;

/// Repository of conversations and their message trees.
#[async_trait]
pub trait ConversationRepo: Send + Sync {
    /// Insert a conversation with messages (parents before children), in one
    /// transaction. Used by create, fork and import.
    async fn insert(
        &self,
        conversation: &Conversation,
        messages: &[Message],
    ) -> Result<(), StoreError>;

    /// One conversation of `owner` that is not deleted.
    async fn get(&self, owner: &OwnerId, id: &ConversationId) -> Result<Conversation, StoreError>;

    /// A page of `owner`'s conversations, last changed first.
    async fn list(
        &self,
        owner: &OwnerId,
        filter: &ListFilter,
    ) -> Result<ConversationPage, StoreError>;

    /// Change metadata; returns the conversation as changed.
    async fn update(
        &self,
        owner: &OwnerId,
        id: &ConversationId,
        patch: &ConversationPatch,
    ) -> Result<Conversation, StoreError>;

    /// Soft-delete: invisible at once, rows kept until purged.
    async fn soft_delete(&self, owner: &OwnerId, id: &ConversationId) -> Result<(), StoreError>;

    /// Delete rows now (deleted or not).
    async fn purge(&self, owner: &OwnerId, id: &ConversationId) -> Result<(), StoreError>;

    /// Delete the rows of conversations soft-deleted before this time; returns
    /// how many conversations went.
    async fn purge_deleted(&self, deleted_before_ms: i64) -> Result<u64, StoreError>;

    /// Add messages (parents first) and make `new_leaf` the current leaf, in one
    /// transaction. A message whose idempotency key the conversation already has
    /// fails the whole call with `Conflict` and changes nothing.
    async fn append(
        &self,
        conversation_id: &ConversationId,
        messages: &[Message],
        new_leaf: &MessageId,
    ) -> Result<(), StoreError>;

    /// One message of the conversation.
    async fn message(
        &self,
        conversation_id: &ConversationId,
        id: &MessageId,
    ) -> Result<Message, StoreError>;

    /// The message created with this idempotency key, if any.
    async fn message_by_key(
        &self,
        conversation_id: &ConversationId,
        key: &str,
    ) -> Result<Option<Message>, StoreError>;

    /// Direct children of a message, oldest first.
    async fn children(
        &self,
        conversation_id: &ConversationId,
        id: &MessageId,
    ) -> Result<Vec<Message>, StoreError>;

    /// Every message of the conversation, oldest first.
    async fn tree(&self, conversation_id: &ConversationId) -> Result<Vec<Message>, StoreError>;

    /// (id, parent id) of every message, oldest first: the tree without text.
    async fn shape(
        &self,
        conversation_id: &ConversationId,
    ) -> Result<Vec<(MessageId, Option<MessageId>)>, StoreError>;

    /// The messages from the root to `leaf`, root first.
    async fn path(
        &self,
        conversation_id: &ConversationId,
        leaf: &MessageId,
    ) -> Result<Vec<Message>, StoreError>;

    /// Make `leaf` the current leaf.
    async fn set_leaf(
        &self,
        conversation_id: &ConversationId,
        leaf: &MessageId,
    ) -> Result<(), StoreError>;

    /// Store the text generated so far of a `streaming` message.
    async fn update_content(&self, id: &MessageId, content: &str) -> Result<(), StoreError>;

    /// Finish a `streaming` message. Returns `false` (and changes nothing) when it
    /// was no longer streaming: a final state is never left.
    async fn finish_message(
        &self,
        id: &MessageId,
        finish: &MessageFinish,
    ) -> Result<bool, StoreError>;

    /// After a restart: every `streaming` message becomes `error` with this
    /// message. Returns how many.
    async fn fail_streaming(&self, error: &str) -> Result<u64, StoreError>;

    /// Store the summary of the branch from the root to `through` (a message of
    /// the conversation), replacing an earlier one.
    async fn put_summary(
        &self,
        conversation_id: &ConversationId,
        through: &MessageId,
        content: &str,
        model: &str,
    ) -> Result<(), StoreError>;

    /// Store a version of a user persona. An existing (id, version) is
    /// `Conflict` (a concurrent update won).
    async fn insert_persona(&self, persona: &UserPersona) -> Result<(), StoreError>;

    /// The newest version of each of `owner`'s personas, by name.
    async fn personas(&self, owner: &OwnerId) -> Result<Vec<UserPersona>, StoreError>;

    /// One version of `owner`'s persona (the newest when `None`); `NotFound`
    /// for another owner's.
    async fn persona(
        &self,
        owner: &OwnerId,
        id: &str,
        version: Option<i64>,
    ) -> Result<UserPersona, StoreError>;

    /// Delete every version of `owner`'s persona.
    async fn delete_persona(&self, owner: &OwnerId, id: &str) -> Result<(), StoreError>;

    /// Every stored summary of the conversation, oldest first.
    async fn summaries(
        &self,
        conversation_id: &ConversationId,
    ) -> Result<Vec<StoredSummary>, StoreError>;
}
