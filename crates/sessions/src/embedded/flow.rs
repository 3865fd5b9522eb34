//! Flow state in SQLite.

use std::time::Duration;

use async_trait::async_trait;
use deadpool_sqlite::rusqlite::{OptionalExtension, TransactionBehavior, params};

use super::{EmbeddedSessions, expiry_after};
use crate::{FlowStore, Result, SessionError};

/// What an increment found.
enum Counted {
    Count(u64),
    /// A live entry that is not a counter.
    NotACounter,
}

#[async_trait]
impl FlowStore for EmbeddedSessions {
    async fn put(&self, ns: &str, key: &str, value: &[u8], ttl: Duration) -> Result<()> {
        let (ns, key, value) = (ns.to_owned(), key.to_owned(), value.to_vec());
        let expires = expiry_after(self.now_millis(), ttl);
        self.with_conn(move |c| {
            c.prepare_cached(
                "INSERT INTO flow (ns, key, value, expires_at) VALUES (?1, ?2, ?3, ?4)
                 ON CONFLICT (ns, key) DO UPDATE
                 SET value = excluded.value, expires_at = excluded.expires_at",
            )?
            .execute(params![ns, key, value, expires])
        })
        .await?;
        Ok(())
    }

    async fn put_if_absent(
        &self,
        ns: &str,
        key: &str,
        value: &[u8],
        ttl: Duration,
    ) -> Result<bool> {
        let (ns, key, value) = (ns.to_owned(), key.to_owned(), value.to_vec());
        let now = self.now_millis();
        let expires = expiry_after(now, ttl);
        self.with_conn(move |c| {
            let tx = c.transaction_with_behavior(TransactionBehavior::Immediate)?;
            // Replaces only an entry that has expired by the clock.
            let stored = tx.execute(
                "INSERT INTO flow (ns, key, value, expires_at) VALUES (?1, ?2, ?3, ?4)
                 ON CONFLICT (ns, key) DO UPDATE
                 SET value = excluded.value, expires_at = excluded.expires_at
                 WHERE flow.expires_at <= ?5",
                params![ns, key, value, expires, now],
            )?;
            tx.commit()?;
            Ok(stored == 1)
        })
        .await
    }

    async fn get(&self, ns: &str, key: &str) -> Result<Option<Vec<u8>>> {
        let (ns, key) = (ns.to_owned(), key.to_owned());
        let now = self.now_millis();
        self.with_conn(move |c| {
            c.prepare_cached(
                "SELECT value FROM flow WHERE ns = ?1 AND key = ?2 AND expires_at > ?3",
            )?
            .query_row(params![ns, key, now], |row| row.get(0))
            .optional()
        })
        .await
    }

    async fn take(&self, ns: &str, key: &str) -> Result<Option<Vec<u8>>> {
        let (ns, key) = (ns.to_owned(), key.to_owned());
        let now = self.now_millis();
        self.with_conn(move |c| {
            let tx = c.transaction_with_behavior(TransactionBehavior::Immediate)?;
            let taken: Option<(Vec<u8>, i64)> = tx
                .query_row(
                    "DELETE FROM flow WHERE ns = ?1 AND key = ?2 RETURNING value, expires_at",
                    params![ns, key],
                    |row| Ok((row.get(0)?, row.get(1)?)),
                )
                .optional()?;
            tx.commit()?;
            Ok(taken.and_then(|(value, expires)| (expires > now).then_some(value)))
        })
        .await
    }

    async fn delete(&self, ns: &str, key: &str) -> Result<()> {
        let (ns, key) = (ns.to_owned(), key.to_owned());
        self.with_conn(move |c| {
            c.prepare_cached("DELETE FROM flow WHERE ns = ?1 AND key = ?2")?
                .execute(params![ns, key])
        })
        .await?;
        Ok(())
    }

    async fn increment(&self, ns: &str, key: &str, window: Duration) -> Result<u64> {
        let (ns_owned, key) = (ns.to_owned(), key.to_owned());
        let now = self.now_millis();
        let new_expiry = expiry_after(now, window);
        let counted = self
            .with_conn(move |c| {
                let ns = ns_owned;
                let tx = c.transaction_with_behavior(TransactionBehavior::Immediate)?;
                let live: Option<Vec<u8>> = tx
                    .query_row(
                        "SELECT value FROM flow WHERE ns = ?1 AND key = ?2 AND expires_at > ?3",
                        params![ns, key, now],
                        |row| row.get(0),
                    )
                    .optional()?;
                let counted = match live {
                    Some(value) => {
                        let Some(n) = std::str::from_utf8(&value)
                            .ok()
                            .and_then(|s| s.parse::<u64>().ok())
                        else {
                            return Ok(Counted::NotACounter);
                        };
                        let n = n.saturating_add(1);
                        // The window stays as the first increment set it.
                        tx.execute(
                            "UPDATE flow SET value = ?3 WHERE ns = ?1 AND key = ?2",
                            params![ns, key, n.to_string().into_bytes()],
                        )?;
                        Counted::Count(n)
                    }
                    None => {
                        tx.execute(
                            "INSERT INTO flow (ns, key, value, expires_at) VALUES (?1, ?2, ?3, ?4)
                             ON CONFLICT (ns, key) DO UPDATE
                             SET value = excluded.value, expires_at = excluded.expires_at",
                            params![ns, key, b"1".to_vec(), new_expiry],
                        )?;
                        Counted::Count(1)
                    }
                };
                tx.commit()?;
                Ok(counted)
            })
            .await?;
        match counted {
            Counted::Count(n) => Ok(n),
            // The key is not named: it may be derived from a secret.
            Counted::NotACounter => Err(SessionError::Corrupt(format!(
                "a flow entry in {ns} is not a counter"
            ))),
        }
    }

    async fn decrement(&self, ns: &str, key: &str) -> Result<()> {
        let (ns_owned, key) = (ns.to_owned(), key.to_owned());
        let now = self.now_millis();
        let counter = self
            .with_conn(move |c| {
                let tx = c.transaction_with_behavior(TransactionBehavior::Immediate)?;
                let live: Option<Vec<u8>> = tx
                    .query_row(
                        "SELECT value FROM flow WHERE ns = ?1 AND key = ?2 AND expires_at > ?3",
                        params![ns_owned, key, now],
                        |row| row.get(0),
                    )
                    .optional()?;
                let Some(value) = live else {
                    return Ok(true);
                };
                let Some(n) = std::str::from_utf8(&value)
                    .ok()
                    .and_then(|s| s.parse::<u64>().ok())
                else {
                    return Ok(false);
                };
                tx.execute(
                    "UPDATE flow SET value = ?3 WHERE ns = ?1 AND key = ?2",
                    params![ns_owned, key, n.saturating_sub(1).to_string().into_bytes()],
                )?;
                tx.commit()?;
                Ok(true)
            })
            .await?;
        if counter {
            Ok(())
        } else {
            Err(SessionError::Corrupt(format!(
                "a flow entry in {ns} is not a counter"
            )))
        }
    }

    async fn swap(&self, ns: &str, key: &str, puts: &[crate::FlowPut<'_>]) -> Result<bool> {
        let (ns, key) = (ns.to_owned(), key.to_owned());
        let now = self.now_millis();
        let puts: Vec<(String, String, Vec<u8>, i64)> = puts
            .iter()
            .map(|p| {
                (
                    p.ns.to_owned(),
                    p.key.to_owned(),
                    p.value.to_vec(),
                    expiry_after(now, p.ttl),
                )
            })
            .collect();
        self.with_conn(move |c| {
            let tx = c.transaction_with_behavior(TransactionBehavior::Immediate)?;
            let taken = tx.execute(
                "DELETE FROM flow WHERE ns = ?1 AND key = ?2 AND expires_at > ?3",
                params![ns, key, now],
            )?;
            if taken == 0 {
                return Ok(false);
            }
            {
                let mut put = tx.prepare_cached(
                    "INSERT INTO flow (ns, key, value, expires_at) VALUES (?1, ?2, ?3, ?4)
                     ON CONFLICT (ns, key) DO UPDATE
                     SET value = excluded.value, expires_at = excluded.expires_at",
                )?;
                for (ns, key, value, expires) in &puts {
                    put.execute(params![ns, key, value, expires])?;
                }
            }
            tx.commit()?;
            Ok(true)
        })
        .await
    }

    async fn ttl(&self, ns: &str, key: &str) -> Result<Option<Duration>> {
        let (ns, key) = (ns.to_owned(), key.to_owned());
        let now = self.now_millis();
        let expires: Option<i64> = self
            .with_conn(move |c| {
                c.prepare_cached(
                    "SELECT expires_at FROM flow WHERE ns = ?1 AND key = ?2 AND expires_at > ?3",
                )?
                .query_row(params![ns, key, now], |row| row.get(0))
                .optional()
            })
            .await?;
        Ok(expires.and_then(|e| {
            u64::try_from(e.saturating_sub(now))
                .ok()
                .map(Duration::from_millis)
        }))
    }
}
