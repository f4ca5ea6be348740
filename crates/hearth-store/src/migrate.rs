//! Schema migrations, embedded in the binary, one directory per engine
//! (`migrations/sqlite`, `migrations/postgres`). Applied at startup; a database
//! newer than the binary is refused rather than guessed at.

use std::borrow::Cow;

use hearth_core::store::{StoreError, StoreKind};
use sqlx::AnyPool;
use sqlx::migrate::{Migration, MigrationType, Migrator};

/// (version, description, SQLite SQL, PostgreSQL SQL)
const MIGRATIONS: &[(i64, &str, &str, &str)] = &[
    (
        1,
        "jobs",
        include_str!("../migrations/sqlite/0001_jobs.sql"),
        include_str!("../migrations/postgres/0001_jobs.sql"),
    ),
    (
        2,
        "accounts",
        include_str!("../migrations/sqlite/0002_accounts.sql"),
        include_str!("../migrations/postgres/0002_accounts.sql"),
    ),
    (
        3,
        "conversations",
        include_str!("../migrations/sqlite/0003_conversations.sql"),
        include_str!("../migrations/postgres/0003_conversations.sql"),
    ),
    (
        4,
        "usage",
        include_str!("../migrations/sqlite/0004_usage.sql"),
        include_str!("../migrations/postgres/0004_usage.sql"),
    ),
    (
        5,
        "registry",
        include_str!("../migrations/sqlite/0005_registry.sql"),
        include_str!("../migrations/postgres/0005_registry.sql"),
    ),
    (
        6,
        "conversation context and personas",
        include_str!("../migrations/sqlite/0006_conversation_context_personas.sql"),
        include_str!("../migrations/postgres/0006_conversation_context_personas.sql"),
    ),
];

/// Apply every pending migration for this engine.
pub async fn run(pool: &AnyPool, kind: StoreKind) -> Result<(), StoreError> {
    let migrations: Vec<Migration> = MIGRATIONS
        .iter()
        .map(|(version, description, sqlite, postgres)| {
            let sql = match kind {
                StoreKind::Sqlite => sqlite,
                StoreKind::Postgres => postgres,
            };
            Migration::new(
                *version,
                Cow::Borrowed(*description),
                MigrationType::Simple,
                Cow::Borrowed(*sql),
                false,
            )
        })
        .collect();
    let migrator = Migrator {
        migrations: Cow::Owned(migrations),
        ignore_missing: false,
        locking: true,
        no_tx: false,
    };
    migrator
        .run(pool)
        .await
        .map_err(|e| StoreError::Unavailable(format!("migration failed: {e}")))
}
