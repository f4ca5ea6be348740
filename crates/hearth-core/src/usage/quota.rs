//! Token limits and quotas per API key and per user: tokens per minute, per UTC
//! day and per UTC month. Checked before a generation is admitted, charged
//! after it ends (prompt + completion tokens), so one request may overshoot a
//! budget by its own size; the next one is refused.
//!
//! Counters live in the [`Limiter`] (in-process or Redis, shared by replicas).
//! Per-minute counters start at zero each minute; day and month counters are
//! seeded from the usage records the first time a period is checked, so a
//! restart or a new replica keeps counting from what was used. Limits come
//! from `[limits]`, overridden per subject by rows in the `quotas` table
//! (cached here for [`OVERRIDE_TTL`]).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use hearth_types::{Code, ErrorCode};
use serde::{Deserialize, Serialize};

use super::QuotaOverride;
use super::calendar::Period;
use crate::auth::{AuditContext, AuthService};
use crate::config::LimitsConfig;
use crate::jobs::now_ms;
use crate::limits::{LimitError, Limiter, secs_to_window_end};
use crate::store::{Store, StoreError};

/// How long a replica trusts its copy of a subject's override.
pub const OVERRIDE_TTL: Duration = Duration::from_secs(10);

const MINUTE: Duration = Duration::from_secs(60);

/// Whose budget: a user or one of its API keys.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Subject {
    /// A user (all its keys and sessions).
    User(String),
    /// One API key.
    Key(String),
}

impl Subject {
    /// `user:ID` or `key:ID` (stored in the `quotas` table, used in counter names).
    pub fn as_key(&self) -> String {
        match self {
            Subject::User(id) => format!("user:{id}"),
            Subject::Key(id) => format!("key:{id}"),
        }
    }

    /// `user` or `key`, for messages.
    pub fn kind(&self) -> &'static str {
        match self {
            Subject::User(_) => "user",
            Subject::Key(_) => "key",
        }
    }
}

/// Limits in force for one subject; 0 means unlimited.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct QuotaLimits {
    /// Tokens per minute.
    pub tokens_per_minute: u64,
    /// Tokens per UTC day.
    pub tokens_per_day: u64,
    /// Tokens per UTC month.
    pub tokens_per_month: u64,
    /// Admission weight in the engine's wait queue (0 is read as 1).
    #[serde(default)]
    pub share: u64,
}

impl QuotaLimits {
    fn with(self, over: Option<QuotaOverride>) -> Self {
        let over = over.unwrap_or_default();
        QuotaLimits {
            tokens_per_minute: over.tokens_per_minute.unwrap_or(self.tokens_per_minute),
            tokens_per_day: over.tokens_per_day.unwrap_or(self.tokens_per_day),
            tokens_per_month: over.tokens_per_month.unwrap_or(self.tokens_per_month),
            share: over.share.unwrap_or(self.share),
        }
    }

    fn for_period(&self, period: Period) -> u64 {
        match period {
            Period::Day => self.tokens_per_day,
            Period::Month => self.tokens_per_month,
        }
    }
}

/// The `[limits]` defaults for keys and users.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct QuotaSettings {
    /// Defaults for API keys.
    pub key: QuotaLimits,
    /// Defaults for users.
    pub user: QuotaLimits,
}

impl QuotaSettings {
    /// Read the defaults from the configuration.
    pub fn from_config(limits: &LimitsConfig) -> Self {
        QuotaSettings {
            key: QuotaLimits {
                tokens_per_minute: limits.tokens_per_minute_per_key,
                tokens_per_day: limits.tokens_per_day_per_key,
                tokens_per_month: limits.tokens_per_month_per_key,
                share: 1,
            },
            user: QuotaLimits {
                tokens_per_minute: limits.tokens_per_minute_per_user,
                tokens_per_day: limits.tokens_per_day_per_user,
                tokens_per_month: limits.tokens_per_month_per_user,
                share: 1,
            },
        }
    }

    fn defaults(&self, subject: &Subject) -> QuotaLimits {
        match subject {
            Subject::User(_) => self.user,
            Subject::Key(_) => self.key,
        }
    }
}

/// A refusal: which code, what to tell the caller, when to retry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QuotaDenied {
    /// `E_RATE_LIMITED` (tokens per minute) or `E_QUOTA_EXCEEDED` (day, month).
    pub code: Code,
    /// Says which budget and how big it is.
    pub message: String,
    /// Seconds until the window or period ends (at least 1).
    pub retry_after_secs: u32,
}

/// Reading or changing budgets failed.
#[derive(Debug, thiserror::Error)]
pub enum QuotaError {
    /// Storage failed, or the subject does not exist (`NotFound`).
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The limiter (Redis) failed.
    #[error(transparent)]
    Limiter(#[from] LimitError),
}

impl ErrorCode for QuotaError {
    fn code(&self) -> Code {
        match self {
            QuotaError::Store(e) => e.code(),
            QuotaError::Limiter(e) => e.code(),
        }
    }
}

/// The token budget service.
pub struct Quotas {
    store: Arc<dyn Store>,
    limiter: Arc<dyn Limiter>,
    auth: Arc<AuthService>,
    settings: QuotaSettings,
    overrides: Mutex<HashMap<Subject, (Instant, Option<QuotaOverride>)>>,
}

impl Quotas {
    /// A service over the store (records, overrides), the limiter (counters)
    /// and the auth service (audit log).
    pub fn new(
        store: Arc<dyn Store>,
        limiter: Arc<dyn Limiter>,
        auth: Arc<AuthService>,
        settings: QuotaSettings,
    ) -> Self {
        Quotas {
            store,
            limiter,
            auth,
            settings,
            overrides: Mutex::new(HashMap::new()),
        }
    }

    /// Whether any token budget is configured by default (overrides aside).
    pub fn settings(&self) -> &QuotaSettings {
        &self.settings
    }

    async fn stored_override(
        &self,
        subject: &Subject,
    ) -> Result<Option<QuotaOverride>, QuotaError> {
        if let Some((at, over)) = self.cached(subject)
            && at.elapsed() < OVERRIDE_TTL
        {
            return Ok(over);
        }
        let over = self.store.usage().quota(subject).await?;
        self.overrides
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(subject.clone(), (Instant::now(), over));
        Ok(over)
    }

    fn cached(&self, subject: &Subject) -> Option<(Instant, Option<QuotaOverride>)> {
        let cache = self.overrides.lock().unwrap_or_else(|e| e.into_inner());
        cache.get(subject).copied()
    }

    /// The override stored for a subject (fresh from storage) and the limits
    /// in force.
    pub async fn show(
        &self,
        subject: &Subject,
    ) -> Result<(Option<QuotaOverride>, QuotaLimits), QuotaError> {
        self.ensure_exists(subject).await?;
        let over = self.store.usage().quota(subject).await?;
        Ok((over, self.settings.defaults(subject).with(over)))
    }

    /// The limits in force for a subject.
    pub async fn limits(&self, subject: &Subject) -> Result<QuotaLimits, QuotaError> {
        let over = self.stored_override(subject).await?;
        Ok(self.settings.defaults(subject).with(over))
    }

    /// Store a subject's override (all `None` removes it) and audit the change.
    pub async fn set(
        &self,
        subject: &Subject,
        quota: QuotaOverride,
        ctx: &AuditContext,
    ) -> Result<QuotaLimits, QuotaError> {
        self.ensure_exists(subject).await?;
        let before = self.store.usage().quota(subject).await?;
        let result = self
            .store
            .usage()
            .set_quota(subject, &quota, now_ms())
            .await;
        let detail = serde_json::json!({ "before": before, "after": quota });
        self.auth
            .audit(
                ctx,
                "quota.set",
                Some(&subject.as_key()),
                result.is_ok(),
                detail,
            )
            .await;
        result?;
        self.overrides
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(subject);
        Ok(self.settings.defaults(subject).with(Some(quota)))
    }

    async fn ensure_exists(&self, subject: &Subject) -> Result<(), QuotaError> {
        let accounts = self.store.accounts();
        match subject {
            Subject::User(id) => accounts.user(&crate::auth::UserId(id.clone())).await?,
            Subject::Key(id) => {
                accounts.key(id).await?;
                return Ok(());
            }
        };
        Ok(())
    }

    /// Refuse when any subject's budget is used up (checked in order: each
    /// subject's minute, day, month).
    pub async fn check(&self, subjects: &[Subject]) -> Result<Result<(), QuotaDenied>, QuotaError> {
        let now = now_ms();
        for subject in subjects {
            let limits = self.limits(subject).await?;
            if let Some(denied) = self.check_minute(subject, &limits, now).await? {
                return Ok(Err(denied));
            }
            for period in [Period::Day, Period::Month] {
                if let Some(denied) = self.check_period(subject, &limits, period, now).await? {
                    return Ok(Err(denied));
                }
            }
        }
        Ok(Ok(()))
    }

    async fn check_minute(
        &self,
        subject: &Subject,
        limits: &QuotaLimits,
        now: i64,
    ) -> Result<Option<QuotaDenied>, QuotaError> {
        let limit = limits.tokens_per_minute;
        if limit == 0 {
            return Ok(None);
        }
        let used = self.limiter.counter(&minute_name(subject, now)).await?;
        if used.unwrap_or(0) < limit {
            return Ok(None);
        }
        let retry_after_secs = secs_to_window_end(now, MINUTE);
        Ok(Some(QuotaDenied {
            code: Code::RateLimited,
            message: format!(
                "token rate limit of {limit} tokens per minute reached for this {}; retry in {retry_after_secs} s",
                subject.kind()
            ),
            retry_after_secs,
        }))
    }

    async fn check_period(
        &self,
        subject: &Subject,
        limits: &QuotaLimits,
        period: Period,
        now: i64,
    ) -> Result<Option<QuotaDenied>, QuotaError> {
        let limit = limits.for_period(period);
        if limit == 0 {
            return Ok(None);
        }
        let span = period.span(now);
        let name = period_name(subject, &span.label);
        let used = match self.limiter.counter(&name).await? {
            Some(used) => used,
            None => {
                let used = self
                    .store
                    .usage()
                    .tokens_since(subject, span.start_ms)
                    .await?;
                let ttl = Duration::from_millis((span.end_ms - now).max(1) as u64);
                self.limiter.seed_counter(&name, used, ttl).await?
            }
        };
        if used < limit {
            return Ok(None);
        }
        let retry_after_secs = u32::try_from((span.end_ms - now + 999) / 1000)
            .unwrap_or(u32::MAX)
            .max(1);
        Ok(Some(QuotaDenied {
            code: Code::QuotaExceeded,
            message: format!(
                "token quota of {limit} tokens per {} used up for this {} ({used} used); it renews in {retry_after_secs} s",
                period.as_str(),
                subject.kind()
            ),
            retry_after_secs,
        }))
    }

    /// Charge `tokens` to every subject's budgets. Failures are logged: the
    /// tokens are in the usage records, and the day and month counters are
    /// re-seeded from them once they expire.
    pub async fn charge(&self, subjects: &[Subject], tokens: u64) {
        if tokens == 0 {
            return;
        }
        let now = now_ms();
        for subject in subjects {
            if let Err(err) = self.charge_one(subject, tokens, now).await {
                tracing::warn!(%err, subject = %subject.as_key(), tokens, "could not charge tokens");
            }
        }
    }

    async fn charge_one(&self, subject: &Subject, tokens: u64, now: i64) -> Result<(), QuotaError> {
        let limits = self.limits(subject).await?;
        if limits.tokens_per_minute > 0 {
            let name = minute_name(subject, now);
            self.limiter
                .add_counter(&name, tokens, 2 * MINUTE, true)
                .await?;
        }
        for period in [Period::Day, Period::Month] {
            if limits.for_period(period) > 0 {
                let span = period.span(now);
                let ttl = Duration::from_millis((span.end_ms - now).max(1) as u64);
                let name = period_name(subject, &span.label);
                self.limiter.add_counter(&name, tokens, ttl, false).await?;
            }
        }
        Ok(())
    }
}

fn minute_name(subject: &Subject, now: i64) -> String {
    format!("tpm:{}:{}", subject.as_key(), now.div_euclid(60_000))
}

fn period_name(subject: &Subject, label: &str) -> String {
    format!("tq:{}:{label}", subject.as_key())
}
