//! Fitting a branch into the model's context. Runs on the generation's task,
//! before the answer is generated.
//!
//! The prompt is the system prompt, then the branch's messages. When its token
//! count (the backend's `count_tokens`) exceeds the context window minus the
//! tokens reserved for the answer, the oldest turns go, by policy:
//!
//! - `drop`: they are left out;
//! - `summarize`: they are replaced by a summary the model writes once. It is
//!   stored keyed by the last message it covers, so every later turn and every
//!   sibling branch below that message reuses it instead of summarizing again.
//!   When summarizing fails, the turns are dropped and the note says why.
//!
//! The system prompt and the newest user message are always kept; cuts fall at
//! the start of a turn (a user message), so roles keep alternating. A new cut
//! keeps only about half the budget, and the next turns keep the same cut
//! (found in the parent answer's note, or through the stored summary) while it
//! still fits: the prompt's beginning then stays the same from turn to turn and
//! between siblings, so the engine's prefix cache computes only the new tokens.

use std::sync::Arc;

use futures::StreamExt;

use super::model::{ContextAction, ContextNote, ConversationId, Message, MessageId, Role};
use crate::backend::{
    BackendError, ChatBackend, ChatMessage, GenerateRequest, GenerationEvent, Principal, Prompt,
    SamplingParams,
};
use crate::config::ContextPolicy;
use crate::store::Store;

/// What the planner needs to know about one answer.
pub(super) struct ContextInput {
    /// The conversation.
    pub conversation_id: ConversationId,
    /// Model answering.
    pub model: String,
    /// Whose request (prefix-cache scope).
    pub principal: Principal,
    /// The conversation's system prompt.
    pub system: Option<String>,
    /// The branch given to the model, root first (already without failed or
    /// empty messages), ending with the message to answer.
    pub path: Vec<Message>,
    /// Context window of the model, in tokens.
    pub window: u32,
    /// Tokens kept free for the answer.
    pub reserved: u32,
    /// `drop` or `summarize`.
    pub policy: ContextPolicy,
}

/// The prompt to generate from and what was done to fit it.
pub(super) struct ContextPlan {
    /// Messages given to the chat template.
    pub messages: Vec<ChatMessage>,
    /// `None` when the whole branch fitted.
    pub note: Option<ContextNote>,
}

const SUMMARY_HEADING: &str = "Summary of the earlier part of this conversation:";
const SUMMARY_INSTRUCTION: &str = "Summarize the conversation below in a few sentences. Keep \
     names, facts, numbers, decisions and open questions. Answer with the summary only.";
/// Longest message text given to the summarizer, in characters.
const MAX_SUMMARIZED_CHARS: usize = 4000;

/// Plans prompts for one answer.
pub(super) struct Planner {
    pub store: Arc<dyn Store>,
    pub chat: Arc<dyn ChatBackend>,
}

impl Planner {
    /// The prompt for this input, summarizing or dropping old turns as needed.
    pub async fn plan(&self, input: &ContextInput) -> Result<ContextPlan, BackendError> {
        let budget = input
            .window
            .checked_sub(input.reserved)
            .filter(|b| *b >= input.window / 4)
            .unwrap_or(input.window / 2);
        let full = build(input.system.as_deref(), None, &input.path);
        let full_tokens = self.count(input, &full).await?;
        if full_tokens <= budget {
            return Ok(ContextPlan {
                messages: full,
                note: None,
            });
        }
        let cuts = cut_points(&input.path);
        if cuts.is_empty() {
            // Only the message to answer: nothing can go; the backend says
            // whether it fits.
            return Ok(ContextPlan {
                messages: full,
                note: None,
            });
        }
        if input.policy == ContextPolicy::Summarize {
            match self.summarized(input, &cuts, budget).await {
                Ok(Some(plan)) => return Ok(plan),
                Ok(None) => {
                    return self
                        .dropped(input, &cuts, budget, Some("the summary did not fit".into()))
                        .await;
                }
                Err(e) => {
                    tracing::info!(conversation = %input.conversation_id, error = %e, "summarizing failed; dropping old turns");
                    let reason = format!("summarizing failed: {e}");
                    return self.dropped(input, &cuts, budget, Some(reason)).await;
                }
            }
        }
        self.dropped(input, &cuts, budget, None).await
    }

    /// The whole branch, as when it fits.
    pub fn unfitted(&self, input: &ContextInput) -> ContextPlan {
        ContextPlan {
            messages: build(input.system.as_deref(), None, &input.path),
            note: None,
        }
    }

    async fn count(
        &self,
        input: &ContextInput,
        messages: &[ChatMessage],
    ) -> Result<u32, BackendError> {
        let prompt = Prompt::Chat {
            messages: messages.to_vec(),
            tools: Vec::new(),
            template: None,
        };
        self.chat.count_tokens(&input.model, &prompt).await
    }

    /// Tokens of the prompt keeping `path[start..]` after the system prompt
    /// (and the summary).
    async fn tokens_from(
        &self,
        input: &ContextInput,
        summary: Option<&str>,
        start: usize,
    ) -> Result<u32, BackendError> {
        let messages = build(input.system.as_deref(), summary, &input.path[start..]);
        self.count(input, &messages).await
    }

    /// The smallest cut whose prompt fits `limit`, by bisection (fewer kept
    /// messages, fewer tokens); `None` when even the last cut does not fit.
    async fn smallest_fitting(
        &self,
        input: &ContextInput,
        summary: Option<&str>,
        cuts: &[usize],
        limit: u32,
    ) -> Result<Option<usize>, BackendError> {
        let (mut lo, mut hi) = (0usize, cuts.len());
        while lo < hi {
            let mid = (lo + hi) / 2;
            if self.tokens_from(input, summary, cuts[mid]).await? <= limit {
                hi = mid;
            } else {
                lo = mid + 1;
            }
        }
        Ok(cuts.get(lo).copied())
    }

    /// A new cut: about half the budget when possible (so the next turns keep
    /// it), else whatever fits, else only the last turn.
    async fn new_cut(
        &self,
        input: &ContextInput,
        summary_room: u32,
        cuts: &[usize],
        budget: u32,
    ) -> Result<usize, BackendError> {
        let room = budget.saturating_sub(summary_room);
        for limit in [room / 2, room] {
            if let Some(cut) = self.smallest_fitting(input, None, cuts, limit).await? {
                return Ok(cut);
            }
        }
        Ok(cuts.last().copied().unwrap_or(0))
    }

    async fn dropped(
        &self,
        input: &ContextInput,
        cuts: &[usize],
        budget: u32,
        fallback_reason: Option<String>,
    ) -> Result<ContextPlan, BackendError> {
        // The cut of the nearest earlier answer on this branch, while it fits.
        let previous = input
            .path
            .iter()
            .rev()
            .filter_map(|m| m.context.as_ref())
            .find(|n| n.action == ContextAction::Dropped)
            .and_then(|n| position(&input.path, &n.first_kept_id))
            .filter(|i| cuts.contains(i));
        let mut cut = None;
        if let Some(i) = previous
            && self.tokens_from(input, None, i).await? <= budget
        {
            cut = Some(i);
        }
        let cut = match cut {
            Some(c) => c,
            None => self.new_cut(input, 0, cuts, budget).await?,
        };
        let messages = build(input.system.as_deref(), None, &input.path[cut..]);
        let prompt_tokens = self.count(input, &messages).await?;
        Ok(ContextPlan {
            messages,
            note: Some(ContextNote {
                action: ContextAction::Dropped,
                omitted_messages: cut as u32,
                first_kept_id: input.path[cut].id.clone(),
                summary_through_id: None,
                summary_created: false,
                fallback_reason,
                prompt_tokens,
                context_tokens: input.window,
            }),
        })
    }

    /// Reuse the deepest stored summary on this branch while it fits, else
    /// write a new one (extending it). `None` when the summary does not fit.
    async fn summarized(
        &self,
        input: &ContextInput,
        cuts: &[usize],
        budget: u32,
    ) -> Result<Option<ContextPlan>, BackendError> {
        let stored = self
            .store
            .conversations()
            .summaries(&input.conversation_id)
            .await
            .map_err(|e| BackendError::Failed(format!("cannot read summaries: {e}")))?;
        let deepest = input
            .path
            .iter()
            .enumerate()
            .rev()
            .skip(1) // the message to answer is never summarized
            .find_map(|(i, m)| {
                stored
                    .iter()
                    .find(|s| s.through == m.id)
                    .map(|s| (i, s.content.clone()))
            });
        if let Some((i, text)) = &deepest
            && self.tokens_from(input, Some(text), i + 1).await? <= budget
        {
            return self.finish_summary(input, text, *i, false, budget).await;
        }
        let summary_room = (budget / 4).clamp(32, 512);
        let cut = self.new_cut(input, summary_room, cuts, budget).await?;
        let from = match &deepest {
            Some((i, _)) if *i < cut => i + 1,
            _ => 0,
        };
        let earlier = deepest
            .as_ref()
            .filter(|(i, _)| *i < cut)
            .map(|(_, t)| t.as_str());
        let text = self
            .summarize(input, earlier, &input.path[from..cut], summary_room)
            .await?;
        let through = &input.path[cut - 1].id;
        self.store
            .conversations()
            .put_summary(&input.conversation_id, through, &text, &input.model)
            .await
            .map_err(|e| BackendError::Failed(format!("cannot store the summary: {e}")))?;
        self.finish_summary(input, &text, cut - 1, true, budget)
            .await
    }

    async fn finish_summary(
        &self,
        input: &ContextInput,
        summary: &str,
        through: usize,
        created: bool,
        budget: u32,
    ) -> Result<Option<ContextPlan>, BackendError> {
        let messages = build(
            input.system.as_deref(),
            Some(summary),
            &input.path[through + 1..],
        );
        let prompt_tokens = self.count(input, &messages).await?;
        if prompt_tokens > budget {
            return Ok(None);
        }
        Ok(Some(ContextPlan {
            messages,
            note: Some(ContextNote {
                action: ContextAction::Summarized,
                omitted_messages: through as u32 + 1,
                first_kept_id: input.path[through + 1].id.clone(),
                summary_through_id: Some(input.path[through].id.clone()),
                summary_created: created,
                fallback_reason: None,
                prompt_tokens,
                context_tokens: input.window,
            }),
        }))
    }

    /// Ask the model for a summary of `messages` (continuing `earlier`). The
    /// transcript loses its oldest lines until the request fits the window.
    async fn summarize(
        &self,
        input: &ContextInput,
        earlier: Option<&str>,
        messages: &[Message],
        max_tokens: u32,
    ) -> Result<String, BackendError> {
        let mut lines: Vec<String> = messages
            .iter()
            .map(|m| {
                let who = if m.role == Role::User {
                    "User"
                } else {
                    "Assistant"
                };
                let text: String = m.content.chars().take(MAX_SUMMARIZED_CHARS).collect();
                format!("{who}: {text}")
            })
            .collect();
        let room = input.window.saturating_sub(max_tokens);
        loop {
            let request = summary_request(earlier, &lines);
            if lines.len() <= 1 || self.count(input, &request).await? <= room {
                let text = self.collect(input, request, max_tokens).await?;
                let text = text.trim().to_owned();
                if text.is_empty() {
                    return Err(BackendError::Failed(
                        "the model wrote an empty summary".into(),
                    ));
                }
                return Ok(text);
            }
            lines.drain(..lines.len().div_ceil(2).min(lines.len() - 1));
        }
    }

    async fn collect(
        &self,
        input: &ContextInput,
        messages: Vec<ChatMessage>,
        max_tokens: u32,
    ) -> Result<String, BackendError> {
        let request = GenerateRequest {
            model: input.model.clone(),
            prompt: Prompt::Chat {
                messages,
                tools: Vec::new(),
                template: None,
            },
            params: SamplingParams {
                max_tokens: Some(max_tokens),
                temperature: Some(0.0),
                ..SamplingParams::default()
            },
            principal: input.principal.clone(),
            weight: 1,
            shares_prompt: false,
        };
        let mut stream = self.chat.generate(request).await?;
        let mut text = String::new();
        while let Some(event) = stream.next().await {
            match event? {
                GenerationEvent::Delta { text: t, .. } => text.push_str(&t),
                GenerationEvent::Done { .. } => break,
            }
        }
        Ok(text.replace('\0', "\u{FFFD}"))
    }
}

fn summary_request(earlier: Option<&str>, lines: &[String]) -> Vec<ChatMessage> {
    let mut text = String::from(SUMMARY_INSTRUCTION);
    if let Some(earlier) = earlier {
        text.push_str("\n\nWhat came before, summarized:\n");
        text.push_str(earlier);
    }
    text.push_str("\n\nConversation:\n");
    text.push_str(&lines.join("\n\n"));
    vec![ChatMessage::text("user", text)]
}

/// Indices where a kept part may start: every user message but the first
/// message, up to the newest user message (always kept).
fn cut_points(path: &[Message]) -> Vec<usize> {
    let last_user = path
        .iter()
        .rposition(|m| m.role == Role::User)
        .unwrap_or(path.len().saturating_sub(1));
    let mut cuts: Vec<usize> = (1..last_user)
        .filter(|i| path[*i].role == Role::User)
        .collect();
    if last_user > 0 {
        cuts.push(last_user);
    }
    cuts
}

fn position(path: &[Message], id: &MessageId) -> Option<usize> {
    path.iter().position(|m| &m.id == id)
}

/// System prompt (with the summary appended), then the messages.
fn build(system: Option<&str>, summary: Option<&str>, path: &[Message]) -> Vec<ChatMessage> {
    let mut out = Vec::with_capacity(path.len() + 1);
    let system = match (system, summary) {
        (Some(s), Some(sum)) => Some(format!("{s}\n\n{SUMMARY_HEADING}\n{sum}")),
        (None, Some(sum)) => Some(format!("{SUMMARY_HEADING}\n{sum}")),
        (s, None) => s.map(str::to_owned),
    };
    if let Some(system) = system {
        out.push(ChatMessage::text("system", system));
    }
    out.extend(
        path.iter()
            .map(|m| ChatMessage::text(m.role.as_str(), m.content.clone())),
    );
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn msg(role: Role) -> Message {
        Message::new(&ConversationId::new(), None, role, "x", 0)
    }

    #[test]
    fn cuts_start_turns_and_keep_the_last_user_message() {
        let path: Vec<Message> = [
            Role::User,
            Role::Assistant,
            Role::User,
            Role::Assistant,
            Role::User,
        ]
        .into_iter()
        .map(msg)
        .collect();
        assert_eq!(cut_points(&path), vec![2, 4]);
        // A regenerate ends on a user message too; an edit's path likewise.
        assert_eq!(cut_points(&path[..1]), Vec::<usize>::new());
    }
}
