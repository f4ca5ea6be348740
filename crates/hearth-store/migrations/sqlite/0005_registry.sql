-- Model registry: one manifest per name (name:tag) pointing at a
-- content-addressed blob in DATA_DIR/registry/blobs. JSON as text.
CREATE TABLE registry_models (
    name           TEXT PRIMARY KEY,
    digest         TEXT NOT NULL,
    size_bytes     BIGINT NOT NULL,
    info           TEXT NOT NULL,
    source         TEXT NOT NULL,
    preset         TEXT,
    created_at_ms  BIGINT NOT NULL,
    updated_at_ms  BIGINT NOT NULL
);
CREATE INDEX registry_models_by_digest ON registry_models (digest);
