//! The session store: portal sessions and short-lived flow state (pending sign-ins, one-time
//! codes, WebAuthn ceremonies, throttling counters; later OAuth codes, device codes, refresh
//! tokens), each with a time to live.
//!
//! Two backends implement [`SessionStore`] and [`FlowStore`]: [`redis::RedisSessions`]
//! (production, shared by every node) and [`embedded::EmbeddedSessions`] (SQLite in the data
//! directory, the default). Both pass the same conformance suite (`tests/conformance.rs`).
//!
//! Contracts every backend keeps:
//! - A session's record carries its own expiry, checked against the injected [`Clock`] on every
//!   read — never only the backend's TTL — so tests move time without sleeping.
//! - The raw session token exists only in the person's cookie: stores key sessions by the token's
//!   SHA-256 ([`SessionToken::hash`]); the hex of that hash is the session's public id.
//! - All of a user's sessions can be revoked at once (a per-user index).
//! - A write is answered only once it is stored: the next read, from any node or connection,
//!   sees it.
//!
//! What survives a crash: an answered write survives the Portcullis process dying (it is in the
//! backend, not in our memory). Embedded: also a crash of the process with the file open; an
//! operating-system crash or power loss may lose the writes of about the last second (SQLite WAL
//! with `synchronous = NORMAL`), never the file's consistency. Redis: what its persistence
//! promises — the compose file's `appendfsync everysec` loses at most about a second as well; a
//! Redis without persistence loses everything on restart (everyone signs in again). Nothing in
//! either store is needed to recover the other: what can be lost is sessions, codes and pending
//! sign-ins, which people repeat, and refresh tokens, whose clients sign in again.

pub mod clock;
pub mod embedded;
pub mod grants;
pub mod redis;
pub mod sso;
#[cfg(any(test, feature = "testing"))]
pub mod testing;
mod token;

use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use portcullis_domain::UserId;
use serde::{Deserialize, Serialize};

pub use clock::{Clock, ManualClock, SystemClock};
pub use token::{SessionId, SessionToken};

/// What can go wrong in a session store.
#[derive(Debug, thiserror::Error)]
pub enum SessionError {
    /// The backend could not be reached or failed; retrying later may succeed.
    #[error("session store unavailable")]
    Unavailable(#[source] Box<dyn std::error::Error + Send + Sync>),
    /// A stored record could not be decoded (a bug or a manual edit).
    #[error("stored session data is invalid: {0}")]
    Corrupt(String),
}

impl SessionError {
    pub fn unavailable(e: impl std::error::Error + Send + Sync + 'static) -> Self {
        Self::Unavailable(Box::new(e))
    }
}

pub type Result<T, E = SessionError> = std::result::Result<T, E>;

/// Where a session was created from, for the person's and the administrator's lists.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ClientInfo {
    pub ip: Option<String>,
    pub user_agent: Option<String>,
}

/// A session about to be created. `expires_at` is absolute: sessions never slide.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewSession {
    pub user_id: UserId,
    pub expires_at: DateTime<Utc>,
    /// How the person authenticated (`pwd`, `otp`, `mfa`, `hwk`, … as in RFC 8176).
    pub amr: Vec<String>,
    pub client: ClientInfo,
}

/// A live portal session.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PortalSession {
    pub id: SessionId,
    pub user_id: UserId,
    /// When the person authenticated (OIDC `auth_time`).
    pub created_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
    pub amr: Vec<String>,
    pub client: ClientInfo,
}

/// Portal sessions.
#[async_trait]
pub trait SessionStore: Send + Sync {
    /// Creates a session with a fresh random token (returned once; only its hash is stored).
    /// `created_at` is the clock's now. The backend keeps it until `expires_at`.
    async fn create_session(&self, new: NewSession) -> Result<(SessionToken, PortalSession)>;
    /// The live session for this token; `None` when unknown, revoked or expired by the clock.
    async fn get_session(&self, token: &SessionToken) -> Result<Option<PortalSession>>;
    /// The live session with this public id (what grants and tokens derived from a session
    /// keep); `None` when unknown, revoked or expired by the clock. One lookup, whatever the
    /// number of the person's sessions.
    async fn get_session_by_id(&self, id: &SessionId) -> Result<Option<PortalSession>>;
    /// The user's live sessions, oldest first.
    async fn list_user_sessions(&self, user: UserId) -> Result<Vec<PortalSession>>;
    /// Ends one session of `user`; `false` when it did not exist (or belongs to someone else).
    async fn revoke_session(&self, user: UserId, id: &SessionId) -> Result<bool>;
    /// Ends the session this token belongs to (sign-out); nothing when it does not exist.
    async fn revoke_token(&self, token: &SessionToken) -> Result<()>;
    /// Ends every session of the user at once; returns how many were live.
    async fn revoke_user_sessions(&self, user: UserId) -> Result<usize>;
    /// How many sessions are live (for the active-sessions gauge; may scan, call it rarely).
    async fn count_sessions(&self) -> Result<u64>;
    /// Cheap round trip, for readiness checks.
    async fn ping(&self) -> Result<()>;
    /// `"redis"` or `"embedded"`.
    fn backend(&self) -> &'static str;
}

/// Short-lived state keyed by (namespace, key), each entry with its own time to live, expired
/// by the injected clock as well as by the backend. Namespaces keep features apart
/// (`signin`, `otp`, `throttle-user`, …); keys are opaque strings chosen by the caller.
#[async_trait]
pub trait FlowStore: Send + Sync {
    /// Stores (or replaces) a value for `ttl`.
    async fn put(&self, ns: &str, key: &str, value: &[u8], ttl: Duration) -> Result<()>;
    /// Stores a value only if the key is absent (or expired); `true` when stored. For
    /// replay protection: "this code / request id was used".
    async fn put_if_absent(&self, ns: &str, key: &str, value: &[u8], ttl: Duration)
    -> Result<bool>;
    async fn get(&self, ns: &str, key: &str) -> Result<Option<Vec<u8>>>;
    /// Reads and deletes atomically: of two concurrent takes, exactly one gets the value. For
    /// single-use artefacts (codes).
    async fn take(&self, ns: &str, key: &str) -> Result<Option<Vec<u8>>>;
    async fn delete(&self, ns: &str, key: &str) -> Result<()>;
    /// Adds one to a counter and returns the new count. The first increment starts the
    /// window: the counter expires `window` after it was created (later increments do not
    /// extend it). For throttling.
    async fn increment(&self, ns: &str, key: &str, window: Duration) -> Result<u64>;
    /// Takes one back from a live counter (never below zero), keeping its window; nothing when
    /// there is none. For reservations that turned out not to count (a throttled attempt that
    /// succeeded).
    async fn decrement(&self, ns: &str, key: &str) -> Result<()>;
    /// Time left before the entry expires, if it exists.
    async fn ttl(&self, ns: &str, key: &str) -> Result<Option<Duration>>;
    /// One atomic step: if `(ns, key)` holds a live entry, deletes it and stores every one of
    /// `puts` (each replacing what was there); returns `true`. Otherwise changes nothing and
    /// returns `false`. Of two swaps of one key at once, exactly one wins; a failure (an error)
    /// changes nothing. For single-use artefacts exchanged for their successors — a refresh token
    /// for the next one, a code for its grant — whose effect must be all or nothing.
    async fn swap(&self, ns: &str, key: &str, puts: &[FlowPut<'_>]) -> Result<bool>;
}

/// One entry a [`FlowStore::swap`] stores.
#[derive(Debug, Clone, Copy)]
pub struct FlowPut<'a> {
    pub ns: &'a str,
    pub key: &'a str,
    pub value: &'a [u8],
    pub ttl: Duration,
}

/// Both stores, as the services above see the configured backend.
pub trait Sessions: SessionStore + FlowStore {}
impl<T: SessionStore + FlowStore> Sessions for T {}
