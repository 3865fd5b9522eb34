//! Administrator API tokens: `AdminTokenStore` in SQLite.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use deadpool_sqlite::rusqlite::{Row, params};
use portcullis_domain::{Actor, AdminToken, AdminTokenId, DisplayName, NewAdminToken};

use super::{
    SqliteDirectory, col_parse, col_text, col_time, col_time_opt, exists, query_all, query_opt,
    truncate_millis,
};
use crate::types::now_millis;
use crate::{AdminTokenStore, Result, StoreError, events};

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
