//! Benchmark (prints figures, asserts nothing about time): a conversation of
//! 1,000 messages among 200 others on SQLite (a file, WAL, synchronous FULL):
//! append, list, load the active path, load the tree, search.
//!
//! Run: `cargo run --release -p hearth-store --example bench_conversations`
//! (`HEARTH_BENCH_DATABASE_URL=postgres://…` runs it on PostgreSQL instead).

use std::time::{Duration, Instant};

use hearth_core::conversations::{
    Conversation, ConversationId, ListFilter, Message, OwnerId, Role,
};
use hearth_core::jobs::now_ms;
use hearth_store::{OpenOptions, open};

const WORDS: &[&str] = &[
    "the", "river", "bread", "engine", "garden", "winter", "lantern", "copper", "market", "signal",
    "harbor", "meadow", "thunder", "velvet", "orbit", "pepper", "canyon", "quiet", "ember",
    "falcon", "glacier", "hollow", "island", "jasmine", "kettle", "ledger", "marble", "nectar",
    "oyster", "prairie", "quartz", "saddle", "timber", "umbra", "violet", "willow",
];

/// Deterministic text of `n` words.
fn text(seed: &mut u64, n: usize) -> String {
    (0..n)
        .map(|_| {
            *seed = seed
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            WORDS[((*seed >> 33) as usize) % WORDS.len()]
        })
        .collect::<Vec<_>>()
        .join(" ")
}

fn conversation(owner: &OwnerId, title: &str, at: i64) -> Conversation {
    Conversation {
        id: ConversationId::new(),
        owner: owner.clone(),
        title: title.to_owned(),
        model: Some("smollm2:135m".into()),
        system_prompt: None,
        persona: None,
        params: serde_json::json!({}),
        is_pinned: false,
        is_archived: false,
        current_leaf_id: None,
        created_at_ms: at,
        updated_at_ms: at,
        deleted_at_ms: None,
    }
}

fn median<F>(times: &mut [Duration], _f: F) -> Duration
where
    F: Fn(),
{
    times.sort();
    times[times.len() / 2]
}

/// (p50, min, last result) over `runs` runs; min is the figure least
/// disturbed by other work on a shared machine.
async fn measure<F, Fut, T>(runs: usize, mut f: F) -> (Duration, Duration, T)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = T>,
{
    let mut times = Vec::with_capacity(runs);
    let mut last = None;
    for _ in 0..runs {
        let start = Instant::now();
        last = Some(f().await);
        times.push(start.elapsed());
    }
    let p50 = median(&mut times, || {});
    (p50, times[0], last.unwrap())
}

fn ms(d: Duration) -> String {
    format!("{:.2} ms", d.as_secs_f64() * 1000.0)
}

/// `cargo run --release -p hearth-store --example bench_conversations`
#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let dir = tempfile::tempdir().unwrap();
    let url = std::env::var("HEARTH_BENCH_DATABASE_URL")
        .unwrap_or_else(|_| format!("sqlite://{}", dir.path().join("bench.db").display()));
    let store = open(&url, &OpenOptions::default()).await.unwrap();
    let repo = store.conversations();
    let owner = OwnerId("bench".into());
    let mut seed = 7u64;

    // 200 other conversations of 10 messages each.
    let fill_start = Instant::now();
    for i in 0..200 {
        let c = conversation(
            &owner,
            &format!("other {i} {}", text(&mut seed, 3)),
            now_ms(),
        );
        let mut messages = Vec::new();
        for j in 0..10 {
            let role = if j % 2 == 0 {
                Role::User
            } else {
                Role::Assistant
            };
            let parent = messages.last().map(|m: &Message| m.id.clone());
            messages.push(Message::new(
                &c.id,
                parent,
                role,
                text(&mut seed, 40),
                now_ms(),
            ));
        }
        let c = Conversation {
            current_leaf_id: messages.last().map(|m| m.id.clone()),
            ..c
        };
        repo.insert(&c, &messages).await.unwrap();
    }
    let fill = fill_start.elapsed();

    // The big one, turn by turn as a chat would write it (user + answer per
    // append), with a regenerated answer every 50 turns: 1,000 messages.
    let big = conversation(&owner, "the big one", now_ms());
    repo.insert(&big, &[]).await.unwrap();
    let mut parent: Option<Message> = None;
    let mut count = 0;
    let mut append_times = Vec::new();
    let mut turn = 0;
    while count < 1000 {
        let user = Message::new(
            &big.id,
            parent.as_ref().map(|p| p.id.clone()),
            Role::User,
            text(&mut seed, 30),
            now_ms(),
        );
        let answer = Message::new(
            &big.id,
            Some(user.id.clone()),
            Role::Assistant,
            text(&mut seed, 120),
            now_ms(),
        );
        let start = Instant::now();
        repo.append(&big.id, &[user.clone(), answer.clone()], &answer.id)
            .await
            .unwrap();
        append_times.push(start.elapsed());
        count += 2;
        turn += 1;
        if turn % 50 == 0 && count < 1000 {
            let sibling = Message::new(
                &big.id,
                Some(user.id.clone()),
                Role::Assistant,
                text(&mut seed, 120),
                now_ms(),
            );
            repo.append(&big.id, std::slice::from_ref(&sibling), &sibling.id)
                .await
                .unwrap();
            count += 1;
            parent = Some(sibling);
        } else {
            parent = Some(answer);
        }
    }
    let append_p50 = median(&mut append_times, || {});
    let leaf = parent.unwrap().id;

    let runs = 50;
    let page = ListFilter {
        limit: 50,
        ..ListFilter::default()
    };
    let (list_p50, list_max, listed) = measure(runs, || repo.list(&owner, &page)).await;
    let (path_p50, path_max, path) = measure(runs, || repo.path(&big.id, &leaf)).await;
    let (shape_p50, shape_max, shape) = measure(runs, || repo.shape(&big.id)).await;
    let (tree_p50, tree_max, tree) = measure(runs, || repo.tree(&big.id)).await;
    let common = ListFilter {
        search: Some("glacier".into()),
        limit: 50,
        ..ListFilter::default()
    };
    let (common_p50, common_max, common_hits) = measure(runs, || repo.list(&owner, &common)).await;
    let two = ListFilter {
        search: Some("glacier lantern".into()),
        limit: 50,
        ..ListFilter::default()
    };
    let (two_p50, two_max, _) = measure(runs, || repo.list(&owner, &two)).await;
    let title = ListFilter {
        search: Some("big".into()),
        limit: 50,
        ..ListFilter::default()
    };
    let (rare_p50, rare_max, rare_hits) = measure(runs, || repo.list(&owner, &title)).await;
    let none = ListFilter {
        search: Some("zeppelin".into()),
        limit: 50,
        ..ListFilter::default()
    };
    let (none_p50, none_max, _) = measure(runs, || repo.list(&owner, &none)).await;

    let tree_len = tree.unwrap().len();
    println!(
        "\nconversation benchmark on {} ({} conversations, {} messages in the big one, {} in all)",
        store.kind().as_str(),
        201,
        tree_len,
        tree_len + 2000
    );
    println!(
        "  fill 200 × 10 messages (one transaction each)   {}",
        ms(fill)
    );
    println!(
        "  append one turn (user + answer), p50           {}",
        ms(append_p50)
    );
    println!(
        "  list first page of 50, newest first   p50 {}  min {}",
        ms(list_p50),
        ms(list_max)
    );
    println!(
        "  active path ({} messages, recursive CTE) p50 {}  min {}",
        path.as_ref().unwrap().len(),
        ms(path_p50),
        ms(path_max)
    );
    println!(
        "  tree shape (ids + parents, {} rows)     p50 {}  min {}",
        shape.unwrap().len(),
        ms(shape_p50),
        ms(shape_max)
    );
    println!(
        "  whole tree with text ({} messages)      p50 {}  min {}",
        tree_len,
        ms(tree_p50),
        ms(tree_max)
    );
    println!(
        "  search 'glacier' (common word, {} hits)   p50 {}  min {}",
        common_hits.unwrap().items.len(),
        ms(common_p50),
        ms(common_max)
    );
    println!(
        "  search 'glacier lantern' (two words)    p50 {}  min {}",
        ms(two_p50),
        ms(two_max)
    );
    println!(
        "  search 'big' (title, {} hit)             p50 {}  min {}",
        rare_hits.unwrap().items.len(),
        ms(rare_p50),
        ms(rare_max)
    );
    println!(
        "  search 'zeppelin' (no hit)              p50 {}  min {}",
        ms(none_p50),
        ms(none_max)
    );
    assert_eq!(listed.unwrap().items.len(), 50);
    assert!(path.unwrap().len() >= 950);
}
