//! Settings, signing keys, administrator tokens and the audit log for PostgreSQL.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use portcullis_domain::{
    Actor, AdminToken, AdminTokenId, AuditEvent, AuditFilter, DisplayName, NewAdminToken,
    NewAuditEvent, Page, PageRequest, Settings,
};
use tokio_postgres::Row;

use super::{
    PostgresDirectory, Query, col, execute, insert_audit, limit, millis, parsed, pg_err, query,
    query_opt, where_clause,
};
use crate::types::now_millis;
use crate::{
    AdminTokenStore, AuditLog, NewSigningKey, Result, SettingsStore, SigningKey, SigningKeyStore,
    StoreError, events,
};

#[async_trait]
impl SettingsStore for PostgresDirectory {
    async fn get_settings(&self) -> Result<Settings> {
        let client = self.client().await?;
        match query_opt(&client, "SELECT body FROM settings WHERE id = 1", &[]).await? {
            None => Ok(Settings::default()),
            Some(r) => {
                let body: serde_json::Value = col(&r, "body")?;
                serde_json::from_value(body)
                    .map_err(|e| StoreError::Corrupt(format!("settings: {e}")))
            }
        }
    }

    async fn put_settings(&self, actor: Actor, settings: Settings) -> Result<Settings> {
        let body = serde_json::to_value(&settings)
            .map_err(|e| StoreError::Corrupt(format!("settings: {e}")))?;
        let mut client = self.client().await?;
        let tx = client.transaction().await.map_err(pg_err)?;
        execute(
            &tx,
            "INSERT INTO settings (id, body, updated_at) VALUES (1, $1, $2) \
             ON CONFLICT (id) DO UPDATE SET body = EXCLUDED.body, updated_at = EXCLUDED.updated_at",
            &[&body, &now_millis()],
        )
        .await?;
        insert_audit(&tx, &events::settings(actor)).await?;
        tx.commit().await.map_err(pg_err)?;
        Ok(settings)
    }
}

fn signing_key_from_row(r: &Row) -> Result<SigningKey> {
    Ok(SigningKey {
        kid: col(r, "kid")?,
        purpose: col(r, "purpose")?,
        algorithm: col(r, "algorithm")?,
        private_key: col(r, "private_key")?,
        public_key: col(r, "public_key")?,
        created_at: col(r, "created_at")?,
        active_from: col(r, "active_from")?,
        retired_at: col(r, "retired_at")?,
    })
}

#[async_trait]
impl SigningKeyStore for PostgresDirectory {
    async fn insert_signing_key(&self, actor: Actor, key: NewSigningKey) -> Result<SigningKey> {
        let mut client = self.client().await?;
        let tx = client.transaction().await.map_err(pg_err)?;
        let stored = insert_key(&tx, actor, key).await?;
        tx.commit().await.map_err(pg_err)?;
        Ok(stored)
    }

    async fn insert_first_signing_key(
        &self,
        actor: Actor,
        key: NewSigningKey,
        at: DateTime<Utc>,
    ) -> Result<Option<SigningKey>> {
        let mut client = self.client().await?;
        let tx = client.transaction().await.map_err(pg_err)?;
        // Nodes deciding on the same purpose and algorithm take turns, until their commit: the
        // second one then finds the first one's key.
        let lock = format!("portcullis/signing_keys/{}/{}", key.purpose, key.algorithm);
        execute(
            &tx,
            "SELECT pg_advisory_xact_lock(hashtextextended($1, 0))",
            &[&lock],
        )
        .await?;
        let at = millis(at);
        let signing = query_opt(
            &tx,
            "SELECT 1 FROM signing_keys WHERE purpose = $1 AND algorithm = $2 \
             AND active_from <= $3 AND (retired_at IS NULL OR retired_at > $3) LIMIT 1",
            &[&key.purpose, &key.algorithm, &at],
        )
        .await?;
        if signing.is_some() {
            return Ok(None);
        }
        let stored = insert_key(&tx, actor, key).await?;
        tx.commit().await.map_err(pg_err)?;
        Ok(Some(stored))
    }

    async fn list_signing_keys(&self, purpose: &str) -> Result<Vec<SigningKey>> {
        let client = self.client().await?;
        let rows = query(
            &client,
            "SELECT kid, purpose, algorithm, private_key, public_key, created_at, active_from, \
             retired_at FROM signing_keys WHERE purpose = $1 ORDER BY created_at DESC, kid DESC",
            &[&purpose],
        )
        .await?;
        rows.iter().map(signing_key_from_row).collect()
    }

    async fn retire_signing_key(&self, actor: Actor, kid: &str, at: DateTime<Utc>) -> Result<()> {
        let mut client = self.client().await?;
        let tx = client.transaction().await.map_err(pg_err)?;
        let n = execute(
            &tx,
            "UPDATE signing_keys SET retired_at = $2 WHERE kid = $1",
            &[&kid, &millis(at)],
        )
        .await?;
        if n == 0 {
            return Err(StoreError::NotFound("signing key"));
        }
        insert_audit(&tx, &events::signing_key(actor, "retire", kid)).await?;
        tx.commit().await.map_err(pg_err)
    }

    async fn delete_signing_key(&self, actor: Actor, kid: &str) -> Result<()> {
        let mut client = self.client().await?;
        let tx = client.transaction().await.map_err(pg_err)?;
        let n = execute(&tx, "DELETE FROM signing_keys WHERE kid = $1", &[&kid]).await?;
        if n == 0 {
            return Err(StoreError::NotFound("signing key"));
        }
        insert_audit(&tx, &events::signing_key(actor, "delete", kid)).await?;
        tx.commit().await.map_err(pg_err)
    }
}

const TOKEN_COLS: &str = "id, name, created_at, expires_at, bootstrap";

fn admin_token_from_row(r: &Row) -> Result<AdminToken> {
    Ok(AdminToken {
        id: AdminTokenId::from_uuid(col(r, "id")?),
        name: parsed("name", DisplayName::parse(col::<String>(r, "name")?))?,
        created_at: col(r, "created_at")?,
        expires_at: col(r, "expires_at")?,
        bootstrap: col(r, "bootstrap")?,
    })
}

#[async_trait]
impl AdminTokenStore for PostgresDirectory {
    async fn create_admin_token(&self, actor: Actor, token: NewAdminToken) -> Result<AdminToken> {
        let stored = AdminToken {
            id: AdminTokenId::new(),
            name: token.name,
            created_at: now_millis(),
            expires_at: token.expires_at.map(millis),
            bootstrap: token.bootstrap,
        };
        let mut client = self.client().await?;
        let tx = client.transaction().await.map_err(pg_err)?;
        execute(
            &tx,
            "INSERT INTO admin_tokens (id, name, token_hash, created_at, expires_at, bootstrap) \
             VALUES ($1, $2, $3, $4, $5, $6)",
            &[
                &stored.id.as_uuid(),
                &stored.name.as_str(),
                &token.hash.as_slice(),
                &stored.created_at,
                &stored.expires_at,
                &stored.bootstrap,
            ],
        )
        .await?;
        insert_audit(&tx, &events::admin_token(actor, "create", stored.id)).await?;
        tx.commit().await.map_err(pg_err)?;
        Ok(stored)
    }

    async fn find_admin_token(
        &self,
        hash: &[u8; 32],
        now: DateTime<Utc>,
    ) -> Result<Option<AdminToken>> {
        let client = self.client().await?;
        let sql = format!(
            "SELECT {TOKEN_COLS} FROM admin_tokens \
             WHERE token_hash = $1 AND (expires_at IS NULL OR expires_at > $2)"
        );
        let row = query_opt(&client, &sql, &[&hash.as_slice(), &now]).await?;
        row.as_ref().map(admin_token_from_row).transpose()
    }

    async fn list_admin_tokens(&self) -> Result<Vec<AdminToken>> {
        let client = self.client().await?;
        let sql = format!("SELECT {TOKEN_COLS} FROM admin_tokens ORDER BY created_at, id");
        let rows = query(&client, &sql, &[]).await?;
        rows.iter().map(admin_token_from_row).collect()
    }

    async fn revoke_admin_token(&self, actor: Actor, id: AdminTokenId) -> Result<()> {
        let mut client = self.client().await?;
        let tx = client.transaction().await.map_err(pg_err)?;
        let found = query_opt(
            &tx,
            "DELETE FROM admin_tokens WHERE id = $1 RETURNING token_hash, bootstrap",
            &[&id.as_uuid()],
        )
        .await?;
        let Some(row) = found else {
            return Err(StoreError::NotFound("admin token"));
        };
        if col::<bool>(&row, "bootstrap")? {
            let hash: Vec<u8> = col(&row, "token_hash")?;
            execute(
                &tx,
                "INSERT INTO revoked_bootstrap_tokens (token_hash, revoked_at) VALUES ($1, $2) \
                 ON CONFLICT (token_hash) DO NOTHING",
                &[&hash, &now_millis()],
            )
            .await?;
        }
        insert_audit(&tx, &events::admin_token(actor, "revoke", id)).await?;
        tx.commit().await.map_err(pg_err)
    }

    async fn bootstrap_token_revoked(&self, hash: &[u8; 32]) -> Result<bool> {
        let client = self.client().await?;
        let row = query_opt(
            &client,
            "SELECT 1 FROM revoked_bootstrap_tokens WHERE token_hash = $1",
            &[&hash.as_slice()],
        )
        .await?;
        Ok(row.is_some())
    }
}

fn audit_event_from_row(r: &Row) -> Result<AuditEvent> {
    Ok(AuditEvent {
        id: col(r, "id")?,
        time: col(r, "time")?,
        actor: col(r, "actor")?,
        action: col(r, "action")?,
        target: col(r, "target")?,
        details: col(r, "details")?,
    })
}

/// Escapes `%`, `_` and `\` for a `LIKE` pattern (backslash is the default escape).
fn like_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if matches!(c, '%' | '_' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

#[async_trait]
impl AuditLog for PostgresDirectory {
    async fn record_event(&self, event: NewAuditEvent) -> Result<()> {
        let client = self.client().await?;
        execute(
            &client,
            "INSERT INTO audit_events (time, actor, action, target, details) \
             VALUES ($1, $2, $3, $4, $5)",
            &[
                &now_millis(),
                &event.actor.to_string(),
                &event.action,
                &event.target,
                &event.details,
            ],
        )
        .await
        .map(|_| ())
    }

    async fn record_events(&self, events: Vec<NewAuditEvent>) -> Result<()> {
        if events.is_empty() {
            return Ok(());
        }
        let n = events.len();
        let (mut actors, mut actions, mut targets, mut details) = (
            Vec::with_capacity(n),
            Vec::with_capacity(n),
            Vec::with_capacity(n),
            Vec::with_capacity(n),
        );
        for e in events {
            actors.push(e.actor.to_string());
            actions.push(e.action);
            targets.push(e.target);
            details.push(e.details);
        }
        // One statement (atomic on its own) whose text does not depend on the batch size, so it
        // stays one cached prepared statement. `ORDER BY` the position makes ids follow the
        // order given.
        let client = self.client().await?;
        execute(
            &client,
            "INSERT INTO audit_events (time, actor, action, target, details) \
             SELECT $1, e.actor, e.action, e.target, e.details \
             FROM unnest($2::text[], $3::text[], $4::text[], $5::text[]) \
             WITH ORDINALITY AS e(actor, action, target, details, n) \
             ORDER BY e.n",
            &[&now_millis(), &actors, &actions, &targets, &details],
        )
        .await
        .map(|_| ())
    }

    async fn list_audit_events(
        &self,
        filter: &AuditFilter,
        page: PageRequest,
    ) -> Result<Page<AuditEvent>> {
        let mut q = Query::new("SELECT id, time, actor, action, target, details FROM audit_events");
        let mut conds = Vec::new();
        if let Some(since) = filter.since {
            conds.push(format!("time >= {}", q.param(since)));
        }
        if let Some(until) = filter.until {
            conds.push(format!("time < {}", q.param(until)));
        }
        if let Some(actor) = &filter.actor {
            conds.push(format!("actor = {}", q.param(actor.clone())));
        }
        if let Some(action) = &filter.action {
            match action.strip_suffix(".*") {
                Some(prefix) => {
                    let pattern = format!("{}.%", like_escape(prefix));
                    conds.push(format!("action LIKE {}", q.param(pattern)));
                }
                None => conds.push(format!("action = {}", q.param(action.clone()))),
            }
        }
        if let Some(after) = &page.after {
            let Ok(after) = after.parse::<i64>() else {
                return Ok(Page::from_rows(Vec::new(), page.size, |e: &AuditEvent| {
                    e.id.to_string()
                }));
            };
            conds.push(format!("id < {}", q.param(after)));
        }
        q.push(&where_clause(&conds));
        let n = q.param(limit(page.size));
        q.push(&format!(" ORDER BY id DESC LIMIT {n}"));
        let client = self.client().await?;
        let rows = q.rows(&client).await?;
        let rows = rows
            .iter()
            .map(audit_event_from_row)
            .collect::<Result<Vec<_>>>()?;
        Ok(Page::from_rows(rows, page.size, |e| e.id.to_string()))
    }
}

/// Inserts a signing key and its audit event in `tx`.
async fn insert_key(
    tx: &deadpool_postgres::Transaction<'_>,
    actor: Actor,
    key: NewSigningKey,
) -> Result<SigningKey> {
    let stored = SigningKey {
        kid: key.kid,
        purpose: key.purpose,
        algorithm: key.algorithm,
        private_key: key.private_key,
        public_key: key.public_key,
        created_at: now_millis(),
        active_from: millis(key.active_from),
        retired_at: None,
    };
    execute(
        tx,
        "INSERT INTO signing_keys (kid, purpose, algorithm, private_key, public_key, \
         created_at, active_from) VALUES ($1, $2, $3, $4, $5, $6, $7)",
        &[
            &stored.kid,
            &stored.purpose,
            &stored.algorithm,
            &stored.private_key,
            &stored.public_key,
            &stored.created_at,
            &stored.active_from,
        ],
    )
    .await?;
    insert_audit(tx, &events::signing_key(actor, "create", &stored.kid)).await?;
    Ok(stored)
}
