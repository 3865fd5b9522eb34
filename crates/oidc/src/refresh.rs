//! The refresh-token grant (RFC 6749 §6) with rotation: each use exchanges the token for a new
//! one in one atomic step ([`Oidc::commit`]) that writes the new tokens and spends the old token
//! together, so a request that fails half-way — a store going away — changes nothing and the
//! client's retry works.
//!
//! A request whose rotation did commit but whose answer never reached the client (the connection
//! dropped) can be retried with the same old token for `oidc.refresh_grace_seconds`: the retry
//! gets the *same* new tokens, sealed at rotation under a key only the old token opens (nothing
//! readable is stored). After the grace window, or from another client, presenting a rotated
//! token is reuse: the whole token family is revoked, as before.

use chrono::{DateTime, Utc};
use portcullis_domain::UserId;
use serde::{Deserialize, Serialize};

use super::clients::Client;
use super::error::OAuthError;
use super::grants::{Pending, REFRESH_NS, REFRESH_USED_NS, RefreshRecord, key_of};
use super::token::TokenRequest;
use super::tokens::IssuedTokens;
use crate::Oidc;
use portcullis_auth::seal::SecretBox;

/// What a rotated refresh token leaves behind until it would have expired.
#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Rotated {
    family: String,
    client_id: String,
    user_id: UserId,
    rotated_at: DateTime<Utc>,
    /// The answer the rotation gave, sealed under a key derived from the old token.
    answer: Vec<u8>,
}

impl Oidc {
    /// The box that seals the answer to a rotation of `token`: its key is derived from the
    /// server's key and the token, so only someone presenting the token opens it.
    fn answer_box(&self, token: &str) -> SecretBox {
        SecretBox::new(&portcullis_auth::derive::derive(
            &self.answer_key,
            token.as_bytes(),
        ))
    }

    pub(super) async fn refresh_grant(
        &self,
        client: &Client,
        request: TokenRequest,
        opaque: bool,
    ) -> Result<IssuedTokens, OAuthError> {
        let Some(token) = request.refresh_token else {
            return Err(OAuthError::invalid_request("refresh_token is required"));
        };
        let key = key_of(&token);
        let Some(record) = self.get_json::<RefreshRecord>(REFRESH_NS, &key).await? else {
            return self.rotated_before(client, &token, &key).await;
        };
        if record.grant.client_id != client.id {
            return Err(OAuthError::invalid_grant(
                "the refresh token was issued to another client",
            ));
        }
        let Some((_, session)) = self.live_family(&record.family).await? else {
            return Err(OAuthError::invalid_grant(
                "the refresh token was revoked, or its portal session ended",
            ));
        };
        let mut grant = record.grant.clone();
        if let Some(asked) = request.scope {
            if let Some(extra) = asked.iter().find(|s| !grant.has_scope(s)) {
                return Err(OAuthError::invalid_scope(format!(
                    "scope {extra} was not granted originally"
                )));
            }
            grant.scopes = asked;
        }
        let (tokens, mut writes) = self
            .prepare_user_tokens(client, &grant, &record.family, &session, opaque)
            .await?;
        let answer = serde_json::to_vec(&tokens).map_err(|_| OAuthError::unavailable())?;
        let rotated = Rotated {
            family: record.family.clone(),
            client_id: client.id.clone(),
            user_id: grant.user_id,
            rotated_at: self.auth.clock.now(),
            answer: self.answer_box(&token).seal(&answer, key.as_bytes()),
        };
        let remembered = (record.expires_at - self.auth.clock.now())
            .to_std()
            .unwrap_or(std::time::Duration::from_secs(1));
        writes.push(Pending::json(
            REFRESH_USED_NS,
            key.clone(),
            &rotated,
            remembered,
        )?);
        if !self.commit(REFRESH_NS, &key, &writes).await? {
            // Another request rotated it first (perhaps this client's own retry).
            return self.rotated_before(client, &token, &key).await;
        }
        Ok(tokens)
    }

    /// A refresh token that is not (or no longer) live. Rotated within the grace window by the
    /// same client, and its family still live: the same answer again. Otherwise, if it was ever
    /// rotated, this is reuse and the family is revoked.
    async fn rotated_before(
        &self,
        client: &Client,
        token: &str,
        key: &str,
    ) -> Result<IssuedTokens, OAuthError> {
        let invalid =
            || OAuthError::invalid_grant("the refresh token is invalid, expired or revoked");
        let Some(raw) = self.auth.sessions.get(REFRESH_USED_NS, key).await? else {
            return Err(invalid());
        };
        let Ok(rotated) = serde_json::from_slice::<Rotated>(&raw) else {
            // A note from before answers were kept: the family id itself.
            self.revoke_reused(&String::from_utf8_lossy(&raw)).await?;
            return Err(invalid());
        };
        let grace = chrono::Duration::from_std(self.config.refresh_grace)
            .unwrap_or(chrono::Duration::zero());
        let within = self.auth.clock.now() - rotated.rotated_at <= grace;
        if within && rotated.client_id == client.id {
            let opened = self
                .answer_box(token)
                .open(&rotated.answer, key.as_bytes())
                .ok()
                .and_then(|a| serde_json::from_slice::<IssuedTokens>(&a).ok());
            if let Some(answer) = opened
                && self.live_family(&rotated.family).await?.is_some()
            {
                tracing::info!(client = %client.id, "a refresh was retried within the grace window; answered as before");
                return Ok(answer);
            }
        }
        self.revoke_reused(&rotated.family).await?;
        Err(invalid())
    }

    async fn revoke_reused(&self, family: &str) -> Result<(), OAuthError> {
        tracing::warn!("a rotated refresh token was presented again; revoking its family");
        self.revoke_family(family).await
    }
}
