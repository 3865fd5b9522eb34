//! Signing keys shared by every node: `SigningKeyStore` for PostgreSQL.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use portcullis_domain::Actor;
use tokio_postgres::Row;

use super::{PostgresDirectory, col, execute, insert_audit, millis, pg_err, query, query_opt};
use crate::types::now_millis;
use crate::{NewSigningKey, Result, SigningKey, SigningKeyStore, StoreError, events};

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
