//! `/admin/usage` (token usage summed per user or per model over a time range)
//! and `/admin/{users,keys}/{id}/quota` (token limits of one user or key).

use axum::Json;
use axum::extract::State;
use hearth_core::jobs::now_ms;
use hearth_core::usage::{QuotaLimits, QuotaOverride, Subject, UsageGroup, UsageQuery, UsageTotal};
use hearth_types::ErrorCode as _;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::auth::Audit;
use crate::error::ApiError;
use crate::extract::{JsonBody, PathParams, QueryParams};
use crate::state::AppState;

const DAY_MS: i64 = 86_400_000;

/// Query of the usage report.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReportQuery {
    from_ms: Option<i64>,
    to_ms: Option<i64>,
    group_by: Option<String>,
    user_id: Option<String>,
}

/// Sums over one group of usage records.
#[derive(Debug, Serialize, ToSchema)]
pub struct UsageRowView {
    /// User id or model name; `null` for anonymous usage (auth off).
    pub key: Option<String>,
    /// Login name, when grouped by user and the user exists.
    pub username: Option<String>,
    /// Metered calls (generations and embedding requests).
    pub requests: u64,
    /// Calls that failed or were cancelled.
    pub failed: u64,
    /// Prompt tokens (embeddings: tokens read).
    pub prompt_tokens: u64,
    /// Prompt tokens served from the prefix cache.
    pub cached_tokens: u64,
    /// Generated tokens.
    pub completion_tokens: u64,
    /// Sum of the calls' durations, milliseconds.
    pub total_ms: u64,
}

/// A usage report.
#[derive(Debug, Serialize, ToSchema)]
pub struct UsageReportView {
    /// Start of the range, inclusive, Unix milliseconds.
    pub from_ms: i64,
    /// End of the range, exclusive, Unix milliseconds.
    pub to_ms: i64,
    /// `user` or `model`.
    pub group_by: String,
    /// One row per group, ordered by key.
    pub rows: Vec<UsageRowView>,
}

/// `GET /admin/usage?from_ms=&to_ms=&group_by=user|model&user_id=`: defaults to
/// the last 30 days, grouped by user.
pub async fn report(
    State(state): State<AppState>,
    QueryParams(query): QueryParams<ReportQuery>,
) -> Result<Json<UsageReportView>, ApiError> {
    let to_ms = query.to_ms.unwrap_or_else(|| now_ms() + 1);
    let from_ms = query.from_ms.unwrap_or(to_ms - 30 * DAY_MS);
    if from_ms >= to_ms {
        return Err(ApiError::invalid(
            "from_ms",
            "from_ms must be before to_ms (Unix milliseconds)",
        ));
    }
    let group = match query.group_by.as_deref().unwrap_or("user") {
        "user" => UsageGroup::User,
        "model" => UsageGroup::Model,
        _ => {
            return Err(ApiError::invalid(
                "group_by",
                "group_by must be 'user' or 'model'",
            ));
        }
    };
    let totals = state
        .store
        .usage()
        .totals(&UsageQuery {
            from_ms,
            to_ms,
            group,
            user_id: query.user_id,
        })
        .await
        .map_err(|e| {
            tracing::error!(%e, "usage report failed");
            ApiError::from_error(&e)
        })?;
    let users = match group {
        UsageGroup::User => state.auth.list_users().await.unwrap_or_default(),
        UsageGroup::Model => Vec::new(),
    };
    let rows = totals
        .into_iter()
        .map(|t: UsageTotal| UsageRowView {
            username: users
                .iter()
                .find(|u| Some(&u.id.0) == t.key.as_ref())
                .map(|u| u.username.clone()),
            key: t.key,
            requests: t.requests,
            failed: t.failed,
            prompt_tokens: t.prompt_tokens,
            cached_tokens: t.cached_tokens,
            completion_tokens: t.completion_tokens,
            total_ms: t.total_ms,
        })
        .collect();
    Ok(Json(UsageReportView {
        from_ms,
        to_ms,
        group_by: match group {
            UsageGroup::User => "user",
            UsageGroup::Model => "model",
        }
        .to_owned(),
        rows,
    }))
}

/// Token limits of one user or key.
#[derive(Debug, Serialize, ToSchema)]
pub struct QuotaView {
    /// `user:ID` or `key:ID`.
    pub subject: String,
    /// What is stored for this subject (`null` fields follow `[limits]`).
    pub stored: QuotaFields,
    /// The limits in force (0 = unlimited).
    pub effective: QuotaFields,
}

/// Token limits; in a request, `null` (or absent) means "use the `[limits]`
/// default" and 0 means unlimited.
#[derive(Debug, Default, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct QuotaFields {
    /// Tokens (prompt + completion) per minute.
    #[serde(default)]
    pub tokens_per_minute: Option<u64>,
    /// Tokens per UTC day.
    #[serde(default)]
    pub tokens_per_day: Option<u64>,
    /// Tokens per UTC calendar month.
    #[serde(default)]
    pub tokens_per_month: Option<u64>,
    /// Admission weight when requests wait for the model (1–64, default 1):
    /// a share of `w` gets up to `w` admissions per round-robin turn.
    #[serde(default)]
    pub share: Option<u64>,
}

impl From<Option<QuotaOverride>> for QuotaFields {
    fn from(over: Option<QuotaOverride>) -> Self {
        let over = over.unwrap_or_default();
        QuotaFields {
            tokens_per_minute: over.tokens_per_minute,
            tokens_per_day: over.tokens_per_day,
            tokens_per_month: over.tokens_per_month,
            share: over.share,
        }
    }
}

impl From<QuotaLimits> for QuotaFields {
    fn from(limits: QuotaLimits) -> Self {
        QuotaFields {
            tokens_per_minute: Some(limits.tokens_per_minute),
            tokens_per_day: Some(limits.tokens_per_day),
            tokens_per_month: Some(limits.tokens_per_month),
            share: Some(limits.share.max(1)),
        }
    }
}

fn quota_error(err: hearth_core::usage::quota::QuotaError) -> ApiError {
    if err.code().status() >= 500 {
        tracing::error!(%err, "quota storage failed");
    }
    ApiError::from_error(&err)
}

async fn show(state: &AppState, subject: Subject) -> Result<Json<QuotaView>, ApiError> {
    let (stored, effective) = state.quotas.show(&subject).await.map_err(quota_error)?;
    Ok(Json(QuotaView {
        subject: subject.as_key(),
        stored: stored.into(),
        effective: effective.into(),
    }))
}

async fn set(
    state: &AppState,
    subject: Subject,
    body: QuotaFields,
    ctx: &hearth_core::auth::AuditContext,
) -> Result<Json<QuotaView>, ApiError> {
    let max = u64::from(hearth_core::usage::MAX_SHARE);
    if body.share.is_some_and(|s| !(1..=max).contains(&s)) {
        return Err(ApiError::invalid(
            "share",
            format!("share must be between 1 and {max}"),
        ));
    }
    let quota = QuotaOverride {
        tokens_per_minute: body.tokens_per_minute,
        tokens_per_day: body.tokens_per_day,
        tokens_per_month: body.tokens_per_month,
        share: body.share,
    };
    state
        .quotas
        .set(&subject, quota, ctx)
        .await
        .map_err(quota_error)?;
    show(state, subject).await
}

/// `GET /admin/users/{id}/quota`
pub async fn user_quota(
    State(state): State<AppState>,
    PathParams(id): PathParams<String>,
) -> Result<Json<QuotaView>, ApiError> {
    show(&state, Subject::User(id)).await
}

/// `PUT /admin/users/{id}/quota`
pub async fn set_user_quota(
    State(state): State<AppState>,
    Audit(ctx): Audit,
    PathParams(id): PathParams<String>,
    JsonBody(body): JsonBody<QuotaFields>,
) -> Result<Json<QuotaView>, ApiError> {
    set(&state, Subject::User(id), body, &ctx).await
}

/// `GET /admin/keys/{id}/quota`
pub async fn key_quota(
    State(state): State<AppState>,
    PathParams(id): PathParams<String>,
) -> Result<Json<QuotaView>, ApiError> {
    show(&state, Subject::Key(id)).await
}

/// `PUT /admin/keys/{id}/quota`
pub async fn set_key_quota(
    State(state): State<AppState>,
    Audit(ctx): Audit,
    PathParams(id): PathParams<String>,
    JsonBody(body): JsonBody<QuotaFields>,
) -> Result<Json<QuotaView>, ApiError> {
    set(&state, Subject::Key(id), body, &ctx).await
}
