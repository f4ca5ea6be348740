-- Context management: what an answer's prompt left out (JSON on the assistant
-- message), and the summaries of older turns, keyed by the last message each
-- one covers, so later turns and sibling branches below it reuse them.
ALTER TABLE messages ADD COLUMN context TEXT;

CREATE TABLE context_summaries (
    message_id      TEXT PRIMARY KEY REFERENCES messages (id) ON DELETE CASCADE,
    conversation_id TEXT NOT NULL REFERENCES conversations (id) ON DELETE CASCADE,
    content         TEXT NOT NULL,
    model           TEXT NOT NULL,
    created_at_ms   BIGINT NOT NULL
);
CREATE INDEX context_summaries_by_conversation ON context_summaries (conversation_id);

-- Per-user personas: every version of a system-prompt template is kept (a
-- conversation records the id and version it started from); the newest
-- version is the current one. Deleting a persona deletes all its versions
-- (conversations keep the system prompt they rendered).
CREATE TABLE personas (
    id            TEXT NOT NULL,
    version       BIGINT NOT NULL,
    owner_id      TEXT NOT NULL,
    name          TEXT NOT NULL,
    description   TEXT NOT NULL,
    template      TEXT NOT NULL,
    created_at_ms BIGINT NOT NULL,
    PRIMARY KEY (id, version)
);
CREATE INDEX personas_by_owner ON personas (owner_id, id, version);
