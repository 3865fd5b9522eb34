//! The grant store: what a person authorized a client to do, and the artefacts that carry it —
//! authorization codes, token families, refresh tokens, device codes and revoked access-token
//! ids (ory/fosite's per-artefact stores, one contract each).
//!
//! It is written once over [`FlowStore`], whose `swap` both backends keep atomic, so Redis and the
//! embedded store keep every rule below alike (`tests/conformance/grants.rs` runs them on both).
//! Secrets are never stored: every code and token is keyed by the hex SHA-256 of its value
//! ([`key_of`]). Expiry follows the injected [`Clock`] as the flow store's does.
//!
//! The rules:
//! - A code is redeemed once. Presenting it again — after it was redeemed, or while another
//!   redemption wins — revokes the family the first redemption created (RFC 6749 §4.1.2).
//! - A token family is one grant's tokens: revoking it ends every token that came from it.
//! - A refresh token is rotated once, atomically with storing its successors. The same client
//!   presenting it again within the grace window gets the answer of the rotation back; any other
//!   presentation of a rotated token is reuse and revokes the family (RFC 9700 §4.14.2).
//! - A device code is redeemed once, and only after the person approved it (RFC 8628).

mod device;
mod records;
mod refresh;

use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::sso::{self, SsoAccess};
use crate::{Clock, FlowPut, FlowStore, SessionError};

pub use device::DeviceKey;
pub use records::{CodeRecord, DeviceRecord, DeviceStatus, FamilyRecord, Grant, RefreshRecord};
pub use refresh::Spent;

pub const CODE_NS: &str = "oidc-code";
pub const CODE_USED_NS: &str = "oidc-code-used";
pub use crate::sso::FAMILY_NS;
pub const REFRESH_NS: &str = "oidc-refresh";
pub const REFRESH_USED_NS: &str = "oidc-refresh-used";
pub const REVOKED_NS: &str = "oidc-revoked";
pub const DEVICE_NS: &str = "oidc-device";
pub const USER_CODE_NS: &str = "oidc-user-code";

/// How long a redeemed code is remembered, to catch (and punish) a second redemption.
const USED_CODE_MEMORY: Duration = Duration::from_secs(600);

/// What can go wrong in the grant store. What a client did wrong (a code used twice, a rotated
/// token presented again) is an outcome the methods return, not an error.
#[derive(Debug, thiserror::Error)]
pub enum GrantError {
    /// The session store could not be reached or failed; retrying later may succeed.
    #[error("grant store unavailable")]
    Unavailable(#[source] SessionError),
    /// A stored record could not be decoded (a bug or a manual edit).
    #[error("stored grant data is invalid: {0}")]
    Corrupt(String),
}

impl From<SessionError> for GrantError {
    fn from(e: SessionError) -> Self {
        match e {
            SessionError::Corrupt(why) => Self::Corrupt(why),
            other => Self::Unavailable(other),
        }
    }
}

/// For callers whose own error speaks of the session store as a whole.
impl From<GrantError> for SessionError {
    fn from(e: GrantError) -> Self {
        match e {
            GrantError::Unavailable(e) => e,
            GrantError::Corrupt(why) => Self::Corrupt(why),
        }
    }
}

pub type Result<T, E = GrantError> = std::result::Result<T, E>;

/// The hex SHA-256 of a secret value: its key in the store.
pub fn key_of(secret: &str) -> String {
    sso::key_of(secret)
}

/// A write that takes effect only with the redemption that commits it: the tokens and family an
/// exchange issues are stored together with spending what it exchanged, or not at all.
#[derive(Debug, Clone)]
pub struct Write {
    pub ns: &'static str,
    pub key: String,
    pub value: Vec<u8>,
    pub ttl: Duration,
}

impl Write {
    /// `value` as JSON under `(ns, key)`.
    pub fn json<T: Serialize>(
        ns: &'static str,
        key: String,
        value: &T,
        ttl: Duration,
    ) -> Result<Self> {
        let value = serde_json::to_vec(value).map_err(|e| GrantError::Corrupt(e.to_string()))?;
        Ok(Self {
            ns,
            key,
            value,
            ttl,
        })
    }
    /// A new token family `id`, alive for `ttl` (the rest of its portal session).
    pub fn family(id: &str, record: &FamilyRecord, ttl: Duration) -> Result<Self> {
        Self::json(FAMILY_NS, id.to_owned(), record, ttl)
    }
    /// A new refresh token.
    pub fn refresh(token: &str, record: &RefreshRecord, ttl: Duration) -> Result<Self> {
        Self::json(REFRESH_NS, key_of(token), record, ttl)
    }
    /// A new SSO-OIDC access token (see [`crate::sso`]).
    pub fn sso_access(token: &str, record: &SsoAccess, ttl: Duration) -> Result<Self> {
        Self::json(sso::ACCESS_NS, sso::key_of(token), record, ttl)
    }
}

/// Time from `now` until `until`, or `floor` when that is past.
fn until(now: DateTime<Utc>, until: DateTime<Utc>, floor: Duration) -> Duration {
    (until - now).to_std().unwrap_or(floor)
}

/// The grant store over a flow store and a clock. Cheap to make: it borrows both.
#[derive(Clone, Copy)]
pub struct GrantStore<'a> {
    flow: &'a dyn FlowStore,
    clock: &'a dyn Clock,
}

impl std::fmt::Debug for GrantStore<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GrantStore").finish_non_exhaustive()
    }
}

impl<'a> GrantStore<'a> {
    pub fn new(flow: &'a dyn FlowStore, clock: &'a dyn Clock) -> Self {
        Self { flow, clock }
    }

    fn now(&self) -> DateTime<Utc> {
        self.clock.now()
    }

    async fn get_json<T: DeserializeOwned>(&self, ns: &str, key: &str) -> Result<Option<T>> {
        match self.flow.get(ns, key).await? {
            Some(raw) => serde_json::from_slice(&raw)
                .map(Some)
                .map_err(|e| GrantError::Corrupt(format!("a record in {ns}: {e}"))),
            None => Ok(None),
        }
    }

    async fn put_json<T: Serialize>(
        &self,
        ns: &'static str,
        key: &str,
        value: &T,
        ttl: Duration,
    ) -> Result<()> {
        let w = Write::json(ns, key.to_owned(), value, ttl)?;
        Ok(self.flow.put(w.ns, &w.key, &w.value, w.ttl).await?)
    }

    /// Spends the live entry `(ns, key)` and stores every one of `writes`, in one atomic step;
    /// `false` (and nothing written) when the entry was spent already or has expired.
    async fn commit(&self, ns: &str, key: &str, writes: &[Write]) -> Result<bool> {
        let puts: Vec<FlowPut<'_>> = writes
            .iter()
            .map(|w| FlowPut {
                ns: w.ns,
                key: &w.key,
                value: &w.value,
                ttl: w.ttl,
            })
            .collect();
        Ok(self.flow.swap(ns, key, &puts).await?)
    }

    // ---- token families ----

    /// The family `id`, while it is alive (not revoked, not past its portal session's end).
    pub async fn family(&self, id: &str) -> Result<Option<FamilyRecord>> {
        self.get_json(FAMILY_NS, id).await
    }

    /// Revokes every token of the family `id` (nothing when it is gone already).
    pub async fn revoke_family(&self, id: &str) -> Result<()> {
        tracing::info!(family = %id, "revoking a token family");
        Ok(self.flow.delete(FAMILY_NS, id).await?)
    }

    // ---- authorization codes (RFC 6749 §4.1) ----

    /// Stores a new authorization code for `ttl`.
    pub async fn issue_code(&self, code: &str, record: &CodeRecord, ttl: Duration) -> Result<()> {
        self.put_json(CODE_NS, &key_of(code), record, ttl).await
    }

    /// The code, without spending it (it is spent only by [`redeem_code`](Self::redeem_code)).
    /// A code that was redeemed before is being presented again: the family its first
    /// redemption created is revoked, and the answer is [`CodeState::Replayed`].
    pub async fn code(&self, code: &str) -> Result<CodeState> {
        let key = key_of(code);
        match self.get_json::<CodeRecord>(CODE_NS, &key).await? {
            Some(record) => Ok(CodeState::Waiting(Box::new(record))),
            None => self.not_waiting(&key).await,
        }
    }

    /// Redeems the code into `family`: spends it and stores `writes` (the family, its tokens)
    /// in one atomic step, all or nothing. Of two redemptions at once exactly one is
    /// [`Redemption::Redeemed`]; the other is a second use of the code, so it revokes the
    /// winner's family, as [`code`](Self::code) does, and writes nothing.
    pub async fn redeem_code(
        &self,
        code: &str,
        family: &str,
        writes: &[Write],
    ) -> Result<Redemption> {
        let key = key_of(code);
        let mut writes = writes.to_vec();
        writes.push(Write {
            ns: CODE_USED_NS,
            key: key.clone(),
            value: family.as_bytes().to_vec(),
            ttl: USED_CODE_MEMORY,
        });
        if self.commit(CODE_NS, &key, &writes).await? {
            return Ok(Redemption::Redeemed);
        }
        Ok(match self.not_waiting(&key).await? {
            CodeState::Replayed => Redemption::Replayed,
            _ => Redemption::Unknown,
        })
    }

    async fn not_waiting(&self, key: &str) -> Result<CodeState> {
        let Some(family) = self.flow.get(CODE_USED_NS, key).await? else {
            return Ok(CodeState::Unknown);
        };
        tracing::warn!("an authorization code was presented twice; revoking its tokens");
        self.revoke_family(&String::from_utf8_lossy(&family))
            .await?;
        Ok(CodeState::Replayed)
    }

    // ---- revoked access tokens (RFC 7009) ----

    /// Marks an access token's `jti` revoked until it would have expired anyway.
    pub async fn revoke_jti(&self, jti: &str, until_: DateTime<Utc>) -> Result<()> {
        let ttl = until(self.now(), until_, Duration::ZERO);
        if ttl.is_zero() {
            return Ok(());
        }
        Ok(self.flow.put(REVOKED_NS, jti, b"1", ttl).await?)
    }

    /// Whether the `jti` was revoked (and the token would not have expired yet).
    pub async fn is_jti_revoked(&self, jti: &str) -> Result<bool> {
        Ok(self.flow.get(REVOKED_NS, jti).await?.is_some())
    }
}

/// Where a presented authorization code stands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CodeState {
    /// Issued and not yet redeemed.
    Waiting(Box<CodeRecord>),
    /// Redeemed before: this presentation revoked what the redemption issued.
    Replayed,
    /// Never issued, or expired.
    Unknown,
}

/// What a [`GrantStore::redeem_code`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Redemption {
    /// The code is spent and the writes are stored.
    Redeemed,
    /// Another redemption won: the family it created is revoked, nothing was written.
    Replayed,
    /// The code had expired (or never existed): nothing was written.
    Unknown,
}
