//! What a person authorized, and the artefacts that carry it: authorization codes, token
//! families, refresh tokens, revoked access tokens, and the SSO-OIDC API's opaque access tokens.
//! All live in the session store, keyed by the SHA-256 of the secret value; see
//! docs/design/oidc.md.

use std::time::Duration;

use chrono::{DateTime, Utc};
use portcullis_domain::UserId;
use portcullis_sessions::{FlowPut, PortalSession, SessionId};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use super::error::OAuthError;
use crate::Oidc;

pub const CODE_NS: &str = "oidc-code";
pub const CODE_USED_NS: &str = "oidc-code-used";
pub use portcullis_sessions::sso::FAMILY_NS;
pub const REFRESH_NS: &str = "oidc-refresh";
pub const REFRESH_USED_NS: &str = "oidc-refresh-used";
pub const REVOKED_NS: &str = "oidc-revoked";

/// How long a redeemed code is remembered, to catch (and punish) a second redemption.
const USED_CODE_MEMORY: Duration = Duration::from_secs(600);

/// A write that takes effect only with the exchange that commits it ([`Oidc::commit`]).
#[derive(Debug)]
pub struct Pending {
    pub ns: &'static str,
    pub key: String,
    pub value: Vec<u8>,
    pub ttl: Duration,
}

impl Pending {
    pub fn json<T: Serialize>(
        ns: &'static str,
        key: String,
        value: &T,
        ttl: Duration,
    ) -> Result<Self, OAuthError> {
        let value = serde_json::to_vec(value).map_err(|_| OAuthError::unavailable())?;
        Ok(Self {
            ns,
            key,
            value,
            ttl,
        })
    }
}

/// The hex SHA-256 of a secret value: its key in the session store.
pub fn key_of(secret: &str) -> String {
    portcullis_sessions::sso::key_of(secret)
}

/// A person's authorization of a client: what every code, refresh token and device approval
/// carries.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Grant {
    pub user_id: UserId,
    pub session_id: SessionId,
    pub client_id: String,
    pub scopes: Vec<String>,
    pub auth_time: DateTime<Utc>,
    pub amr: Vec<String>,
    pub nonce: Option<String>,
}

impl Grant {
    pub fn has_scope(&self, scope: &str) -> bool {
        self.scopes.iter().any(|s| s == scope)
    }
    pub fn scope_string(&self) -> String {
        self.scopes.join(" ")
    }
}

/// An authorization code waiting to be redeemed.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CodeRecord {
    pub grant: Grant,
    pub redirect_uri: String,
    /// Whether the authorization request named `redirect_uri` (it may be left out when exactly
    /// one is registered); if it did, the token request must repeat it (RFC 6749 §4.1.3).
    #[serde(default = "yes")]
    pub redirect_uri_presented: bool,
    pub code_challenge: Option<String>,
}

fn yes() -> bool {
    true
}

/// One grant's token family: deleting it revokes every token that came from the grant.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct FamilyRecord {
    pub user_id: UserId,
    pub session_id: SessionId,
    pub client_id: String,
}

/// A live refresh token.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RefreshRecord {
    pub grant: Grant,
    pub family: String,
    pub expires_at: DateTime<Utc>,
}

impl Oidc {
    pub(crate) async fn put_json<T: Serialize>(
        &self,
        ns: &str,
        key: &str,
        value: &T,
        ttl: Duration,
    ) -> Result<(), OAuthError> {
        let body = serde_json::to_vec(value).map_err(|_| OAuthError::unavailable())?;
        Ok(self.auth.sessions.put(ns, key, &body, ttl).await?)
    }

    pub(crate) async fn get_json<T: DeserializeOwned>(
        &self,
        ns: &str,
        key: &str,
    ) -> Result<Option<T>, OAuthError> {
        let raw = self.auth.sessions.get(ns, key).await?;
        Ok(raw.and_then(|r| serde_json::from_slice(&r).ok()))
    }

    pub(crate) async fn take_json<T: DeserializeOwned>(
        &self,
        ns: &str,
        key: &str,
    ) -> Result<Option<T>, OAuthError> {
        let raw = self.auth.sessions.take(ns, key).await?;
        Ok(raw.and_then(|r| serde_json::from_slice(&r).ok()))
    }

    /// The portal session a grant belongs to, if it is still live and its person enabled.
    pub async fn live_session(
        &self,
        user: UserId,
        session: &SessionId,
    ) -> Result<Option<PortalSession>, OAuthError> {
        let Some(found) = self
            .auth
            .sessions
            .get_session_by_id(session)
            .await?
            .filter(|s| s.user_id == user)
        else {
            return Ok(None);
        };
        let live =
            portcullis_auth::principal::live_user(self.auth.directory.as_ref(), user).await?;
        Ok(live.map(|_| found))
    }

    /// Time left in a session, as a TTL for what depends on it.
    pub fn remaining(&self, session: &PortalSession) -> Duration {
        (session.expires_at - self.auth.clock.now())
            .to_std()
            .unwrap_or(Duration::ZERO)
    }

    /// A new token family for a grant of `client`, as writes to commit with the exchange that
    /// creates it; it dies with the portal session (and, for a client people consent to, with the
    /// consent).
    pub(crate) async fn new_family(
        &self,
        client: &super::clients::Client,
        grant: &Grant,
        session: &PortalSession,
    ) -> Result<(String, Vec<Pending>), OAuthError> {
        let family = portcullis_auth::web::random_token(16);
        let record = FamilyRecord {
            user_id: grant.user_id,
            session_id: grant.session_id.clone(),
            client_id: grant.client_id.clone(),
        };
        let ttl = self.remaining(session);
        let mut writes = vec![Pending::json(FAMILY_NS, family.clone(), &record, ttl)?];
        if client.needs_consent() {
            writes.push(
                self.index_family(grant.user_id, &client.id, &family, ttl)
                    .await?,
            );
        }
        Ok((family, writes))
    }

    /// Commits `writes` in one atomic step with spending the single-use entry `(ns, key)`: all of
    /// them or none. `false` (and nothing written) when the entry was spent already — by another
    /// request that won — or has expired. A request that fails before this point changes
    /// nothing, so the client's retry finds its code or refresh token still there.
    pub(crate) async fn commit(
        &self,
        ns: &str,
        key: &str,
        writes: &[Pending],
    ) -> Result<bool, OAuthError> {
        let puts: Vec<FlowPut<'_>> = writes
            .iter()
            .map(|w| FlowPut {
                ns: w.ns,
                key: &w.key,
                value: &w.value,
                ttl: w.ttl,
            })
            .collect();
        Ok(self.auth.sessions.swap(ns, key, &puts).await?)
    }

    /// The family and its portal session, when both are alive.
    pub async fn live_family(
        &self,
        family: &str,
    ) -> Result<Option<(FamilyRecord, PortalSession)>, OAuthError> {
        let Some(record) = self.get_json::<FamilyRecord>(FAMILY_NS, family).await? else {
            return Ok(None);
        };
        let session = self
            .live_session(record.user_id, &record.session_id)
            .await?;
        Ok(session.map(|s| (record, s)))
    }

    /// Revokes every token of a family.
    pub async fn revoke_family(&self, family: &str) -> Result<(), OAuthError> {
        tracing::info!(family = %family, "revoking a token family");
        Ok(self.auth.sessions.delete(FAMILY_NS, family).await?)
    }

    /// Stores a new authorization code; returns the code.
    pub async fn issue_code(&self, record: &CodeRecord) -> Result<String, OAuthError> {
        let code = portcullis_auth::web::random_token(32);
        self.put_json(CODE_NS, &key_of(&code), record, self.config.code_lifetime)
            .await?;
        Ok(code)
    }

    /// The code waiting under `key`, without spending it: it is spent only by the [`commit`]
    /// that issues its tokens.
    ///
    /// [`commit`]: Oidc::commit
    pub(crate) async fn waiting_code(&self, key: &str) -> Result<Option<CodeRecord>, OAuthError> {
        self.get_json(CODE_NS, key).await
    }

    /// What remembers that the code under `key` was redeemed into `family` (to catch a second
    /// redemption); committed with the tokens.
    pub(crate) fn code_spent(&self, key: &str, family: &str) -> Pending {
        Pending {
            ns: CODE_USED_NS,
            key: key.to_owned(),
            value: family.as_bytes().to_vec(),
            ttl: USED_CODE_MEMORY,
        }
    }

    /// A code that is not (or no longer) waiting: when it was redeemed before, this second
    /// redemption revokes what the first one issued (RFC 6749 §4.1.2).
    pub(crate) async fn code_not_waiting(&self, key: &str) -> OAuthError {
        match self.auth.sessions.get(CODE_USED_NS, key).await {
            Ok(Some(family)) => {
                tracing::warn!("an authorization code was presented twice; revoking its tokens");
                if let Err(e) = self.revoke_family(&String::from_utf8_lossy(&family)).await {
                    return e;
                }
            }
            Ok(None) => {}
            Err(e) => return e.into(),
        }
        OAuthError::invalid_grant("the authorization code is invalid, expired or already used")
    }

    /// A refresh token for the family, as a write to commit with the exchange that issues it; it
    /// lives for the client's refresh lifetime, never beyond the portal session.
    pub(crate) fn new_refresh(
        &self,
        grant: &Grant,
        family: &str,
        session: &PortalSession,
        lifetime: Duration,
    ) -> Result<(String, Pending), OAuthError> {
        let ttl = lifetime.min(self.remaining(session));
        let token = portcullis_auth::web::random_token(32);
        let record = RefreshRecord {
            grant: grant.clone(),
            family: family.to_owned(),
            expires_at: self.auth.clock.now() + chrono::Duration::from_std(ttl).unwrap_or_default(),
        };
        let write = Pending::json(REFRESH_NS, key_of(&token), &record, ttl)?;
        Ok((token, write))
    }

    /// A live refresh token, without consuming it (introspection, revocation).
    pub async fn peek_refresh(&self, token: &str) -> Result<Option<RefreshRecord>, OAuthError> {
        self.get_json(REFRESH_NS, &key_of(token)).await
    }

    pub async fn delete_refresh(&self, token: &str) -> Result<(), OAuthError> {
        Ok(self
            .auth
            .sessions
            .delete(REFRESH_NS, &key_of(token))
            .await?)
    }

    /// Marks an access token's `jti` revoked until it would have expired anyway.
    pub async fn revoke_jti(&self, jti: &str, until: DateTime<Utc>) -> Result<(), OAuthError> {
        let ttl = (until - self.auth.clock.now())
            .to_std()
            .unwrap_or(Duration::ZERO);
        if ttl.is_zero() {
            return Ok(());
        }
        Ok(self.auth.sessions.put(REVOKED_NS, jti, b"1", ttl).await?)
    }

    pub async fn is_jti_revoked(&self, jti: &str) -> Result<bool, OAuthError> {
        Ok(self.auth.sessions.get(REVOKED_NS, jti).await?.is_some())
    }
}
