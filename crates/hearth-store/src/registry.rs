//! SQL implementation of [`RegistryRepo`]: one row per manifest, metadata,
//! provenance and preset as JSON text. The same statements run on SQLite and
//! PostgreSQL.

use async_trait::async_trait;
use hearth_core::registry::{RegistryModel, RegistryRepo};
use hearth_core::store::StoreError;
use sqlx::any::AnyRow;
use sqlx::{AnyPool, Row};

use crate::open::map_err;

const COLUMNS: &str =
    "name, digest, size_bytes, info, source, preset, created_at_ms, updated_at_ms";

pub(crate) struct SqlRegistry {
    pool: AnyPool,
}

impl SqlRegistry {
    pub(crate) fn new(pool: AnyPool) -> Self {
        SqlRegistry { pool }
    }
}

fn json_text<T: serde::Serialize>(value: &T) -> Result<String, StoreError> {
    serde_json::to_string(value).map_err(|e| StoreError::Internal(format!("cannot encode: {e}")))
}

fn from_json<T: serde::de::DeserializeOwned>(text: &str) -> Result<T, StoreError> {
    serde_json::from_str(text)
        .map_err(|e| StoreError::Internal(format!("stored manifest is invalid: {e}")))
}

fn row_to_model(row: &AnyRow) -> Result<RegistryModel, StoreError> {
    let info: String = row.try_get("info").map_err(map_err)?;
    let source: String = row.try_get("source").map_err(map_err)?;
    let preset: Option<String> = row.try_get("preset").map_err(map_err)?;
    let size: i64 = row.try_get("size_bytes").map_err(map_err)?;
    Ok(RegistryModel {
        name: row.try_get("name").map_err(map_err)?,
        digest: row.try_get("digest").map_err(map_err)?,
        size_bytes: u64::try_from(size).unwrap_or(0),
        info: from_json(&info)?,
        source: from_json(&source)?,
        preset: preset.as_deref().map(from_json).transpose()?,
        created_at_ms: row.try_get("created_at_ms").map_err(map_err)?,
        updated_at_ms: row.try_get("updated_at_ms").map_err(map_err)?,
    })
}

#[async_trait]
impl RegistryRepo for SqlRegistry {
    async fn put(&self, model: &RegistryModel) -> Result<(), StoreError> {
        let preset = model.preset.as_ref().map(json_text).transpose()?;
        sqlx::query(
            "INSERT INTO registry_models \
             (name, digest, size_bytes, info, source, preset, created_at_ms, updated_at_ms) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8) \
             ON CONFLICT (name) DO UPDATE SET digest = excluded.digest, \
             size_bytes = excluded.size_bytes, info = excluded.info, source = excluded.source, \
             preset = excluded.preset, updated_at_ms = excluded.updated_at_ms",
        )
        .bind(&model.name)
        .bind(&model.digest)
        .bind(i64::try_from(model.size_bytes).unwrap_or(i64::MAX))
        .bind(json_text(&model.info)?)
        .bind(json_text(&model.source)?)
        .bind(preset)
        .bind(model.created_at_ms)
        .bind(model.updated_at_ms)
        .execute(&self.pool)
        .await
        .map_err(map_err)?;
        Ok(())
    }

    async fn get(&self, name: &str) -> Result<RegistryModel, StoreError> {
        let row = sqlx::query(&format!(
            "SELECT {COLUMNS} FROM registry_models WHERE name = $1"
        ))
        .bind(name)
        .fetch_optional(&self.pool)
        .await
        .map_err(map_err)?
        .ok_or(StoreError::NotFound)?;
        row_to_model(&row)
    }

    async fn list(&self) -> Result<Vec<RegistryModel>, StoreError> {
        let rows = sqlx::query(&format!(
            "SELECT {COLUMNS} FROM registry_models ORDER BY name"
        ))
        .fetch_all(&self.pool)
        .await
        .map_err(map_err)?;
        rows.iter().map(row_to_model).collect()
    }

    async fn delete(&self, name: &str) -> Result<(), StoreError> {
        let done = sqlx::query("DELETE FROM registry_models WHERE name = $1")
            .bind(name)
            .execute(&self.pool)
            .await
            .map_err(map_err)?;
        if done.rows_affected() == 0 {
            return Err(StoreError::NotFound);
        }
        Ok(())
    }

    async fn count_digest(&self, digest: &str) -> Result<u64, StoreError> {
        let row = sqlx::query("SELECT COUNT(*) AS n FROM registry_models WHERE digest = $1")
            .bind(digest)
            .fetch_one(&self.pool)
            .await
            .map_err(map_err)?;
        let n: i64 = row.try_get("n").map_err(map_err)?;
        Ok(u64::try_from(n).unwrap_or(0))
    }
}
