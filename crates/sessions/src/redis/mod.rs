//! Redis backend: shared by every node of a deployment.
//!
//! Keys (all under the configured prefix):
//! - `{prefix}s:{member}` — a [`PortalSession`](crate::PortalSession) in a compact binary record
//!   (see `record.rs`), where `member` is the SHA-256 of the token in unpadded base64url (the
//!   session id's 32 bytes in 43 characters rather than 64 hex digits: keys are most of a
//!   session's memory), with a Redis TTL of the session's remaining lifetime;
//! - `{prefix}user-sessions:{user_id}` — a sorted set of the user's session members, scored by
//!   their expiry in Unix milliseconds, with a TTL as long as its longest-lived session;
//! - `{prefix}live-sessions` — the active-sessions gauge: a hash from the minute sessions end in
//!   (Unix minutes, rounded up) to how many live sessions end in it, with a TTL as long as the
//!   longest-lived session;
//! - `{prefix}flow:{ns}:{key}` — flow state: the entry's absolute expiry (8-byte big-endian Unix
//!   milliseconds) followed by the value bytes, with a Redis TTL as well. A `:` or `%` in the
//!   namespace is percent-escaped so that `(ns, key)` pairs cannot collide.
//!
//! Every record carries its own expiry, checked against the injected [`Clock`] on every read;
//! the Redis TTLs are only the real-time cleanup. Operations that must be atomic with a check
//! (put-if-absent, increment, revoking sessions) run as Lua scripts.

mod flow;
mod record;
mod sessions;

use std::sync::Arc;
use std::time::Duration;

use ::redis::aio::{ConnectionManager, ConnectionManagerConfig};
use chrono::{DateTime, Utc};

use crate::{Clock, Result, SessionError};

/// How long one connection attempt may take.
const CONNECTION_TIMEOUT: Duration = Duration::from_secs(3);
/// How long one command may wait for its reply.
const RESPONSE_TIMEOUT: Duration = Duration::from_secs(3);
/// The upper bound on [`RedisSessions::connect`], retries included.
const CONNECT_DEADLINE: Duration = Duration::from_secs(5);

/// Sessions and flow state in Redis.
#[derive(Clone)]
pub struct RedisSessions {
    conn: ConnectionManager,
    scripts: Arc<Scripts>,
    clock: Arc<dyn Clock>,
    prefix: Arc<str>,
}

/// The Lua scripts the backend runs, compiled once per store (not global state).
struct Scripts {
    put_if_absent: redis::Script,
    increment: redis::Script,
    decrement: redis::Script,
    swap: redis::Script,
    revoke_one: redis::Script,
    revoke_all: redis::Script,
    revoke_token: redis::Script,
}

impl Scripts {
    fn load() -> Self {
        Self {
            put_if_absent: flow::put_if_absent_script(),
            increment: flow::increment_script(),
            decrement: flow::decrement_script(),
            swap: flow::swap_script(),
            revoke_one: sessions::revoke_one_script(),
            revoke_all: sessions::revoke_all_script(),
            revoke_token: sessions::revoke_token_script(),
        }
    }
}

impl std::fmt::Debug for RedisSessions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Neither the URL (it may carry a password) nor any data.
        f.debug_struct("RedisSessions")
            .field("prefix", &self.prefix)
            .field("clock", &self.clock)
            .finish_non_exhaustive()
    }
}

impl RedisSessions {
    /// Connects to the Redis server at `url` (`redis://[:password@]host[:port][/db]`, `rediss://`
    /// or `unix://`), keeping every key under `prefix` (for example `portcullis:`).
    ///
    /// Fails with [`SessionError::Unavailable`] when the URL is invalid or the server cannot be
    /// reached within a few seconds. Once connected, a lost connection is re-established on
    /// demand; each command times out after a few seconds instead of hanging.
    pub async fn connect(url: &str, prefix: &str, clock: Arc<dyn Clock>) -> Result<Self> {
        let client = ::redis::Client::open(url).map_err(SessionError::unavailable)?;
        let config = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(CONNECTION_TIMEOUT))
            .set_response_timeout(Some(RESPONSE_TIMEOUT))
            .set_number_of_retries(1)
            .set_max_delay(Duration::from_millis(500));
        let conn = tokio::time::timeout(
            CONNECT_DEADLINE,
            ConnectionManager::new_with_config(client, config),
        )
        .await
        .map_err(SessionError::unavailable)?
        .map_err(SessionError::unavailable)?;
        Ok(Self {
            conn,
            scripts: Arc::new(Scripts::load()),
            clock,
            prefix: Arc::from(prefix),
        })
    }

    /// The key prefix this store writes under.
    pub fn prefix(&self) -> &str {
        &self.prefix
    }

    /// A handle on the shared connection (cheap: the manager multiplexes).
    fn conn(&self) -> ConnectionManager {
        self.conn.clone()
    }

    fn now(&self) -> DateTime<Utc> {
        self.clock.now()
    }

    fn now_millis(&self) -> i64 {
        self.now().timestamp_millis()
    }

    /// The key of the session whose index member is `member` (see [`record::member`]).
    fn session_key(&self, member: &str) -> String {
        format!("{}s:{member}", self.prefix)
    }

    fn session_key_prefix(&self) -> String {
        format!("{}s:", self.prefix)
    }

    fn user_index_key(&self, user: &portcullis_domain::UserId) -> String {
        format!("{}user-sessions:{user}", self.prefix)
    }

    fn live_sessions_key(&self) -> String {
        format!("{}live-sessions", self.prefix)
    }

    fn flow_key(&self, ns: &str, key: &str) -> String {
        format!("{}flow:{}:{key}", self.prefix, escape_ns(ns))
    }
}

/// Percent-escapes `%` and `:` so that a namespace never contains the separator.
fn escape_ns(ns: &str) -> std::borrow::Cow<'_, str> {
    if ns.contains([':', '%']) {
        std::borrow::Cow::Owned(ns.replace('%', "%25").replace(':', "%3A"))
    } else {
        std::borrow::Cow::Borrowed(ns)
    }
}

/// A Redis failure: the store is unavailable.
fn unavailable(e: ::redis::RedisError) -> SessionError {
    SessionError::unavailable(e)
}

/// A Redis TTL in milliseconds: at least 1 (Redis refuses 0), saturating.
fn redis_ttl_millis(ttl: Duration) -> u64 {
    u64::try_from(ttl.as_millis()).unwrap_or(u64::MAX).max(1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn namespaces_are_escaped() {
        assert_eq!(escape_ns("signin"), "signin");
        assert_eq!(escape_ns("a:b"), "a%3Ab");
        assert_eq!(escape_ns("a%3Ab"), "a%253Ab");
    }

    #[test]
    fn redis_ttls_are_positive() {
        assert_eq!(redis_ttl_millis(Duration::ZERO), 1);
        assert_eq!(redis_ttl_millis(Duration::from_micros(1500)), 1);
        assert_eq!(redis_ttl_millis(Duration::from_secs(2)), 2000);
    }
}
