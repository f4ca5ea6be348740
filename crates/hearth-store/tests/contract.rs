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
