//! Persisted jobs: long work (model pulls, quantization, ingestion, exports) is
//! recorded before it starts, so a restart neither loses nor repeats it blindly.
//! Clients get the job id with `202 Accepted` and poll or stream its progress.

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

use crate::store::StoreError;

/// A job id (UUID v7 text: sortable by creation time).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct JobId(pub String);

impl JobId {
    /// A fresh, time-ordered id.
    pub fn new() -> Self {
        JobId(uuid::Uuid::now_v7().to_string())
    }
}

impl Default for JobId {
    fn default() -> Self {
        Self::new()
    }
}

impl std::fmt::Display for JobId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// Where a job is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum JobState {
    /// Recorded, not started.
    Queued,
    /// Being worked on.
    Running,
    /// Finished with a result.
    Succeeded,
    /// Finished with an error.
    Failed,
    /// Stopped on request.
    Cancelled,
}

impl JobState {
    /// Stable text stored in the database.
    pub fn as_str(self) -> &'static str {
        match self {
            JobState::Queued => "queued",
            JobState::Running => "running",
            JobState::Succeeded => "succeeded",
            JobState::Failed => "failed",
            JobState::Cancelled => "cancelled",
        }
    }

    /// Parse the stored text.
    pub fn parse(s: &str) -> Option<JobState> {
        [
            JobState::Queued,
            JobState::Running,
            JobState::Succeeded,
            JobState::Failed,
            JobState::Cancelled,
        ]
        .into_iter()
        .find(|state| state.as_str() == s)
    }

    /// Whether the job can no longer change.
    pub fn is_final(self) -> bool {
        matches!(
            self,
            JobState::Succeeded | JobState::Failed | JobState::Cancelled
        )
    }
}

/// A recorded job.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Job {
    /// Id.
    pub id: JobId,
    /// What kind of work, e.g. `model.pull`.
    pub kind: String,
    /// Life state.
    pub state: JobState,
    /// Input of the job.
    pub payload: serde_json::Value,
    /// Output, once succeeded.
    pub result: Option<serde_json::Value>,
    /// Error message, once failed.
    pub error: Option<String>,
    /// Units done (bytes, documents…).
    pub progress_done: i64,
    /// Units in total, when known.
    pub progress_total: Option<i64>,
    /// Creation time, Unix milliseconds.
    pub created_at_ms: i64,
    /// Last change, Unix milliseconds.
    pub updated_at_ms: i64,
}

/// Input for a new job.
#[derive(Debug, Clone, PartialEq)]
pub struct NewJob {
    /// Kind, e.g. `model.pull`.
    pub kind: String,
    /// Input.
    pub payload: serde_json::Value,
}

/// Repository of jobs.
#[async_trait]
pub trait JobRepo: Send + Sync {
    /// Record a new queued job; it is durable when this returns.
    async fn create(&self, job: NewJob) -> Result<Job, StoreError>;
    /// One job.
    async fn get(&self, id: &JobId) -> Result<Job, StoreError>;
    /// Newest first, at most `limit`, optionally only one state.
    async fn list(&self, state: Option<JobState>, limit: u32) -> Result<Vec<Job>, StoreError>;
    /// Move a job to a new state; final states are never left.
    async fn set_state(&self, id: &JobId, state: JobState) -> Result<(), StoreError>;
    /// Record progress of a running job.
    async fn set_progress(
        &self,
        id: &JobId,
        done: i64,
        total: Option<i64>,
    ) -> Result<(), StoreError>;
    /// Finish a job with a result or an error.
    async fn finish(
        &self,
        id: &JobId,
        outcome: Result<serde_json::Value, String>,
    ) -> Result<(), StoreError>;
    /// After a restart: jobs left `running` go back to `queued` so they resume.
    /// Returns how many were requeued.
    async fn requeue_interrupted(&self) -> Result<u64, StoreError>;
}

/// Current time in Unix milliseconds.
pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}
