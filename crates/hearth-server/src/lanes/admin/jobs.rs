//! `/admin/jobs`: persisted long-running work (pulls, quantization, ingestion).

use axum::Json;
use axum::extract::State;
use hearth_core::jobs::{Job, JobId, JobState};
use hearth_core::store::StoreError;
use hearth_types::Code;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::error::ApiError;
use crate::extract::{PathParams, QueryParams};
use crate::state::AppState;

/// A job as clients see it.
#[derive(Debug, Serialize, ToSchema)]
pub struct JobView {
    /// Job id.
    pub id: String,
    /// Kind of work, e.g. `model.pull`.
    pub kind: String,
    /// `queued`, `running`, `succeeded`, `failed` or `cancelled`.
    pub state: String,
    /// Units done.
    pub progress_done: i64,
    /// Units in total, when known.
    pub progress_total: Option<i64>,
    /// Result, once succeeded.
    #[schema(value_type = Object)]
    pub result: Option<serde_json::Value>,
    /// Error message, once failed.
    pub error: Option<String>,
    /// Creation time, Unix milliseconds.
    pub created_at_ms: i64,
    /// Last change, Unix milliseconds.
    pub updated_at_ms: i64,
}

impl From<Job> for JobView {
    fn from(job: Job) -> Self {
        JobView {
            id: job.id.0,
            kind: job.kind,
            state: job.state.as_str().to_owned(),
            progress_done: job.progress_done,
            progress_total: job.progress_total,
            result: job.result,
            error: job.error,
            created_at_ms: job.created_at_ms,
            updated_at_ms: job.updated_at_ms,
        }
    }
}

/// A page of jobs.
#[derive(Debug, Serialize, ToSchema)]
pub struct JobListView {
    /// Newest first.
    pub jobs: Vec<JobView>,
}

/// Query of the list.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ListQuery {
    state: Option<String>,
    limit: Option<u32>,
}

/// `GET /admin/jobs?state=&limit=`
pub async fn list(
    State(state): State<AppState>,
    QueryParams(query): QueryParams<ListQuery>,
) -> Result<Json<JobListView>, ApiError> {
    let filter = match query.state.as_deref() {
        None => None,
        Some(s) => Some(JobState::parse(s).ok_or_else(|| {
            ApiError::invalid(
                "state",
                "state must be one of queued, running, succeeded, failed, cancelled",
            )
        })?),
    };
    let limit = query.limit.unwrap_or(50);
    if !(1..=1000).contains(&limit) {
        return Err(ApiError::invalid(
            "limit",
            "limit must be between 1 and 1000",
        ));
    }
    let jobs = state.store.jobs().list(filter, limit).await?;
    Ok(Json(JobListView {
        jobs: jobs.into_iter().map(JobView::from).collect(),
    }))
}

/// `GET /admin/jobs/{id}`
pub async fn get(
    State(state): State<AppState>,
    PathParams(id): PathParams<String>,
) -> Result<Json<JobView>, ApiError> {
    match state.store.jobs().get(&JobId(id.clone())).await {
        Ok(job) => Ok(Json(job.into())),
        Err(StoreError::NotFound) => Err(ApiError::new(
            Code::NotFound,
            format!("job '{id}' does not exist"),
        )),
        Err(e) => Err(e.into()),
    }
}
