-- Usage accounting and per-subject token limits.
-- usage_records: one row per generating or embedding request (also cancelled
-- and failed ones), written in batches by the usage recorder. No foreign keys:
-- records outlive keys and stay readable for anonymous (auth off) requests.
CREATE TABLE usage_records (
    id                TEXT PRIMARY KEY,
    at_ms             BIGINT NOT NULL,
    request_id        TEXT,
    user_id           TEXT,
    key_id            TEXT,
    route             TEXT NOT NULL,
    model             TEXT NOT NULL,
    prompt_tokens     BIGINT NOT NULL,
    cached_tokens     BIGINT NOT NULL,
    completion_tokens BIGINT NOT NULL,
    ttft_ms           BIGINT,
    total_ms          BIGINT NOT NULL,
    outcome           TEXT NOT NULL
);
CREATE INDEX usage_records_by_time ON usage_records (at_ms);
CREATE INDEX usage_records_by_user ON usage_records (user_id, at_ms);
CREATE INDEX usage_records_by_key ON usage_records (key_id, at_ms);

-- Limits set for one user or key, overriding the [limits] defaults; a NULL
-- column keeps the default, 0 means unlimited.
CREATE TABLE quotas (
    subject           TEXT PRIMARY KEY,
    tokens_per_minute BIGINT,
    tokens_per_day    BIGINT,
    tokens_per_month  BIGINT,
    share             BIGINT,
    updated_at_ms     BIGINT NOT NULL
);
