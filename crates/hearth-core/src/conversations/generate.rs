//! Sending, regenerating and editing: the messages are persisted first (the
//! assistant's as `streaming`), then the answer is generated on a task of its
//! own through [`ChatBackend`], so it keeps running when the client goes away.
//! The task is the only writer of its assistant message and of its
//! [`LiveEntry`]; it writes the partial text every `flush_interval` and the
//! final state once, then leaves the live registry.
//!
//! Exactly once: a request may carry an idempotency key, stored on the message
//! it creates under a unique constraint. A retry (sequential or concurrent)
//! finds that message and answers the original turn; it never inserts or
//! generates again.

use std::sync::Arc;
use std::time::Instant;

use futures::StreamExt;

use super::context::{ContextInput, Planner};
use super::error::ConversationError;
use super::live::{LiveEntry, LiveEvent, LiveStream};
use super::model::{
    ContextNote, Conversation, ConversationId, DEFAULT_TITLE, Message, MessageFinish, MessageId,
    MessageStatus, OwnerId, Role, Timings, Usage,
};
use super::params::ChatParams;
use super::service::{ConversationService, check_model};
use crate::backend::{
    ChatBackend, ChatMessage, FinishReason, GenerateRequest, GenerationEvent, Principal, Prompt,
    SamplingParams,
};
use crate::jobs::now_ms;
use crate::store::{Store, StoreError};

const MAX_CONTENT: usize = 1_000_000;
const MAX_KEY: usize = 200;

/// Options shared by send, edit and regenerate.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct GenerateOptions {
    /// Model for this answer; the conversation's default when `None`.
    pub model: Option<String>,
    /// Sampling parameters (JSON object); the conversation's when `None`.
    pub params: Option<serde_json::Value>,
    /// Key making the request exactly-once.
    pub idempotency_key: Option<String>,
}

/// Input of [`ConversationService::send`].
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SendInput {
    /// Text of the user message.
    pub content: String,
    /// Parent of the new message; the current leaf when `None`.
    pub parent_id: Option<MessageId>,
    /// Model, parameters, idempotency key.
    pub options: GenerateOptions,
}

/// What a send, edit or regenerate created.
#[derive(Debug, Clone, PartialEq)]
pub struct Turn {
    /// The conversation.
    pub conversation_id: ConversationId,
    /// The new user message (none for a regenerate).
    pub user: Option<Message>,
    /// The assistant message being generated (or already finished on a replay).
    pub assistant: Message,
    /// Whether this answers a retry of an earlier request with the same key.
    pub is_replay: bool,
}

impl ConversationService {
    /// Add a user message under a parent (the current leaf by default) and
    /// generate the answer in the background.
    pub async fn send(
        &self,
        owner: &OwnerId,
        id: &ConversationId,
        input: SendInput,
    ) -> Result<Turn, ConversationError> {
        let conversation = self.conversation(owner, id).await?;
        check_content(&input.content)?;
        if let Some(turn) = self
            .replay(&conversation, &input.options, &input.content)
            .await?
        {
            return Ok(turn);
        }
        let parent_id = input
            .parent_id
            .clone()
            .or_else(|| conversation.current_leaf_id.clone());
        let history = match &parent_id {
            Some(parent_id) => {
                let parent = self.message_of(&conversation, parent_id).await?;
                if parent.role == Role::User {
                    return Err(ConversationError::invalid(
                        "parent_id",
                        "a user message goes under an assistant message (or at the root); \
                         to change a user message, edit it",
                    ));
                }
                check_not_streaming(&parent)?;
                self.repo().path(&conversation.id, parent_id).await?
            }
            None => Vec::new(),
        };
        self.start_turn(
            owner,
            &conversation,
            history,
            Some(input.content),
            input.options,
        )
        .await
    }

    /// A new user message beside `message_id` (same parent) with new text, and
    /// its answer: a new branch.
    pub async fn edit(
        &self,
        owner: &OwnerId,
        id: &ConversationId,
        message_id: &MessageId,
        content: String,
        options: GenerateOptions,
    ) -> Result<Turn, ConversationError> {
        let conversation = self.conversation(owner, id).await?;
        check_content(&content)?;
        if let Some(turn) = self.replay(&conversation, &options, &content).await? {
            return Ok(turn);
        }
        let original = self.message_of(&conversation, message_id).await?;
        if original.role != Role::User {
            return Err(ConversationError::invalid(
                "message_id",
                "only user messages can be edited; regenerate an assistant message instead",
            ));
        }
        let history = match &original.parent_id {
            Some(parent) => self.repo().path(&conversation.id, parent).await?,
            None => Vec::new(),
        };
        self.start_turn(owner, &conversation, history, Some(content), options)
            .await
    }

    /// A new answer beside the assistant message `message_id`.
    pub async fn regenerate(
        &self,
        owner: &OwnerId,
        id: &ConversationId,
        message_id: &MessageId,
        options: GenerateOptions,
    ) -> Result<Turn, ConversationError> {
        let conversation = self.conversation(owner, id).await?;
        if let Some(turn) = self.replay(&conversation, &options, "").await? {
            return Ok(turn);
        }
        let original = self.message_of(&conversation, message_id).await?;
        let parent = match (&original.role, &original.parent_id) {
            (Role::Assistant, Some(parent)) => parent.clone(),
            _ => {
                return Err(ConversationError::invalid(
                    "message_id",
                    "only an assistant message that answers a message can be regenerated",
                ));
            }
        };
        let history = self.repo().path(&conversation.id, &parent).await?;
        self.start_turn(owner, &conversation, history, None, options)
            .await
    }

    /// Follow a message: its events from the start while it is generated here,
    /// else its stored text and final state.
    pub async fn attach(
        &self,
        owner: &OwnerId,
        id: &ConversationId,
        message_id: &MessageId,
    ) -> Result<LiveStream, ConversationError> {
        let conversation = self.conversation(owner, id).await?;
        self.follow(&conversation.id, message_id).await
    }

    /// Follow the answer of a turn just created (or replayed).
    pub async fn follow_turn(&self, turn: &Turn) -> Result<LiveStream, ConversationError> {
        self.follow(&turn.conversation_id, &turn.assistant.id).await
    }

    async fn follow(
        &self,
        conversation_id: &ConversationId,
        message_id: &MessageId,
    ) -> Result<LiveStream, ConversationError> {
        if let Some(entry) = self.live.get(message_id) {
            return Ok(self.follow_live(entry));
        }
        let message = match self.repo().message(conversation_id, message_id).await {
            Err(StoreError::NotFound) => {
                return Err(ConversationError::MessageNotFound(message_id.0.clone()));
            }
            other => other?,
        };
        // It may have started between the two looks; it cannot have restarted.
        if let Some(entry) = self.live.get(message_id) {
            return Ok(self.follow_live(entry));
        }
        let mut events = Vec::new();
        if !message.content.is_empty() {
            events.push(LiveEvent::Delta(message.content.clone()));
        }
        events.push(LiveEvent::End(Box::new(message)));
        Ok(Box::pin(futures::stream::iter(events)))
    }

    /// The live events; when the settings say so, dropping the stream before
    /// the end (the client went away) cancels the generation.
    fn follow_live(&self, entry: Arc<LiveEntry>) -> LiveStream {
        let events = entry.follow();
        if self.settings.keep_generating_on_disconnect {
            return events;
        }
        let mut guard = CancelOnDrop(Some(entry));
        Box::pin(events.map(move |event| {
            if matches!(event, LiveEvent::End(_)) {
                guard.disarm();
            }
            event
        }))
    }

    /// Stop a generation now; the partial answer is kept as `cancelled`.
    /// Cancelling a finished message changes nothing. Returns the message.
    pub async fn cancel(
        &self,
        owner: &OwnerId,
        id: &ConversationId,
        message_id: &MessageId,
    ) -> Result<Message, ConversationError> {
        let conversation = self.conversation(owner, id).await?;
        let message = self.message_of(&conversation, message_id).await?;
        if message.status != MessageStatus::Streaming {
            return Ok(message);
        }
        match self.live.get(message_id) {
            Some(entry) => {
                entry.cancel();
                let mut follow = entry.follow();
                let wait = async { while follow.next().await.is_some() {} };
                if tokio::time::timeout(std::time::Duration::from_secs(10), wait)
                    .await
                    .is_err()
                {
                    tracing::warn!(message = %message_id, "generation did not stop within 10 s");
                }
            }
            None => {
                // Not generated by this process (left over): settle it here.
                let finish = MessageFinish {
                    content: message.content.clone(),
                    status: MessageStatus::Cancelled,
                    error: None,
                    finish_reason: Some("cancelled".to_owned()),
                    usage: message.usage,
                    timings: message.timings,
                    context: message.context.clone(),
                };
                self.repo().finish_message(message_id, &finish).await?;
            }
        }
        self.message_of(&conversation, message_id).await
    }

    /// Cancel every generation of a conversation (before deleting it).
    pub(super) async fn cancel_all_of(
        &self,
        conversation: &Conversation,
    ) -> Result<(), ConversationError> {
        for message in self.repo().tree(&conversation.id).await? {
            if message.status == MessageStatus::Streaming
                && let Some(entry) = self.live.get(&message.id)
            {
                entry.cancel();
            }
        }
        Ok(())
    }

    /// The turn created earlier with this request's idempotency key, if any.
    async fn replay(
        &self,
        conversation: &Conversation,
        options: &GenerateOptions,
        content: &str,
    ) -> Result<Option<Turn>, ConversationError> {
        let Some(key) = &options.idempotency_key else {
            return Ok(None);
        };
        if key.is_empty() || key.len() > MAX_KEY {
            return Err(ConversationError::invalid(
                "idempotency_key",
                format!("an idempotency key has 1 to {MAX_KEY} bytes"),
            ));
        }
        let Some(first) = self.repo().message_by_key(&conversation.id, key).await? else {
            return Ok(None);
        };
        let turn = match first.role {
            Role::Assistant => Turn {
                conversation_id: conversation.id.clone(),
                user: None,
                assistant: first,
                is_replay: true,
            },
            _ => {
                if first.content != content {
                    return Err(ConversationError::Conflict(
                        "this idempotency key was already used for a different message".into(),
                    ));
                }
                let assistant = self
                    .repo()
                    .children(&conversation.id, &first.id)
                    .await?
                    .into_iter()
                    .find(|m| m.role == Role::Assistant)
                    .ok_or_else(|| {
                        ConversationError::Conflict(
                            "the request with this idempotency key has no answer".into(),
                        )
                    })?;
                Turn {
                    conversation_id: conversation.id.clone(),
                    user: Some(first),
                    assistant,
                    is_replay: true,
                }
            }
        };
        Ok(Some(turn))
    }

    /// Persist the new messages, then start the generation.
    async fn start_turn(
        &self,
        owner: &OwnerId,
        conversation: &Conversation,
        history: Vec<Message>,
        user_text: Option<String>,
        options: GenerateOptions,
    ) -> Result<Turn, ConversationError> {
        let model = check_model(options.model.clone())?
            .or_else(|| conversation.model.clone())
            .ok_or_else(|| {
                ConversationError::invalid(
                    "model",
                    "name a model: this conversation has no default model",
                )
            })?;
        let params = match &options.params {
            Some(p) => ChatParams::from_json(p)?,
            None => ChatParams::from_json(&conversation.params)?,
        };
        let now = now_ms();
        let parent_id = history.last().map(|m| m.id.clone());
        let user = user_text.map(|text| Message {
            model: Some(model.clone()),
            idempotency_key: options.idempotency_key.clone(),
            ..Message::new(&conversation.id, parent_id.clone(), Role::User, text, now)
        });
        let assistant_parent = user.as_ref().map(|u| u.id.clone()).or(parent_id);
        let assistant = Message {
            model: Some(model.clone()),
            params: params.to_json(),
            status: MessageStatus::Streaming,
            idempotency_key: match user {
                Some(_) => None,
                None => options.idempotency_key.clone(),
            },
            ..Message::new(&conversation.id, assistant_parent, Role::Assistant, "", now)
        };
        let new: Vec<Message> = user.iter().cloned().chain([assistant.clone()]).collect();
        match self
            .repo()
            .append(&conversation.id, &new, &assistant.id)
            .await
        {
            Ok(()) => {}
            Err(StoreError::Conflict(_)) if options.idempotency_key.is_some() => {
                // A concurrent retry won the race: answer with its turn.
                let content = user.as_ref().map(|u| u.content.as_str()).unwrap_or("");
                return self
                    .replay(conversation, &options, content)
                    .await?
                    .ok_or_else(|| ConversationError::Conflict("concurrent update".into()));
            }
            Err(e) => return Err(e.into()),
        }
        let is_first_exchange = history.is_empty() && user.is_some();
        let path: Vec<Message> = history
            .into_iter()
            .chain(user.iter().cloned())
            .filter(is_prompt_worthy)
            .collect();
        let window = self.context_window(&model).await;
        let context = ContextInput {
            conversation_id: conversation.id.clone(),
            model: model.clone(),
            principal: Principal(owner.0.clone()),
            system: conversation.system_prompt.clone(),
            path,
            window,
            reserved: self.settings.reserved_answer_tokens.min(window / 2),
            policy: self.settings.context_policy,
        };
        let request = GenerateRequest {
            model,
            prompt: Prompt::Chat {
                messages: Vec::new(),
                tools: Vec::new(),
                template: None,
            },
            params: SamplingParams {
                max_tokens: params.max_tokens.or(Some(self.settings.default_max_tokens)),
                ..params.sampling()
            },
            principal: Principal(owner.0.clone()),
            weight: 1,
            shares_prompt: false,
        };
        let title_job = (self.settings.generate_titles
            && is_first_exchange
            && conversation.title == DEFAULT_TITLE)
            .then(|| TitleJob {
                owner: owner.clone(),
                conversation_id: conversation.id.clone(),
            });
        self.spawn_generation(assistant.clone(), context, request, title_job);
        Ok(Turn {
            conversation_id: conversation.id.clone(),
            user,
            assistant,
            is_replay: false,
        })
    }

    /// Run the generation on its own task; a panic in it fails the message.
    fn spawn_generation(
        &self,
        assistant: Message,
        context: ContextInput,
        request: GenerateRequest,
        title_job: Option<TitleJob>,
    ) {
        let entry = self.live.start(&assistant.id);
        let live = self.live.clone();
        let store = self.store.clone();
        let chat = self.chat.clone();
        let flush_every = self.settings.flush_interval;
        // The request's usage context follows the generation into its tasks.
        let usage = crate::usage::UsageContext::current();
        tokio::spawn(crate::usage::UsageContext::scope(
            usage.clone(),
            async move {
                let run = Generation {
                    store: store.clone(),
                    chat: chat.clone(),
                    entry: entry.clone(),
                    message_id: assistant.id.clone(),
                    flush_every,
                };
                let inner = tokio::spawn(crate::usage::UsageContext::scope(
                    usage,
                    run.drive(context, request),
                ));
                let (text, ending, note) = match inner.await {
                    Ok(result) => result,
                    Err(e) => {
                        // The cause goes to the log, not to the user's message.
                        tracing::error!(message = %assistant.id, error = %e, "generation task failed");
                        let reason = "internal error while generating; see the server log";
                        (String::new(), Ending::Failed(reason.to_owned()), None)
                    }
                };
                let mut finish = ending.into_finish(text);
                finish.context = note;
                let is_complete = finish.status == MessageStatus::Complete;
                if let Err(e) = store
                    .conversations()
                    .finish_message(&assistant.id, &finish)
                    .await
                {
                    tracing::error!(message = %assistant.id, error = %e, "cannot store the end of a generation");
                }
                let final_message = Message {
                    content: finish.content,
                    status: finish.status,
                    error: finish.error,
                    finish_reason: finish.finish_reason,
                    usage: finish.usage,
                    timings: finish.timings,
                    context: finish.context,
                    updated_at_ms: now_ms(),
                    ..assistant
                };
                entry.push(LiveEvent::End(Box::new(final_message.clone())));
                let id = final_message.id.clone();
                if let (Some(job), true) = (title_job, is_complete) {
                    job.run(store, chat, final_message).await;
                }
                // Removed last, so `wait_idle` also covers the title.
                live.remove(&id);
            },
        ));
    }

    /// Wait until this process runs no generation (tests, shutdown).
    pub async fn wait_idle(&self, limit: std::time::Duration) -> bool {
        let deadline = Instant::now() + limit;
        while !self.live.is_empty() {
            if Instant::now() >= deadline {
                return false;
            }
            tokio::time::sleep(std::time::Duration::from_millis(5)).await;
        }
        true
    }
}

/// Cancels the generation it holds when dropped (a client that went away).
struct CancelOnDrop(Option<Arc<LiveEntry>>);

impl CancelOnDrop {
    /// The generation ended: nothing to cancel any more.
    fn disarm(&mut self) {
        self.0 = None;
    }
}

impl Drop for CancelOnDrop {
    fn drop(&mut self) {
        if let Some(entry) = self.0.take() {
            entry.cancel();
        }
    }
}

/// How a generation ended.
enum Ending {
    Done(FinishReason, crate::backend::GenerationStats),
    Cancelled,
    Failed(String),
}

impl Ending {
    fn into_finish(self, content: String) -> MessageFinish {
        match self {
            Ending::Done(reason, stats) => MessageFinish {
                content,
                status: if reason == FinishReason::Cancelled {
                    MessageStatus::Cancelled
                } else {
                    MessageStatus::Complete
                },
                error: None,
                finish_reason: Some(finish_reason_str(reason).to_owned()),
                usage: Usage {
                    prompt_tokens: i64::from(stats.prompt_tokens),
                    cached_tokens: i64::from(stats.cached_tokens),
                    completion_tokens: i64::from(stats.completion_tokens),
                },
                timings: Timings {
                    queue_ms: stats.queue_time.as_millis() as i64,
                    prompt_ms: stats.prompt_duration.as_millis() as i64,
                    generation_ms: stats.generation_duration.as_millis() as i64,
                },
                context: None,
            },
            Ending::Cancelled => MessageFinish {
                content,
                status: MessageStatus::Cancelled,
                error: None,
                finish_reason: Some("cancelled".to_owned()),
                usage: Usage::default(),
                timings: Timings::default(),
                context: None,
            },
            Ending::Failed(error) => MessageFinish {
                content,
                status: MessageStatus::Error,
                error: Some(error),
                finish_reason: None,
                usage: Usage::default(),
                timings: Timings::default(),
                context: None,
            },
        }
    }
}

fn finish_reason_str(reason: FinishReason) -> &'static str {
    match reason {
        FinishReason::Stop => "stop",
        FinishReason::Length => "length",
        FinishReason::Cancelled => "cancelled",
    }
}

/// One generation's task state.
struct Generation {
    store: Arc<dyn Store>,
    chat: Arc<dyn ChatBackend>,
    entry: Arc<LiveEntry>,
    message_id: MessageId,
    flush_every: std::time::Duration,
}

impl Generation {
    /// Consume the backend's stream into the live entry and, now and then, the
    /// database. Returns the text and how it ended.
    async fn drive(
        self,
        context: ContextInput,
        mut request: GenerateRequest,
    ) -> (String, Ending, Option<ContextNote>) {
        let planner = Planner {
            store: self.store.clone(),
            chat: self.chat.clone(),
        };
        let plan = tokio::select! {
            biased;
            _ = self.entry.cancelled() => return (String::new(), Ending::Cancelled, None),
            plan = planner.plan(&context) => match plan {
                Ok(plan) => plan,
                Err(e) => {
                    // Counting failed (a backend without a tokenizer, an
                    // unknown model): send the whole branch and let the
                    // backend answer or refuse it.
                    tracing::info!(message = %self.message_id, error = %e, "context not fitted; sending the whole branch");
                    planner.unfitted(&context)
                }
            },
        };
        request.prompt = Prompt::Chat {
            messages: plan.messages,
            tools: Vec::new(),
            template: None,
        };
        let (text, ending) = self.stream(request).await;
        (text, ending, plan.note)
    }

    async fn stream(&self, request: GenerateRequest) -> (String, Ending) {
        let mut text = String::new();
        let mut stream = tokio::select! {
            biased;
            _ = self.entry.cancelled() => return (text, Ending::Cancelled),
            started = self.chat.generate(request) => match started {
                Ok(stream) => stream,
                Err(e) => return (text, Ending::Failed(e.to_string())),
            },
        };
        let mut flushed_at = Instant::now();
        let mut flushed_len = 0;
        loop {
            let item = tokio::select! {
                biased;
                // Dropping the stream tells the backend to stop at its next step.
                _ = self.entry.cancelled() => return (text, Ending::Cancelled),
                item = stream.next() => item,
            };
            match item {
                Some(Ok(GenerationEvent::Delta { text: delta, .. })) => {
                    // Text columns cannot hold NUL on PostgreSQL.
                    let delta = if delta.contains('\0') {
                        delta.replace('\0', "\u{FFFD}")
                    } else {
                        delta
                    };
                    text.push_str(&delta);
                    self.entry.push(LiveEvent::Delta(delta));
                    if flushed_at.elapsed() >= self.flush_every && text.len() > flushed_len {
                        if let Err(e) = self
                            .store
                            .conversations()
                            .update_content(&self.message_id, &text)
                            .await
                        {
                            tracing::warn!(message = %self.message_id, error = %e, "cannot store partial answer");
                        }
                        flushed_at = Instant::now();
                        flushed_len = text.len();
                    }
                }
                Some(Ok(GenerationEvent::Done {
                    finish_reason,
                    stats,
                })) => return (text, Ending::Done(finish_reason, stats)),
                Some(Err(e)) => return (text, Ending::Failed(e.to_string())),
                None => {
                    return (
                        text,
                        Ending::Failed(
                            "the model backend ended the answer without finishing".into(),
                        ),
                    );
                }
            }
        }
    }
}

/// Title generation after the first exchange; a failure leaves the default.
struct TitleJob {
    owner: OwnerId,
    conversation_id: ConversationId,
}

impl TitleJob {
    async fn run(self, store: Arc<dyn Store>, chat: Arc<dyn ChatBackend>, answer: Message) {
        let repo = store.conversations();
        let question = match &answer.parent_id {
            Some(parent) => match repo.message(&self.conversation_id, parent).await {
                Ok(m) => m.content,
                Err(_) => return,
            },
            None => return,
        };
        let Some(model) = answer.model.clone() else {
            return;
        };
        let instruction = format!(
            "Write a title of at most six words for a conversation that starts like this. \
             Answer with the title only.\n\nUser: {}\n\nAssistant: {}",
            clip(&question, 1000),
            clip(&answer.content, 1000)
        );
        let request = GenerateRequest {
            model,
            prompt: Prompt::Chat {
                messages: vec![ChatMessage::text("user", instruction)],
                tools: Vec::new(),
                template: None,
            },
            params: crate::backend::SamplingParams {
                max_tokens: Some(24),
                temperature: Some(0.0),
                ..Default::default()
            },
            principal: Principal(self.owner.0.clone()),
            weight: 1,
            shares_prompt: false,
        };
        let title = match collect_text(chat.as_ref(), request).await {
            Ok(text) => clean_title(&text),
            Err(e) => {
                tracing::info!(conversation = %self.conversation_id, error = %e, "title generation failed; default title kept");
                return;
            }
        };
        let Some(title) = title else { return };
        // Only replace the default: a rename in the meantime wins.
        match repo.get(&self.owner, &self.conversation_id).await {
            Ok(c) if c.title == DEFAULT_TITLE => {
                let patch = super::model::ConversationPatch {
                    title: Some(title),
                    ..Default::default()
                };
                if let Err(e) = repo
                    .update(&self.owner, &self.conversation_id, &patch)
                    .await
                {
                    tracing::warn!(error = %e, "cannot store the generated title");
                }
            }
            _ => {}
        }
    }
}

async fn collect_text(
    chat: &dyn ChatBackend,
    request: GenerateRequest,
) -> Result<String, crate::backend::BackendError> {
    let mut stream = chat.generate(request).await?;
    let mut text = String::new();
    while let Some(event) = stream.next().await {
        match event? {
            GenerationEvent::Delta { text: t, .. } => text.push_str(&t),
            GenerationEvent::Done { .. } => break,
        }
    }
    Ok(text)
}

fn clip(text: &str, max_chars: usize) -> String {
    text.chars().take(max_chars).collect()
}

/// First line, without quotes and a trailing period; `None` when nothing is left.
fn clean_title(text: &str) -> Option<String> {
    let line = text.lines().map(str::trim).find(|l| !l.is_empty())?;
    let line = line
        .trim_start_matches(['#', '*'])
        .trim_start_matches("Title:")
        .trim()
        .trim_matches(['"', '\'', '*'])
        .trim_end_matches('.')
        .trim();
    let title = clip_at_word(line, 80);
    (!title.is_empty()).then_some(title)
}

/// At most `max_chars` characters, cut at the last word boundary when cut at
/// all, with no whitespace at either end.
fn clip_at_word(text: &str, max_chars: usize) -> String {
    if text.chars().count() <= max_chars {
        return text.trim().to_owned();
    }
    let cut: String = text.chars().take(max_chars).collect();
    let at_boundary = match text.chars().nth(max_chars) {
        Some(next) if !next.is_whitespace() => cut
            .rfind(char::is_whitespace)
            .map_or(cut.as_str(), |end| &cut[..end]),
        _ => cut.as_str(),
    };
    at_boundary.trim().to_owned()
}

fn is_prompt_worthy(m: &Message) -> bool {
    match m.status {
        MessageStatus::Complete | MessageStatus::Cancelled => !m.content.is_empty(),
        MessageStatus::Streaming | MessageStatus::Error => false,
    }
}

fn check_content(content: &str) -> Result<(), ConversationError> {
    if content.trim().is_empty() || content.len() > MAX_CONTENT || content.contains('\0') {
        return Err(ConversationError::invalid(
            "content",
            format!(
                "content must be non-empty text of at most {MAX_CONTENT} bytes, without NUL characters"
            ),
        ));
    }
    Ok(())
}

fn check_not_streaming(m: &Message) -> Result<(), ConversationError> {
    if m.status == MessageStatus::Streaming {
        return Err(ConversationError::Conflict(format!(
            "message '{}' is still being generated; wait for it or cancel it",
            m.id
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::clean_title;

    #[test]
    fn titles_are_cleaned() {
        assert_eq!(
            clean_title("\n\"Rust lifetimes.\"\nmore").as_deref(),
            Some("Rust lifetimes")
        );
        assert_eq!(clean_title("Title: Soup").as_deref(), Some("Soup"));
        assert_eq!(clean_title("  \n "), None);
    }

    #[test]
    fn long_titles_end_at_a_word_without_trailing_space() {
        let text =
            "Etyter: A simple and elegant greeting using the Hálkakál, a traditional Finnish word";
        assert_eq!(
            clean_title(text).as_deref(),
            Some("Etyter: A simple and elegant greeting using the Hálkakál, a traditional Finnish")
        );
        let unbroken = "x".repeat(100);
        assert_eq!(clean_title(&unbroken).map(|t| t.chars().count()), Some(80));
    }
}
