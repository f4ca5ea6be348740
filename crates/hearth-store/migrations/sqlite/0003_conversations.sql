-- Conversations and their messages as a tree (parent_id), with full-text search
-- (FTS5, external content, kept in sync by triggers). `seq` is the rowid alias
-- the FTS tables point at: an INTEGER PRIMARY KEY never changes, even on VACUUM.
CREATE TABLE conversations (
    seq             INTEGER PRIMARY KEY,
    id              TEXT NOT NULL UNIQUE,
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
    deleted_at_ms   BIGINT
);
-- Listing: one owner's conversations, newest activity first.
CREATE INDEX conversations_by_owner ON conversations (owner_id, updated_at_ms DESC, id DESC);
CREATE INDEX conversations_deleted ON conversations (deleted_at_ms) WHERE deleted_at_ms IS NOT NULL;

CREATE TABLE messages (
    seq               INTEGER PRIMARY KEY,
    id                TEXT NOT NULL UNIQUE,
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
    updated_at_ms     BIGINT NOT NULL
);
-- The tree of one conversation in creation order; children of one message.
CREATE INDEX messages_by_conversation ON messages (conversation_id, created_at_ms, id);
CREATE INDEX messages_by_parent ON messages (parent_id);
-- Exactly-once sends: one message per (conversation, key).
CREATE UNIQUE INDEX messages_idempotency ON messages (conversation_id, idempotency_key)
    WHERE idempotency_key IS NOT NULL;
-- Startup recovery finds streaming messages without a scan.
CREATE INDEX messages_streaming ON messages (status) WHERE status = 'streaming';

CREATE VIRTUAL TABLE conversations_fts USING fts5 (
    title, content = 'conversations', content_rowid = 'seq'
);
CREATE TRIGGER conversations_fts_insert AFTER INSERT ON conversations BEGIN
    INSERT INTO conversations_fts (rowid, title) VALUES (new.seq, new.title);
END;
CREATE TRIGGER conversations_fts_delete AFTER DELETE ON conversations BEGIN
    INSERT INTO conversations_fts (conversations_fts, rowid, title)
        VALUES ('delete', old.seq, old.title);
END;
CREATE TRIGGER conversations_fts_update AFTER UPDATE OF title ON conversations BEGIN
    INSERT INTO conversations_fts (conversations_fts, rowid, title)
        VALUES ('delete', old.seq, old.title);
    INSERT INTO conversations_fts (rowid, title) VALUES (new.seq, new.title);
END;

-- Messages are indexed once they stop streaming (the partial text changes
-- every flush). The conditions below must match exactly: deleting a row the
-- index never saw would corrupt an external-content FTS table.
CREATE VIRTUAL TABLE messages_fts USING fts5 (
    content, content = 'messages', content_rowid = 'seq'
);
CREATE TRIGGER messages_fts_insert AFTER INSERT ON messages
WHEN new.status <> 'streaming' BEGIN
    INSERT INTO messages_fts (rowid, content) VALUES (new.seq, new.content);
END;
CREATE TRIGGER messages_fts_delete AFTER DELETE ON messages
WHEN old.status <> 'streaming' BEGIN
    INSERT INTO messages_fts (messages_fts, rowid, content)
        VALUES ('delete', old.seq, old.content);
END;
CREATE TRIGGER messages_fts_update AFTER UPDATE OF content, status ON messages BEGIN
    INSERT INTO messages_fts (messages_fts, rowid, content)
        SELECT 'delete', old.seq, old.content WHERE old.status <> 'streaming';
    INSERT INTO messages_fts (rowid, content)
        SELECT new.seq, new.content WHERE new.status <> 'streaming';
END;
