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
