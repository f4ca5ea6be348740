//! The storage contract: every port behaviour, run against SQLite always and
//! against PostgreSQL when the test server is up (always, under CI).

use std::sync::Arc;

use hearth_core::auth::{
    ApiKey, AuditEvent, Invite, NewUser, PasswordHasher, Role, Session, UserId,
};
use hearth_core::jobs::{JobId, JobState, NewJob, now_ms};
use hearth_core::store::{Store, StoreError, StoreKind};
use hearth_core::usage::{Outcome, QuotaOverride, Subject, UsageGroup, UsageQuery, UsageRecord};
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

// ---------------------------------------------------------------------------
// Conversations

mod conv {
    use hearth_core::conversations::{
        Conversation, ConversationId, ConversationPatch, ListFilter, Message, MessageFinish,
        MessageId, MessageStatus, OwnerId, Role, Timings, Usage,
    };

    pub fn owner(name: &str) -> OwnerId {
        OwnerId(name.to_owned())
    }

    pub fn conversation(owner: &OwnerId, title: &str, at_ms: i64) -> Conversation {
        Conversation {
            id: ConversationId::new(),
            owner: owner.clone(),
            title: title.to_owned(),
            model: Some("m".into()),
            system_prompt: None,
            persona: None,
            params: serde_json::json!({"temperature": 0.5}),
            is_pinned: false,
            is_archived: false,
            current_leaf_id: None,
            created_at_ms: at_ms,
            updated_at_ms: at_ms,
            deleted_at_ms: None,
        }
    }

    pub fn message(c: &Conversation, parent: Option<&Message>, role: Role, text: &str) -> Message {
        Message::new(
            &c.id,
            parent.map(|p| p.id.clone()),
            role,
            text,
            hearth_core::jobs::now_ms(),
        )
    }

    pub fn streaming(c: &Conversation, parent: &Message) -> Message {
        Message {
            status: MessageStatus::Streaming,
            ..message(c, Some(parent), Role::Assistant, "")
        }
    }

    pub fn finish(text: &str, status: MessageStatus) -> MessageFinish {
        MessageFinish {
            content: text.to_owned(),
            status,
            error: None,
            finish_reason: Some("stop".into()),
            usage: Usage {
                prompt_tokens: 10,
                cached_tokens: 4,
                completion_tokens: 3,
            },
            timings: Timings {
                queue_ms: 1,
                prompt_ms: 2,
                generation_ms: 3,
            },
            context: None,
        }
    }

    pub fn filter(limit: u32) -> ListFilter {
        ListFilter {
            limit,
            ..ListFilter::default()
        }
    }

    pub fn ids(messages: &[Message]) -> Vec<MessageId> {
        messages.iter().map(|m| m.id.clone()).collect()
    }

    pub fn patch() -> ConversationPatch {
        ConversationPatch::default()
    }
}

contract!(conversation_crud_and_isolation, conversation_crud_check);
contract!(message_tree_paths_and_branches, message_tree_check);
contract!(
    idempotency_key_is_unique_per_conversation,
    idempotency_check
);
contract!(
    concurrent_same_key_appends_store_one,
    concurrent_idempotency_check
);
contract!(finished_messages_stay_finished, finish_check);
contract!(
    list_pages_newest_first_with_filters,
    conversation_list_check
);
contract!(search_titles_and_contents, search_check);
contract!(delete_soft_then_purge, delete_check);
contract!(
    conversation_text_is_stored_inert,
    conversation_hostile_check
);
contract!(
    context_notes_and_summaries_are_kept,
    context_summaries_check
);
contract!(personas_keep_every_version_per_owner, personas_check);

async fn personas_check(store: Arc<dyn Store>) {
    use hearth_core::conversations::UserPersona;
    let repo = store.conversations();
    let alice = conv::owner("alice");
    let bob = conv::owner("bob");
    let v1 = UserPersona {
        id: "user:1".into(),
        version: 1,
        owner: alice.clone(),
        name: "Zed's 'persona'".into(),
        description: String::new(),
        template: "Hi {{name|you}}; DROP TABLE personas; --".into(),
        created_at_ms: 1000,
    };
    repo.insert_persona(&v1).await.unwrap();
    let v2 = UserPersona {
        version: 2,
        template: "v2".into(),
        created_at_ms: 2000,
        ..v1.clone()
    };
    repo.insert_persona(&v2).await.unwrap();
    assert!(matches!(
        repo.insert_persona(&v2).await,
        Err(StoreError::Conflict(_))
    ));
    // Another owner cannot add a version to it.
    let stolen = UserPersona {
        version: 3,
        owner: bob.clone(),
        ..v1.clone()
    };
    assert!(matches!(
        repo.insert_persona(&stolen).await,
        Err(StoreError::NotFound)
    ));
    let other = UserPersona {
        id: "user:2".into(),
        name: "Abe".into(),
        ..v1.clone()
    };
    repo.insert_persona(&other).await.unwrap();
    assert_eq!(
        repo.personas(&alice).await.unwrap(),
        vec![other.clone(), v2.clone()]
    );
    assert!(repo.personas(&bob).await.unwrap().is_empty());
    assert_eq!(repo.persona(&alice, "user:1", None).await.unwrap(), v2);
    assert_eq!(repo.persona(&alice, "user:1", Some(1)).await.unwrap(), v1);
    assert!(matches!(
        repo.persona(&alice, "user:1", Some(7)).await,
        Err(StoreError::NotFound)
    ));
    assert!(matches!(
        repo.persona(&bob, "user:1", None).await,
        Err(StoreError::NotFound)
    ));
    assert!(matches!(
        repo.delete_persona(&bob, "user:1").await,
        Err(StoreError::NotFound)
    ));
    repo.delete_persona(&alice, "user:1").await.unwrap();
    assert!(matches!(
        repo.persona(&alice, "user:1", Some(1)).await,
        Err(StoreError::NotFound)
    ));
    assert_eq!(repo.personas(&alice).await.unwrap(), vec![other]);
}

async fn context_summaries_check(store: Arc<dyn Store>) {
    use hearth_core::conversations::{ContextAction, ContextNote, MessageId, MessageStatus, Role};
    let repo = store.conversations();
    let alice = conv::owner("alice");
    let c = conv::conversation(&alice, "Long", 1000);
    repo.insert(&c, &[]).await.unwrap();
    let u = conv::message(&c, None, Role::User, "q");
    let a = conv::message(&c, Some(&u), Role::Assistant, "a");
    let u2 = conv::message(&c, Some(&a), Role::User, "q2");
    let a2 = conv::streaming(&c, &u2);
    repo.append(
        &c.id,
        &[u.clone(), a.clone(), u2.clone(), a2.clone()],
        &a2.id,
    )
    .await
    .unwrap();
    assert!(repo.summaries(&c.id).await.unwrap().is_empty());
    repo.put_summary(&c.id, &a.id, "first 'draft'", "m")
        .await
        .unwrap();
    repo.put_summary(&c.id, &a.id, "it's summarized", "m")
        .await
        .unwrap();
    assert_eq!(
        repo.summaries(&c.id).await.unwrap(),
        vec![hearth_core::conversations::StoredSummary {
            through: a.id.clone(),
            content: "it's summarized".to_owned(),
            model: "m".to_owned(),
        }]
    );
    // A message of another conversation (or none) takes no summary.
    let other = conv::conversation(&alice, "Other", 1000);
    repo.insert(&other, &[]).await.unwrap();
    assert!(matches!(
        repo.put_summary(&other.id, &a.id, "x", "m").await,
        Err(StoreError::NotFound)
    ));
    assert!(matches!(
        repo.put_summary(&c.id, &MessageId::new(), "x", "m").await,
        Err(StoreError::NotFound)
    ));
    // The note is written with the end of the answer and read back.
    let note = ContextNote {
        action: ContextAction::Summarized,
        omitted_messages: 2,
        first_kept_id: u2.id.clone(),
        summary_through_id: Some(a.id.clone()),
        summary_created: true,
        fallback_reason: None,
        prompt_tokens: 40,
        context_tokens: 60,
    };
    let finish = hearth_core::conversations::MessageFinish {
        context: Some(note.clone()),
        ..conv::finish("answer", MessageStatus::Complete)
    };
    assert!(repo.finish_message(&a2.id, &finish).await.unwrap());
    assert_eq!(
        repo.message(&c.id, &a2.id).await.unwrap().context,
        Some(note)
    );
    assert_eq!(repo.message(&c.id, &a.id).await.unwrap().context, None);
    // Purging the conversation takes its summaries along.
    repo.purge(&alice, &c.id).await.unwrap();
    assert!(repo.summaries(&c.id).await.unwrap().is_empty());
}

async fn conversation_crud_check(store: Arc<dyn Store>) {
    use hearth_core::conversations::MessageId;
    let repo = store.conversations();
    let (alice, bob) = (conv::owner("alice"), conv::owner("bob"));
    let c = hearth_core::conversations::Conversation {
        persona: Some(hearth_core::conversations::PersonaRef {
            id: "builtin:socratic".into(),
            version: 3,
        }),
        ..conv::conversation(&alice, "First", 1000)
    };
    repo.insert(&c, &[]).await.unwrap();
    assert_eq!(
        repo.get(&alice, &c.id).await.unwrap(),
        c,
        "every field round-trips"
    );
    assert!(matches!(
        repo.get(&bob, &c.id).await,
        Err(StoreError::NotFound)
    ));
    assert!(
        repo.list(&bob, &conv::filter(10))
            .await
            .unwrap()
            .items
            .is_empty()
    );
    let renamed = repo
        .update(
            &alice,
            &c.id,
            &hearth_core::conversations::ConversationPatch {
                title: Some("Renamed".into()),
                is_pinned: Some(true),
                system_prompt: Some(Some("Be brief.".into())),
                model: Some(None),
                ..conv::patch()
            },
        )
        .await
        .unwrap();
    assert_eq!(renamed.title, "Renamed");
    assert!(renamed.is_pinned && !renamed.is_archived);
    assert_eq!(renamed.system_prompt.as_deref(), Some("Be brief."));
    assert_eq!(renamed.model, None);
    assert_eq!(
        renamed.updated_at_ms, 1000,
        "metadata changes do not reorder"
    );
    assert!(matches!(
        repo.update(&bob, &c.id, &conv::patch()).await,
        Err(StoreError::NotFound)
    ));
    assert!(matches!(
        repo.update(
            &bob,
            &c.id,
            &hearth_core::conversations::ConversationPatch {
                title: Some("stolen".into()),
                ..conv::patch()
            }
        )
        .await,
        Err(StoreError::NotFound)
    ));
    assert!(matches!(
        repo.soft_delete(&bob, &c.id).await,
        Err(StoreError::NotFound)
    ));
    assert!(matches!(
        repo.purge(&bob, &c.id).await,
        Err(StoreError::NotFound)
    ));
    assert_eq!(repo.get(&alice, &c.id).await.unwrap().title, "Renamed");
    assert!(matches!(
        repo.message(&c.id, &MessageId("nope".into())).await,
        Err(StoreError::NotFound)
    ));
}

async fn message_tree_check(store: Arc<dyn Store>) {
    use hearth_core::conversations::Role;
    let repo = store.conversations();
    let alice = conv::owner("alice");
    let c = conv::conversation(&alice, "Tree", 1000);
    repo.insert(&c, &[]).await.unwrap();
    let u1 = conv::message(&c, None, Role::User, "hello");
    let a1 = conv::message(&c, Some(&u1), Role::Assistant, "hi");
    repo.append(&c.id, &[u1.clone(), a1.clone()], &a1.id)
        .await
        .unwrap();
    let u2 = conv::message(&c, Some(&a1), Role::User, "how are you");
    let a2 = conv::message(&c, Some(&u2), Role::Assistant, "fine");
    repo.append(&c.id, &[u2.clone(), a2.clone()], &a2.id)
        .await
        .unwrap();
    // A regenerated answer beside a2, then an edited question beside u2.
    let a2b = conv::message(&c, Some(&u2), Role::Assistant, "great");
    repo.append(&c.id, std::slice::from_ref(&a2b), &a2b.id)
        .await
        .unwrap();
    let u2b = conv::message(&c, Some(&a1), Role::User, "what time is it");
    let a3 = conv::message(&c, Some(&u2b), Role::Assistant, "noon");
    repo.append(&c.id, &[u2b.clone(), a3.clone()], &a3.id)
        .await
        .unwrap();

    let conversation = repo.get(&alice, &c.id).await.unwrap();
    assert_eq!(conversation.current_leaf_id.as_ref(), Some(&a3.id));
    assert!(
        conversation.updated_at_ms > 1000,
        "appending bumps the activity time"
    );
    let path = repo.path(&c.id, &a3.id).await.unwrap();
    assert_eq!(
        conv::ids(&path),
        conv::ids(&[u1.clone(), a1.clone(), u2b.clone(), a3.clone()])
    );
    assert_eq!(path[3], a3, "every field round-trips");
    let path = repo.path(&c.id, &a2b.id).await.unwrap();
    assert_eq!(
        conv::ids(&path),
        conv::ids(&[u1.clone(), a1.clone(), u2.clone(), a2b.clone()])
    );
    assert_eq!(
        conv::ids(&repo.children(&c.id, &a1.id).await.unwrap()),
        conv::ids(&[u2.clone(), u2b.clone()])
    );
    assert_eq!(
        conv::ids(&repo.children(&c.id, &u2.id).await.unwrap()),
        conv::ids(&[a2.clone(), a2b.clone()])
    );
    let tree = repo.tree(&c.id).await.unwrap();
    assert_eq!(tree.len(), 7);
    assert_eq!(tree[0].id, u1.id);
    let shape = repo.shape(&c.id).await.unwrap();
    assert_eq!(shape.len(), 7);
    assert_eq!(shape[1], (a1.id.clone(), Some(u1.id.clone())));
    repo.set_leaf(&c.id, &a2.id).await.unwrap();
    assert_eq!(
        repo.get(&alice, &c.id).await.unwrap().current_leaf_id,
        Some(a2.id.clone())
    );
    // A path asked in the wrong conversation is empty.
    let other = conv::conversation(&alice, "Other", 1000);
    repo.insert(&other, &[]).await.unwrap();
    assert!(repo.path(&other.id, &a3.id).await.unwrap().is_empty());
    assert!(matches!(
        repo.message(&other.id, &a3.id).await,
        Err(StoreError::NotFound)
    ));
}

async fn idempotency_check(store: Arc<dyn Store>) {
    use hearth_core::conversations::{Message, Role};
    let repo = store.conversations();
    let alice = conv::owner("alice");
    let c = conv::conversation(&alice, "Keys", 1000);
    let d = conv::conversation(&alice, "Other", 1000);
    repo.insert(&c, &[]).await.unwrap();
    repo.insert(&d, &[]).await.unwrap();
    let keyed = |c, text| Message {
        idempotency_key: Some("key-1".into()),
        ..conv::message(c, None, Role::User, text)
    };
    let first = keyed(&c, "once");
    let answer = conv::streaming(&c, &first);
    repo.append(&c.id, &[first.clone(), answer.clone()], &answer.id)
        .await
        .unwrap();
    let again = keyed(&c, "once");
    let again_answer = conv::streaming(&c, &again);
    assert!(matches!(
        repo.append(
            &c.id,
            &[again.clone(), again_answer.clone()],
            &again_answer.id
        )
        .await,
        Err(StoreError::Conflict(_))
    ));
    assert_eq!(
        repo.tree(&c.id).await.unwrap().len(),
        2,
        "nothing of the retry stored"
    );
    assert_eq!(
        repo.get(&alice, &c.id).await.unwrap().current_leaf_id,
        Some(answer.id.clone())
    );
    assert_eq!(
        repo.message_by_key(&c.id, "key-1")
            .await
            .unwrap()
            .map(|m| m.id),
        Some(first.id.clone())
    );
    assert_eq!(repo.message_by_key(&c.id, "key-2").await.unwrap(), None);
    // The same key in another conversation is another request.
    let other = keyed(&d, "once");
    repo.append(&d.id, std::slice::from_ref(&other), &other.id)
        .await
        .unwrap();
    // Messages without a key never collide.
    for _ in 0..3 {
        let m = conv::message(&c, Some(&answer), Role::User, "no key");
        repo.append(&c.id, std::slice::from_ref(&m), &m.id)
            .await
            .unwrap();
    }
}

async fn concurrent_idempotency_check(store: Arc<dyn Store>) {
    use hearth_core::conversations::{Message, Role};
    let alice = conv::owner("alice");
    let c = conv::conversation(&alice, "Race", 1000);
    store.conversations().insert(&c, &[]).await.unwrap();
    let mut tasks = Vec::new();
    for _ in 0..8 {
        let store = store.clone();
        let c = c.clone();
        tasks.push(tokio::spawn(async move {
            let user = Message {
                idempotency_key: Some("double-click".into()),
                ..conv::message(&c, None, Role::User, "hi")
            };
            let answer = conv::streaming(&c, &user);
            store
                .conversations()
                .append(&c.id, &[user, answer.clone()], &answer.id)
                .await
        }));
    }
    let mut ok = 0;
    for t in tasks {
        match t.await.unwrap() {
            Ok(()) => ok += 1,
            Err(StoreError::Conflict(_)) => {}
            Err(e) => panic!("unexpected error {e}"),
        }
    }
    assert_eq!(ok, 1);
    assert_eq!(store.conversations().tree(&c.id).await.unwrap().len(), 2);
}

async fn finish_check(store: Arc<dyn Store>) {
    use hearth_core::conversations::{MessageStatus, Role};
    let repo = store.conversations();
    let alice = conv::owner("alice");
    let c = conv::conversation(&alice, "Finish", 1000);
    repo.insert(&c, &[]).await.unwrap();
    let u = conv::message(&c, None, Role::User, "q");
    let a = conv::streaming(&c, &u);
    let b = conv::streaming(&c, &u);
    repo.append(&c.id, &[u.clone(), a.clone(), b.clone()], &b.id)
        .await
        .unwrap();
    repo.update_content(&a.id, "par").await.unwrap();
    assert_eq!(repo.message(&c.id, &a.id).await.unwrap().content, "par");
    assert!(
        repo.finish_message(&a.id, &conv::finish("partial", MessageStatus::Cancelled))
            .await
            .unwrap()
    );
    assert!(
        !repo
            .finish_message(&a.id, &conv::finish("other", MessageStatus::Complete))
            .await
            .unwrap()
    );
    repo.update_content(&a.id, "late write").await.unwrap();
    let a = repo.message(&c.id, &a.id).await.unwrap();
    assert_eq!(
        (a.content.as_str(), a.status),
        ("partial", MessageStatus::Cancelled)
    );
    assert_eq!(
        (
            a.usage.prompt_tokens,
            a.usage.cached_tokens,
            a.usage.completion_tokens
        ),
        (10, 4, 3)
    );
    assert_eq!(
        (
            a.timings.queue_ms,
            a.timings.prompt_ms,
            a.timings.generation_ms
        ),
        (1, 2, 3)
    );
    assert_eq!(a.finish_reason.as_deref(), Some("stop"));
    // Recovery after a restart: only the still-streaming one changes.
    assert_eq!(repo.fail_streaming("server stopped").await.unwrap(), 1);
    let b = repo.message(&c.id, &b.id).await.unwrap();
    assert_eq!(b.status, MessageStatus::Error);
    assert_eq!(b.error.as_deref(), Some("server stopped"));
    assert_eq!(
        repo.message(&c.id, &u.id).await.unwrap().status,
        MessageStatus::Complete
    );
    assert_eq!(repo.fail_streaming("again").await.unwrap(), 0);
}

async fn conversation_list_check(store: Arc<dyn Store>) {
    use hearth_core::conversations::{ConversationPatch, ListFilter};
    let repo = store.conversations();
    let alice = conv::owner("alice");
    let mut all = Vec::new();
    for i in 0..7 {
        // Two share a time: the id breaks the tie.
        let c = conv::conversation(&alice, &format!("c{i}"), 1000 + (i / 2) * 10);
        repo.insert(&c, &[]).await.unwrap();
        all.push(c);
    }
    repo.insert(&conv::conversation(&conv::owner("bob"), "bob's", 5000), &[])
        .await
        .unwrap();
    let mut expected = all.clone();
    expected.sort_by(|a, b| (b.updated_at_ms, &b.id).cmp(&(a.updated_at_ms, &a.id)));
    let mut seen = Vec::new();
    let mut cursor = None;
    loop {
        let page = repo
            .list(
                &alice,
                &ListFilter {
                    cursor,
                    ..conv::filter(3)
                },
            )
            .await
            .unwrap();
        assert!(page.items.len() <= 3);
        seen.extend(page.items.into_iter().map(|c| c.id));
        match page.next_cursor {
            Some(next) => cursor = Some(next),
            None => break,
        }
    }
    assert_eq!(
        seen,
        expected.iter().map(|c| c.id.clone()).collect::<Vec<_>>()
    );
    let pin = ConversationPatch {
        is_pinned: Some(true),
        ..conv::patch()
    };
    let archive = ConversationPatch {
        is_archived: Some(true),
        ..conv::patch()
    };
    repo.update(&alice, &all[1].id, &pin).await.unwrap();
    repo.update(&alice, &all[2].id, &archive).await.unwrap();
    let pinned = repo
        .list(
            &alice,
            &ListFilter {
                pinned: Some(true),
                ..conv::filter(10)
            },
        )
        .await
        .unwrap();
    assert_eq!(
        pinned.items.iter().map(|c| &c.id).collect::<Vec<_>>(),
        vec![&all[1].id]
    );
    let archived = repo
        .list(
            &alice,
            &ListFilter {
                archived: Some(true),
                ..conv::filter(10)
            },
        )
        .await
        .unwrap();
    assert_eq!(archived.items.len(), 1);
    let active = repo
        .list(
            &alice,
            &ListFilter {
                archived: Some(false),
                ..conv::filter(10)
            },
        )
        .await
        .unwrap();
    assert_eq!(active.items.len(), 6);
    assert!(active.next_cursor.is_none());
}

async fn search_check(store: Arc<dyn Store>) {
    use hearth_core::conversations::{ConversationPatch, ListFilter, MessageStatus, Role};
    let repo = store.conversations();
    let (alice, bob) = (conv::owner("alice"), conv::owner("bob"));
    let soup = conv::conversation(&alice, "Soup recipes", 1000);
    let trip = conv::conversation(&alice, "Holiday", 1000);
    let bobs = conv::conversation(&bob, "Soup for Bob", 1000);
    for c in [&soup, &trip, &bobs] {
        repo.insert(c, &[]).await.unwrap();
    }
    let u = conv::message(
        &trip,
        None,
        Role::User,
        "Plan a trip to the mountains, please",
    );
    let a = conv::streaming(&trip, &u);
    repo.append(&trip.id, &[u.clone(), a.clone()], &a.id)
        .await
        .unwrap();
    let search = |q: &str| ListFilter {
        search: Some(q.to_owned()),
        ..conv::filter(10)
    };
    let titles = |page: hearth_core::conversations::ConversationPage| {
        page.items.into_iter().map(|c| c.title).collect::<Vec<_>>()
    };
    assert_eq!(
        titles(repo.list(&alice, &search("soup")).await.unwrap()),
        vec!["Soup recipes"]
    );
    assert_eq!(
        titles(repo.list(&alice, &search("MOUNTAINS trip")).await.unwrap()),
        vec!["Holiday"]
    );
    assert!(
        repo.list(&alice, &search("mountains soup"))
            .await
            .unwrap()
            .items
            .is_empty()
    );
    // A streaming answer is searchable once finished, not before.
    repo.update_content(&a.id, "Take boots for the glacier")
        .await
        .unwrap();
    assert!(
        repo.list(&alice, &search("glacier"))
            .await
            .unwrap()
            .items
            .is_empty()
    );
    repo.finish_message(
        &a.id,
        &conv::finish("Take boots for the glacier", MessageStatus::Complete),
    )
    .await
    .unwrap();
    assert_eq!(
        titles(repo.list(&alice, &search("glacier")).await.unwrap()),
        vec!["Holiday"]
    );
    // Renames are searchable; old titles are not.
    repo.update(
        &alice,
        &soup.id,
        &ConversationPatch {
            title: Some("Stews".into()),
            ..conv::patch()
        },
    )
    .await
    .unwrap();
    assert!(
        repo.list(&alice, &search("soup"))
            .await
            .unwrap()
            .items
            .is_empty()
    );
    assert_eq!(
        titles(repo.list(&alice, &search("stews")).await.unwrap()),
        vec!["Stews"]
    );
    assert_eq!(
        titles(repo.list(&bob, &search("soup")).await.unwrap()),
        vec!["Soup for Bob"]
    );
    // Query syntax in user text is inert.
    for q in [
        "\"",
        "soup\"",
        "a* OR b",
        "NEAR(x y)",
        "-soup",
        "'; DROP TABLE messages; --",
        "!!! :: &&",
        "col:glacier",
    ] {
        repo.list(&alice, &search(q)).await.unwrap();
    }
    // Deleted messages leave the index (cascade through the tree).
    repo.purge(&alice, &trip.id).await.unwrap();
    assert!(
        repo.list(&alice, &search("glacier"))
            .await
            .unwrap()
            .items
            .is_empty()
    );
}

async fn delete_check(store: Arc<dyn Store>) {
    use hearth_core::conversations::Role;
    let repo = store.conversations();
    let alice = conv::owner("alice");
    let c = conv::conversation(&alice, "Doomed", 1000);
    let u = conv::message(&c, None, Role::User, "bye");
    let a = conv::message(&c, Some(&u), Role::Assistant, "ok");
    let c = hearth_core::conversations::Conversation {
        current_leaf_id: Some(a.id.clone()),
        ..c
    };
    repo.insert(&c, &[u.clone(), a.clone()]).await.unwrap();
    let keep = conv::conversation(&alice, "Kept", 1000);
    repo.insert(&keep, &[]).await.unwrap();
    repo.soft_delete(&alice, &c.id).await.unwrap();
    assert!(matches!(
        repo.get(&alice, &c.id).await,
        Err(StoreError::NotFound)
    ));
    assert!(matches!(
        repo.soft_delete(&alice, &c.id).await,
        Err(StoreError::NotFound)
    ));
    assert_eq!(
        repo.list(&alice, &conv::filter(10))
            .await
            .unwrap()
            .items
            .len(),
        1
    );
    assert_eq!(repo.purge_deleted(0).await.unwrap(), 0, "not yet expired");
    assert_eq!(
        repo.purge_deleted(hearth_core::jobs::now_ms() + 1)
            .await
            .unwrap(),
        1
    );
    assert!(
        repo.tree(&c.id).await.unwrap().is_empty(),
        "messages went with it"
    );
    repo.purge(&alice, &keep.id).await.unwrap();
    assert!(
        repo.list(&alice, &conv::filter(10))
            .await
            .unwrap()
            .items
            .is_empty()
    );
}

async fn conversation_hostile_check(store: Arc<dyn Store>) {
    use hearth_core::conversations::{ConversationId, MessageId, Role};
    let repo = store.conversations();
    let alice = conv::owner("'; DROP TABLE conversations; --");
    for evil in [
        "'; DROP TABLE messages; --",
        "😀 ünïcödé",
        "$1 $2 ?",
        "tab\tnew\nline",
    ] {
        let c = conv::conversation(&alice, evil, 1000);
        let u = conv::message(&c, None, Role::User, evil);
        let c = hearth_core::conversations::Conversation {
            current_leaf_id: Some(u.id.clone()),
            ..c
        };
        repo.insert(&c, std::slice::from_ref(&u)).await.unwrap();
        assert_eq!(repo.get(&alice, &c.id).await.unwrap().title, evil);
        assert_eq!(repo.message(&c.id, &u.id).await.unwrap().content, evil);
        assert!(matches!(
            repo.get(&alice, &ConversationId(evil.to_owned())).await,
            Err(StoreError::NotFound)
        ));
        assert!(
            repo.path(&c.id, &MessageId(evil.to_owned()))
                .await
                .unwrap()
                .is_empty()
        );
    }
    store.ping().await.unwrap();
}

// ----- usage records and quota overrides -----------------------------------

contract!(usage_records_sum_per_group, usage_check);
contract!(quota_overrides_round_trip, quota_check);

fn record(user: Option<&str>, key: Option<&str>, model: &str, at_ms: i64) -> UsageRecord {
    UsageRecord {
        id: uuid::Uuid::now_v7().to_string(),
        at_ms,
        request_id: Some("req-1".to_owned()),
        user_id: user.map(str::to_owned),
        key_id: key.map(str::to_owned),
        route: "createChatCompletion".to_owned(),
        model: model.to_owned(),
        prompt_tokens: 10,
        cached_tokens: 4,
        completion_tokens: 5,
        ttft_ms: Some(12),
        total_ms: 100,
        outcome: Outcome::Ok,
    }
}

async fn usage_check(store: Arc<dyn Store>) {
    let repo = store.usage();
    let mut records = vec![
        record(Some("u1"), Some("k1"), "m-a", 1_000),
        record(Some("u1"), None, "m-b", 2_000),
        record(Some("u2"), Some("k2"), "m-a", 3_000),
        record(None, None, "'; DROP TABLE usage_records; --", 4_000),
    ];
    records[1].outcome = Outcome::Cancelled;
    records[1].ttft_ms = None;
    repo.insert(&records).await.unwrap();
    repo.insert(&[]).await.unwrap();
    let query = |group, from_ms, user_id: Option<&str>| UsageQuery {
        from_ms,
        to_ms: 10_000,
        group,
        user_id: user_id.map(str::to_owned),
    };
    let by_user = repo
        .totals(&query(UsageGroup::User, 0, None))
        .await
        .unwrap();
    let keys: Vec<_> = by_user.iter().map(|t| t.key.clone()).collect();
    assert_eq!(keys.len(), 3, "{by_user:?}");
    assert!(keys.contains(&None) && keys.contains(&Some("u1".to_owned())));
    let u1 = by_user
        .iter()
        .find(|t| t.key.as_deref() == Some("u1"))
        .unwrap();
    assert_eq!(
        (u1.requests, u1.failed, u1.prompt_tokens, u1.cached_tokens),
        (2, 1, 20, 8)
    );
    assert_eq!((u1.completion_tokens, u1.total_ms), (10, 200));
    let by_model = repo
        .totals(&query(UsageGroup::Model, 1_500, Some("u1")))
        .await
        .unwrap();
    assert_eq!(by_model.len(), 1, "range and user filter: {by_model:?}");
    assert_eq!(by_model[0].key.as_deref(), Some("m-b"));
    let empty = repo
        .totals(&query(UsageGroup::Model, 9_000, None))
        .await
        .unwrap();
    assert!(empty.is_empty());
    let user = Subject::User("u1".to_owned());
    assert_eq!(repo.tokens_since(&user, 0).await.unwrap(), 30);
    assert_eq!(repo.tokens_since(&user, 1_500).await.unwrap(), 15);
    let key = Subject::Key("k2".to_owned());
    assert_eq!(repo.tokens_since(&key, 0).await.unwrap(), 15);
    let nobody = Subject::Key("none".to_owned());
    assert_eq!(repo.tokens_since(&nobody, 0).await.unwrap(), 0);
}

async fn quota_check(store: Arc<dyn Store>) {
    let repo = store.usage();
    let user = Subject::User("u1".to_owned());
    let key = Subject::Key("u1".to_owned());
    assert_eq!(repo.quota(&user).await.unwrap(), None);
    let quota = QuotaOverride {
        tokens_per_minute: Some(0),
        tokens_per_day: Some(5_000_000_000),
        tokens_per_month: None,
        share: Some(3),
    };
    repo.set_quota(&user, &quota, 1).await.unwrap();
    assert_eq!(repo.quota(&user).await.unwrap(), Some(quota));
    assert_eq!(
        repo.quota(&key).await.unwrap(),
        None,
        "keys and users apart"
    );
    let changed = QuotaOverride {
        tokens_per_month: Some(7),
        ..QuotaOverride::default()
    };
    repo.set_quota(&user, &changed, 2).await.unwrap();
    assert_eq!(repo.quota(&user).await.unwrap(), Some(changed));
    repo.set_quota(&user, &QuotaOverride::default(), 3)
        .await
        .unwrap();
    assert_eq!(
        repo.quota(&user).await.unwrap(),
        None,
        "all-default removes"
    );
}
