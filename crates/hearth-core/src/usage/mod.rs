//! Usage accounting: one [`UsageRecord`] per generation or embedding call, with
//! who asked (user, key, request id, route), the model, token counts, timings
//! and how it ended. Records come from one place, the [`meter`] decorators
//! around the model ports, which read the request's [`UsageContext`] (a task
//! local set by the HTTP auth layer); they are written in batches by the
//! [`UsageRecorder`] task and feed the token limits and quotas in [`quota`].

pub mod calendar;
pub mod meter;
pub mod quota;
mod recorder;

use std::future::Future;
use std::sync::Arc;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

use crate::store::StoreError;
pub use meter::{MAX_SHARE, MeteredChat, MeteredEmbed};
pub use quota::{QuotaDenied, QuotaLimits, QuotaSettings, Quotas, Subject};
pub use recorder::{Observer, UsageRecorder};

/// How a metered call ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// Finished normally (stop, length or tool calls).
    Ok,
    /// The backend failed, before or during the generation.
    Error,
    /// The consumer went away (client disconnect, cancel) before the end.
    Cancelled,
}

impl Outcome {
    /// Stable text stored in the database.
    pub const fn as_str(self) -> &'static str {
        match self {
            Outcome::Ok => "ok",
            Outcome::Error => "error",
            Outcome::Cancelled => "cancelled",
        }
    }

    /// Parse the stored text.
    pub fn parse(text: &str) -> Option<Outcome> {
        [Outcome::Ok, Outcome::Error, Outcome::Cancelled]
            .into_iter()
            .find(|o| o.as_str() == text)
    }
}

/// One metered call.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct UsageRecord {
    /// Id (UUID v7 text: ordered by time).
    pub id: String,
    /// When the call ended, Unix milliseconds.
    pub at_ms: i64,
    /// The HTTP request id, when the call came from a request.
    pub request_id: Option<String>,
    /// The user, when authenticated.
    pub user_id: Option<String>,
    /// The API key, when the request used one.
    pub key_id: Option<String>,
    /// Operation id of the route (`createChatCompletion`, …) or `internal`.
    pub route: String,
    /// Model name as asked.
    pub model: String,
    /// Prompt tokens (embeddings: tokens read).
    pub prompt_tokens: u32,
    /// Prompt tokens served from the prefix cache.
    pub cached_tokens: u32,
    /// Generated tokens.
    pub completion_tokens: u32,
    /// Milliseconds from the call to the first generated text, if any came.
    pub ttft_ms: Option<u64>,
    /// Milliseconds from the call to its end.
    pub total_ms: u64,
    /// How it ended.
    pub outcome: Outcome,
}

impl UsageRecord {
    /// Tokens charged against limits and quotas: prompt plus completion.
    pub fn charged_tokens(&self) -> u64 {
        u64::from(self.prompt_tokens) + u64::from(self.completion_tokens)
    }
}

/// How [`UsageRepo::totals`] groups records.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum UsageGroup {
    /// One row per user (anonymous requests under no user).
    User,
    /// One row per model.
    Model,
}

/// A time range and grouping for a usage report.
#[derive(Debug, Clone, PartialEq)]
pub struct UsageQuery {
    /// Start, inclusive, Unix milliseconds.
    pub from_ms: i64,
    /// End, exclusive, Unix milliseconds.
    pub to_ms: i64,
    /// Grouping.
    pub group: UsageGroup,
    /// Only this user's records.
    pub user_id: Option<String>,
}

/// Sums over one group of records.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct UsageTotal {
    /// The group's key (a user id or a model name); `None` for anonymous usage.
    pub key: Option<String>,
    /// Records.
    pub requests: u64,
    /// Records that did not end `ok`.
    pub failed: u64,
    /// Prompt tokens.
    pub prompt_tokens: u64,
    /// Cached prompt tokens.
    pub cached_tokens: u64,
    /// Completion tokens.
    pub completion_tokens: u64,
    /// Sum of the calls' durations, milliseconds.
    pub total_ms: u64,
}

/// Limits stored for one user or key, overriding the `[limits]` defaults.
/// `None` keeps the default; `Some(0)` means unlimited.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct QuotaOverride {
    /// Tokens per minute.
    pub tokens_per_minute: Option<u64>,
    /// Tokens per UTC day.
    pub tokens_per_day: Option<u64>,
    /// Tokens per UTC calendar month.
    pub tokens_per_month: Option<u64>,
    /// Admission weight in the engine's wait queue (1–64; default 1): a
    /// subject with share `w` gets up to `w` admissions per round-robin turn.
    #[serde(default)]
    pub share: Option<u64>,
}

/// Storage port for usage records and quota overrides.
#[async_trait]
pub trait UsageRepo: Send + Sync {
    /// Store records (one transaction).
    async fn insert(&self, records: &[UsageRecord]) -> Result<(), StoreError>;
    /// Sums per group over a time range.
    async fn totals(&self, query: &UsageQuery) -> Result<Vec<UsageTotal>, StoreError>;
    /// Charged tokens (prompt + completion) of a subject since `since_ms`.
    async fn tokens_since(&self, subject: &Subject, since_ms: i64) -> Result<u64, StoreError>;
    /// The override stored for a subject, if any.
    async fn quota(&self, subject: &Subject) -> Result<Option<QuotaOverride>, StoreError>;
    /// Store (or, with every field `None`, delete) a subject's override.
    async fn set_quota(
        &self,
        subject: &Subject,
        quota: &QuotaOverride,
        at_ms: i64,
    ) -> Result<(), StoreError>;
}

/// Who a metered call is for and where it came from; set by the HTTP auth
/// layer around each request (and carried into tasks the request spawns).
#[derive(Clone, Default)]
pub struct UsageContext {
    /// The request id.
    pub request_id: Option<String>,
    /// The authenticated user.
    pub user_id: Option<String>,
    /// The API key used.
    pub key_id: Option<String>,
    /// Operation id of the route.
    pub route: String,
    /// Where the call's tokens are charged (absent when auth is off).
    pub quotas: Option<Arc<Quotas>>,
}

tokio::task_local! {
    static CONTEXT: UsageContext;
}

impl UsageContext {
    /// The context of the running task, if one was set.
    pub fn current() -> Option<UsageContext> {
        CONTEXT.try_with(Clone::clone).ok()
    }

    /// Run `future` with `context` (or none) as its usage context.
    pub async fn scope<F: Future>(context: Option<UsageContext>, future: F) -> F::Output {
        match context {
            Some(context) => CONTEXT.scope(context, future).await,
            None => future.await,
        }
    }

    /// The subjects the context's tokens are charged to: the key (if any), then
    /// the user.
    pub fn subjects(&self) -> Vec<Subject> {
        let mut subjects = Vec::new();
        if let Some(key) = &self.key_id {
            subjects.push(Subject::Key(key.clone()));
        }
        if let Some(user) = &self.user_id {
            subjects.push(Subject::User(user.clone()));
        }
        subjects
    }
}
