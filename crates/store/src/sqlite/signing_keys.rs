//! Settings, signing keys, administrator tokens and the audit log in SQLite.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use deadpool_sqlite::rusqlite::types::Value;
use deadpool_sqlite::rusqlite::{Row, Transaction, TransactionBehavior, params, params_from_iter};
use portcullis_domain::{
    Actor, AdminToken, AdminTokenId, AuditEvent, AuditFilter, DisplayName, NewAdminToken,
    NewAuditEvent, Page, PageRequest, Settings,
};

use super::{
    SqliteDirectory, col_parse, col_text, col_time, col_time_opt, conflict, corrupt, exists,
    insert_audit, limit, query_all, query_opt,
};
use crate::types::now_millis;
use crate::{
    AdminTokenStore, AuditLog, NewSigningKey, Result, SettingsStore, SigningKey, SigningKeyStore,
    StoreError, events,
};

#[async_trait]
impl SettingsStore for SqliteDirectory {
    async fn get_settings(&self) -> Result<Settings> {
        self.read(|conn| {
            let body = query_opt(conn, "SELECT body FROM settings WHERE id = 1", [], |row| {
                Ok(row.get::<_, String>(0)?)
            })?;
            match body {
                None => Ok(Settings::default()),
                Some(body) => serde_json::from_str(&body).map_err(|e| corrupt("settings.body", e)),
            }
        })
        .await
    }

    async fn put_settings(&self, actor: Actor, settings: Settings) -> Result<Settings> {
        let body = serde_json::to_string(&settings).map_err(|e| corrupt("settings", e))?;
        self.write(move |tx| {
            tx.prepare_cached(
                "INSERT INTO settings (id, body, updated_at) VALUES (1, ?1, ?2) \
                 ON CONFLICT (id) DO UPDATE SET body = excluded.body, updated_at = excluded.updated_at",
            )?
            .execute(params![body, now_millis().timestamp_millis()])?;
            Ok((settings, events::settings(actor)))
        })
        .await
    }
}

const SIGNING_KEY_COLS: &str =
    "kid, purpose, algorithm, private_key, public_key, created_at, active_from, retired_at";

fn signing_key_row(row: &Row<'_>) -> Result<SigningKey> {
    Ok(SigningKey {
        kid: row.get(0)?,
        purpose: row.get(1)?,
        algorithm: row.get(2)?,
        private_key: row.get(3)?,
        public_key: row.get(4)?,
        created_at: col_time(row, 5)?,
        active_from: col_time(row, 6)?,
        retired_at: col_time_opt(row, 7)?,
    })
}

/// A time at the stored precision (milliseconds).
fn truncate_millis(t: DateTime<Utc>) -> DateTime<Utc> {
    DateTime::from_timestamp_millis(t.timestamp_millis()).unwrap_or(t)
}

/// Inserts a signing key in `tx` (refusing a kid that exists); the audit event is the caller's to
/// write.
fn insert_key(
    tx: &Transaction<'_>,
    actor: Actor,
    key: NewSigningKey,
) -> Result<(SigningKey, NewAuditEvent)> {
    if exists(tx, "SELECT 1 FROM signing_keys WHERE kid = ?1", [&key.kid])? {
        return Err(conflict(
            "kid",
            "a signing key with this kid already exists",
        ));
    }
    let now = now_millis();
    let active_from = truncate_millis(key.active_from);
    tx.prepare_cached(
        "INSERT INTO signing_keys (kid, purpose, algorithm, private_key, public_key, \
         created_at, active_from, retired_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, NULL)",
    )?
    .execute(params![
        key.kid,
        key.purpose,
        key.algorithm,
        key.private_key,
        key.public_key,
        now.timestamp_millis(),
        active_from.timestamp_millis(),
    ])?;
    let event = events::signing_key(actor, "create", &key.kid);
    let stored = SigningKey {
        kid: key.kid,
        purpose: key.purpose,
        algorithm: key.algorithm,
        private_key: key.private_key,
        public_key: key.public_key,
        created_at: now,
        active_from,
        retired_at: None,
    };
    Ok((stored, event))
}

#[async_trait]
impl SigningKeyStore for SqliteDirectory {
    async fn insert_signing_key(&self, actor: Actor, key: NewSigningKey) -> Result<SigningKey> {
        self.write(move |tx| insert_key(tx, actor, key)).await
    }

    async fn insert_first_signing_key(
        &self,
        actor: Actor,
        key: NewSigningKey,
        at: DateTime<Utc>,
    ) -> Result<Option<SigningKey>> {
        // An immediate transaction holds the write lock from the check to the commit, so two
        // processes sharing the file cannot both find none and both insert.
        self.with_conn(move |conn| {
            let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
            let at = at.timestamp_millis();
            if exists(
                &tx,
                "SELECT 1 FROM signing_keys WHERE purpose = ?1 AND algorithm = ?2 \
                 AND active_from <= ?3 AND (retired_at IS NULL OR retired_at > ?3)",
                params![key.purpose, key.algorithm, at],
            )? {
                return Ok(None);
            }
            let (stored, event) = insert_key(&tx, actor, key)?;
            insert_audit(&tx, &event)?;
            tx.commit()?;
            Ok(Some(stored))
        })
        .await
    }

    async fn list_signing_keys(&self, purpose: &str) -> Result<Vec<SigningKey>> {
        let purpose = purpose.to_owned();
        self.read(move |conn| {
            // rowid breaks ties between keys created in the same millisecond: later is newer.
            query_all(
                conn,
                &format!(
                    "SELECT {SIGNING_KEY_COLS} FROM signing_keys WHERE purpose = ?1 \
                     ORDER BY created_at DESC, rowid DESC"
                ),
                [purpose],
                signing_key_row,
            )
        })
        .await
    }

    async fn retire_signing_key(&self, actor: Actor, kid: &str, at: DateTime<Utc>) -> Result<()> {
        let kid = kid.to_owned();
        self.write(move |tx| {
            let n = tx
                .prepare_cached("UPDATE signing_keys SET retired_at = ?2 WHERE kid = ?1")?
                .execute(params![kid, at.timestamp_millis()])?;
            if n == 0 {
                return Err(StoreError::NotFound("signing key"));
            }
            Ok(((), events::signing_key(actor, "retire", &kid)))
        })
        .await
    }

    async fn delete_signing_key(&self, actor: Actor, kid: &str) -> Result<()> {
        let kid = kid.to_owned();
        self.write(move |tx| {
            let n = tx
                .prepare_cached("DELETE FROM signing_keys WHERE kid = ?1")?
                .execute([&kid])?;
            if n == 0 {
                return Err(StoreError::NotFound("signing key"));
            }
            Ok(((), events::signing_key(actor, "delete", &kid)))
        })
        .await
    }
}

const ADMIN_TOKEN_COLS: &str = "id, name, created_at, expires_at, bootstrap";

fn admin_token_row(row: &Row<'_>) -> Result<AdminToken> {
    Ok(AdminToken {
        id: col_parse(row, 0, "admin_tokens.id")?,
        name: col_text(row, 1, "admin_tokens.name", DisplayName::parse)?,
        created_at: col_time(row, 2)?,
        expires_at: col_time_opt(row, 3)?,
        bootstrap: row.get(4)?,
    })
}

#[async_trait]
impl AdminTokenStore for SqliteDirectory {
    async fn create_admin_token(&self, actor: Actor, token: NewAdminToken) -> Result<AdminToken> {
        self.write(move |tx| {
            let id = AdminTokenId::new();
            let now = now_millis();
            let expires_at = token.expires_at.map(truncate_millis);
            tx.prepare_cached(
                "INSERT INTO admin_tokens (id, name, token_hash, created_at, expires_at, bootstrap) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            )?
            .execute(params![
                id.to_string(),
                token.name.as_str(),
                &token.hash[..],
                now.timestamp_millis(),
                expires_at.map(|t| t.timestamp_millis()),
                token.bootstrap,
            ])?;
            let created = AdminToken {
                id,
                name: token.name,
                created_at: now,
                expires_at,
                bootstrap: token.bootstrap,
            };
            Ok((created, events::admin_token(actor, "create", id)))
        })
        .await
    }

    async fn find_admin_token(
        &self,
        hash: &[u8; 32],
        now: DateTime<Utc>,
    ) -> Result<Option<AdminToken>> {
        let hash = *hash;
        self.read(move |conn| {
            query_opt(
                conn,
                &format!(
                    "SELECT {ADMIN_TOKEN_COLS} FROM admin_tokens WHERE token_hash = ?1 \
                     AND (expires_at IS NULL OR expires_at > ?2)"
                ),
                params![&hash[..], now.timestamp_millis()],
                admin_token_row,
            )
        })
        .await
    }

    async fn list_admin_tokens(&self) -> Result<Vec<AdminToken>> {
        self.read(|conn| {
            query_all(
                conn,
                &format!("SELECT {ADMIN_TOKEN_COLS} FROM admin_tokens ORDER BY created_at, rowid"),
                [],
                admin_token_row,
            )
        })
        .await
    }

    async fn revoke_admin_token(&self, actor: Actor, id: AdminTokenId) -> Result<()> {
        self.write(move |tx| {
            let found = query_opt(
                tx,
                "SELECT token_hash, bootstrap FROM admin_tokens WHERE id = ?1",
                [id.to_string()],
                |row| Ok((row.get::<_, Vec<u8>>(0)?, row.get::<_, bool>(1)?)),
            )?;
            let Some((hash, bootstrap)) = found else {
                return Err(StoreError::NotFound("admin token"));
            };
            if bootstrap {
                tx.prepare_cached(
                    "INSERT INTO revoked_bootstrap_tokens (token_hash, revoked_at) VALUES (?1, ?2) \
                     ON CONFLICT (token_hash) DO NOTHING",
                )?
                .execute(params![hash, now_millis().timestamp_millis()])?;
            }
            tx.prepare_cached("DELETE FROM admin_tokens WHERE id = ?1")?
                .execute([id.to_string()])?;
            Ok(((), events::admin_token(actor, "revoke", id)))
        })
        .await
    }

    async fn bootstrap_token_revoked(&self, hash: &[u8; 32]) -> Result<bool> {
        let hash = *hash;
        self.read(move |conn| {
            exists(
                conn,
                "SELECT 1 FROM revoked_bootstrap_tokens WHERE token_hash = ?1",
                [&hash[..]],
            )
        })
        .await
    }
}

fn audit_row(row: &Row<'_>) -> Result<AuditEvent> {
    Ok(AuditEvent {
        id: row.get(0)?,
        time: col_time(row, 1)?,
        actor: row.get(2)?,
        action: row.get(3)?,
        target: row.get(4)?,
        details: row.get(5)?,
    })
}

#[async_trait]
impl AuditLog for SqliteDirectory {
    async fn record_event(&self, event: NewAuditEvent) -> Result<()> {
        self.with_conn(move |conn| insert_audit(conn, &event)).await
    }

    async fn record_events(&self, events: Vec<NewAuditEvent>) -> Result<()> {
        if events.is_empty() {
            return Ok(());
        }
        self.with_conn(move |conn| {
            let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
            for event in &events {
                insert_audit(&tx, event)?;
            }
            tx.commit()?;
            Ok(())
        })
        .await
    }

    async fn list_audit_events(
        &self,
        filter: &AuditFilter,
        page: PageRequest,
    ) -> Result<Page<AuditEvent>> {
        let filter = filter.clone();
        let after = match page.after.as_deref().map(str::parse::<i64>) {
            None => None,
            Some(Ok(id)) => Some(id),
            // Not a key this listing ever handed out: nothing follows it.
            Some(Err(_)) => {
                return Ok(Page {
                    items: Vec::new(),
                    next: None,
                });
            }
        };
        self.read(move |conn| {
            let mut conditions: Vec<&str> = Vec::new();
            let mut values: Vec<Value> = Vec::new();
            if let Some(since) = filter.since {
                conditions.push("time >= ?");
                values.push(Value::Integer(since.timestamp_millis()));
            }
            if let Some(until) = filter.until {
                conditions.push("time < ?");
                values.push(Value::Integer(until.timestamp_millis()));
            }
            if let Some(actor) = filter.actor {
                conditions.push("actor = ?");
                values.push(Value::Text(actor));
            }
            if let Some(action) = filter.action {
                match action.strip_suffix(".*") {
                    Some(stem) => {
                        // `user.*` matches `user.create` and `user.x.y`, not `user` or `users.x`.
                        let prefix = format!("{stem}.");
                        conditions.push("substr(action, 1, ?) = ?");
                        values.push(Value::Integer(
                            i64::try_from(prefix.chars().count()).unwrap_or(i64::MAX),
                        ));
                        values.push(Value::Text(prefix));
                    }
                    None => {
                        conditions.push("action = ?");
                        values.push(Value::Text(action));
                    }
                }
            }
            if let Some(after) = after {
                conditions.push("id < ?");
                values.push(Value::Integer(after));
            }
            let filter_sql = if conditions.is_empty() {
                String::new()
            } else {
                format!("WHERE {}", conditions.join(" AND "))
            };
            values.push(Value::Integer(limit(&page)));
            let sql = format!(
                "SELECT id, time, actor, action, target, details FROM audit_events {filter_sql} \
                 ORDER BY id DESC LIMIT ?"
            );
            let rows = query_all(conn, &sql, params_from_iter(values), audit_row)?;
            Ok(Page::from_rows(rows, page.size, |e| e.id.to_string()))
        })
        .await
    }
}
