//! Helpers for tests that need a real directory: a migrated SQLite file in a temporary directory,
//! or a fresh PostgreSQL database that is dropped when the test ends.
//!
//! Used by the conformance suite of this crate and by the end-to-end tests of the others (enable
//! the `testing` feature). These helpers panic on failure: they are for tests only.

use std::path::Path;
use std::sync::mpsc;
use std::time::Duration;

use std::sync::Arc;

use crate::Directory;
use crate::cached::{CacheOptions, CachedDirectory};
use crate::postgres::PostgresDirectory;
use crate::sqlite::SqliteDirectory;

/// The environment variable naming the PostgreSQL server tests use (a URL of a database the
/// user may `CREATE DATABASE` from).
pub const POSTGRES_URL_ENV: &str = "PORTCULLIS_TEST_POSTGRES_URL";

/// Where tests look for PostgreSQL when [`POSTGRES_URL_ENV`] is not set.
pub const DEFAULT_POSTGRES_URL: &str = "postgres://postgres@127.0.0.1:5432/postgres";

/// How many connections each test directory may open (tests run in parallel against one server).
const TEST_POOL_SIZE: usize = 4;

/// How long dropping a [`TestDatabase`] waits for the database to be dropped.
const DROP_TIMEOUT: Duration = Duration::from_secs(15);

/// The administrator URL tests connect to: [`POSTGRES_URL_ENV`] or [`DEFAULT_POSTGRES_URL`].
pub fn postgres_admin_url() -> String {
    std::env::var(POSTGRES_URL_ENV)
        .ok()
        .filter(|s| !s.trim().is_empty())
        .unwrap_or_else(|| DEFAULT_POSTGRES_URL.to_owned())
}

/// A PostgreSQL database of its own for one test; dropped (best effort) when this value is.
#[derive(Debug)]
pub struct TestDatabase {
    /// Connection URL of the fresh database.
    pub url: String,
    name: String,
    admin_url: String,
}

impl TestDatabase {
    /// The database's name (`portcullis_t_<uuid>`).
    pub fn name(&self) -> &str {
        &self.name
    }
}

/// Creates an empty database `portcullis_t_<uuid>` on the test server (not migrated).
///
/// Panics with instructions when the server cannot be reached.
pub async fn fresh_postgres() -> TestDatabase {
    let admin_url = postgres_admin_url();
    let name = format!("portcullis_t_{}", uuid::Uuid::new_v4().simple());
    let client = admin_connect(&admin_url).await.unwrap_or_else(|e| {
        panic!(
            "cannot connect to the test PostgreSQL server at {admin_url}: {e} ({e:?})\n\
             Start one, e.g. `docker run --rm -d -p 5432:5432 -e POSTGRES_HOST_AUTH_METHOD=trust \
             postgres:16`, or set {POSTGRES_URL_ENV} to the URL of a server where this user may \
             CREATE DATABASE."
        )
    });
    if let Err(e) = client
        .batch_execute(&format!(r#"CREATE DATABASE "{name}""#))
        .await
    {
        panic!("cannot create the test database {name} on {admin_url}: {e}");
    }
    TestDatabase {
        url: database_url(&admin_url, &name),
        name,
        admin_url,
    }
}

impl Drop for TestDatabase {
    fn drop(&mut self) {
        // Dropping may happen inside the test's async runtime, which must not be blocked on
        // another runtime: a plain thread with its own small runtime does the work, and this
        // thread only waits (bounded) so that the database is gone before the process exits.
        let admin_url = self.admin_url.clone();
        let name = self.name.clone();
        let (done_tx, done_rx) = mpsc::channel::<()>();
        let spawned = std::thread::Builder::new()
            .name("drop-test-database".into())
            .spawn(move || {
                let runtime = match tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                {
                    Ok(rt) => rt,
                    Err(e) => {
                        eprintln!("warning: cannot drop test database {name}: {e}");
                        return;
                    }
                };
                runtime.block_on(async {
                    let sql = format!(r#"DROP DATABASE IF EXISTS "{name}" WITH (FORCE)"#);
                    match admin_connect(&admin_url).await {
                        Ok(client) => {
                            if let Err(e) = client.batch_execute(&sql).await {
                                eprintln!("warning: cannot drop test database {name}: {e}");
                            }
                        }
                        Err(e) => eprintln!("warning: cannot drop test database {name}: {e}"),
                    }
                });
                let _ = done_tx.send(());
            });
        match spawned {
            Ok(_) => {
                let _ = done_rx.recv_timeout(DROP_TIMEOUT);
            }
            Err(e) => eprintln!("warning: cannot drop test database {}: {e}", self.name),
        }
    }
}

/// A migrated SQLite directory stored in `dir`.
pub async fn sqlite_in(dir: &Path) -> SqliteDirectory {
    let path = dir.join("portcullis.sqlite3");
    let directory = SqliteDirectory::open(&path)
        .unwrap_or_else(|e| panic!("cannot open SQLite directory {}: {e:?}", path.display()));
    if let Err(e) = directory.migrate().await {
        panic!("cannot migrate SQLite directory {}: {e:?}", path.display());
    }
    directory
}

/// A migrated PostgreSQL directory in the test database `db`.
pub async fn postgres(db: &TestDatabase) -> PostgresDirectory {
    let directory = PostgresDirectory::connect(&db.url, TEST_POOL_SIZE)
        .unwrap_or_else(|e| panic!("cannot connect to test database {}: {e:?}", db.name));
    if let Err(e) = directory.migrate().await {
        panic!("cannot migrate test database {}: {e:?}", db.name);
    }
    directory
}

/// How long the caches of [`cached`] and [`cached_postgres`] keep entries: longer than any test,
/// so that only invalidation makes a change visible.
pub const CACHE_TTL: Duration = Duration::from_secs(3600);

/// `directory` behind a [`CachedDirectory`] (live at once: nothing else writes to it).
pub fn cached(directory: impl Directory + 'static) -> CachedDirectory {
    CachedDirectory::new(Arc::new(directory), CacheOptions::with_ttl(CACHE_TTL))
}

/// A migrated PostgreSQL directory in `db` behind a [`CachedDirectory`] with its own change
/// listener (the cache is not live until the listener listens: see [`wait_until_caching`]).
pub async fn cached_postgres(db: &TestDatabase) -> CachedDirectory {
    let directory = cached(postgres(db).await);
    let guard = crate::postgres::spawn_change_listener(&db.url, directory.invalidation())
        .unwrap_or_else(|e| panic!("cannot start the change listener on {}: {e:?}", db.name));
    directory.with_listener(guard)
}

/// Waits (at most 10 s) until `directory` serves from its cache, i.e. its listener listens.
pub async fn wait_until_caching(directory: &CachedDirectory) {
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while !directory.is_caching() {
        assert!(
            std::time::Instant::now() < deadline,
            "the directory cache did not become live within 10 s"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

async fn admin_connect(url: &str) -> Result<tokio_postgres::Client, tokio_postgres::Error> {
    let (client, connection) = tokio_postgres::connect(url, tokio_postgres::NoTls).await?;
    tokio::spawn(async move {
        // Ends when the client is dropped; an error here only means the server went away.
        let _ = connection.await;
    });
    Ok(client)
}

/// The URL of database `name` on the server of `admin_url` (URL or `key=value` form).
fn database_url(admin_url: &str, name: &str) -> String {
    let scheme_end = ["postgresql://", "postgres://"]
        .iter()
        .find_map(|s| admin_url.starts_with(s).then_some(s.len()));
    let Some(scheme_end) = scheme_end else {
        // key=value form: a later dbname overrides an earlier one.
        return format!("{admin_url} dbname={name}");
    };
    let rest = &admin_url[scheme_end..];
    let authority_end = rest.find(['/', '?']).unwrap_or(rest.len());
    let authority = &rest[..authority_end];
    let after = &rest[authority_end..];
    let query = after.find('?').map(|i| &after[i..]).unwrap_or("");
    format!("{}{authority}/{name}{query}", &admin_url[..scheme_end])
}

#[cfg(test)]
mod tests {
    use super::database_url;

    #[test]
    fn database_urls() {
        assert_eq!(
            database_url("postgres://postgres@127.0.0.1:5432/postgres", "x"),
            "postgres://postgres@127.0.0.1:5432/x"
        );
        assert_eq!(
            database_url("postgresql://u:p@h/db?sslmode=disable", "x"),
            "postgresql://u:p@h/x?sslmode=disable"
        );
        assert_eq!(database_url("postgres://h", "x"), "postgres://h/x");
        assert_eq!(database_url("postgres://h?a=b", "x"), "postgres://h/x?a=b");
        assert_eq!(
            database_url("host=h user=u dbname=postgres", "x"),
            "host=h user=u dbname=postgres dbname=x"
        );
    }
}
