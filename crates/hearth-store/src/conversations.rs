//! SQL implementation of [`ConversationRepo`]. Statements are shared by SQLite
//! and PostgreSQL except full-text search (FTS5 vs tsvector) and the way a
//! write transaction begins (SQLite takes the write lock up front with
//! `BEGIN IMMEDIATE`, so concurrent writers queue on the busy timeout instead of
//! failing on a stale snapshot).

use async_trait::async_trait;
use hearth_core::conversations::personas::UserPersona;
use hearth_core::conversations::{
    ContextNote, Conversation, ConversationId, ConversationPage, ConversationPatch,
    ConversationRepo, ListCursor, ListFilter, Message, MessageFinish, MessageId, MessageStatus,
    OwnerId, PersonaRef, Role, StoredSummary, Timings, Usage,
};
use hearth_core::jobs::now_ms;
use hearth_core::store::{StoreError, StoreKind};
use sqlx::any::{AnyArguments, AnyRow};
use sqlx::query::Query;
use sqlx::{Any, AnyPool, Row, Transaction};

use crate::open::map_err;

const CONVERSATION_COLUMNS: &str = "c.id, c.owner_id, c.title, c.model, c.system_prompt, \
    c.persona_id, c.persona_version, c.params, c.is_pinned, c.is_archived, c.current_leaf_id, c.created_at_ms, c.updated_at_ms, \
    c.deleted_at_ms";

const MESSAGE_COLUMNS: &str = "m.id, m.conversation_id, m.parent_id, m.role, m.content, \
    m.model, m.params, m.status, m.error, m.finish_reason, m.prompt_tokens, m.cached_tokens, \
    m.completion_tokens, m.queue_ms, m.prompt_ms, m.generation_ms, m.idempotency_key, \
    m.context, m.created_at_ms, m.updated_at_ms";

pub(crate) struct SqlConversations {
    pool: AnyPool,
    kind: StoreKind,
}

/// A value bound to a dynamically built statement.
enum Bind {
    Text(String),
    Int(i64),
}

impl SqlConversations {
    pub(crate) fn new(pool: AnyPool, kind: StoreKind) -> Self {
        SqlConversations { pool, kind }
    }

    async fn begin_write(&self) -> Result<Transaction<'static, Any>, StoreError> {
        match self.kind {
            StoreKind::Sqlite => self.pool.begin_with("BEGIN IMMEDIATE").await,
            StoreKind::Postgres => self.pool.begin().await,
        }
        .map_err(map_err)
    }

    /// The search condition on `c` with its query text bound as `$n`.
    fn search_clause(&self, n: usize) -> String {
        match self.kind {
            StoreKind::Sqlite => format!(
                "(c.seq IN (SELECT rowid FROM conversations_fts WHERE conversations_fts MATCH ${n}) \
                 OR c.id IN (SELECT m.conversation_id FROM messages_fts f \
                             JOIN messages m ON m.seq = f.rowid WHERE messages_fts MATCH ${n}))"
            ),
            StoreKind::Postgres => format!(
                "(c.title_tsv @@ plainto_tsquery('simple', ${n}) \
                 OR c.id IN (SELECT m.conversation_id FROM messages m \
                             WHERE m.content_tsv @@ plainto_tsquery('simple', ${n})))"
            ),
        }
    }

    /// The user's words as the engine's query: on SQLite each word becomes a
    /// quoted FTS5 string (so no user text is ever FTS syntax), all required.
    fn search_text(&self, text: &str) -> String {
        match self.kind {
            StoreKind::Sqlite => text
                .split_whitespace()
                .map(|w| format!("\"{}\"", w.replace('"', "\"\"")))
                .collect::<Vec<_>>()
                .join(" "),
            StoreKind::Postgres => text.to_owned(),
        }
    }

    async fn fetch_messages(&self, sql: &str, binds: &[&str]) -> Result<Vec<Message>, StoreError> {
        let mut query = sqlx::query(sql);
        for b in binds {
            query = query.bind(*b);
        }
        let rows = query.fetch_all(&self.pool).await.map_err(map_err)?;
        rows.iter().map(row_to_message).collect()
    }
}

fn bind_all<'q>(
    mut query: Query<'q, Any, AnyArguments<'q>>,
    binds: Vec<Bind>,
) -> Query<'q, Any, AnyArguments<'q>> {
    for b in binds {
        query = match b {
            Bind::Text(t) => query.bind(t),
            Bind::Int(i) => query.bind(i),
        };
    }
    query
}

fn json_text(value: &serde_json::Value) -> String {
    if value.is_null() {
        "{}".to_owned()
    } else {
        value.to_string()
    }
}

fn context_text(note: Option<&ContextNote>) -> Option<String> {
    note.and_then(|n| serde_json::to_string(n).ok())
}

fn parse_json(text: &str) -> Result<serde_json::Value, StoreError> {
    serde_json::from_str(text)
        .map_err(|e| StoreError::Internal(format!("stored JSON is invalid: {e}")))
}

fn row_to_conversation(row: &AnyRow) -> Result<Conversation, StoreError> {
    let params: String = row.try_get("params").map_err(map_err)?;
    let is_pinned: i64 = row.try_get("is_pinned").map_err(map_err)?;
    let is_archived: i64 = row.try_get("is_archived").map_err(map_err)?;
    let persona_id: Option<String> = row.try_get("persona_id").map_err(map_err)?;
    let persona_version: Option<i64> = row.try_get("persona_version").map_err(map_err)?;
    Ok(Conversation {
        id: ConversationId(row.try_get("id").map_err(map_err)?),
        owner: OwnerId(row.try_get("owner_id").map_err(map_err)?),
        title: row.try_get("title").map_err(map_err)?,
        model: row.try_get("model").map_err(map_err)?,
        system_prompt: row.try_get("system_prompt").map_err(map_err)?,
        persona: match (persona_id, persona_version) {
            (Some(id), Some(version)) => Some(PersonaRef { id, version }),
            _ => None,
        },
        params: parse_json(&params)?,
        is_pinned: is_pinned != 0,
        is_archived: is_archived != 0,
        current_leaf_id: row
            .try_get::<Option<String>, _>("current_leaf_id")
            .map_err(map_err)?
            .map(MessageId),
        created_at_ms: row.try_get("created_at_ms").map_err(map_err)?,
        updated_at_ms: row.try_get("updated_at_ms").map_err(map_err)?,
        deleted_at_ms: row.try_get("deleted_at_ms").map_err(map_err)?,
    })
}

fn row_to_message(row: &AnyRow) -> Result<Message, StoreError> {
    let role: String = row.try_get("role").map_err(map_err)?;
    let status: String = row.try_get("status").map_err(map_err)?;
    let params: String = row.try_get("params").map_err(map_err)?;
    Ok(Message {
        id: MessageId(row.try_get("id").map_err(map_err)?),
        conversation_id: ConversationId(row.try_get("conversation_id").map_err(map_err)?),
        parent_id: row
            .try_get::<Option<String>, _>("parent_id")
            .map_err(map_err)?
            .map(MessageId),
        role: Role::parse(&role)
            .ok_or_else(|| StoreError::Internal(format!("unknown role {role}")))?,
        content: row.try_get("content").map_err(map_err)?,
        model: row.try_get("model").map_err(map_err)?,
        params: parse_json(&params)?,
        status: MessageStatus::parse(&status)
            .ok_or_else(|| StoreError::Internal(format!("unknown status {status}")))?,
        error: row.try_get("error").map_err(map_err)?,
        finish_reason: row.try_get("finish_reason").map_err(map_err)?,
        usage: Usage {
            prompt_tokens: row.try_get("prompt_tokens").map_err(map_err)?,
            cached_tokens: row.try_get("cached_tokens").map_err(map_err)?,
            completion_tokens: row.try_get("completion_tokens").map_err(map_err)?,
        },
        timings: Timings {
            queue_ms: row.try_get("queue_ms").map_err(map_err)?,
            prompt_ms: row.try_get("prompt_ms").map_err(map_err)?,
            generation_ms: row.try_get("generation_ms").map_err(map_err)?,
        },
        idempotency_key: row.try_get("idempotency_key").map_err(map_err)?,
        context: match row
            .try_get::<Option<String>, _>("context")
            .map_err(map_err)?
        {
            Some(text) => Some(serde_json::from_str(&text).map_err(|e| {
                StoreError::Internal(format!("stored context note is invalid: {e}"))
            })?),
            None => None,
        },
        created_at_ms: row.try_get("created_at_ms").map_err(map_err)?,
        updated_at_ms: row.try_get("updated_at_ms").map_err(map_err)?,
    })
}

async fn insert_message(tx: &mut Transaction<'static, Any>, m: &Message) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO messages (id, conversation_id, parent_id, role, content, model, params, \
         status, error, finish_reason, prompt_tokens, cached_tokens, completion_tokens, \
         queue_ms, prompt_ms, generation_ms, idempotency_key, context, created_at_ms, \
         updated_at_ms) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, \
         $18, $19, $20)",
    )
    .bind(&m.id.0)
    .bind(&m.conversation_id.0)
    .bind(m.parent_id.as_ref().map(|p| p.0.clone()))
    .bind(m.role.as_str())
    .bind(&m.content)
    .bind(m.model.clone())
    .bind(json_text(&m.params))
    .bind(m.status.as_str())
    .bind(m.error.clone())
    .bind(m.finish_reason.clone())
    .bind(m.usage.prompt_tokens)
    .bind(m.usage.cached_tokens)
    .bind(m.usage.completion_tokens)
    .bind(m.timings.queue_ms)
    .bind(m.timings.prompt_ms)
    .bind(m.timings.generation_ms)
    .bind(m.idempotency_key.clone())
    .bind(context_text(m.context.as_ref()))
    .bind(m.created_at_ms)
    .bind(m.updated_at_ms)
    .execute(&mut **tx)
    .await
    .map_err(map_err)?;
    Ok(())
}

#[async_trait]
impl ConversationRepo for SqlConversations {
    async fn insert(&self, c: &Conversation, messages: &[Message]) -> Result<(), StoreError> {
        let mut tx = self.begin_write().await?;
        sqlx::query(
            "INSERT INTO conversations (id, owner_id, title, model, system_prompt, params, \
             is_pinned, is_archived, current_leaf_id, created_at_ms, updated_at_ms, deleted_at_ms, \
             persona_id, persona_version) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)",
        )
        .bind(&c.id.0)
        .bind(&c.owner.0)
        .bind(&c.title)
        .bind(c.model.clone())
        .bind(c.system_prompt.clone())
        .bind(json_text(&c.params))
        .bind(i64::from(c.is_pinned))
        .bind(i64::from(c.is_archived))
        .bind(c.current_leaf_id.as_ref().map(|l| l.0.clone()))
        .bind(c.created_at_ms)
        .bind(c.updated_at_ms)
        .bind(c.deleted_at_ms)
        .bind(c.persona.as_ref().map(|p| p.id.clone()))
        .bind(c.persona.as_ref().map(|p| p.version))
        .execute(&mut *tx)
        .await
        .map_err(map_err)?;
        for m in messages {
            insert_message(&mut tx, m).await?;
        }
        tx.commit().await.map_err(map_err)
    }

    async fn get(&self, owner: &OwnerId, id: &ConversationId) -> Result<Conversation, StoreError> {
        let row = sqlx::query(&format!(
            "SELECT {CONVERSATION_COLUMNS} FROM conversations c \
             WHERE c.id = $1 AND c.owner_id = $2 AND c.deleted_at_ms IS NULL"
        ))
        .bind(&id.0)
        .bind(&owner.0)
        .fetch_optional(&self.pool)
        .await
        .map_err(map_err)?
        .ok_or(StoreError::NotFound)?;
        row_to_conversation(&row)
    }

    async fn list(
        &self,
        owner: &OwnerId,
        filter: &ListFilter,
    ) -> Result<ConversationPage, StoreError> {
        let mut clauses = vec![
            "c.owner_id = $1".to_owned(),
            "c.deleted_at_ms IS NULL".to_owned(),
        ];
        let mut binds = vec![Bind::Text(owner.0.clone())];
        if let Some(pinned) = filter.pinned {
            binds.push(Bind::Int(i64::from(pinned)));
            clauses.push(format!("c.is_pinned = ${}", binds.len()));
        }
        if let Some(archived) = filter.archived {
            binds.push(Bind::Int(i64::from(archived)));
            clauses.push(format!("c.is_archived = ${}", binds.len()));
        }
        if let Some(cursor) = &filter.cursor {
            binds.push(Bind::Int(cursor.updated_at_ms));
            let ms = binds.len();
            binds.push(Bind::Text(cursor.id.0.clone()));
            let id = binds.len();
            clauses.push(format!(
                "(c.updated_at_ms < ${ms} OR (c.updated_at_ms = ${ms} AND c.id < ${id}))"
            ));
        }
        if let Some(text) = &filter.search {
            let query = self.search_text(text);
            if query.is_empty() {
                return Ok(ConversationPage {
                    items: Vec::new(),
                    next_cursor: None,
                });
            }
            binds.push(Bind::Text(query));
            clauses.push(self.search_clause(binds.len()));
        }
        let limit = filter.limit.max(1);
        binds.push(Bind::Int(i64::from(limit) + 1));
        let sql = format!(
            "SELECT {CONVERSATION_COLUMNS} FROM conversations c WHERE {} \
             ORDER BY c.updated_at_ms DESC, c.id DESC LIMIT ${}",
            clauses.join(" AND "),
            binds.len()
        );
        let rows = bind_all(sqlx::query(&sql), binds)
            .fetch_all(&self.pool)
            .await
            .map_err(map_err)?;
        let mut items = rows
            .iter()
            .map(row_to_conversation)
            .collect::<Result<Vec<_>, _>>()?;
        let next_cursor = if items.len() > limit as usize {
            items.truncate(limit as usize);
            items.last().map(|c| ListCursor {
                updated_at_ms: c.updated_at_ms,
                id: c.id.clone(),
            })
        } else {
            None
        };
        Ok(ConversationPage { items, next_cursor })
    }

    async fn update(
        &self,
        owner: &OwnerId,
        id: &ConversationId,
        patch: &ConversationPatch,
    ) -> Result<Conversation, StoreError> {
        let mut sets = Vec::new();
        let mut binds = Vec::new();
        let mut set = |column: &str, bind: Option<Bind>| {
            match bind {
                Some(b) => {
                    binds.push(b);
                    sets.push(format!("{column} = ${}", binds.len()));
                }
                None => sets.push(format!("{column} = NULL")),
            };
        };
        if let Some(title) = &patch.title {
            set("title", Some(Bind::Text(title.clone())));
        }
        if let Some(model) = &patch.model {
            set("model", model.clone().map(Bind::Text));
        }
        if let Some(prompt) = &patch.system_prompt {
            set("system_prompt", prompt.clone().map(Bind::Text));
        }
        if let Some(params) = &patch.params {
            set("params", Some(Bind::Text(json_text(params))));
        }
        if let Some(pinned) = patch.is_pinned {
            set("is_pinned", Some(Bind::Int(i64::from(pinned))));
        }
        if let Some(archived) = patch.is_archived {
            set("is_archived", Some(Bind::Int(i64::from(archived))));
        }
        if !sets.is_empty() {
            binds.push(Bind::Text(id.0.clone()));
            binds.push(Bind::Text(owner.0.clone()));
            let sql = format!(
                "UPDATE conversations SET {} WHERE id = ${} AND owner_id = ${} \
                 AND deleted_at_ms IS NULL",
                sets.join(", "),
                binds.len() - 1,
                binds.len()
            );
            let done = bind_all(sqlx::query(&sql), binds)
                .execute(&self.pool)
                .await
                .map_err(map_err)?;
            if done.rows_affected() == 0 {
                return Err(StoreError::NotFound);
            }
        }
        self.get(owner, id).await
    }

    async fn soft_delete(&self, owner: &OwnerId, id: &ConversationId) -> Result<(), StoreError> {
        let done = sqlx::query(
            "UPDATE conversations SET deleted_at_ms = $1 \
             WHERE id = $2 AND owner_id = $3 AND deleted_at_ms IS NULL",
        )
        .bind(now_ms())
        .bind(&id.0)
        .bind(&owner.0)
        .execute(&self.pool)
        .await
        .map_err(map_err)?;
        if done.rows_affected() == 0 {
            return Err(StoreError::NotFound);
        }
        Ok(())
    }

    async fn purge(&self, owner: &OwnerId, id: &ConversationId) -> Result<(), StoreError> {
        let done = sqlx::query("DELETE FROM conversations WHERE id = $1 AND owner_id = $2")
            .bind(&id.0)
            .bind(&owner.0)
            .execute(&self.pool)
            .await
            .map_err(map_err)?;
        if done.rows_affected() == 0 {
            return Err(StoreError::NotFound);
        }
        Ok(())
    }

    async fn purge_deleted(&self, deleted_before_ms: i64) -> Result<u64, StoreError> {
        let done = sqlx::query(
            "DELETE FROM conversations WHERE deleted_at_ms IS NOT NULL AND deleted_at_ms < $1",
        )
        .bind(deleted_before_ms)
        .execute(&self.pool)
        .await
        .map_err(map_err)?;
        Ok(done.rows_affected())
    }

    async fn append(
        &self,
        conversation_id: &ConversationId,
        messages: &[Message],
        new_leaf: &MessageId,
    ) -> Result<(), StoreError> {
        let mut tx = self.begin_write().await?;
        for m in messages {
            insert_message(&mut tx, m).await?;
        }
        let done = sqlx::query(
            "UPDATE conversations SET current_leaf_id = $1, updated_at_ms = $2 WHERE id = $3",
        )
        .bind(&new_leaf.0)
        .bind(now_ms())
        .bind(&conversation_id.0)
        .execute(&mut *tx)
        .await
        .map_err(map_err)?;
        if done.rows_affected() == 0 {
            return Err(StoreError::NotFound);
        }
        tx.commit().await.map_err(map_err)
    }

    async fn message(
        &self,
        conversation_id: &ConversationId,
        id: &MessageId,
    ) -> Result<Message, StoreError> {
        self.fetch_messages(
            &format!(
                "SELECT {MESSAGE_COLUMNS} FROM messages m \
                 WHERE m.id = $1 AND m.conversation_id = $2"
            ),
            &[&id.0, &conversation_id.0],
        )
        .await?
        .pop()
        .ok_or(StoreError::NotFound)
    }

    async fn message_by_key(
        &self,
        conversation_id: &ConversationId,
        key: &str,
    ) -> Result<Option<Message>, StoreError> {
        Ok(self
            .fetch_messages(
                &format!(
                    "SELECT {MESSAGE_COLUMNS} FROM messages m \
                     WHERE m.conversation_id = $1 AND m.idempotency_key = $2"
                ),
                &[&conversation_id.0, key],
            )
            .await?
            .pop())
    }

    async fn children(
        &self,
        conversation_id: &ConversationId,
        id: &MessageId,
    ) -> Result<Vec<Message>, StoreError> {
        self.fetch_messages(
            &format!(
                "SELECT {MESSAGE_COLUMNS} FROM messages m \
                 WHERE m.conversation_id = $1 AND m.parent_id = $2 \
                 ORDER BY m.created_at_ms, m.id"
            ),
            &[&conversation_id.0, &id.0],
        )
        .await
    }

    async fn tree(&self, conversation_id: &ConversationId) -> Result<Vec<Message>, StoreError> {
        self.fetch_messages(
            &format!(
                "SELECT {MESSAGE_COLUMNS} FROM messages m WHERE m.conversation_id = $1 \
                 ORDER BY m.created_at_ms, m.id"
            ),
            &[&conversation_id.0],
        )
        .await
    }

    async fn shape(
        &self,
        conversation_id: &ConversationId,
    ) -> Result<Vec<(MessageId, Option<MessageId>)>, StoreError> {
        let rows = sqlx::query(
            "SELECT id, parent_id FROM messages WHERE conversation_id = $1 \
             ORDER BY created_at_ms, id",
        )
        .bind(&conversation_id.0)
        .fetch_all(&self.pool)
        .await
        .map_err(map_err)?;
        rows.iter()
            .map(|row| {
                Ok((
                    MessageId(row.try_get("id").map_err(map_err)?),
                    row.try_get::<Option<String>, _>("parent_id")
                        .map_err(map_err)?
                        .map(MessageId),
                ))
            })
            .collect()
    }

    async fn path(
        &self,
        conversation_id: &ConversationId,
        leaf: &MessageId,
    ) -> Result<Vec<Message>, StoreError> {
        // The walk is done by the database; the order from the parent links here
        // (sorting wide rows in SQL costs more than the walk itself).
        let found = self
            .fetch_messages(
                &format!(
                    "WITH RECURSIVE path (id, parent_id) AS ( \
                         SELECT id, parent_id FROM messages \
                         WHERE id = $1 AND conversation_id = $2 \
                         UNION ALL \
                         SELECT p.id, p.parent_id FROM messages p \
                         JOIN path ON p.id = path.parent_id \
                     ) \
                     SELECT {MESSAGE_COLUMNS} FROM path JOIN messages m ON m.id = path.id"
                ),
                &[&leaf.0, &conversation_id.0],
            )
            .await?;
        let mut by_id: std::collections::HashMap<MessageId, Message> =
            found.into_iter().map(|m| (m.id.clone(), m)).collect();
        let mut path = Vec::with_capacity(by_id.len());
        let mut at = Some(leaf.clone());
        while let Some(id) = at {
            let Some(message) = by_id.remove(&id) else {
                break;
            };
            at = message.parent_id.clone();
            path.push(message);
        }
        path.reverse();
        Ok(path)
    }

    async fn set_leaf(
        &self,
        conversation_id: &ConversationId,
        leaf: &MessageId,
    ) -> Result<(), StoreError> {
        let done = sqlx::query("UPDATE conversations SET current_leaf_id = $1 WHERE id = $2")
            .bind(&leaf.0)
            .bind(&conversation_id.0)
            .execute(&self.pool)
            .await
            .map_err(map_err)?;
        if done.rows_affected() == 0 {
            return Err(StoreError::NotFound);
        }
        Ok(())
    }

    async fn update_content(&self, id: &MessageId, content: &str) -> Result<(), StoreError> {
        sqlx::query(
            "UPDATE messages SET content = $1, updated_at_ms = $2 \
             WHERE id = $3 AND status = 'streaming'",
        )
        .bind(content)
        .bind(now_ms())
        .bind(&id.0)
        .execute(&self.pool)
        .await
        .map_err(map_err)?;
        Ok(())
    }

    async fn finish_message(&self, id: &MessageId, f: &MessageFinish) -> Result<bool, StoreError> {
        let done = sqlx::query(
            "UPDATE messages SET content = $1, status = $2, error = $3, finish_reason = $4, \
             prompt_tokens = $5, cached_tokens = $6, completion_tokens = $7, queue_ms = $8, \
             prompt_ms = $9, generation_ms = $10, context = $11, updated_at_ms = $12 \
             WHERE id = $13 AND status = 'streaming'",
        )
        .bind(&f.content)
        .bind(f.status.as_str())
        .bind(f.error.clone())
        .bind(f.finish_reason.clone())
        .bind(f.usage.prompt_tokens)
        .bind(f.usage.cached_tokens)
        .bind(f.usage.completion_tokens)
        .bind(f.timings.queue_ms)
        .bind(f.timings.prompt_ms)
        .bind(f.timings.generation_ms)
        .bind(context_text(f.context.as_ref()))
        .bind(now_ms())
        .bind(&id.0)
        .execute(&self.pool)
        .await
        .map_err(map_err)?;
        Ok(done.rows_affected() > 0)
    }

    async fn fail_streaming(&self, error: &str) -> Result<u64, StoreError> {
        let done = sqlx::query(
            "UPDATE messages SET status = 'error', error = $1, updated_at_ms = $2 \
             WHERE status = 'streaming'",
        )
        .bind(error)
        .bind(now_ms())
        .execute(&self.pool)
        .await
        .map_err(map_err)?;
        Ok(done.rows_affected())
    }

    async fn put_summary(
        &self,
        conversation_id: &ConversationId,
        through: &MessageId,
        content: &str,
        model: &str,
    ) -> Result<(), StoreError> {
        // The message must belong to the conversation: the subquery yields no
        // row otherwise, and nothing is written.
        let done = sqlx::query(
            "INSERT INTO context_summaries (message_id, conversation_id, content, model, \
             created_at_ms) \
             SELECT id, conversation_id, $1, $2, $3 FROM messages \
             WHERE id = $4 AND conversation_id = $5 \
             ON CONFLICT (message_id) DO UPDATE SET content = excluded.content, \
             model = excluded.model, created_at_ms = excluded.created_at_ms",
        )
        .bind(content)
        .bind(model)
        .bind(now_ms())
        .bind(&through.0)
        .bind(&conversation_id.0)
        .execute(&self.pool)
        .await
        .map_err(map_err)?;
        if done.rows_affected() == 0 {
            return Err(StoreError::NotFound);
        }
        Ok(())
    }

    async fn insert_persona(&self, persona: &UserPersona) -> Result<(), StoreError> {
        self.insert_persona_row(persona).await
    }

    async fn personas(&self, owner: &OwnerId) -> Result<Vec<UserPersona>, StoreError> {
        self.persona_rows(owner).await
    }

    async fn persona(
        &self,
        owner: &OwnerId,
        id: &str,
        version: Option<i64>,
    ) -> Result<UserPersona, StoreError> {
        self.persona_row(owner, id, version).await
    }

    async fn delete_persona(&self, owner: &OwnerId, id: &str) -> Result<(), StoreError> {
        self.delete_persona_rows(owner, id).await
    }

    async fn summaries(
        &self,
        conversation_id: &ConversationId,
    ) -> Result<Vec<StoredSummary>, StoreError> {
        let rows = sqlx::query(
            "SELECT message_id, content, model FROM context_summaries WHERE conversation_id = $1 \
             ORDER BY created_at_ms, message_id",
        )
        .bind(&conversation_id.0)
        .fetch_all(&self.pool)
        .await
        .map_err(map_err)?;
        rows.iter()
            .map(|row| {
                Ok(StoredSummary {
                    through: MessageId(row.try_get("message_id").map_err(map_err)?),
                    content: row.try_get("content").map_err(map_err)?,
                    model: row.try_get("model").map_err(map_err)?,
                })
            })
            .collect()
    }
}

const PERSONA_COLUMNS: &str = "id, version, owner_id, name, description, template, created_at_ms";

fn row_to_persona(row: &AnyRow) -> Result<UserPersona, StoreError> {
    Ok(UserPersona {
        id: row.try_get("id").map_err(map_err)?,
        version: row.try_get("version").map_err(map_err)?,
        owner: OwnerId(row.try_get("owner_id").map_err(map_err)?),
        name: row.try_get("name").map_err(map_err)?,
        description: row.try_get("description").map_err(map_err)?,
        template: row.try_get("template").map_err(map_err)?,
        created_at_ms: row.try_get("created_at_ms").map_err(map_err)?,
    })
}

impl SqlConversations {
    pub(crate) async fn insert_persona_row(&self, p: &UserPersona) -> Result<(), StoreError> {
        // A version is added only to a persona of the same owner (or as the
        // first version of a new id).
        let mut tx = self.begin_write().await?;
        let other_owner: Option<String> = sqlx::query_scalar(
            "SELECT owner_id FROM personas WHERE id = $1 AND owner_id <> $2 LIMIT 1",
        )
        .bind(&p.id)
        .bind(&p.owner.0)
        .fetch_optional(&mut *tx)
        .await
        .map_err(map_err)?;
        if other_owner.is_some() {
            return Err(StoreError::NotFound);
        }
        sqlx::query(&format!(
            "INSERT INTO personas ({PERSONA_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7)"
        ))
        .bind(&p.id)
        .bind(p.version)
        .bind(&p.owner.0)
        .bind(&p.name)
        .bind(&p.description)
        .bind(&p.template)
        .bind(p.created_at_ms)
        .execute(&mut *tx)
        .await
        .map_err(map_err)?;
        tx.commit().await.map_err(map_err)
    }

    pub(crate) async fn persona_rows(
        &self,
        owner: &OwnerId,
    ) -> Result<Vec<UserPersona>, StoreError> {
        let rows = sqlx::query(&format!(
            "SELECT {PERSONA_COLUMNS} FROM personas p WHERE owner_id = $1 \
             AND version = (SELECT MAX(version) FROM personas q WHERE q.id = p.id) \
             ORDER BY name, id"
        ))
        .bind(&owner.0)
        .fetch_all(&self.pool)
        .await
        .map_err(map_err)?;
        rows.iter().map(row_to_persona).collect()
    }

    pub(crate) async fn persona_row(
        &self,
        owner: &OwnerId,
        id: &str,
        version: Option<i64>,
    ) -> Result<UserPersona, StoreError> {
        // Without a version: the newest (-1 never matches a stored version).
        let sql = format!(
            "SELECT {PERSONA_COLUMNS} FROM personas WHERE owner_id = $1 AND id = $2 \
             AND ($3 < 0 OR version = $3) ORDER BY version DESC LIMIT 1"
        );
        let query = sqlx::query(&sql)
            .bind(&owner.0)
            .bind(id)
            .bind(version.unwrap_or(-1));
        match query.fetch_optional(&self.pool).await.map_err(map_err)? {
            Some(row) => row_to_persona(&row),
            None => Err(StoreError::NotFound),
        }
    }

    pub(crate) async fn delete_persona_rows(
        &self,
        owner: &OwnerId,
        id: &str,
    ) -> Result<(), StoreError> {
        let done = sqlx::query("DELETE FROM personas WHERE owner_id = $1 AND id = $2")
            .bind(&owner.0)
            .bind(id)
            .execute(&self.pool)
            .await
            .map_err(map_err)?;
        if done.rows_affected() == 0 {
            return Err(StoreError::NotFound);
        }
        Ok(())
    }
}
