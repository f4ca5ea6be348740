-- Accounts: users, API keys, web sessions, invites, and the append-only audit log.
-- Secrets are never stored in clear: passwords as Argon2id PHC strings, keys,
-- session ids and invite tokens as SHA-256 hex.
CREATE TABLE users (
    id            TEXT PRIMARY KEY,
    username      TEXT NOT NULL UNIQUE,
    password_hash TEXT NOT NULL CHECK (password_hash LIKE '$argon2id$%'),
    role          TEXT NOT NULL CHECK (role IN ('admin', 'user', 'readonly')),
    disabled      BIGINT NOT NULL DEFAULT 0,
    created_at_ms BIGINT NOT NULL,
    updated_at_ms BIGINT NOT NULL
);

CREATE TABLE api_keys (
    id              TEXT PRIMARY KEY,
    user_id         TEXT NOT NULL REFERENCES users (id),
    name            TEXT NOT NULL,
    prefix          TEXT NOT NULL,
    hash            TEXT NOT NULL UNIQUE,
    scopes          TEXT NOT NULL,
    models          TEXT,
    expires_at_ms   BIGINT,
    last_used_at_ms BIGINT,
    created_at_ms   BIGINT NOT NULL,
    revoked_at_ms   BIGINT
);
CREATE INDEX api_keys_by_user ON api_keys (user_id, created_at_ms);

CREATE TABLE sessions (
    id              TEXT PRIMARY KEY,
    hash            TEXT NOT NULL UNIQUE,
    user_id         TEXT NOT NULL REFERENCES users (id),
    csrf_token      TEXT NOT NULL,
    created_at_ms   BIGINT NOT NULL,
    last_seen_at_ms BIGINT NOT NULL,
    expires_at_ms   BIGINT NOT NULL,
    ip              TEXT,
    user_agent      TEXT,
    revoked_at_ms   BIGINT
);
CREATE INDEX sessions_by_user ON sessions (user_id, created_at_ms);

CREATE TABLE invites (
    id            TEXT PRIMARY KEY,
    hash          TEXT NOT NULL UNIQUE,
    role          TEXT NOT NULL CHECK (role IN ('admin', 'user', 'readonly')),
    created_by    TEXT NOT NULL REFERENCES users (id),
    created_at_ms BIGINT NOT NULL,
    expires_at_ms BIGINT NOT NULL,
    used_at_ms    BIGINT,
    used_by       TEXT REFERENCES users (id)
);

CREATE TABLE audit_log (
    id         TEXT PRIMARY KEY,
    at_ms      BIGINT NOT NULL,
    action     TEXT NOT NULL,
    principal  TEXT NOT NULL,
    target     TEXT,
    outcome    TEXT NOT NULL,
    ip         TEXT,
    user_agent TEXT,
    request_id TEXT,
    detail     TEXT NOT NULL
);
CREATE FUNCTION audit_log_append_only() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION 'audit_log is append-only';
END;
$$ LANGUAGE plpgsql;
CREATE TRIGGER audit_log_no_change BEFORE UPDATE OR DELETE ON audit_log
    FOR EACH ROW EXECUTE FUNCTION audit_log_append_only();
