//! SQL implementation of [`AccountRepo`] for SQLite and PostgreSQL (the same
//! statements on both; `$n` placeholders work on both through sqlx). Scopes are
//! stored space-separated, model allowlists as JSON arrays.

use async_trait::async_trait;
use hearth_core::auth::{
    AccountRepo, ApiKey, AuditEvent, Invite, NewUser, Role, Session, User, UserId,
};
use hearth_core::jobs::now_ms;
use hearth_core::store::StoreError;
use hearth_types::Scope;
use sqlx::any::AnyRow;
use sqlx::{AnyPool, Row};

use crate::open::map_err;

const USER_COLUMNS: &str =
    "id, username, password_hash, role, disabled, created_at_ms, updated_at_ms";
const KEY_COLUMNS: &str = "id, user_id, name, prefix, hash, scopes, models, expires_at_ms, \
                           last_used_at_ms, created_at_ms, revoked_at_ms";
const SESSION_COLUMNS: &str = "id, hash, user_id, csrf_token, created_at_ms, last_seen_at_ms, \
                               expires_at_ms, ip, user_agent, revoked_at_ms";
const INVITE_COLUMNS: &str =
    "id, hash, role, created_by, created_at_ms, expires_at_ms, used_at_ms, used_by";
const AUDIT_COLUMNS: &str =
    "id, at_ms, action, principal, target, outcome, ip, user_agent, request_id, detail";

pub(crate) struct SqlAccounts {
    pool: AnyPool,
}

impl SqlAccounts {
    pub(crate) fn new(pool: AnyPool) -> Self {
        SqlAccounts { pool }
    }
}

fn get<'r, T>(row: &'r AnyRow, column: &str) -> Result<T, StoreError>
where
    T: sqlx::Decode<'r, sqlx::Any> + sqlx::Type<sqlx::Any>,
{
    row.try_get(column).map_err(map_err)
}

fn parse_role(text: &str) -> Result<Role, StoreError> {
    Role::parse(text).ok_or_else(|| StoreError::Internal(format!("unknown role {text}")))
}

fn row_to_user(row: &AnyRow) -> Result<User, StoreError> {
    Ok(User {
        id: UserId(get(row, "id")?),
        username: get(row, "username")?,
        password_hash: get(row, "password_hash")?,
        role: parse_role(&get::<String>(row, "role")?)?,
        is_disabled: get::<i64>(row, "disabled")? != 0,
        created_at_ms: get(row, "created_at_ms")?,
        updated_at_ms: get(row, "updated_at_ms")?,
    })
}

fn row_to_key(row: &AnyRow) -> Result<ApiKey, StoreError> {
    let scopes: String = get(row, "scopes")?;
    let models: Option<String> = get(row, "models")?;
    Ok(ApiKey {
        id: get(row, "id")?,
        user_id: UserId(get(row, "user_id")?),
        name: get(row, "name")?,
        prefix: get(row, "prefix")?,
        hash: get(row, "hash")?,
        // Unknown scopes (from a newer binary) are dropped: never widen rights.
        scopes: scopes.split(' ').filter_map(Scope::parse).collect(),
        models: models
            .map(|m| serde_json::from_str(&m))
            .transpose()
            .map_err(|e| StoreError::Internal(format!("stored model list is invalid: {e}")))?,
        expires_at_ms: get(row, "expires_at_ms")?,
        last_used_at_ms: get(row, "last_used_at_ms")?,
        created_at_ms: get(row, "created_at_ms")?,
        revoked_at_ms: get(row, "revoked_at_ms")?,
    })
}

fn row_to_session(row: &AnyRow) -> Result<Session, StoreError> {
    Ok(Session {
        id: get(row, "id")?,
        hash: get(row, "hash")?,
        user_id: UserId(get(row, "user_id")?),
        csrf_token: get(row, "csrf_token")?,
        created_at_ms: get(row, "created_at_ms")?,
        last_seen_at_ms: get(row, "last_seen_at_ms")?,
        expires_at_ms: get(row, "expires_at_ms")?,
        ip: get(row, "ip")?,
        user_agent: get(row, "user_agent")?,
        revoked_at_ms: get(row, "revoked_at_ms")?,
    })
}

fn row_to_invite(row: &AnyRow) -> Result<Invite, StoreError> {
    Ok(Invite {
        id: get(row, "id")?,
        hash: get(row, "hash")?,
        role: parse_role(&get::<String>(row, "role")?)?,
        created_by: UserId(get(row, "created_by")?),
        created_at_ms: get(row, "created_at_ms")?,
        expires_at_ms: get(row, "expires_at_ms")?,
        used_at_ms: get(row, "used_at_ms")?,
        used_by: get::<Option<String>>(row, "used_by")?.map(UserId),
    })
}

fn row_to_audit(row: &AnyRow) -> Result<AuditEvent, StoreError> {
    let detail: String = get(row, "detail")?;
    Ok(AuditEvent {
        id: get(row, "id")?,
        at_ms: get(row, "at_ms")?,
        action: get(row, "action")?,
        principal: get(row, "principal")?,
        target: get(row, "target")?,
        outcome: get(row, "outcome")?,
        ip: get(row, "ip")?,
        user_agent: get(row, "user_agent")?,
        request_id: get(row, "request_id")?,
        detail: serde_json::from_str(&detail).unwrap_or(serde_json::Value::Null),
    })
}

fn affected_one(done: sqlx::any::AnyQueryResult) -> Result<(), StoreError> {
    if done.rows_affected() == 0 {
        Err(StoreError::NotFound)
    } else {
        Ok(())
    }
}

const INSERT_USER: &str = "INSERT INTO users (id, username, password_hash, role, disabled, \
                           created_at_ms, updated_at_ms) VALUES ($1, $2, $3, $4, 0, $5, $5)";

#[async_trait]
impl AccountRepo for SqlAccounts {
    async fn create_user(&self, user: NewUser) -> Result<User, StoreError> {
        let id = UserId::new();
        sqlx::query(INSERT_USER)
            .bind(&id.0)
            .bind(&user.username)
            .bind(&user.password_hash)
            .bind(user.role.as_str())
            .bind(now_ms())
            .execute(&self.pool)
            .await
            .map_err(map_err)?;
        self.user(&id).await
    }

    async fn create_first_user(&self, user: NewUser) -> Result<User, StoreError> {
        let id = UserId::new();
        let done = sqlx::query(
            "INSERT INTO users (id, username, password_hash, role, disabled, created_at_ms, \
             updated_at_ms) SELECT $1, $2, $3, $4, 0, $5, $5 \
             WHERE NOT EXISTS (SELECT 1 FROM users)",
        )
        .bind(&id.0)
        .bind(&user.username)
        .bind(&user.password_hash)
        .bind(user.role.as_str())
        .bind(now_ms())
        .execute(&self.pool)
        .await
        .map_err(map_err)?;
        if done.rows_affected() == 0 {
            return Err(StoreError::Conflict("users already exist".to_owned()));
        }
        self.user(&id).await
    }

    async fn user(&self, id: &UserId) -> Result<User, StoreError> {
        let row = sqlx::query(&format!("SELECT {USER_COLUMNS} FROM users WHERE id = $1"))
            .bind(&id.0)
            .fetch_optional(&self.pool)
            .await
            .map_err(map_err)?
            .ok_or(StoreError::NotFound)?;
        row_to_user(&row)
    }

    async fn user_by_name(&self, username: &str) -> Result<User, StoreError> {
        let row = sqlx::query(&format!(
            "SELECT {USER_COLUMNS} FROM users WHERE username = $1"
        ))
        .bind(username)
        .fetch_optional(&self.pool)
        .await
        .map_err(map_err)?
        .ok_or(StoreError::NotFound)?;
        row_to_user(&row)
    }

    async fn list_users(&self) -> Result<Vec<User>, StoreError> {
        let rows = sqlx::query(&format!(
            "SELECT {USER_COLUMNS} FROM users ORDER BY username"
        ))
        .fetch_all(&self.pool)
        .await
        .map_err(map_err)?;
        rows.iter().map(row_to_user).collect()
    }

    async fn count_users(&self) -> Result<u64, StoreError> {
        let row = sqlx::query("SELECT COUNT(*) AS n FROM users")
            .fetch_one(&self.pool)
            .await
            .map_err(map_err)?;
        Ok(u64::try_from(get::<i64>(&row, "n")?).unwrap_or(0))
    }

    async fn set_password_hash(&self, id: &UserId, hash: &str) -> Result<(), StoreError> {
        let done =
            sqlx::query("UPDATE users SET password_hash = $1, updated_at_ms = $2 WHERE id = $3")
                .bind(hash)
                .bind(now_ms())
                .bind(&id.0)
                .execute(&self.pool)
                .await
                .map_err(map_err)?;
        affected_one(done)
    }

    async fn set_role(&self, id: &UserId, role: Role) -> Result<(), StoreError> {
        let done = sqlx::query("UPDATE users SET role = $1, updated_at_ms = $2 WHERE id = $3")
            .bind(role.as_str())
            .bind(now_ms())
            .bind(&id.0)
            .execute(&self.pool)
            .await
            .map_err(map_err)?;
        affected_one(done)
    }

    async fn set_disabled(&self, id: &UserId, is_disabled: bool) -> Result<(), StoreError> {
        let done = sqlx::query("UPDATE users SET disabled = $1, updated_at_ms = $2 WHERE id = $3")
            .bind(i64::from(is_disabled))
            .bind(now_ms())
            .bind(&id.0)
            .execute(&self.pool)
            .await
            .map_err(map_err)?;
        affected_one(done)
    }

    async fn create_key(&self, key: ApiKey) -> Result<(), StoreError> {
        let scopes: Vec<&str> = key.scopes.iter().map(|s| s.as_str()).collect();
        let models = key
            .models
            .as_ref()
            .map(|m| serde_json::to_string(m).expect("strings serialize"));
        sqlx::query(&format!(
            "INSERT INTO api_keys ({KEY_COLUMNS}) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)"
        ))
        .bind(&key.id)
        .bind(&key.user_id.0)
        .bind(&key.name)
        .bind(&key.prefix)
        .bind(&key.hash)
        .bind(scopes.join(" "))
        .bind(models)
        .bind(key.expires_at_ms)
        .bind(key.last_used_at_ms)
        .bind(key.created_at_ms)
        .bind(key.revoked_at_ms)
        .execute(&self.pool)
        .await
        .map_err(map_err)?;
        Ok(())
    }

    async fn key_by_hash(&self, hash: &str) -> Result<ApiKey, StoreError> {
        let row = sqlx::query(&format!(
            "SELECT {KEY_COLUMNS} FROM api_keys WHERE hash = $1"
        ))
        .bind(hash)
        .fetch_optional(&self.pool)
        .await
        .map_err(map_err)?
        .ok_or(StoreError::NotFound)?;
        row_to_key(&row)
    }

    async fn key(&self, id: &str) -> Result<ApiKey, StoreError> {
        let row = sqlx::query(&format!("SELECT {KEY_COLUMNS} FROM api_keys WHERE id = $1"))
            .bind(id)
            .fetch_optional(&self.pool)
            .await
            .map_err(map_err)?
            .ok_or(StoreError::NotFound)?;
        row_to_key(&row)
    }

    async fn list_keys(&self, owner: Option<&UserId>) -> Result<Vec<ApiKey>, StoreError> {
        let rows = match owner {
            Some(owner) => {
                sqlx::query(&format!(
                    "SELECT {KEY_COLUMNS} FROM api_keys WHERE user_id = $1 \
                     ORDER BY created_at_ms DESC, id DESC"
                ))
                .bind(&owner.0)
                .fetch_all(&self.pool)
                .await
            }
            None => {
                sqlx::query(&format!(
                    "SELECT {KEY_COLUMNS} FROM api_keys ORDER BY created_at_ms DESC, id DESC"
                ))
                .fetch_all(&self.pool)
                .await
            }
        }
        .map_err(map_err)?;
        rows.iter().map(row_to_key).collect()
    }

    async fn revoke_key(
        &self,
        id: &str,
        owner: Option<&UserId>,
        at_ms: i64,
    ) -> Result<(), StoreError> {
        self.revoke("api_keys", id, owner, at_ms).await
    }

    async fn touch_key(&self, id: &str, at_ms: i64) -> Result<(), StoreError> {
        sqlx::query("UPDATE api_keys SET last_used_at_ms = $1 WHERE id = $2")
            .bind(at_ms)
            .bind(id)
            .execute(&self.pool)
            .await
            .map_err(map_err)?;
        Ok(())
    }

    async fn create_session(&self, s: Session) -> Result<(), StoreError> {
        sqlx::query(&format!(
            "INSERT INTO sessions ({SESSION_COLUMNS}) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)"
        ))
        .bind(&s.id)
        .bind(&s.hash)
        .bind(&s.user_id.0)
        .bind(&s.csrf_token)
        .bind(s.created_at_ms)
        .bind(s.last_seen_at_ms)
        .bind(s.expires_at_ms)
        .bind(&s.ip)
        .bind(&s.user_agent)
        .bind(s.revoked_at_ms)
        .execute(&self.pool)
        .await
        .map_err(map_err)?;
        Ok(())
    }

    async fn session_by_hash(&self, hash: &str) -> Result<Session, StoreError> {
        let row = sqlx::query(&format!(
            "SELECT {SESSION_COLUMNS} FROM sessions WHERE hash = $1"
        ))
        .bind(hash)
        .fetch_optional(&self.pool)
        .await
        .map_err(map_err)?
        .ok_or(StoreError::NotFound)?;
        row_to_session(&row)
    }

    async fn touch_session(&self, id: &str, at_ms: i64) -> Result<(), StoreError> {
        sqlx::query("UPDATE sessions SET last_seen_at_ms = $1 WHERE id = $2")
            .bind(at_ms)
            .bind(id)
            .execute(&self.pool)
            .await
            .map_err(map_err)?;
        Ok(())
    }

    async fn list_sessions(
        &self,
        owner: Option<&UserId>,
        now_ms: i64,
    ) -> Result<Vec<Session>, StoreError> {
        let rows = sqlx::query(&format!(
            "SELECT {SESSION_COLUMNS} FROM sessions \
             WHERE revoked_at_ms IS NULL AND expires_at_ms > $1 AND ($2 IS NULL OR user_id = $2) \
             ORDER BY created_at_ms DESC, id DESC"
        ))
        .bind(now_ms)
        .bind(owner.map(|o| o.0.clone()))
        .fetch_all(&self.pool)
        .await
        .map_err(map_err)?;
        rows.iter().map(row_to_session).collect()
    }

    async fn revoke_session(
        &self,
        id: &str,
        owner: Option<&UserId>,
        at_ms: i64,
    ) -> Result<(), StoreError> {
        self.revoke("sessions", id, owner, at_ms).await
    }

    async fn revoke_user_sessions(&self, user: &UserId, at_ms: i64) -> Result<u64, StoreError> {
        let done = sqlx::query(
            "UPDATE sessions SET revoked_at_ms = $1 WHERE user_id = $2 AND revoked_at_ms IS NULL",
        )
        .bind(at_ms)
        .bind(&user.0)
        .execute(&self.pool)
        .await
        .map_err(map_err)?;
        Ok(done.rows_affected())
    }

    async fn create_invite(&self, i: Invite) -> Result<(), StoreError> {
        sqlx::query(&format!(
            "INSERT INTO invites ({INVITE_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)"
        ))
        .bind(&i.id)
        .bind(&i.hash)
        .bind(i.role.as_str())
        .bind(&i.created_by.0)
        .bind(i.created_at_ms)
        .bind(i.expires_at_ms)
        .bind(i.used_at_ms)
        .bind(i.used_by.as_ref().map(|u| u.0.clone()))
        .execute(&self.pool)
        .await
        .map_err(map_err)?;
        Ok(())
    }

    async fn list_invites(&self) -> Result<Vec<Invite>, StoreError> {
        let rows = sqlx::query(&format!(
            "SELECT {INVITE_COLUMNS} FROM invites ORDER BY created_at_ms DESC, id DESC"
        ))
        .fetch_all(&self.pool)
        .await
        .map_err(map_err)?;
        rows.iter().map(row_to_invite).collect()
    }

    async fn accept_invite(
        &self,
        hash: &str,
        user: NewUser,
        now_ms: i64,
    ) -> Result<User, StoreError> {
        let mut tx = self.pool.begin().await.map_err(map_err)?;
        let claimed = sqlx::query(
            "UPDATE invites SET used_at_ms = $1 \
             WHERE hash = $2 AND used_at_ms IS NULL AND expires_at_ms > $1",
        )
        .bind(now_ms)
        .bind(hash)
        .execute(&mut *tx)
        .await
        .map_err(map_err)?;
        if claimed.rows_affected() == 0 {
            return Err(StoreError::NotFound);
        }
        let row = sqlx::query("SELECT role FROM invites WHERE hash = $1")
            .bind(hash)
            .fetch_one(&mut *tx)
            .await
            .map_err(map_err)?;
        let role = parse_role(&get::<String>(&row, "role")?)?;
        let id = UserId::new();
        sqlx::query(INSERT_USER)
            .bind(&id.0)
            .bind(&user.username)
            .bind(&user.password_hash)
            .bind(role.as_str())
            .bind(now_ms)
            .execute(&mut *tx)
            .await
            .map_err(map_err)?;
        sqlx::query("UPDATE invites SET used_by = $1 WHERE hash = $2")
            .bind(&id.0)
            .bind(hash)
            .execute(&mut *tx)
            .await
            .map_err(map_err)?;
        tx.commit().await.map_err(map_err)?;
        self.user(&id).await
    }

    async fn delete_invite(&self, id: &str) -> Result<(), StoreError> {
        let done = sqlx::query("DELETE FROM invites WHERE id = $1 AND used_at_ms IS NULL")
            .bind(id)
            .execute(&self.pool)
            .await
            .map_err(map_err)?;
        affected_one(done)
    }

    async fn append_audit(&self, e: AuditEvent) -> Result<(), StoreError> {
        sqlx::query(&format!(
            "INSERT INTO audit_log ({AUDIT_COLUMNS}) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)"
        ))
        .bind(&e.id)
        .bind(e.at_ms)
        .bind(&e.action)
        .bind(&e.principal)
        .bind(&e.target)
        .bind(&e.outcome)
        .bind(&e.ip)
        .bind(&e.user_agent)
        .bind(&e.request_id)
        .bind(e.detail.to_string())
        .execute(&self.pool)
        .await
        .map_err(map_err)?;
        Ok(())
    }

    async fn list_audit(
        &self,
        before_id: Option<&str>,
        limit: u32,
    ) -> Result<Vec<AuditEvent>, StoreError> {
        let rows = sqlx::query(&format!(
            "SELECT {AUDIT_COLUMNS} FROM audit_log WHERE ($1 IS NULL OR id < $1) \
             ORDER BY id DESC LIMIT $2"
        ))
        .bind(before_id)
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await
        .map_err(map_err)?;
        rows.iter().map(row_to_audit).collect()
    }
}

impl SqlAccounts {
    /// Revoke a not-yet-revoked row of `table` (`api_keys` or `sessions`: a
    /// constant, never input), optionally only if `owner` holds it.
    async fn revoke(
        &self,
        table: &'static str,
        id: &str,
        owner: Option<&UserId>,
        at_ms: i64,
    ) -> Result<(), StoreError> {
        let done = sqlx::query(&format!(
            "UPDATE {table} SET revoked_at_ms = $1 \
             WHERE id = $2 AND revoked_at_ms IS NULL AND ($3 IS NULL OR user_id = $3)"
        ))
        .bind(at_ms)
        .bind(id)
        .bind(owner.map(|o| o.0.clone()))
        .execute(&self.pool)
        .await
        .map_err(map_err)?;
        affected_one(done)
    }
}
