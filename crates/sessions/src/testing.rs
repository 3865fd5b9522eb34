//! Test helpers: stores on a throw-away Redis prefix or in a temporary directory.
//!
//! Redis tests use the server at [`redis_url`] (`PORTCULLIS_TEST_REDIS_URL`, by default
//! `redis://127.0.0.1:6379`) under a fresh `pctest:{uuid}:` prefix, so they run in parallel
//! without seeing each other's keys. Keep a [`RedisCleanup`] guard alive for the test (see
//! [`redis_scoped`]): dropping it deletes every key under the prefix, even when the test
//! panics.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use crate::Clock;
use crate::embedded::EmbeddedSessions;
use crate::redis::RedisSessions;

/// The Redis server tests use.
pub fn redis_url() -> String {
    std::env::var("PORTCULLIS_TEST_REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".into())
}

/// A key prefix no other test uses: `pctest:{uuid}:`.
pub fn unique_prefix() -> String {
    format!("pctest:{}:", uuid::Uuid::new_v4())
}

/// A Redis store under a fresh prefix. Its keys expire by their own TTLs; prefer
/// [`redis_scoped`], which also deletes them when the test ends.
///
/// # Panics
/// When the Redis server at [`redis_url`] cannot be reached.
pub async fn redis(clock: Arc<dyn Clock>) -> RedisSessions {
    redis_with_prefix(&unique_prefix(), clock).await
}

/// A Redis store under a fresh prefix, and the guard that deletes the prefix's keys on drop.
///
/// # Panics
/// When the Redis server at [`redis_url`] cannot be reached.
pub async fn redis_scoped(clock: Arc<dyn Clock>) -> (RedisSessions, RedisCleanup) {
    let prefix = unique_prefix();
    let guard = RedisCleanup::new(&prefix);
    (redis_with_prefix(&prefix, clock).await, guard)
}

async fn redis_with_prefix(prefix: &str, clock: Arc<dyn Clock>) -> RedisSessions {
    let url = redis_url();
    match RedisSessions::connect(&url, prefix, clock).await {
        Ok(store) => store,
        Err(e) => panic!(
            "these tests need Redis at {url} (set PORTCULLIS_TEST_REDIS_URL to use another): {e}: {:?}",
            std::error::Error::source(&e)
        ),
    }
}

/// An embedded store in `dir/sessions.db` (opened again when the file exists).
///
/// # Panics
/// When the database cannot be opened.
pub async fn embedded_in(dir: &Path, clock: Arc<dyn Clock>) -> EmbeddedSessions {
    let path = dir.join("sessions.db");
    EmbeddedSessions::open(&path, clock)
        .await
        .unwrap_or_else(|e| panic!("opening {}: {e}", path.display()))
}

/// Deletes every Redis key under a prefix when dropped (synchronously, on its own connection,
/// so it works from any context, including a panicking test).
#[derive(Debug)]
pub struct RedisCleanup {
    prefix: String,
}

impl RedisCleanup {
    pub fn new(prefix: &str) -> Self {
        Self {
            prefix: prefix.to_owned(),
        }
    }
}

impl Drop for RedisCleanup {
    fn drop(&mut self) {
        if let Err(e) = delete_prefix(&self.prefix) {
            eprintln!("cleaning up Redis keys under {}: {e}", self.prefix);
        }
    }
}

/// Deletes every key under `prefix` (SCAN + DEL).
pub fn delete_prefix(prefix: &str) -> ::redis::RedisResult<()> {
    let client = ::redis::Client::open(redis_url())?;
    let mut conn = client.get_connection_with_timeout(Duration::from_secs(3))?;
    let keys = scan_keys(&mut conn, prefix)?;
    for chunk in keys.chunks(500) {
        ::redis::cmd("DEL").arg(chunk).query::<()>(&mut conn)?;
    }
    Ok(())
}

fn scan_keys(conn: &mut ::redis::Connection, prefix: &str) -> ::redis::RedisResult<Vec<String>> {
    let mut keys = Vec::new();
    let mut cursor: u64 = 0;
    loop {
        let (next, batch): (u64, Vec<String>) = ::redis::cmd("SCAN")
            .arg(cursor)
            .arg("MATCH")
            .arg(format!("{}*", glob_escape(prefix)))
            .arg("COUNT")
            .arg(500)
            .query(conn)?;
        keys.extend(batch);
        if next == 0 {
            return Ok(keys);
        }
        cursor = next;
    }
}

fn glob_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if matches!(c, '*' | '?' | '[' | ']' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// One Redis key as stored, for asserting what a backend actually writes.
#[derive(Debug, Clone)]
pub struct RedisEntry {
    pub key: String,
    /// `string`, `zset`, …
    pub kind: String,
    /// A string's value, a sorted set's members, or a hash's fields and values in turn, as raw
    /// bytes.
    pub contents: Vec<Vec<u8>>,
    /// The key's remaining real-time TTL in milliseconds (`-1`: none).
    pub pttl_ms: i64,
}

/// Every key under `prefix` with its contents.
pub fn redis_dump(prefix: &str) -> ::redis::RedisResult<Vec<RedisEntry>> {
    let client = ::redis::Client::open(redis_url())?;
    let mut conn = client.get_connection_with_timeout(Duration::from_secs(3))?;
    let mut out = Vec::new();
    for key in scan_keys(&mut conn, prefix)? {
        let kind: String = ::redis::cmd("TYPE").arg(&key).query(&mut conn)?;
        let contents: Vec<Vec<u8>> = match kind.as_str() {
            "string" => ::redis::cmd("GET")
                .arg(&key)
                .query::<Option<Vec<u8>>>(&mut conn)?
                .into_iter()
                .collect(),
            "zset" => ::redis::cmd("ZRANGE")
                .arg(&key)
                .arg(0)
                .arg(-1)
                .query(&mut conn)?,
            "hash" => ::redis::cmd("HGETALL").arg(&key).query(&mut conn)?,
            _ => Vec::new(),
        };
        let pttl_ms: i64 = ::redis::cmd("PTTL").arg(&key).query(&mut conn)?;
        out.push(RedisEntry {
            key,
            kind,
            contents,
            pttl_ms,
        });
    }
    Ok(out)
}
