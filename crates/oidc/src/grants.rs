//! What a person authorized, and the artefacts that carry it: authorization codes, token
//! families, refresh tokens, revoked access tokens, and the SSO-OIDC API's opaque access tokens.
//! They live in the grant store ([`portcullis_sessions::grants`]), whose contract states the
//! rules (single use, reuse revokes the family); this module adds what needs more than the
//! store — the portal session and the person behind a grant. See docs/design/oidc.md.

use std::time::Duration;

use chrono::{DateTime, Utc};
use portcullis_domain::UserId;
use portcullis_sessions::grants::{GrantStore, Redemption};
use portcullis_sessions::{PortalSession, SessionId};
use serde::Serialize;
use serde::de::DeserializeOwned;

use super::error::OAuthError;
use crate::Oidc;

pub use portcullis_sessions::grants::{
    CodeRecord, CodeState, FAMILY_NS, FamilyRecord, Grant, RefreshRecord, Write as Pending, key_of,
};

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

    /// The grant store, over the configured session backend and clock.
    pub(crate) fn grants(&self) -> GrantStore<'_> {
        GrantStore::new(&*self.auth.sessions, &*self.auth.clock)
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
        let mut writes = vec![Pending::family(&family, &record, ttl)?];
        if client.needs_consent() {
            writes.push(
                self.index_family(grant.user_id, &client.id, &family, ttl)
                    .await?,
            );
        }
        Ok((family, writes))
    }

    /// The family and its portal session, when both are alive.
    pub async fn live_family(
        &self,
        family: &str,
    ) -> Result<Option<(FamilyRecord, PortalSession)>, OAuthError> {
        let Some(record) = self.grants().family(family).await? else {
            return Ok(None);
        };
        let session = self
            .live_session(record.user_id, &record.session_id)
            .await?;
        Ok(session.map(|s| (record, s)))
    }

    /// Revokes every token of a family.
    pub async fn revoke_family(&self, family: &str) -> Result<(), OAuthError> {
        Ok(self.grants().revoke_family(family).await?)
    }

    /// Stores a new authorization code; returns the code.
    pub async fn issue_code(&self, record: &CodeRecord) -> Result<String, OAuthError> {
        let code = portcullis_auth::web::random_token(32);
        self.grants()
            .issue_code(&code, record, self.config.code_lifetime)
            .await?;
        Ok(code)
    }

    /// The code waiting to be redeemed, without spending it: it is spent only by
    /// [`redeem_code`](Self::redeem_code), with the tokens it grants. A code presented a second
    /// time revokes what the first redemption issued (RFC 6749 §4.1.2).
    pub(crate) async fn waiting_code(&self, code: &str) -> Result<CodeRecord, OAuthError> {
        match self.grants().code(code).await? {
            CodeState::Waiting(record) => Ok(*record),
            CodeState::Replayed | CodeState::Unknown => Err(code_not_waiting()),
        }
    }

    /// Spends the code into `family` together with `writes`, or not at all (another request
    /// won, or it expired): a request that fails before this point changes nothing, so the
    /// client's retry finds its code still there.
    pub(crate) async fn redeem_code(
        &self,
        code: &str,
        family: &str,
        writes: &[Pending],
    ) -> Result<(), OAuthError> {
        match self.grants().redeem_code(code, family, writes).await? {
            Redemption::Redeemed => Ok(()),
            Redemption::Replayed | Redemption::Unknown => Err(code_not_waiting()),
        }
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
        let write = Pending::refresh(&token, &record, ttl)?;
        Ok((token, write))
    }

    /// A live refresh token, without consuming it (introspection, revocation).
    pub async fn peek_refresh(&self, token: &str) -> Result<Option<RefreshRecord>, OAuthError> {
        Ok(self.grants().refresh(token).await?)
    }

    pub async fn delete_refresh(&self, token: &str) -> Result<(), OAuthError> {
        Ok(self.grants().delete_refresh(token).await?)
    }

    /// Marks an access token's `jti` revoked until it would have expired anyway.
    pub async fn revoke_jti(&self, jti: &str, until: DateTime<Utc>) -> Result<(), OAuthError> {
        Ok(self.grants().revoke_jti(jti, until).await?)
    }

    pub async fn is_jti_revoked(&self, jti: &str) -> Result<bool, OAuthError> {
        Ok(self.grants().is_jti_revoked(jti).await?)
    }
}

fn code_not_waiting() -> OAuthError {
    OAuthError::invalid_grant("the authorization code is invalid, expired or already used")
}
