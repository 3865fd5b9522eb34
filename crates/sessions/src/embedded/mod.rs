//! Embedded backend: SQLite in a file of the data directory (deadpool-sqlite), for single-node
//! deployments. Survives restarts.
//!
//! Tables (created by [`EmbeddedSessions::open`]):
//! - `sessions(id, user_id, body, expires_at)` — `id` is the hex SHA-256 of the token, `body`
//!   the JSON of the [`PortalSession`](crate::PortalSession), `expires_at` Unix milliseconds;
//! - `flow(ns, key, value, expires_at)` — flow state; counters are stored as ASCII decimals.
//!
//! Every read is filtered by `expires_at > clock.now()`; expired rows are deleted by
//! [`EmbeddedSessions::sweep`] (periodically with [`EmbeddedSessions::spawn_sweeper`]) or
//! overwritten when their key is reused. Checks that must hold together with a write
//! (`put_if_absent`, `take`, `increment`, revoking all of a user's sessions) run in one
//! `BEGIN IMMEDIATE` transaction.

mod flow;
mod sessions;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use deadpool_sqlite::rusqlite::{self, Connection};
use deadpool_sqlite::{Config, Hook, HookError, Pool, Runtime};

use crate::{Clock, Result, SessionError};

/// How many connections the pool holds at most. SQLite serialises writers anyway.
const MAX_CONNECTIONS: usize = 4;

/// How long a statement waits for another connection's write lock before failing.
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS sessions (
    id TEXT PRIMARY KEY NOT NULL,
    user_id TEXT NOT NULL,
    body TEXT NOT NULL,
    expires_at INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS sessions_user_id ON sessions (user_id);
CREATE INDEX IF NOT EXISTS sessions_expires_at ON sessions (expires_at);
CREATE TABLE IF NOT EXISTS flow (
    ns TEXT NOT NULL,
    key TEXT NOT NULL,
    value BLOB NOT NULL,
    expires_at INTEGER NOT NULL,
    PRIMARY KEY (ns, key)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS flow_expires_at ON flow (expires_at);
";

/// Sessions and flow state in an SQLite file.
#[derive(Clone)]
pub struct EmbeddedSessions {
    pool: Pool,
    clock: Arc<dyn Clock>,
    path: Arc<PathBuf>,
}

impl std::fmt::Debug for EmbeddedSessions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let status = self.pool.status();
        f.debug_struct("EmbeddedSessions")
            .field("path", &self.path)
            .field("max_size", &status.max_size)
            .field("size", &status.size)
            .field("clock", &self.clock)
            .finish_non_exhaustive()
    }
}

/// Settings every connection needs, applied once when the pool opens it.
fn configure(conn: &Connection) -> rusqlite::Result<()> {
    conn.busy_timeout(BUSY_TIMEOUT)?;
    let _mode: String =
        conn.pragma_update_and_check(None, "journal_mode", "WAL", |row| row.get(0))?;
    conn.pragma_update(None, "synchronous", "NORMAL")?;
    Ok(())
}

/// A database failure: the store is unavailable.
fn db(e: rusqlite::Error) -> SessionError {
    SessionError::unavailable(e)
}

impl EmbeddedSessions {
    /// Opens the database file at `path` (creating it and its tables if needed; the directory
    /// must exist). Fails with [`SessionError::Unavailable`] when the file cannot be opened.
    pub async fn open(path: &Path, clock: Arc<dyn Clock>) -> Result<Self> {
        let pool = Config::new(path)
            .builder(Runtime::Tokio1)
            .map_err(SessionError::unavailable)?
            .max_size(MAX_CONNECTIONS)
            .post_create(Hook::async_fn(|conn, _| {
                Box::pin(async move {
                    conn.interact(|c| configure(c))
                        .await
                        .map_err(|e| HookError::message(format!("configuring a connection: {e}")))?
                        .map_err(HookError::Backend)
                })
            }))
            .build()
            .map_err(SessionError::unavailable)?;
        let store = Self {
            pool,
            clock,
            path: Arc::new(path.to_path_buf()),
        };
        store.with_conn(|c| c.execute_batch(SCHEMA)).await?;
        Ok(store)
    }

    /// Deletes every session and flow entry that has expired by the clock; returns how many.
    pub async fn sweep(&self) -> Result<usize> {
        let now = self.now_millis();
        self.with_conn(move |c| {
            let sessions = c.execute("DELETE FROM sessions WHERE expires_at <= ?1", [now])?;
            let flow = c.execute("DELETE FROM flow WHERE expires_at <= ?1", [now])?;
            Ok(sessions + flow)
        })
        .await
    }

    /// Runs [`sweep`](Self::sweep) every `every` (at least a millisecond) until the task is
    /// aborted. Failures are logged and retried at the next tick.
    pub fn spawn_sweeper(&self, every: Duration) -> tokio::task::JoinHandle<()> {
        let store = self.clone();
        let every = every.max(Duration::from_millis(1));
        tokio::spawn(async move {
            let mut ticks = tokio::time::interval(every);
            ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                ticks.tick().await;
                match store.sweep().await {
                    Ok(0) => {}
                    Ok(n) => tracing::debug!(removed = n, "swept expired sessions and flow state"),
                    Err(e) => tracing::warn!(error = %e, "sweeping the session store failed"),
                }
            }
        })
    }

    fn now_millis(&self) -> i64 {
        self.clock.now().timestamp_millis()
    }

    /// Runs `f` on a pooled connection, on a blocking thread.
    async fn with_conn<T, F>(&self, f: F) -> Result<T>
    where
        T: Send + 'static,
        F: FnOnce(&mut Connection) -> rusqlite::Result<T> + Send + 'static,
    {
        let conn = self.pool.get().await.map_err(SessionError::unavailable)?;
        conn.interact(f)
            .await
            .map_err(|e| SessionError::Unavailable(format!("database call failed: {e}").into()))?
            .map_err(db)
    }
}

/// Unix milliseconds `ttl` after `now_ms`, saturating.
fn expiry_after(now_ms: i64, ttl: Duration) -> i64 {
    now_ms.saturating_add(i64::try_from(ttl.as_millis()).unwrap_or(i64::MAX))
}
