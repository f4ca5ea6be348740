//! `[conversations]`: how conversations are fitted into a model's context, how
//! long deleted ones are kept, and whether admins may read them.

use serde::{Deserialize, Serialize};

/// What happens to the oldest turns of a conversation that no longer fits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ContextPolicy {
    /// Leave them out of the prompt (they stay in the conversation).
    Drop,
    /// Replace them with a summary written once by the model and stored.
    Summarize,
}

/// `[conversations]`
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ConversationsConfig {
    /// `drop` or `summarize`.
    pub context_policy: ContextPolicy,
    /// Context tokens kept free for the answer.
    pub reserved_answer_tokens: u32,
    /// Answer length when nothing sets `max_tokens`.
    pub default_max_tokens: u32,
    /// Days a soft-deleted conversation is kept.
    pub retention_days: u32,
    /// Generations outlive their client.
    pub keep_generating_on_disconnect: bool,
    /// Title conversations with the model after the first exchange.
    pub generate_titles: bool,
    /// Admins may read users' conversations (audited).
    pub admin_can_read: bool,
}

impl Default for ConversationsConfig {
    fn default() -> Self {
        ConversationsConfig {
            // Drop is predictable and costs nothing; summarizing spends a
            // generation and can lose detail, so it is opt-in.
            context_policy: ContextPolicy::Drop,
            reserved_answer_tokens: 512,
            default_max_tokens: 1024,
            retention_days: 30,
            keep_generating_on_disconnect: true,
            generate_titles: true,
            admin_can_read: false,
        }
    }
}
