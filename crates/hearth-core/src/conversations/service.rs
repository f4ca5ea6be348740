//! [`ConversationService`]: every conversation operation the lanes call. Runs on
//! the caller's task, except generations, which run on tasks of their own
//! (see [`generate`](super::generate)) so that they outlive the HTTP request.
//!
//! Invariants kept here: a conversation is only reached through its owner
//! (another owner's id is `ConversationNotFound`); a message is only added under
//! a parent of the same conversation that is not streaming; the current leaf is
//! always a message of the conversation.

use std::sync::Arc;
use std::time::Duration;

use super::error::ConversationError;
use super::live::LiveRegistry;
use super::model::{
    Conversation, ConversationId, ConversationPage, ConversationPatch, DEFAULT_TITLE, ListFilter,
    Message, MessageId, MessageStatus, OwnerId,
};
use super::params::ChatParams;
use super::personas;
use super::repo::ConversationRepo;
use super::tree::{Shape, newest_leaf_under};
use crate::backend::ChatBackend;
use crate::config::{Config, ContextPolicy};
use crate::jobs::now_ms;
use crate::models::ModelCatalog;
use crate::store::{Store, StoreError};

/// Tunables of the service.
#[derive(Debug, Clone)]
pub struct ConversationSettings {
    /// A generation keeps running when its client disconnects.
    pub keep_generating_on_disconnect: bool,
    /// How often the partial answer of a streaming message is written.
    pub flush_interval: Duration,
    /// Soft-deleted conversations are purged after this long.
    pub retention: Duration,
    /// Generate a title with the model after the first exchange.
    pub generate_titles: bool,
    /// Answer length when a conversation sets no `max_tokens` (a small model can
    /// otherwise ramble to the end of its context).
    pub default_max_tokens: u32,
    /// What happens to old turns that no longer fit the context.
    pub context_policy: ContextPolicy,
    /// Context tokens kept free for the answer.
    pub reserved_answer_tokens: u32,
    /// Tokens of one sequence (the engine's `context_tokens`; 0 = the model's
    /// trained context capped at 4096, as the engine does).
    pub context_tokens: u32,
    /// Admins may read other users' conversations (audited by the caller).
    pub admin_can_read: bool,
}

impl ConversationSettings {
    /// The settings of this configuration.
    pub fn from_config(config: &Config) -> Self {
        let c = &config.conversations;
        ConversationSettings {
            keep_generating_on_disconnect: c.keep_generating_on_disconnect,
            retention: Duration::from_secs(u64::from(c.retention_days) * 24 * 3600),
            generate_titles: c.generate_titles,
            default_max_tokens: c.default_max_tokens,
            context_policy: c.context_policy,
            reserved_answer_tokens: c.reserved_answer_tokens,
            context_tokens: config.engine.context_tokens,
            admin_can_read: c.admin_can_read,
            ..ConversationSettings::default()
        }
    }
}

impl Default for ConversationSettings {
    fn default() -> Self {
        ConversationSettings {
            keep_generating_on_disconnect: true,
            flush_interval: Duration::from_millis(500),
            retention: Duration::from_secs(30 * 24 * 3600),
            generate_titles: true,
            default_max_tokens: 1024,
            context_policy: ContextPolicy::Drop,
            reserved_answer_tokens: 512,
            context_tokens: 0,
            admin_can_read: false,
        }
    }
}

/// Input of [`ConversationService::create`].
#[derive(Debug, Clone, Default, PartialEq)]
pub struct NewConversation {
    /// Title; the default title when `None`.
    pub title: Option<String>,
    /// Default model of the conversation.
    pub model: Option<String>,
    /// System prompt (not with `persona_id`).
    pub system_prompt: Option<String>,
    /// Take the system prompt from this persona (e.g. `builtin:socratic`).
    pub persona_id: Option<String>,
    /// Values of the persona's template variables.
    pub persona_variables: std::collections::BTreeMap<String, String>,
    /// Default sampling parameters (JSON object or null).
    pub params: serde_json::Value,
}

/// Which messages [`ConversationService::get`] returns.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TreeView {
    /// The active branch, root first.
    Path,
    /// Every message, oldest first.
    Tree,
}

/// A conversation with some of its messages and the tree's shape.
#[derive(Debug, Clone, PartialEq)]
pub struct ConversationDetail {
    /// Metadata.
    pub conversation: Conversation,
    /// The messages asked for.
    pub messages: Vec<Message>,
    /// Parent and children of every message, for sibling navigation.
    pub shape: Shape,
}

/// The conversation service.
pub struct ConversationService {
    pub(super) store: Arc<dyn Store>,
    pub(super) chat: Arc<dyn ChatBackend>,
    pub(super) live: Arc<LiveRegistry>,
    pub(super) settings: ConversationSettings,
    catalog: Option<Arc<dyn ModelCatalog>>,
}

const MAX_TITLE: usize = 200;
const MAX_SYSTEM_PROMPT: usize = 100_000;
const MAX_PAGE: u32 = 200;

impl ConversationService {
    /// A service over this store and chat backend.
    pub fn new(
        store: Arc<dyn Store>,
        chat: Arc<dyn ChatBackend>,
        settings: ConversationSettings,
    ) -> Self {
        ConversationService {
            store,
            chat,
            live: Arc::new(LiveRegistry::default()),
            settings,
            catalog: None,
        }
    }

    /// The same service, reading models' trained context lengths from `catalog`.
    pub fn with_catalog(mut self, catalog: Arc<dyn ModelCatalog>) -> Self {
        self.catalog = Some(catalog);
        self
    }

    /// Tokens of context a prompt and its answer share for `model`: the
    /// engine's rule (`engine.context_tokens`, or the trained context clamped
    /// to 256–4096), never more than the model was trained for.
    pub(super) async fn context_window(&self, model: &str) -> u32 {
        const ENGINE_CAP: u32 = 4096;
        let trained = match &self.catalog {
            Some(catalog) => catalog.get(model).await.ok().and_then(|m| m.context_length),
            None => None,
        };
        match (self.settings.context_tokens, trained) {
            (0, Some(t)) => t.clamp(256, ENGINE_CAP),
            (0, None) => ENGINE_CAP,
            (c, Some(t)) => c.min(t),
            (c, None) => c,
        }
    }

    /// The settings in force.
    pub fn settings(&self) -> &ConversationSettings {
        &self.settings
    }

    /// Generations running on this process now.
    pub fn running_generations(&self) -> usize {
        self.live.len()
    }

    pub(super) fn repo(&self) -> &dyn ConversationRepo {
        self.store.conversations()
    }

    /// Start an empty conversation.
    pub async fn create(
        &self,
        owner: &OwnerId,
        input: NewConversation,
    ) -> Result<Conversation, ConversationError> {
        let params = ChatParams::from_json(&input.params)?;
        let (system_prompt, persona) = match &input.persona_id {
            None if !input.persona_variables.is_empty() => {
                return Err(ConversationError::invalid(
                    "persona_variables",
                    "persona_variables need a persona_id",
                ));
            }
            None => (input.system_prompt, None),
            Some(_) if input.system_prompt.is_some() => {
                return Err(ConversationError::invalid(
                    "system_prompt",
                    "give either a system_prompt or a persona_id, not both",
                ));
            }
            Some(id) => {
                let persona = match self.persona(owner, id, None).await {
                    Err(ConversationError::PersonaNotFound(_)) => {
                        return Err(ConversationError::invalid(
                            "persona_id",
                            format!("unknown persona '{id}'; see GET /ui/personas"),
                        ));
                    }
                    other => other?,
                };
                let prompt = personas::render(persona.template(), &input.persona_variables)?;
                (Some(prompt), Some(persona.reference()))
            }
        };
        let now = now_ms();
        let conversation = Conversation {
            id: ConversationId::new(),
            owner: owner.clone(),
            title: check_title(input.title.as_deref().unwrap_or(DEFAULT_TITLE))?,
            model: check_model(input.model)?,
            system_prompt: check_system_prompt(system_prompt)?,
            persona,
            params: params.to_json(),
            is_pinned: false,
            is_archived: false,
            current_leaf_id: None,
            created_at_ms: now,
            updated_at_ms: now,
            deleted_at_ms: None,
        };
        self.repo().insert(&conversation, &[]).await?;
        Ok(conversation)
    }

    /// A page of the owner's conversations, last changed first.
    pub async fn list(
        &self,
        owner: &OwnerId,
        mut filter: ListFilter,
    ) -> Result<ConversationPage, ConversationError> {
        if !(1..=MAX_PAGE).contains(&filter.limit) {
            return Err(ConversationError::invalid(
                "limit",
                format!("limit must be between 1 and {MAX_PAGE}"),
            ));
        }
        filter.search = filter
            .search
            .map(|q| q.trim().to_owned())
            .filter(|q| !q.is_empty());
        if filter.search.as_ref().is_some_and(|q| q.len() > 500) {
            return Err(ConversationError::invalid(
                "q",
                "the search text is limited to 500 bytes",
            ));
        }
        Ok(self.repo().list(owner, &filter).await?)
    }

    /// The conversation, or `ConversationNotFound` (also for another owner's).
    pub async fn conversation(
        &self,
        owner: &OwnerId,
        id: &ConversationId,
    ) -> Result<Conversation, ConversationError> {
        match self.repo().get(owner, id).await {
            Err(StoreError::NotFound) => Err(ConversationError::ConversationNotFound(id.0.clone())),
            other => Ok(other?),
        }
    }

    /// A message of a conversation already resolved for its owner.
    pub(super) async fn message_of(
        &self,
        conversation: &Conversation,
        id: &MessageId,
    ) -> Result<Message, ConversationError> {
        match self.repo().message(&conversation.id, id).await {
            Err(StoreError::NotFound) => Err(ConversationError::MessageNotFound(id.0.clone())),
            other => Ok(other?),
        }
    }

    /// The messages from the root to the current leaf.
    pub(super) async fn active_path(
        &self,
        conversation: &Conversation,
    ) -> Result<Vec<Message>, ConversationError> {
        match &conversation.current_leaf_id {
            Some(leaf) => Ok(self.repo().path(&conversation.id, leaf).await?),
            None => Ok(Vec::new()),
        }
    }

    /// The conversation with its active path or its whole tree.
    pub async fn get(
        &self,
        owner: &OwnerId,
        id: &ConversationId,
        view: TreeView,
    ) -> Result<ConversationDetail, ConversationError> {
        let conversation = self.conversation(owner, id).await?;
        let messages = match view {
            TreeView::Path => self.active_path(&conversation).await?,
            TreeView::Tree => self.repo().tree(&conversation.id).await?,
        };
        let shape = Shape::new(self.repo().shape(&conversation.id).await?);
        Ok(ConversationDetail {
            conversation,
            messages,
            shape,
        })
    }

    /// Rename, pin, archive, or change the defaults.
    pub async fn update(
        &self,
        owner: &OwnerId,
        id: &ConversationId,
        mut patch: ConversationPatch,
    ) -> Result<Conversation, ConversationError> {
        if let Some(title) = &patch.title {
            patch.title = Some(check_title(title)?);
        }
        if let Some(model) = patch.model.take() {
            patch.model = Some(check_model(model)?);
        }
        if let Some(prompt) = patch.system_prompt.take() {
            patch.system_prompt = Some(check_system_prompt(prompt)?);
        }
        if let Some(params) = &patch.params {
            patch.params = Some(ChatParams::from_json(params)?.to_json());
        }
        match self.repo().update(owner, id, &patch).await {
            Err(StoreError::NotFound) => Err(ConversationError::ConversationNotFound(id.0.clone())),
            other => Ok(other?),
        }
    }

    /// Delete: soft (purged after the retention period) or at once.
    pub async fn delete(
        &self,
        owner: &OwnerId,
        id: &ConversationId,
        purge_now: bool,
    ) -> Result<(), ConversationError> {
        let conversation = self.conversation(owner, id).await?;
        self.cancel_all_of(&conversation).await?;
        let result = if purge_now {
            self.repo().purge(owner, id).await
        } else {
            self.repo().soft_delete(owner, id).await
        };
        match result {
            Err(StoreError::NotFound) => Err(ConversationError::ConversationNotFound(id.0.clone())),
            other => Ok(other?),
        }
    }

    /// Purge conversations deleted longer ago than the retention period (run
    /// periodically by the binary). Returns how many went.
    pub async fn purge_expired(&self) -> Result<u64, ConversationError> {
        let cutoff = now_ms() - self.settings.retention.as_millis() as i64;
        Ok(self.repo().purge_deleted(cutoff).await?)
    }

    /// Make the branch through `message_id` the active one: the current leaf
    /// becomes the newest leaf below that message.
    pub async fn switch_branch(
        &self,
        owner: &OwnerId,
        id: &ConversationId,
        message_id: &MessageId,
    ) -> Result<ConversationDetail, ConversationError> {
        let conversation = self.conversation(owner, id).await?;
        self.message_of(&conversation, message_id).await?;
        let shape = Shape::new(self.repo().shape(&conversation.id).await?);
        let leaf = newest_leaf_under(&shape, message_id);
        self.repo().set_leaf(&conversation.id, &leaf).await?;
        self.get(owner, id, TreeView::Path).await
    }

    /// Copy the path from the root to `at` (the current leaf by default) into a
    /// new conversation of the same owner. Streaming messages are not copied.
    pub async fn fork(
        &self,
        owner: &OwnerId,
        id: &ConversationId,
        at: Option<&MessageId>,
    ) -> Result<Conversation, ConversationError> {
        let source = self.conversation(owner, id).await?;
        let path = match at {
            Some(message_id) => {
                self.message_of(&source, message_id).await?;
                self.repo().path(&source.id, message_id).await?
            }
            None => self.active_path(&source).await?,
        };
        let source_id = source.id.clone();
        let now = now_ms();
        let mut fork = Conversation {
            id: ConversationId::new(),
            title: fork_title(&source.title),
            current_leaf_id: None,
            created_at_ms: now,
            updated_at_ms: now,
            is_pinned: false,
            is_archived: false,
            deleted_at_ms: None,
            ..source
        };
        let mut copies: Vec<Message> = Vec::with_capacity(path.len());
        // Source message id → its copy's, for the summaries.
        let mut renamed = std::collections::HashMap::new();
        for message in path
            .into_iter()
            .take_while(|m| m.status != MessageStatus::Streaming)
        {
            let parent_id = copies.last().map(|m| m.id.clone());
            let id = MessageId::new();
            renamed.insert(message.id.clone(), id.clone());
            copies.push(Message {
                id,
                conversation_id: fork.id.clone(),
                parent_id,
                idempotency_key: None,
                ..message
            });
        }
        fork.current_leaf_id = copies.last().map(|m| m.id.clone());
        self.repo().insert(&fork, &copies).await?;
        // Summaries of the copied path come along, so the fork's next turn
        // reuses them instead of summarizing again.
        for summary in self.repo().summaries(&source_id).await? {
            if let Some(through) = renamed.get(&summary.through) {
                self.repo()
                    .put_summary(&fork.id, through, &summary.content, &summary.model)
                    .await?;
            }
        }
        Ok(fork)
    }

    /// After a restart: messages left `streaming` by the previous process become
    /// `error` (their partial text is kept; user messages are untouched). Call
    /// once at startup, before serving. Assumes one process per database: with
    /// replicas sharing PostgreSQL it would also fail their generations.
    pub async fn recover_interrupted(&self) -> Result<u64, ConversationError> {
        Ok(self
            .repo()
            .fail_streaming("the server stopped while this answer was being generated")
            .await?)
    }
}

fn fork_title(title: &str) -> String {
    let suffix = " (fork)";
    let keep = MAX_TITLE - suffix.len();
    let mut base: String = title.chars().take(keep).collect();
    while base.len() > keep {
        base.pop();
    }
    format!("{base}{suffix}")
}

pub(super) fn check_title(title: &str) -> Result<String, ConversationError> {
    let title = title.trim();
    if title.is_empty() || title.chars().count() > MAX_TITLE || title.contains('\0') {
        return Err(ConversationError::invalid(
            "title",
            format!("title must have 1 to {MAX_TITLE} characters, without NUL"),
        ));
    }
    Ok(title.to_owned())
}

pub(super) fn check_model(model: Option<String>) -> Result<Option<String>, ConversationError> {
    match model.map(|m| m.trim().to_owned()) {
        Some(m) if m.is_empty() || m.len() > 200 => Err(ConversationError::invalid(
            "model",
            "model must be a model name of 1 to 200 bytes",
        )),
        other => Ok(other),
    }
}

/// A template or prompt text: non-blank, bounded, without NUL.
pub(super) fn check_system_prompt_text(
    field: &'static str,
    text: String,
) -> Result<String, ConversationError> {
    if text.trim().is_empty() || text.len() > MAX_SYSTEM_PROMPT || text.contains('\0') {
        return Err(ConversationError::invalid(
            field,
            format!(
                "{field} must be non-blank text of at most {MAX_SYSTEM_PROMPT} bytes, without NUL"
            ),
        ));
    }
    Ok(text)
}

pub(super) fn check_system_prompt(
    prompt: Option<String>,
) -> Result<Option<String>, ConversationError> {
    match prompt {
        Some(p) if p.len() > MAX_SYSTEM_PROMPT || p.contains('\0') => {
            Err(ConversationError::invalid(
                "system_prompt",
                format!("system_prompt is limited to {MAX_SYSTEM_PROMPT} bytes, without NUL"),
            ))
        }
        Some(p) if p.trim().is_empty() => Ok(None),
        other => Ok(other),
    }
}
