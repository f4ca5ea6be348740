//! Opening a store from a URL: pool set-up, per-engine session settings, and
//! migrations. Runs once at startup on the caller's task.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use hearth_core::auth::AccountRepo;
use hearth_core::config::SqliteSync;
use hearth_core::conversations::ConversationRepo;
use hearth_core::jobs::JobRepo;
use hearth_core::registry::RegistryRepo;
use hearth_core::store::{Store, StoreError, StoreKind};
use hearth_core::usage::UsageRepo;
use sqlx::any::{AnyPoolOptions, install_default_drivers};
use sqlx::{AnyPool, Executor};

use crate::accounts::SqlAccounts;
use crate::conversations::SqlConversations;
use crate::jobs::SqlJobs;
use crate::registry::SqlRegistry;
use crate::usage::SqlUsage;

/// How to open the store.
#[derive(Debug, Clone)]
pub struct OpenOptions {
    /// Pool size.
    pub max_connections: u32,
    /// SQLite durability level.
    pub sqlite_synchronous: SqliteSync,
}

impl Default for OpenOptions {
    fn default() -> Self {
        OpenOptions {
            max_connections: 8,
            sqlite_synchronous: SqliteSync::Full,
        }
    }
}

/// Open (creating if needed) and migrate the database at `url`.
pub async fn open(url: &str, options: &OpenOptions) -> Result<Arc<dyn Store>, StoreError> {
    install_default_drivers();
    let kind = if url.starts_with("sqlite:") {
        StoreKind::Sqlite
    } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        StoreKind::Postgres
    } else {
        return Err(StoreError::Unavailable(
            "database URL must start with sqlite: or postgres://".to_owned(),
        ));
    };
    let url = match kind {
        StoreKind::Sqlite => sqlite_url(url)?,
        StoreKind::Postgres => url.to_owned(),
    };
    let synchronous = match options.sqlite_synchronous {
        SqliteSync::Full => "FULL",
        SqliteSync::Normal => "NORMAL",
    };
    let pool = AnyPoolOptions::new()
        .max_connections(options.max_connections)
        .acquire_timeout(Duration::from_secs(10))
        .after_connect(move |conn, _meta| {
            Box::pin(async move {
                if kind == StoreKind::Sqlite {
                    conn.execute("PRAGMA foreign_keys = ON").await?;
                    conn.execute("PRAGMA busy_timeout = 5000").await?;
                    conn.execute(format!("PRAGMA synchronous = {synchronous}").as_str())
                        .await?;
                }
                Ok(())
            })
        })
        .connect(&url)
        .await
        .map_err(|e| StoreError::Unavailable(e.to_string()))?;
    if kind == StoreKind::Sqlite {
        // WAL is a property of the file: set once, kept by every later connection.
        pool.execute("PRAGMA journal_mode = WAL")
            .await
            .map_err(map_err)?;
    }
    crate::migrate::run(&pool, kind).await?;
    Ok(Arc::new(SqlStore {
        jobs: SqlJobs::new(pool.clone(), kind),
        accounts: SqlAccounts::new(pool.clone()),
        conversations: SqlConversations::new(pool.clone(), kind),
        usage: SqlUsage::new(pool.clone()),
        registry: SqlRegistry::new(pool.clone()),
        pool,
        kind,
    }))
}

/// Make sure the SQLite file's directory exists and the file is created on open.
fn sqlite_url(url: &str) -> Result<String, StoreError> {
    let rest = url.trim_start_matches("sqlite:").trim_start_matches("//");
    let (path, query) = rest.split_once('?').unwrap_or((rest, ""));
    if path != ":memory:"
        && let Some(parent) = Path::new(path).parent()
        && !parent.as_os_str().is_empty()
    {
        std::fs::create_dir_all(parent).map_err(|e| {
            StoreError::Unavailable(format!("cannot create {}: {e}", parent.display()))
        })?;
    }
    let mut query = query.to_owned();
    if !query.contains("mode=") {
        if !query.is_empty() {
            query.push('&');
        }
        query.push_str("mode=rwc");
    }
    Ok(format!("sqlite://{path}?{query}"))
}

/// Map a sqlx error to the port's error, keeping the message for the log.
pub(crate) fn map_err(e: sqlx::Error) -> StoreError {
    match &e {
        sqlx::Error::RowNotFound => StoreError::NotFound,
        sqlx::Error::PoolTimedOut | sqlx::Error::PoolClosed | sqlx::Error::Io(_) => {
            StoreError::Unavailable(e.to_string())
        }
        sqlx::Error::Database(db) if db.is_unique_violation() => {
            StoreError::Conflict(db.message().to_owned())
        }
        _ => StoreError::Internal(e.to_string()),
    }
}

struct SqlStore {
    pool: AnyPool,
    kind: StoreKind,
    jobs: SqlJobs,
    accounts: SqlAccounts,
    conversations: SqlConversations,
    usage: SqlUsage,
    registry: SqlRegistry,
}

#[async_trait]
impl Store for SqlStore {
    fn kind(&self) -> StoreKind {
        self.kind
    }

    async fn ping(&self) -> Result<(), StoreError> {
        sqlx::query("SELECT 1")
            .execute(&self.pool)
            .await
            .map_err(map_err)?;
        Ok(())
    }

    fn jobs(&self) -> &dyn JobRepo {
        &self.jobs
    }

    fn accounts(&self) -> &dyn AccountRepo {
        &self.accounts
    }

    fn conversations(&self) -> &dyn ConversationRepo {
        &self.conversations
    }

    fn usage(&self) -> &dyn UsageRepo {
        &self.usage
    }

    fn registry(&self) -> &dyn RegistryRepo {
        &self.registry
    }

    async fn close(&self) {
        self.pool.close().await;
    }
}
