//! The storage contract: every port behaviour, run against SQLite always and
//! against PostgreSQL when the test server is up (always, under CI).

use std::sync::Arc;

use hearth_core::jobs::{JobId, JobState, NewJob};
use hearth_core::store::{Store, StoreError, StoreKind};
use hearth_store::{OpenOptions, open};

async fn sqlite() -> (Arc<dyn Store>, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let url = format!(
        "sqlite://{}",
        dir.path().join("nested/dir/test.db").display()
    );
    (open(&url, &OpenOptions::default()).await.unwrap(), dir)
}

async fn postgres() -> Option<Arc<dyn Store>> {
    let admin = hearth_testkit::postgres::admin_url()?;
    let url = hearth_testkit::postgres::fresh_database(&admin)
        .await
        .unwrap();
    Some(open(&url, &OpenOptions::default()).await.unwrap())
}

/// Run one contract check on both engines.
macro_rules! contract {
    ($name:ident, $check:ident) => {
        mod $name {
            #[tokio::test]
            async fn sqlite() {
                let (store, _dir) = super::sqlite().await;
                assert_eq!(store.kind(), super::StoreKind::Sqlite);
                super::$check(store).await;
            }

            #[tokio::test]
            async fn postgres() {
                if let Some(store) = super::postgres().await {
                    assert_eq!(store.kind(), super::StoreKind::Postgres);
                    super::$check(store).await;
                }
            }
        }
    };
}

contract!(ping_answers, ping_answers_check);
contract!(job_lifecycle, job_lifecycle_check);
contract!(final_states_are_final, final_states_are_final_check);
contract!(list_is_newest_first_and_filters, list_check);
contract!(interrupted_jobs_are_requeued, requeue_check);
contract!(missing_job_is_not_found, missing_check);
contract!(hostile_strings_are_stored_inert, hostile_check);
contract!(reopen_keeps_data, reopen_check);

async fn ping_answers_check(store: Arc<dyn Store>) {
    store.ping().await.unwrap();
}

fn new_job(kind: &str) -> NewJob {
    NewJob {
        kind: kind.to_owned(),
        payload: serde_json::json!({"url": "https://x.test/m.gguf"}),
    }
}

async fn job_lifecycle_check(store: Arc<dyn Store>) {
    let jobs = store.jobs();
    let job = jobs.create(new_job("model.pull")).await.unwrap();
    assert_eq!(job.state, JobState::Queued);
    assert_eq!(job.payload["url"], "https://x.test/m.gguf");
    assert_eq!(job.progress_done, 0);
    jobs.set_state(&job.id, JobState::Running).await.unwrap();
    jobs.set_progress(&job.id, 50, Some(100)).await.unwrap();
    let running = jobs.get(&job.id).await.unwrap();
    assert_eq!(
        (running.state, running.progress_done, running.progress_total),
        (JobState::Running, 50, Some(100))
    );
    jobs.finish(&job.id, Ok(serde_json::json!({"digest": "sha256:ab"})))
        .await
        .unwrap();
    let done = jobs.get(&job.id).await.unwrap();
    assert_eq!(done.state, JobState::Succeeded);
    assert_eq!(done.result.unwrap()["digest"], "sha256:ab");
    assert!(done.updated_at_ms >= done.created_at_ms);
}

async fn final_states_are_final_check(store: Arc<dyn Store>) {
    let jobs = store.jobs();
    let job = jobs.create(new_job("x")).await.unwrap();
    jobs.finish(&job.id, Err("boom".into())).await.unwrap();
    assert!(matches!(
        jobs.set_state(&job.id, JobState::Running).await,
        Err(StoreError::Conflict(_))
    ));
    assert!(matches!(
        jobs.finish(&job.id, Ok(serde_json::json!(1))).await,
        Err(StoreError::Conflict(_))
    ));
    let failed = jobs.get(&job.id).await.unwrap();
    assert_eq!(failed.state, JobState::Failed);
    assert_eq!(failed.error.as_deref(), Some("boom"));
}

async fn list_check(store: Arc<dyn Store>) {
    let jobs = store.jobs();
    let mut ids = Vec::new();
    for i in 0..5 {
        ids.push(jobs.create(new_job(&format!("k{i}"))).await.unwrap().id);
    }
    jobs.set_state(&ids[1], JobState::Running).await.unwrap();
    let all = jobs.list(None, 10).await.unwrap();
    assert_eq!(
        all.iter().map(|j| j.id.clone()).collect::<Vec<_>>(),
        ids.iter().rev().cloned().collect::<Vec<_>>()
    );
    assert_eq!(jobs.list(None, 2).await.unwrap().len(), 2);
    let running = jobs.list(Some(JobState::Running), 10).await.unwrap();
    assert_eq!(running.len(), 1);
    assert_eq!(running[0].id, ids[1]);
}

async fn requeue_check(store: Arc<dyn Store>) {
    let jobs = store.jobs();
    let a = jobs.create(new_job("a")).await.unwrap();
    let b = jobs.create(new_job("b")).await.unwrap();
    jobs.set_state(&a.id, JobState::Running).await.unwrap();
    jobs.set_state(&b.id, JobState::Running).await.unwrap();
    jobs.finish(&b.id, Ok(serde_json::Value::Null))
        .await
        .unwrap();
    assert_eq!(jobs.requeue_interrupted().await.unwrap(), 1);
    assert_eq!(jobs.get(&a.id).await.unwrap().state, JobState::Queued);
    assert_eq!(jobs.get(&b.id).await.unwrap().state, JobState::Succeeded);
}

async fn missing_check(store: Arc<dyn Store>) {
    let missing = JobId("does-not-exist".into());
    assert!(matches!(
        store.jobs().get(&missing).await,
        Err(StoreError::NotFound)
    ));
    assert!(matches!(
        store.jobs().set_progress(&missing, 1, None).await,
        Err(StoreError::NotFound)
    ));
    assert!(matches!(
        store.jobs().set_state(&missing, JobState::Running).await,
        Err(StoreError::NotFound)
    ));
}

async fn hostile_check(store: Arc<dyn Store>) {
    let jobs = store.jobs();
    for evil in [
        "'; DROP TABLE jobs; --",
        "../../etc/passwd",
        "tab\tnew\nline",
        "😀 ünïcödé",
        "$1 $2 ?",
    ] {
        let job = jobs
            .create(NewJob {
                kind: evil.to_owned(),
                payload: serde_json::json!({ "v": evil }),
            })
            .await
            .unwrap();
        let back = jobs.get(&job.id).await.unwrap();
        assert_eq!(back.kind, evil);
        assert_eq!(back.payload["v"], evil);
        assert!(matches!(
            jobs.get(&JobId(evil.to_owned())).await,
            Err(StoreError::NotFound)
        ));
    }
    store.ping().await.unwrap();
}

async fn reopen_check(store: Arc<dyn Store>) {
    // Closing and using again must fail cleanly rather than hang or panic.
    let job = store.jobs().create(new_job("keep")).await.unwrap();
    assert_eq!(store.jobs().get(&job.id).await.unwrap().kind, "keep");
    store.close().await;
    assert!(store.ping().await.is_err());
}
