//! The read connections, used in place on the caller's thread.
//!
//! A read of the session store is one indexed lookup in pages that are almost always in the
//! connection's cache or the operating system's: a few microseconds. Handing it to a blocking thread and back costs more than
//! that (two wake-ups and the scheduling around them) on every request, so reads run where they
//! are asked for, on one of a few connections. In WAL mode they never wait for the writer.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Mutex, PoisonError};

use rusqlite::Connection;

/// Read-only connections, each used by one caller at a time.
pub(super) struct Readers {
    conns: Vec<Mutex<Connection>>,
    next: AtomicUsize,
}

impl std::fmt::Debug for Readers {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Readers")
            .field("connections", &self.conns.len())
            .finish()
    }
}

impl Readers {
    /// Opens `n` (at least one) connections with `open`.
    pub(super) fn open(
        n: usize,
        open: impl Fn() -> rusqlite::Result<Connection>,
    ) -> rusqlite::Result<Self> {
        let conns = (0..n.max(1))
            .map(|_| open().map(Mutex::new))
            .collect::<rusqlite::Result<_>>()?;
        Ok(Self {
            conns,
            next: AtomicUsize::new(0),
        })
    }

    /// Runs `f` on a free connection (or, when every one is busy, on the next one in turn once
    /// it is free).
    pub(super) fn read<T>(
        &self,
        f: impl FnOnce(&Connection) -> rusqlite::Result<T>,
    ) -> rusqlite::Result<T> {
        let n = self.conns.len();
        let start = self.next.fetch_add(1, Ordering::Relaxed) % n;
        for i in 0..n {
            if let Ok(conn) = self.conns[(start + i) % n].try_lock() {
                return f(&conn);
            }
        }
        // A panic while holding a connection leaves no half-done read behind: it is still fine.
        let conn = self.conns[start]
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        f(&conn)
    }
}
