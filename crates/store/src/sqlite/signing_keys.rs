//! Signing keys shared by every node: `SigningKeyStore` in SQLite.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use deadpool_sqlite::rusqlite::{Row, Transaction, TransactionBehavior, params};
use portcullis_domain::{Actor, NewAuditEvent};

use super::{
    SqliteDirectory, col_time, col_time_opt, conflict, exists, insert_audit, query_all,
    truncate_millis,
};
use crate::types::now_millis;
use crate::{NewSigningKey, Result, SigningKey, SigningKeyStore, StoreError, events};

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
