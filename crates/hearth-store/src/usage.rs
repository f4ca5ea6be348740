//! SQL implementation of [`UsageRepo`] for SQLite and PostgreSQL: usage records
//! (inserted in batches, one transaction) and per-subject quota overrides.

use async_trait::async_trait;
use hearth_core::store::StoreError;
use hearth_core::usage::{
    QuotaOverride, Subject, UsageGroup, UsageQuery, UsageRecord, UsageRepo, UsageTotal,
};
use sqlx::any::AnyRow;
use sqlx::{AnyPool, Row};

use crate::open::map_err;

pub(crate) struct SqlUsage {
    pool: AnyPool,
}

impl SqlUsage {
    pub(crate) fn new(pool: AnyPool) -> Self {
        SqlUsage { pool }
    }
}

fn get<'r, T>(row: &'r AnyRow, column: &str) -> Result<T, StoreError>
where
    T: sqlx::Decode<'r, sqlx::Any> + sqlx::Type<sqlx::Any>,
{
    row.try_get(column).map_err(map_err)
}

fn to_i64(value: u64) -> i64 {
    i64::try_from(value).unwrap_or(i64::MAX)
}

fn to_u64(value: i64) -> u64 {
    u64::try_from(value).unwrap_or(0)
}

fn row_to_total(row: &AnyRow) -> Result<UsageTotal, StoreError> {
    Ok(UsageTotal {
        key: get(row, "grp")?,
        requests: to_u64(get(row, "requests")?),
        failed: to_u64(get(row, "failed")?),
        prompt_tokens: to_u64(get(row, "prompt_tokens")?),
        cached_tokens: to_u64(get(row, "cached_tokens")?),
        completion_tokens: to_u64(get(row, "completion_tokens")?),
        total_ms: to_u64(get(row, "total_ms")?),
    })
}

#[async_trait]
impl UsageRepo for SqlUsage {
    async fn insert(&self, records: &[UsageRecord]) -> Result<(), StoreError> {
        let mut tx = self.pool.begin().await.map_err(map_err)?;
        for r in records {
            sqlx::query(
                "INSERT INTO usage_records (id, at_ms, request_id, user_id, key_id, route, model, \
                 prompt_tokens, cached_tokens, completion_tokens, ttft_ms, total_ms, outcome) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)",
            )
            .bind(&r.id)
            .bind(r.at_ms)
            .bind(&r.request_id)
            .bind(&r.user_id)
            .bind(&r.key_id)
            .bind(&r.route)
            .bind(&r.model)
            .bind(i64::from(r.prompt_tokens))
            .bind(i64::from(r.cached_tokens))
            .bind(i64::from(r.completion_tokens))
            .bind(r.ttft_ms.map(to_i64))
            .bind(to_i64(r.total_ms))
            .bind(r.outcome.as_str())
            .execute(&mut *tx)
            .await
            .map_err(map_err)?;
        }
        tx.commit().await.map_err(map_err)
    }

    async fn totals(&self, query: &UsageQuery) -> Result<Vec<UsageTotal>, StoreError> {
        let column = match query.group {
            UsageGroup::User => "user_id",
            UsageGroup::Model => "model",
        };
        // SUM over BIGINT is NUMERIC on PostgreSQL: cast back so both engines
        // answer with 64-bit integers.
        let sql = format!(
            "SELECT {column} AS grp, COUNT(*) AS requests, \
             CAST(COALESCE(SUM(CASE WHEN outcome = 'ok' THEN 0 ELSE 1 END), 0) AS BIGINT) AS failed, \
             CAST(COALESCE(SUM(prompt_tokens), 0) AS BIGINT) AS prompt_tokens, \
             CAST(COALESCE(SUM(cached_tokens), 0) AS BIGINT) AS cached_tokens, \
             CAST(COALESCE(SUM(completion_tokens), 0) AS BIGINT) AS completion_tokens, \
             CAST(COALESCE(SUM(total_ms), 0) AS BIGINT) AS total_ms \
             FROM usage_records WHERE at_ms >= $1 AND at_ms < $2 \
             AND ($3 IS NULL OR user_id = $3) \
             GROUP BY {column} ORDER BY {column}"
        );
        let rows = sqlx::query(&sql)
            .bind(query.from_ms)
            .bind(query.to_ms)
            .bind(&query.user_id)
            .fetch_all(&self.pool)
            .await
            .map_err(map_err)?;
        rows.iter().map(row_to_total).collect()
    }

    async fn tokens_since(&self, subject: &Subject, since_ms: i64) -> Result<u64, StoreError> {
        let (column, id) = match subject {
            Subject::User(id) => ("user_id", id),
            Subject::Key(id) => ("key_id", id),
        };
        let sql = format!(
            "SELECT CAST(COALESCE(SUM(prompt_tokens + completion_tokens), 0) AS BIGINT) AS tokens \
             FROM usage_records WHERE {column} = $1 AND at_ms >= $2"
        );
        let row = sqlx::query(&sql)
            .bind(id)
            .bind(since_ms)
            .fetch_one(&self.pool)
            .await
            .map_err(map_err)?;
        Ok(to_u64(get(&row, "tokens")?))
    }

    async fn quota(&self, subject: &Subject) -> Result<Option<QuotaOverride>, StoreError> {
        let row = sqlx::query(
            "SELECT tokens_per_minute, tokens_per_day, tokens_per_month, share FROM quotas \
             WHERE subject = $1",
        )
        .bind(subject.as_key())
        .fetch_optional(&self.pool)
        .await
        .map_err(map_err)?;
        row.map(|row| {
            let field = |name: &str| get::<Option<i64>>(&row, name).map(|v| v.map(to_u64));
            Ok(QuotaOverride {
                tokens_per_minute: field("tokens_per_minute")?,
                tokens_per_day: field("tokens_per_day")?,
                tokens_per_month: field("tokens_per_month")?,
                share: field("share")?,
            })
        })
        .transpose()
    }

    async fn set_quota(
        &self,
        subject: &Subject,
        quota: &QuotaOverride,
        at_ms: i64,
    ) -> Result<(), StoreError> {
        if *quota == QuotaOverride::default() {
            sqlx::query("DELETE FROM quotas WHERE subject = $1")
                .bind(subject.as_key())
                .execute(&self.pool)
                .await
                .map_err(map_err)?;
            return Ok(());
        }
        sqlx::query(
            "INSERT INTO quotas (subject, tokens_per_minute, tokens_per_day, tokens_per_month, \
             share, updated_at_ms) VALUES ($1, $2, $3, $4, $5, $6) \
             ON CONFLICT (subject) DO UPDATE SET tokens_per_minute = excluded.tokens_per_minute, \
             tokens_per_day = excluded.tokens_per_day, tokens_per_month = excluded.tokens_per_month, \
             share = excluded.share, \
             updated_at_ms = excluded.updated_at_ms",
        )
        .bind(subject.as_key())
        .bind(quota.tokens_per_minute.map(to_i64))
        .bind(quota.tokens_per_day.map(to_i64))
        .bind(quota.tokens_per_month.map(to_i64))
        .bind(quota.share.map(to_i64))
        .bind(at_ms)
        .execute(&self.pool)
        .await
        .map_err(map_err)?;
        Ok(())
    }
}
