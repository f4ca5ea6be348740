-- Conversations and their messages as a tree (parent_id), with full-text search
-- (generated tsvector columns with GIN indexes, 'simple' configuration: no
-- stemming, language-neutral, the same matching as SQLite's FTS5 unicode61).
CREATE TABLE conversations (
    id              TEXT PRIMARY KEY,
    owner_id        TEXT NOT NULL,
    title           TEXT NOT NULL,
    model           TEXT,
    system_prompt   TEXT,
    persona_id      TEXT,
    persona_version BIGINT,
    params          TEXT NOT NULL DEFAULT '{}',
    is_pinned       BIGINT NOT NULL DEFAULT 0,
    is_archived     BIGINT NOT NULL DEFAULT 0,
    current_leaf_id TEXT,
    created_at_ms   BIGINT NOT NULL,
    updated_at_ms   BIGINT NOT NULL,
    deleted_at_ms   BIGINT,
    title_tsv       tsvector GENERATED ALWAYS AS (to_tsvector('simple', title)) STORED
);
-- Listing: one owner's conversations, newest activity first.
CREATE INDEX conversations_by_owner ON conversations (owner_id, updated_at_ms DESC, id DESC);
CREATE INDEX conversations_deleted ON conversations (deleted_at_ms) WHERE deleted_at_ms IS NOT NULL;
CREATE INDEX conversations_title_fts ON conversations USING GIN (title_tsv);

CREATE TABLE messages (
    id                TEXT PRIMARY KEY,
    conversation_id   TEXT NOT NULL REFERENCES conversations (id) ON DELETE CASCADE,
    parent_id         TEXT REFERENCES messages (id) ON DELETE CASCADE,
    role              TEXT NOT NULL CHECK (role IN ('system', 'user', 'assistant', 'tool')),
    content           TEXT NOT NULL,
    model             TEXT,
    params            TEXT NOT NULL DEFAULT '{}',
    status            TEXT NOT NULL
                      CHECK (status IN ('complete', 'streaming', 'cancelled', 'error')),
    error             TEXT,
    finish_reason     TEXT,
    prompt_tokens     BIGINT NOT NULL DEFAULT 0,
    cached_tokens     BIGINT NOT NULL DEFAULT 0,
    completion_tokens BIGINT NOT NULL DEFAULT 0,
    queue_ms          BIGINT NOT NULL DEFAULT 0,
    prompt_ms         BIGINT NOT NULL DEFAULT 0,
    generation_ms     BIGINT NOT NULL DEFAULT 0,
    idempotency_key   TEXT,
    created_at_ms     BIGINT NOT NULL,
    updated_at_ms     BIGINT NOT NULL,
    -- Indexed once the message stops streaming; the first 200,000 characters
    -- (a tsvector is limited to 1 MB).
    content_tsv       tsvector GENERATED ALWAYS AS (
        CASE WHEN status = 'streaming' THEN NULL
             ELSE to_tsvector('simple', left(content, 200000)) END
    ) STORED
);
-- The tree of one conversation in creation order; children of one message.
CREATE INDEX messages_by_conversation ON messages (conversation_id, created_at_ms, id);
CREATE INDEX messages_by_parent ON messages (parent_id);
-- Exactly-once sends: one message per (conversation, key).
CREATE UNIQUE INDEX messages_idempotency ON messages (conversation_id, idempotency_key)
    WHERE idempotency_key IS NOT NULL;
-- Startup recovery finds streaming messages without a scan.
CREATE INDEX messages_streaming ON messages (status) WHERE status = 'streaming';
CREATE INDEX messages_fts ON messages USING GIN (content_tsv);
