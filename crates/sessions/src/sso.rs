//! The SSO-OIDC API's opaque access tokens, shared by the identity provider (which issues them)
//! and the credential broker (whose portal API accepts them). A token is stored under the hex
//! SHA-256 of its value; it is alive while its record, its token family and its portal session
//! all are.

use chrono::{DateTime, Utc};
use portcullis_domain::UserId;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::{Result, SessionId, Sessions};

/// Namespace of SSO-OIDC access tokens.
pub const ACCESS_NS: &str = "sso-access";
/// Namespace of token families (one per grant; deleting one revokes its tokens).
pub const FAMILY_NS: &str = "oidc-family";

/// An SSO-OIDC access token as stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SsoAccess {
    pub user_id: UserId,
    pub session_id: SessionId,
    pub client_id: String,
    pub scopes: Vec<String>,
    /// The token family it belongs to.
    pub family: String,
    pub expires_at: DateTime<Utc>,
}

/// The store key of a secret value.
pub fn key_of(secret: &str) -> String {
    hex::encode(Sha256::digest(secret.as_bytes()))
}

/// Stores an access token for `ttl`.
pub async fn put_access(
    store: &dyn Sessions,
    token: &str,
    access: &SsoAccess,
    ttl: std::time::Duration,
) -> Result<()> {
    let body =
        serde_json::to_vec(access).map_err(|e| crate::SessionError::Corrupt(e.to_string()))?;
    store.put(ACCESS_NS, &key_of(token), &body, ttl).await
}

/// The live access token `token`, or `None` when unknown, expired, revoked, or when its portal
/// session has ended.
pub async fn live_access(
    store: &dyn Sessions,
    token: &str,
    now: DateTime<Utc>,
) -> Result<Option<SsoAccess>> {
    Ok(checked_access(store, token, now, None)
        .await?
        .map(|(access, _)| access))
}

/// A request budget: a counter per token in `ns`, over windows of `window`.
#[derive(Debug, Clone, Copy)]
pub struct Budget<'a> {
    pub ns: &'a str,
    pub window: std::time::Duration,
}

/// As [`live_access`], also counting this request against the token's `budget` (in the same
/// round trip as the family and session checks); returns the count so far in the window. A
/// token that does not exist counts nothing, so unknown tokens cannot fill the store.
pub async fn live_access_counted(
    store: &dyn Sessions,
    token: &str,
    now: DateTime<Utc>,
    budget: Budget<'_>,
) -> Result<Option<(SsoAccess, u64)>> {
    Ok(checked_access(store, token, now, Some(budget))
        .await?
        .map(|(access, count)| (access, count.unwrap_or(0))))
}

async fn checked_access(
    store: &dyn Sessions,
    token: &str,
    now: DateTime<Utc>,
    budget: Option<Budget<'_>>,
) -> Result<Option<(SsoAccess, Option<u64>)>> {
    let key = key_of(token);
    let Some(raw) = store.get(ACCESS_NS, &key).await? else {
        return Ok(None);
    };
    let Ok(access) = serde_json::from_slice::<SsoAccess>(&raw) else {
        return Ok(None);
    };
    if access.expires_at <= now {
        return Ok(None);
    }
    // Independent lookups, in flight together (one round trip on a shared connection).
    let count = async {
        match budget {
            Some(b) => store.increment(b.ns, &key, b.window).await.map(Some),
            None => Ok(None),
        }
    };
    let (family, session, count) = tokio::join!(
        store.get(FAMILY_NS, &access.family),
        store.get_session_by_id(&access.session_id),
        count
    );
    let live = family?.is_some() && session?.is_some_and(|s| s.user_id == access.user_id);
    let count = count?;
    Ok(live.then_some((access, count)))
}
