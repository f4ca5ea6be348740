//! SQL implementation of [`JobRepo`]. The same statements run on SQLite and
//! PostgreSQL (`$n` placeholders work on both through sqlx).

use async_trait::async_trait;
use hearth_core::jobs::{Job, JobId, JobRepo, JobState, NewJob, now_ms};
use hearth_core::store::{StoreError, StoreKind};
use sqlx::any::AnyRow;
use sqlx::{AnyPool, Row};

use crate::open::map_err;

const COLUMNS: &str = "id, kind, state, payload, result, error, progress_done, progress_total, \
                       created_at_ms, updated_at_ms";

pub(crate) struct SqlJobs {
    pool: AnyPool,
    _kind: StoreKind,
}

impl SqlJobs {
    pub(crate) fn new(pool: AnyPool, kind: StoreKind) -> Self {
        SqlJobs { pool, _kind: kind }
    }
}

fn parse_json(text: Option<String>) -> Result<Option<serde_json::Value>, StoreError> {
    text.map(|t| serde_json::from_str(&t))
        .transpose()
        .map_err(|e| StoreError::Internal(format!("stored JSON is invalid: {e}")))
}

fn row_to_job(row: &AnyRow) -> Result<Job, StoreError> {
    let state: String = row.try_get("state").map_err(map_err)?;
    Ok(Job {
        id: JobId(row.try_get("id").map_err(map_err)?),
        kind: row.try_get("kind").map_err(map_err)?,
        state: JobState::parse(&state)
            .ok_or_else(|| StoreError::Internal(format!("unknown job state {state}")))?,
        payload: parse_json(Some(row.try_get("payload").map_err(map_err)?))?
            .unwrap_or(serde_json::Value::Null),
        result: parse_json(row.try_get("result").map_err(map_err)?)?,
        error: row.try_get("error").map_err(map_err)?,
        progress_done: row.try_get("progress_done").map_err(map_err)?,
        progress_total: row.try_get("progress_total").map_err(map_err)?,
        created_at_ms: row.try_get("created_at_ms").map_err(map_err)?,
        updated_at_ms: row.try_get("updated_at_ms").map_err(map_err)?,
    })
}

#[async_trait]
impl JobRepo for SqlJobs {
    async fn create(&self, job: NewJob) -> Result<Job, StoreError> {
        let id = JobId::new();
        let now = now_ms();
        sqlx::query(
            "INSERT INTO jobs (id, kind, state, payload, progress_done, created_at_ms, updated_at_ms) \
             VALUES ($1, $2, 'queued', $3, 0, $4, $4)",
        )
        .bind(&id.0)
        .bind(&job.kind)
        .bind(job.payload.to_string())
        .bind(now)
        .execute(&self.pool)
        .await
        .map_err(map_err)?;
        self.get(&id).await
    }

    async fn get(&self, id: &JobId) -> Result<Job, StoreError> {
        let row = sqlx::query(&format!("SELECT {COLUMNS} FROM jobs WHERE id = $1"))
            .bind(&id.0)
            .fetch_optional(&self.pool)
            .await
            .map_err(map_err)?
            .ok_or(StoreError::NotFound)?;
        row_to_job(&row)
    }

    async fn list(&self, state: Option<JobState>, limit: u32) -> Result<Vec<Job>, StoreError> {
        let limit = i64::from(limit.clamp(1, 1000));
        let rows = match state {
            Some(state) => {
                sqlx::query(&format!(
                    "SELECT {COLUMNS} FROM jobs WHERE state = $1 \
                     ORDER BY created_at_ms DESC, id DESC LIMIT $2"
                ))
                .bind(state.as_str())
                .bind(limit)
                .fetch_all(&self.pool)
                .await
            }
            None => {
                sqlx::query(&format!(
                    "SELECT {COLUMNS} FROM jobs ORDER BY created_at_ms DESC, id DESC LIMIT $1"
                ))
                .bind(limit)
                .fetch_all(&self.pool)
                .await
            }
        }
        .map_err(map_err)?;
        rows.iter().map(row_to_job).collect()
    }

    async fn set_state(&self, id: &JobId, state: JobState) -> Result<(), StoreError> {
        let done = sqlx::query(
            "UPDATE jobs SET state = $1, updated_at_ms = $2 \
             WHERE id = $3 AND state NOT IN ('succeeded', 'failed', 'cancelled')",
        )
        .bind(state.as_str())
        .bind(now_ms())
        .bind(&id.0)
        .execute(&self.pool)
        .await
        .map_err(map_err)?;
        if done.rows_affected() == 0 {
            self.get(id).await?;
            return Err(StoreError::Conflict(format!(
                "job {id} is already finished"
            )));
        }
        Ok(())
    }

    async fn set_progress(
        &self,
        id: &JobId,
        done: i64,
        total: Option<i64>,
    ) -> Result<(), StoreError> {
        let updated = sqlx::query(
            "UPDATE jobs SET progress_done = $1, progress_total = $2, updated_at_ms = $3 \
             WHERE id = $4",
        )
        .bind(done)
        .bind(total)
        .bind(now_ms())
        .bind(&id.0)
        .execute(&self.pool)
        .await
        .map_err(map_err)?;
        if updated.rows_affected() == 0 {
            return Err(StoreError::NotFound);
        }
        Ok(())
    }

    async fn finish(
        &self,
        id: &JobId,
        outcome: Result<serde_json::Value, String>,
    ) -> Result<(), StoreError> {
        let (state, result, error) = match outcome {
            Ok(value) => (JobState::Succeeded, Some(value.to_string()), None),
            Err(message) => (JobState::Failed, None, Some(message)),
        };
        let updated = sqlx::query(
            "UPDATE jobs SET state = $1, result = $2, error = $3, updated_at_ms = $4 \
             WHERE id = $5 AND state NOT IN ('succeeded', 'failed', 'cancelled')",
        )
        .bind(state.as_str())
        .bind(result)
        .bind(error)
        .bind(now_ms())
        .bind(&id.0)
        .execute(&self.pool)
        .await
        .map_err(map_err)?;
        if updated.rows_affected() == 0 {
            self.get(id).await?;
            return Err(StoreError::Conflict(format!(
                "job {id} is already finished"
            )));
        }
        Ok(())
    }

    async fn requeue_interrupted(&self) -> Result<u64, StoreError> {
        let done = sqlx::query(
            "UPDATE jobs SET state = 'queued', updated_at_ms = $1 WHERE state = 'running'",
        )
        .bind(now_ms())
        .execute(&self.pool)
        .await
        .map_err(map_err)?;
        Ok(done.rows_affected())
    }
}
