//! The storage contract: every port behaviour, run against SQLite always and
//! against PostgreSQL when the test server is up (always, under CI).

use std::sync::Arc;

use hearth_core::auth::{
    ApiKey, AuditEvent, Invite, NewUser, PasswordHasher, Role, Session, UserId,
};
use hearth_core::jobs::{JobId, JobState, NewJob, now_ms};
use hearth_core::store::{Store, StoreError, StoreKind};
use hearth_store::{OpenOptions, open};
use hearth_types::Scope;

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
contract!(users_lifecycle, users_check);
contract!(only_argon2id_hashes_are_stored, phc_only_check);
contract!(first_user_only_once, first_user_check);
contract!(keys_lifecycle, keys_check);
contract!(sessions_lifecycle, sessions_check);
contract!(invites_are_single_use, invites_check);
contract!(audit_log_pages_newest_first, audit_check);
contract!(hostile_account_strings_are_inert, hostile_accounts_check);

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

fn phc(password: &str) -> String {
    PasswordHasher::with_cost(64, 1, 1).hash(password)
}

fn new_user(name: &str, role: Role) -> NewUser {
    NewUser {
        username: name.to_owned(),
        password_hash: phc("correct horse battery"),
        role,
    }
}

async fn users_check(store: Arc<dyn Store>) {
    let accounts = store.accounts();
    assert_eq!(accounts.count_users().await.unwrap(), 0);
    let alice = accounts
        .create_user(new_user("alice", Role::Admin))
        .await
        .unwrap();
    assert_eq!((alice.role, alice.is_disabled), (Role::Admin, false));
    assert!(matches!(
        accounts.create_user(new_user("alice", Role::User)).await,
        Err(StoreError::Conflict(_))
    ));
    let bob = accounts
        .create_user(new_user("bob", Role::User))
        .await
        .unwrap();
    assert_eq!(accounts.count_users().await.unwrap(), 2);
    assert_eq!(accounts.user_by_name("bob").await.unwrap().id, bob.id);
    assert!(matches!(
        accounts.user_by_name("carol").await,
        Err(StoreError::NotFound)
    ));
    let names: Vec<String> = accounts
        .list_users()
        .await
        .unwrap()
        .into_iter()
        .map(|u| u.username)
        .collect();
    assert_eq!(names, ["alice", "bob"]);
    accounts.set_role(&bob.id, Role::Readonly).await.unwrap();
    accounts.set_disabled(&bob.id, true).await.unwrap();
    let new_hash = phc("another good password");
    accounts
        .set_password_hash(&bob.id, &new_hash)
        .await
        .unwrap();
    let bob = accounts.user(&bob.id).await.unwrap();
    assert_eq!((bob.role, bob.is_disabled), (Role::Readonly, true));
    assert_eq!(bob.password_hash, new_hash);
    let ghost = UserId("ghost".into());
    assert!(matches!(
        accounts.set_role(&ghost, Role::User).await,
        Err(StoreError::NotFound)
    ));
    assert!(matches!(
        accounts.set_disabled(&ghost, true).await,
        Err(StoreError::NotFound)
    ));
}

async fn phc_only_check(store: Arc<dyn Store>) {
    let accounts = store.accounts();
    for bad in ["plaintext password", "$2b$12$bcrypthashxxxxxxxxxxxxx", ""] {
        let result = accounts
            .create_user(NewUser {
                username: "u".into(),
                password_hash: bad.into(),
                role: Role::User,
            })
            .await;
        assert!(result.is_err(), "{bad:?} stored as a password hash");
    }
    let user = accounts
        .create_user(new_user("u", Role::User))
        .await
        .unwrap();
    assert!(accounts.set_password_hash(&user.id, "plain").await.is_err());
    assert!(
        accounts
            .user(&user.id)
            .await
            .unwrap()
            .password_hash
            .starts_with("$argon2id$")
    );
}

async fn first_user_check(store: Arc<dyn Store>) {
    let accounts = store.accounts();
    let first = accounts
        .create_first_user(new_user("root", Role::Admin))
        .await
        .unwrap();
    assert_eq!(first.role, Role::Admin);
    assert!(matches!(
        accounts
            .create_first_user(new_user("second", Role::Admin))
            .await,
        Err(StoreError::Conflict(_))
    ));
    assert_eq!(accounts.count_users().await.unwrap(), 1);
}

fn key(user: &UserId, hash: &str) -> ApiKey {
    ApiKey {
        id: uuid::Uuid::now_v7().to_string(),
        user_id: user.clone(),
        name: "ci".into(),
        prefix: "hk_0123456789".into(),
        hash: hash.into(),
        scopes: vec![Scope::Chat, Scope::ModelsRead],
        models: Some(vec!["smollm2:135m".into()]),
        expires_at_ms: Some(now_ms() + 60_000),
        last_used_at_ms: None,
        created_at_ms: now_ms(),
        revoked_at_ms: None,
    }
}

async fn keys_check(store: Arc<dyn Store>) {
    let accounts = store.accounts();
    let alice = accounts
        .create_user(new_user("alice", Role::User))
        .await
        .unwrap();
    let bob = accounts
        .create_user(new_user("bob", Role::User))
        .await
        .unwrap();
    let k1 = key(&alice.id, "h1");
    accounts.create_key(k1.clone()).await.unwrap();
    accounts.create_key(key(&bob.id, "h2")).await.unwrap();
    assert!(matches!(
        accounts.create_key(key(&bob.id, "h1")).await,
        Err(StoreError::Conflict(_))
    ));
    assert_eq!(accounts.key_by_hash("h1").await.unwrap(), k1);
    assert_eq!(accounts.key(&k1.id).await.unwrap(), k1);
    assert!(matches!(
        accounts.key_by_hash("nope").await,
        Err(StoreError::NotFound)
    ));
    assert_eq!(
        accounts.list_keys(Some(&alice.id)).await.unwrap(),
        vec![k1.clone()]
    );
    assert_eq!(accounts.list_keys(None).await.unwrap().len(), 2);
    accounts.touch_key(&k1.id, 42).await.unwrap();
    assert_eq!(
        accounts.key(&k1.id).await.unwrap().last_used_at_ms,
        Some(42)
    );
    assert!(matches!(
        accounts.revoke_key(&k1.id, Some(&bob.id), 1).await,
        Err(StoreError::NotFound)
    ));
    accounts
        .revoke_key(&k1.id, Some(&alice.id), 7)
        .await
        .unwrap();
    assert_eq!(accounts.key(&k1.id).await.unwrap().revoked_at_ms, Some(7));
    assert!(
        matches!(
            accounts.revoke_key(&k1.id, None, 8).await,
            Err(StoreError::NotFound)
        ),
        "already revoked"
    );
}

fn session(user: &UserId, hash: &str, expires_at_ms: i64) -> Session {
    Session {
        id: uuid::Uuid::now_v7().to_string(),
        hash: hash.into(),
        user_id: user.clone(),
        csrf_token: "csrf".into(),
        created_at_ms: now_ms(),
        last_seen_at_ms: now_ms(),
        expires_at_ms,
        ip: Some("127.0.0.1".into()),
        user_agent: Some("test".into()),
        revoked_at_ms: None,
    }
}

async fn sessions_check(store: Arc<dyn Store>) {
    let accounts = store.accounts();
    let alice = accounts
        .create_user(new_user("alice", Role::User))
        .await
        .unwrap();
    let bob = accounts
        .create_user(new_user("bob", Role::User))
        .await
        .unwrap();
    let later = now_ms() + 3_600_000;
    let s1 = session(&alice.id, "s1", later);
    accounts.create_session(s1.clone()).await.unwrap();
    accounts
        .create_session(session(&alice.id, "s2", later))
        .await
        .unwrap();
    accounts
        .create_session(session(&alice.id, "old", now_ms() - 1))
        .await
        .unwrap();
    accounts
        .create_session(session(&bob.id, "s3", later))
        .await
        .unwrap();
    assert_eq!(accounts.session_by_hash("s1").await.unwrap(), s1);
    assert_eq!(
        accounts
            .list_sessions(Some(&alice.id), now_ms())
            .await
            .unwrap()
            .len(),
        2,
        "expired not listed"
    );
    assert_eq!(
        accounts.list_sessions(None, now_ms()).await.unwrap().len(),
        3
    );
    accounts.touch_session(&s1.id, later - 1).await.unwrap();
    assert_eq!(
        accounts
            .session_by_hash("s1")
            .await
            .unwrap()
            .last_seen_at_ms,
        later - 1
    );
    assert!(matches!(
        accounts.revoke_session(&s1.id, Some(&bob.id), 1).await,
        Err(StoreError::NotFound)
    ));
    accounts
        .revoke_session(&s1.id, Some(&alice.id), 5)
        .await
        .unwrap();
    assert_eq!(
        accounts.session_by_hash("s1").await.unwrap().revoked_at_ms,
        Some(5)
    );
    assert_eq!(
        accounts.revoke_user_sessions(&alice.id, 6).await.unwrap(),
        2,
        "s2 and the expired one"
    );
    assert_eq!(
        accounts.list_sessions(None, now_ms()).await.unwrap().len(),
        1
    );
}

fn invite(by: &UserId, hash: &str, role: Role, expires_at_ms: i64) -> Invite {
    Invite {
        id: uuid::Uuid::now_v7().to_string(),
        hash: hash.into(),
        role,
        created_by: by.clone(),
        created_at_ms: now_ms(),
        expires_at_ms,
        used_at_ms: None,
        used_by: None,
    }
}

async fn invites_check(store: Arc<dyn Store>) {
    let accounts = store.accounts();
    let admin = accounts
        .create_user(new_user("admin", Role::Admin))
        .await
        .unwrap();
    let later = now_ms() + 60_000;
    accounts
        .create_invite(invite(&admin.id, "i1", Role::Readonly, later))
        .await
        .unwrap();
    accounts
        .create_invite(invite(&admin.id, "old", Role::User, now_ms() - 1))
        .await
        .unwrap();
    // A taken name leaves the invite usable.
    assert!(matches!(
        accounts
            .accept_invite("i1", new_user("admin", Role::Admin), now_ms())
            .await,
        Err(StoreError::Conflict(_))
    ));
    let carol = accounts
        .accept_invite("i1", new_user("carol", Role::Admin), now_ms())
        .await
        .unwrap();
    assert_eq!(
        carol.role,
        Role::Readonly,
        "the invite's role, not the caller's"
    );
    assert!(
        matches!(
            accounts
                .accept_invite("i1", new_user("dave", Role::User), now_ms())
                .await,
            Err(StoreError::NotFound)
        ),
        "single use"
    );
    assert!(
        matches!(
            accounts
                .accept_invite("old", new_user("erin", Role::User), now_ms())
                .await,
            Err(StoreError::NotFound)
        ),
        "expired"
    );
    let invites = accounts.list_invites().await.unwrap();
    assert_eq!(invites.len(), 2);
    let used = invites.iter().find(|i| i.hash == "i1").unwrap();
    assert_eq!(used.used_by.as_ref(), Some(&carol.id));
    assert!(
        matches!(
            accounts.delete_invite(&used.id).await,
            Err(StoreError::NotFound)
        ),
        "used invites stay"
    );
    let old = invites.iter().find(|i| i.hash == "old").unwrap();
    accounts.delete_invite(&old.id).await.unwrap();
    assert_eq!(accounts.count_users().await.unwrap(), 2);
}

fn event(action: &str) -> AuditEvent {
    AuditEvent {
        id: uuid::Uuid::now_v7().to_string(),
        at_ms: now_ms(),
        action: action.into(),
        principal: "cli".into(),
        target: None,
        outcome: "success".into(),
        ip: None,
        user_agent: None,
        request_id: Some("r1".into()),
        detail: serde_json::json!({"k": "v"}),
    }
}

async fn audit_check(store: Arc<dyn Store>) {
    let accounts = store.accounts();
    let mut ids = Vec::new();
    for i in 0..5 {
        let e = event(&format!("a{i}"));
        ids.push(e.id.clone());
        accounts.append_audit(e).await.unwrap();
    }
    let page = accounts.list_audit(None, 3).await.unwrap();
    assert_eq!(
        page.iter().map(|e| e.action.as_str()).collect::<Vec<_>>(),
        ["a4", "a3", "a2"]
    );
    assert_eq!(page[0].detail["k"], "v");
    let rest = accounts.list_audit(Some(&page[2].id), 10).await.unwrap();
    assert_eq!(
        rest.iter().map(|e| e.action.as_str()).collect::<Vec<_>>(),
        ["a1", "a0"]
    );
}

async fn hostile_accounts_check(store: Arc<dyn Store>) {
    let accounts = store.accounts();
    for (i, evil) in [
        "'; DROP TABLE users; --",
        "../../etc/passwd",
        "\" OR 1=1 --",
        "😀 ünïcödé",
        "$1 $2 ?",
    ]
    .into_iter()
    .enumerate()
    {
        let user = accounts
            .create_user(new_user(evil, Role::User))
            .await
            .unwrap();
        assert_eq!(accounts.user_by_name(evil).await.unwrap().id, user.id);
        let mut k = key(&user.id, &format!("hostile{i}"));
        k.name = evil.to_owned();
        k.models = Some(vec![evil.to_owned()]);
        accounts.create_key(k.clone()).await.unwrap();
        assert_eq!(accounts.key(&k.id).await.unwrap(), k);
        assert!(matches!(
            accounts.key(evil).await,
            Err(StoreError::NotFound)
        ));
        assert!(matches!(
            accounts.revoke_session(evil, None, 1).await,
            Err(StoreError::NotFound)
        ));
        let mut e = event(evil);
        e.target = Some(evil.to_owned());
        e.detail = serde_json::json!({ "v": evil });
        accounts.append_audit(e.clone()).await.unwrap();
        assert_eq!(accounts.list_audit(None, 1).await.unwrap()[0], e);
    }
    assert_eq!(accounts.count_users().await.unwrap(), 5);
    store.ping().await.unwrap();
}

/// The audit table refuses updates and deletes, on both engines.
async fn audit_is_append_only(url: &str) {
    sqlx::any::install_default_drivers();
    let store = open(url, &OpenOptions::default()).await.unwrap();
    store.accounts().append_audit(event("x")).await.unwrap();
    let pool = sqlx::AnyPool::connect(url).await.unwrap();
    assert!(
        sqlx::query("UPDATE audit_log SET action = 'y'")
            .execute(&pool)
            .await
            .is_err()
    );
    assert!(
        sqlx::query("DELETE FROM audit_log")
            .execute(&pool)
            .await
            .is_err()
    );
    assert_eq!(
        store.accounts().list_audit(None, 10).await.unwrap().len(),
        1
    );
}

#[tokio::test]
async fn audit_log_is_append_only_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    audit_is_append_only(&format!(
        "sqlite://{}?mode=rwc",
        dir.path().join("a.db").display()
    ))
    .await;
}

#[tokio::test]
async fn audit_log_is_append_only_postgres() {
    if let Some(admin) = hearth_testkit::postgres::admin_url() {
        let url = hearth_testkit::postgres::fresh_database(&admin)
            .await
            .unwrap();
        audit_is_append_only(&url).await;
    }
}
