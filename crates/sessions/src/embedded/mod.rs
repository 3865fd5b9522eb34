//! Embedded backend: SQLite in a file of the data directory (rusqlite), for single-node
//! deployments. Survives restarts.
//!
//! Tables (created by [`EmbeddedSessions::open`]):
//! - `sessions(id, user_id, body, expires_at)` — `id` is the hex SHA-256 of the token, `body`
//!   the JSON of the [`PortalSession`](crate::PortalSession), `expires_at` Unix milliseconds;
//! - `flow(ns, key, value, expires_at)` — flow state; counters are stored as ASCII decimals.
//!
//! Every read is filtered by `expires_at > clock.now()`; expired rows are deleted by
//! [`EmbeddedSessions::sweep`] (periodically with [`EmbeddedSessions::spawn_sweeper`]) or
//! overwritten when their key is reused.
//!
//! Writes go to one writer thread that owns the only connection that writes and commits the
//! writes of concurrent requests together ([`writer`]); each write is atomic on its own (checks
//! that must hold together with a write — `put_if_absent`, `take`, `increment`, `swap`, revoking
//! all of a user's sessions — run as one job, and no other write runs in between), and is
//! answered only after its transaction has committed. Reads run in place on a few read-only
//! connections ([`readers`]) and, in WAL mode, never wait for the writer. (Memory-mapping the
//! file was measured and is slower here: the file grows with every batch, and each remap of
//! every connection's map costs a TLB shootdown on every core.)
//!
//! Durability: the database is in WAL mode with `synchronous = NORMAL`. An answered write
//! survives the process crashing or being killed; an operating-system crash or power loss may
//! lose the writes of the last moments before it (never the file's consistency). That is the
//! same promise as Redis with `appendfsync everysec`, and enough for sessions and flow state:
//! what can be lost is sign-ins and codes of the last second, which their owners repeat.

mod flow;
mod readers;
mod sessions;
mod writer;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use rusqlite::Connection;

use crate::{Clock, Result, SessionError};

/// How many read connections there are (writes have their own, see [`writer`]): more than the
/// threads that read at once.
const READERS: usize = 8;

/// How long a statement waits for a lock before failing. Nothing of ours waits: reads do not
/// block in WAL mode and there is one writer; another process writing the same file would.
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

/// Prepared statements kept per connection (every statement of this backend fits).
const STATEMENT_CACHE: usize = 64;

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
    readers: Arc<readers::Readers>,
    writer: writer::Writer,
    clock: Arc<dyn Clock>,
    path: Arc<PathBuf>,
}

impl std::fmt::Debug for EmbeddedSessions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EmbeddedSessions")
            .field("path", &self.path)
            .field("readers", &self.readers)
            .field("writer", &self.writer)
            .field("clock", &self.clock)
            .finish_non_exhaustive()
    }
}

/// Settings every connection needs, applied once when it is opened.
fn configure(conn: &Connection) -> rusqlite::Result<()> {
    conn.busy_timeout(BUSY_TIMEOUT)?;
    conn.set_prepared_statement_cache_capacity(STATEMENT_CACHE);
    let _mode: String =
        conn.pragma_update_and_check(None, "journal_mode", "WAL", |row| row.get(0))?;
    conn.pragma_update(None, "synchronous", "NORMAL")?;
    Ok(())
}

/// A read connection: [`configure`]d, and refusing to write.
fn configure_reader(conn: &Connection) -> rusqlite::Result<()> {
    configure(conn)?;
    conn.pragma_update(None, "query_only", "ON")
}

/// A database failure: the store is unavailable.
fn db(e: rusqlite::Error) -> SessionError {
    SessionError::unavailable(e)
}

impl EmbeddedSessions {
    /// Opens the database file at `path` (creating it and its tables if needed; the directory
    /// must exist). Fails with [`SessionError::Unavailable`] when the file cannot be opened.
    pub async fn open(path: &Path, clock: Arc<dyn Clock>) -> Result<Self> {
        let owned = path.to_path_buf();
        let (conn, readers) = tokio::task::spawn_blocking(move || {
            let conn = Connection::open(&owned)?;
            configure(&conn)?;
            conn.execute_batch(SCHEMA)?;
            let readers = readers::Readers::open(READERS, || {
                let reader = Connection::open(&owned)?;
                configure_reader(&reader)?;
                Ok(reader)
            })?;
            Ok::<_, rusqlite::Error>((conn, readers))
        })
        .await
        .map_err(SessionError::unavailable)?
        .map_err(db)?;
        let writer = writer::Writer::spawn(conn).map_err(SessionError::unavailable)?;
        Ok(Self {
            readers: Arc::new(readers),
            writer,
            clock,
            path: Arc::new(path.to_path_buf()),
        })
    }

    /// Deletes every session and flow entry that has expired by the clock; returns how many.
    /// Deletes in chunks of [`SWEEP_CHUNK`] rows, each its own write, so that a large sweep
    /// never holds up the writes of requests for long.
    pub async fn sweep(&self) -> Result<usize> {
        let now = self.now_millis();
        let mut removed = 0;
        for statement in [
            "DELETE FROM sessions WHERE rowid IN
             (SELECT rowid FROM sessions WHERE expires_at <= ?1 LIMIT ?2)",
            "DELETE FROM flow WHERE (ns, key) IN
             (SELECT ns, key FROM flow WHERE expires_at <= ?1 LIMIT ?2)",
        ] {
            loop {
                let n = self
                    .write(move |c| {
                        c.prepare_cached(statement)?
                            .execute(rusqlite::params![now, SWEEP_CHUNK])
                    })
                    .await?;
                removed += n;
                if (n as i64) < SWEEP_CHUNK {
                    break;
                }
            }
        }
        Ok(removed)
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

    /// Runs the write `f` on the writer thread, in the next batch; answers once committed.
    /// What `f` does is undone if it fails, and no other write runs while it does.
    async fn write<T, F>(&self, f: F) -> Result<T>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> rusqlite::Result<T> + Send + 'static,
    {
        self.writer.write(f).await
    }

    /// Runs the read `f` in place on a read-only connection (see [`readers`]).
    async fn read<T, F>(&self, f: F) -> Result<T>
    where
        F: FnOnce(&Connection) -> rusqlite::Result<T>,
    {
        self.readers.read(f).map_err(db)
    }
}

/// The most expired rows one sweep write deletes.
const SWEEP_CHUNK: i64 = 1000;

/// Unix milliseconds `ttl` after `now_ms`, saturating.
fn expiry_after(now_ms: i64, ttl: Duration) -> i64 {
    now_ms.saturating_add(i64::try_from(ttl.as_millis()).unwrap_or(i64::MAX))
}
