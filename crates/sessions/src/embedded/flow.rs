//! Flow state in SQLite.

use std::time::Duration;

use async_trait::async_trait;
use rusqlite::{Connection, OptionalExtension, params};

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
        self.write(move |c| {
            c.prepare_cached(UPSERT)?
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
        self.write(move |c| {
            // Replaces only an entry that has expired by the clock.
            let stored = c
                .prepare_cached(
                    "INSERT INTO flow (ns, key, value, expires_at) VALUES (?1, ?2, ?3, ?4)
                     ON CONFLICT (ns, key) DO UPDATE
                     SET value = excluded.value, expires_at = excluded.expires_at
                     WHERE flow.expires_at <= ?5",
                )?
                .execute(params![ns, key, value, expires, now])?;
            Ok(stored == 1)
        })
        .await
    }

    async fn get(&self, ns: &str, key: &str) -> Result<Option<Vec<u8>>> {
        let (ns, key) = (ns.to_owned(), key.to_owned());
        let now = self.now_millis();
        self.read(move |c| {
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
        self.write(move |c| {
            let taken: Option<(Vec<u8>, i64)> = c
                .prepare_cached(
                    "DELETE FROM flow WHERE ns = ?1 AND key = ?2 RETURNING value, expires_at",
                )?
                .query_row(params![ns, key], |row| Ok((row.get(0)?, row.get(1)?)))
                .optional()?;
            Ok(taken.and_then(|(value, expires)| (expires > now).then_some(value)))
        })
        .await
    }

    async fn delete(&self, ns: &str, key: &str) -> Result<()> {
        let (ns, key) = (ns.to_owned(), key.to_owned());
        self.write(move |c| {
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
            .write(move |c| {
                let counted = match live_counter(c, &ns_owned, &key, now)? {
                    Some(Some(n)) => {
                        let n = n.saturating_add(1);
                        // The window stays as the first increment set it.
                        set_counter(c, &ns_owned, &key, n)?;
                        Counted::Count(n)
                    }
                    Some(None) => Counted::NotACounter,
                    None => {
                        c.prepare_cached(UPSERT)?.execute(params![
                            ns_owned,
                            key,
                            b"1".as_slice(),
                            new_expiry
                        ])?;
                        Counted::Count(1)
                    }
                };
                Ok(counted)
            })
            .await?;
        match counted {
            Counted::Count(n) => Ok(n),
            Counted::NotACounter => Err(not_a_counter(ns)),
        }
    }

    async fn decrement(&self, ns: &str, key: &str) -> Result<()> {
        let (ns_owned, key) = (ns.to_owned(), key.to_owned());
        let now = self.now_millis();
        let counted = self
            .write(move |c| {
                Ok(match live_counter(c, &ns_owned, &key, now)? {
                    Some(Some(n)) => {
                        set_counter(c, &ns_owned, &key, n.saturating_sub(1))?;
                        Counted::Count(n)
                    }
                    Some(None) => Counted::NotACounter,
                    None => Counted::Count(0),
                })
            })
            .await?;
        match counted {
            Counted::Count(_) => Ok(()),
            Counted::NotACounter => Err(not_a_counter(ns)),
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
        self.write(move |c| {
            let taken = c
                .prepare_cached("DELETE FROM flow WHERE ns = ?1 AND key = ?2 AND expires_at > ?3")?
                .execute(params![ns, key, now])?;
            if taken == 0 {
                return Ok(false);
            }
            let mut put = c.prepare_cached(UPSERT)?;
            for (ns, key, value, expires) in &puts {
                put.execute(params![ns, key, value, expires])?;
            }
            Ok(true)
        })
        .await
    }

    async fn ttl(&self, ns: &str, key: &str) -> Result<Option<Duration>> {
        let (ns, key) = (ns.to_owned(), key.to_owned());
        let now = self.now_millis();
        let expires: Option<i64> = self
            .read(move |c| {
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

/// Stores or replaces an entry: `(ns, key, value, expires_at)`.
const UPSERT: &str = "INSERT INTO flow (ns, key, value, expires_at) VALUES (?1, ?2, ?3, ?4)
     ON CONFLICT (ns, key) DO UPDATE SET value = excluded.value, expires_at = excluded.expires_at";

/// The live entry at `(ns, key)` as a counter: `None` when there is none, `Some(None)` when it
/// is not a counter.
fn live_counter(
    c: &Connection,
    ns: &str,
    key: &str,
    now: i64,
) -> rusqlite::Result<Option<Option<u64>>> {
    let live: Option<Vec<u8>> = c
        .prepare_cached("SELECT value FROM flow WHERE ns = ?1 AND key = ?2 AND expires_at > ?3")?
        .query_row(params![ns, key, now], |row| row.get(0))
        .optional()?;
    Ok(live.map(|value| {
        std::str::from_utf8(&value)
            .ok()
            .and_then(|s| s.parse::<u64>().ok())
    }))
}

/// Sets the counter at `(ns, key)` to `n`, keeping its expiry.
fn set_counter(c: &Connection, ns: &str, key: &str, n: u64) -> rusqlite::Result<()> {
    c.prepare_cached("UPDATE flow SET value = ?3 WHERE ns = ?1 AND key = ?2")?
        .execute(params![ns, key, n.to_string().into_bytes()])?;
    Ok(())
}

/// The key is not named: it may be derived from a secret.
fn not_a_counter(ns: &str) -> SessionError {
    SessionError::Corrupt(format!("a flow entry in {ns} is not a counter"))
}
