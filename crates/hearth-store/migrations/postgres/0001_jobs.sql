-- Persisted jobs (pulls, quantization, ingestion, exports).
CREATE TABLE jobs (
    id             TEXT PRIMARY KEY,
    kind           TEXT NOT NULL,
    state          TEXT NOT NULL
                   CHECK (state IN ('queued', 'running', 'succeeded', 'failed', 'cancelled')),
    payload        TEXT NOT NULL,
    result         TEXT,
    error          TEXT,
    progress_done  BIGINT NOT NULL DEFAULT 0,
    progress_total BIGINT,
    created_at_ms  BIGINT NOT NULL,
    updated_at_ms  BIGINT NOT NULL
);
CREATE INDEX jobs_by_state ON jobs (state, created_at_ms);
CREATE INDEX jobs_by_created ON jobs (created_at_ms);
