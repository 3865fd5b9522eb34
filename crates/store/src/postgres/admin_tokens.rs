//! Administrator API tokens: `AdminTokenStore` for PostgreSQL.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use portcullis_domain::{Actor, AdminToken, AdminTokenId, DisplayName, NewAdminToken};
use tokio_postgres::Row;

use super::{
    PostgresDirectory, col, execute, insert_audit, millis, parsed, pg_err, query, query_opt,
};
use crate::types::now_millis;
use crate::{AdminTokenStore, Result, StoreError, events};

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
