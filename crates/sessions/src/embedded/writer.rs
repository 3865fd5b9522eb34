//! The one writer: a thread that owns the database's write connection and commits the writes of
//! concurrent requests together (group commit).
//!
//! SQLite lets one connection write at a time. With a pool of connections that each write, the
//! losers of every race sleep in SQLite's busy handler (1 ms, 2 ms, 5 ms, … before trying again)
//! while the core sits idle; under load that, not the SQL, bounds the store. Here every write is
//! a job sent to one thread: it takes whatever jobs are queued (up to [`MAX_BATCH`]), runs each in
//! its own savepoint inside one `BEGIN IMMEDIATE` transaction, commits once, and only then
//! answers each job — so a caller that has its answer can read its write from any connection,
//! and a job that fails is rolled back alone while the rest of its batch commits.
//!
//! The thread ends when the last [`Writer`] handle is dropped.

use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc;

use rusqlite::Connection;
use tokio::sync::oneshot;

use crate::{Result, SessionError};

/// The most jobs committed in one transaction; more wait for the next one.
pub(super) const MAX_BATCH: usize = 256;

/// A write, run by the writer thread inside the open transaction.
trait Job: Send {
    /// Runs the write in its own savepoint (rolled back if it fails).
    fn run(&mut self, conn: &Connection);
    /// Answers the caller once the transaction has committed, or failed to.
    fn finish(self: Box<Self>, committed: std::result::Result<(), &rusqlite::Error>);
}

/// A job whose closure returns a `T`, answered through `reply`.
struct Typed<T, F> {
    work: Option<F>,
    outcome: Option<Result<T>>,
    reply: oneshot::Sender<Result<T>>,
}

impl<T, F> Job for Typed<T, F>
where
    T: Send,
    F: FnOnce(&Connection) -> rusqlite::Result<T> + Send,
{
    fn run(&mut self, conn: &Connection) {
        if let Some(work) = self.work.take() {
            self.outcome = Some(in_savepoint(conn, work));
        }
    }

    fn finish(self: Box<Self>, committed: std::result::Result<(), &rusqlite::Error>) {
        let answer = match (committed, self.outcome) {
            (Ok(()), Some(outcome)) => outcome,
            (Ok(()), None) => Err(SessionError::Unavailable(
                "the write was not run".to_owned().into(),
            )),
            (Err(e), _) => Err(SessionError::Unavailable(
                format!("committing the session store failed: {e}").into(),
            )),
        };
        // The caller may have gone (a dropped request): nothing to tell.
        let _ = self.reply.send(answer);
    }
}

/// Runs `work` in a savepoint: released when it succeeds, rolled back when it fails or panics,
/// so that what it did before failing is undone and the rest of the batch is not.
fn in_savepoint<T>(
    conn: &Connection,
    work: impl FnOnce(&Connection) -> rusqlite::Result<T>,
) -> Result<T> {
    let statement = |sql: &str| -> Result<()> {
        conn.prepare_cached(sql)
            .and_then(|mut s| s.execute([]))
            .map(drop)
            .map_err(SessionError::unavailable)
    };
    statement("SAVEPOINT job")?;
    let outcome = match std::panic::catch_unwind(AssertUnwindSafe(|| work(conn))) {
        Ok(done) => done.map_err(SessionError::unavailable),
        Err(_) => Err(SessionError::Unavailable(
            "a session store write panicked".to_owned().into(),
        )),
    };
    if outcome.is_err() {
        statement("ROLLBACK TO job")?;
    }
    statement("RELEASE job")?;
    outcome
}

/// What the writer has done, for `Debug` and tests.
#[derive(Debug, Default)]
pub(super) struct Stats {
    /// Jobs sent to the thread.
    pub(super) sent: AtomicU64,
    /// Transactions committed (or tried).
    pub(super) batches: AtomicU64,
    /// Jobs run.
    pub(super) jobs: AtomicU64,
}

/// A handle to the writer thread; cloning it shares the thread.
#[derive(Clone)]
pub(super) struct Writer {
    jobs: mpsc::Sender<Box<dyn Job>>,
    stats: Arc<Stats>,
}

impl std::fmt::Debug for Writer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Writer")
            .field("sent", &self.stats.sent.load(Ordering::Relaxed))
            .field("batches", &self.stats.batches.load(Ordering::Relaxed))
            .field("jobs", &self.stats.jobs.load(Ordering::Relaxed))
            .finish()
    }
}

impl Writer {
    /// Starts the writer thread on `conn`, which it owns from now on.
    pub(super) fn spawn(conn: Connection) -> std::io::Result<Self> {
        let (jobs, queue) = mpsc::channel();
        let stats = Arc::new(Stats::default());
        let counted = stats.clone();
        std::thread::Builder::new()
            .name("portcullis-sessions-writer".to_owned())
            .spawn(move || serve(conn, queue, &counted))?;
        Ok(Self { jobs, stats })
    }

    /// The writer's counters (shared with its thread while it runs).
    #[cfg(test)]
    pub(super) fn stats(&self) -> &Arc<Stats> {
        &self.stats
    }

    /// Runs `work` in the next committed batch; answers once it has committed.
    pub(super) async fn write<T, F>(&self, work: F) -> Result<T>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> rusqlite::Result<T> + Send + 'static,
    {
        let (reply, answer) = oneshot::channel();
        let job = Box::new(Typed {
            work: Some(work),
            outcome: None,
            reply,
        });
        self.jobs.send(job).map_err(|_| stopped())?;
        self.stats.sent.fetch_add(1, Ordering::Relaxed);
        answer.await.map_err(|_| stopped())?
    }
}

fn stopped() -> SessionError {
    SessionError::Unavailable("the session store's writer has stopped".to_owned().into())
}

/// The writer thread: batches until every handle is gone.
fn serve(conn: Connection, queue: mpsc::Receiver<Box<dyn Job>>, stats: &Stats) {
    let mut batch: Vec<Box<dyn Job>> = Vec::with_capacity(MAX_BATCH);
    while let Ok(first) = queue.recv() {
        batch.push(first);
        while batch.len() < MAX_BATCH {
            match queue.try_recv() {
                Ok(job) => batch.push(job),
                Err(_) => break,
            }
        }
        stats.batches.fetch_add(1, Ordering::Relaxed);
        stats.jobs.fetch_add(batch.len() as u64, Ordering::Relaxed);
        commit(&conn, &mut batch);
    }
}

/// Runs `batch` in one transaction and answers every job; leaves `batch` empty.
fn commit(conn: &Connection, batch: &mut Vec<Box<dyn Job>>) {
    if let Err(e) = conn.execute_batch("BEGIN IMMEDIATE") {
        tracing::warn!(error = %e, "the session store could not begin a write");
        for job in batch.drain(..) {
            job.finish(Err(&e));
        }
        return;
    }
    for job in batch.iter_mut() {
        job.run(conn);
    }
    let committed = conn.execute_batch("COMMIT");
    if let Err(e) = &committed {
        tracing::warn!(error = %e, jobs = batch.len(), "the session store could not commit");
        let _ = conn.execute_batch("ROLLBACK");
    }
    for job in batch.drain(..) {
        job.finish(committed.as_ref().map(|_| ()));
    }
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Barrier};

    use super::*;

    fn writer(dir: &tempfile::TempDir) -> (Writer, std::path::PathBuf) {
        let path = dir.path().join("w.db");
        let conn = Connection::open(&path).unwrap();
        conn.execute_batch("PRAGMA journal_mode=WAL; CREATE TABLE t (k TEXT PRIMARY KEY);")
            .unwrap();
        (Writer::spawn(conn).unwrap(), path)
    }

    fn keys(path: &std::path::Path) -> Vec<String> {
        let conn = Connection::open(path).unwrap();
        let mut stmt = conn.prepare("SELECT k FROM t ORDER BY k").unwrap();
        stmt.query_map([], |r| r.get(0))
            .unwrap()
            .collect::<rusqlite::Result<_>>()
            .unwrap()
    }

    /// A job that holds the writer until the test lets it go (`release.wait()`), so that the
    /// jobs sent meanwhile queue up and commit together after it. Returns once the writer is
    /// inside it.
    async fn hold(w: &Writer) -> (Arc<Barrier>, tokio::task::JoinHandle<Result<()>>) {
        let entered = Arc::new(Barrier::new(2));
        let release = Arc::new(Barrier::new(2));
        let (inside, gate) = (entered.clone(), release.clone());
        let w = w.clone();
        let held = tokio::spawn(async move {
            w.write(move |c| {
                inside.wait();
                gate.wait();
                c.execute("INSERT INTO t VALUES ('held')", [])?;
                Ok(())
            })
            .await
        });
        tokio::task::block_in_place(|| entered.wait());
        (release, held)
    }

    /// Waits until `n` jobs have been sent in all.
    async fn until_sent(w: &Writer, n: u64) {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        while w.stats().sent.load(Ordering::Relaxed) < n {
            assert!(std::time::Instant::now() < deadline, "{w:?}");
            tokio::time::sleep(std::time::Duration::from_millis(2)).await;
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_failing_job_is_undone_alone_and_the_batch_commits() {
        let dir = tempfile::tempdir().unwrap();
        let (w, path) = writer(&dir);
        let (release, held) = hold(&w).await;
        let ok = |k: &'static str| {
            let w = w.clone();
            tokio::spawn(async move {
                w.write(move |c| c.execute("INSERT INTO t VALUES (?1)", [k]))
                    .await
            })
        };
        let a = ok("a");
        // Inserts a row, then fails on a duplicate of the held job's row (committed before it in
        // any order): both are undone.
        let failing = {
            let w = w.clone();
            tokio::spawn(async move {
                w.write(|c| {
                    c.execute("INSERT INTO t VALUES ('partial')", [])?;
                    c.execute("INSERT INTO t VALUES ('held')", [])
                })
                .await
            })
        };
        let panicking = {
            let w = w.clone();
            tokio::spawn(async move {
                w.write(|c| -> rusqlite::Result<()> {
                    c.execute("INSERT INTO t VALUES ('before-panic')", [])?;
                    panic!("a bug in a write");
                })
                .await
            })
        };
        let b = ok("b");
        until_sent(&w, 5).await;
        tokio::task::block_in_place(|| release.wait());
        held.await.unwrap().unwrap();
        assert_eq!(a.await.unwrap().unwrap(), 1);
        assert!(failing.await.unwrap().is_err());
        assert!(panicking.await.unwrap().is_err());
        assert_eq!(b.await.unwrap().unwrap(), 1);
        assert_eq!(keys(&path), ["a", "b", "held"]);
        // The writer still serves after the panic.
        w.write(|c| c.execute("INSERT INTO t VALUES ('c')", []))
            .await
            .unwrap();
        assert_eq!(keys(&path), ["a", "b", "c", "held"]);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn concurrent_writes_share_commits() {
        let dir = tempfile::tempdir().unwrap();
        let (w, path) = writer(&dir);
        let (release, held) = hold(&w).await;
        let writes: Vec<_> = (0..100)
            .map(|i| {
                let w = w.clone();
                tokio::spawn(async move {
                    w.write(move |c| c.execute("INSERT INTO t VALUES (?1)", [format!("k{i:03}")]))
                        .await
                })
            })
            .collect();
        until_sent(&w, 101).await;
        tokio::task::block_in_place(|| release.wait());
        held.await.unwrap().unwrap();
        for write in writes {
            assert_eq!(write.await.unwrap().unwrap(), 1);
        }
        assert_eq!(keys(&path).len(), 101);
        // The 100 writes queued behind the held one and committed together.
        let stats = w.stats();
        assert_eq!(stats.jobs.load(Ordering::Relaxed), 101);
        assert_eq!(stats.batches.load(Ordering::Relaxed), 2, "{w:?}");
    }

    #[tokio::test]
    async fn a_dropped_writer_stops_its_thread() {
        let dir = tempfile::tempdir().unwrap();
        let (w, path) = writer(&dir);
        w.write(|c| c.execute("INSERT INTO t VALUES ('x')", []))
            .await
            .unwrap();
        let stats = w.stats().clone();
        assert_eq!(Arc::strong_count(&stats), 3);
        drop(w);
        // The thread lets go of its counters as it ends.
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
        while Arc::strong_count(&stats) > 1 {
            assert!(
                std::time::Instant::now() < deadline,
                "the writer thread runs on"
            );
            tokio::time::sleep(std::time::Duration::from_millis(5)).await;
        }
        assert_eq!(keys(&path), ["x"]);
    }
}
