//! The refresh-token grant (RFC 6749 §6) with rotation: each use exchanges the token for a new
//! one in one atomic step (`GrantStore::rotate_refresh`) that writes the new tokens and spends the old token
//! together, so a request that fails half-way — a store going away — changes nothing and the
//! client's retry works.
//!
//! A request whose rotation did commit but whose answer never reached the client (the connection
//! dropped) can be retried with the same old token for `oidc.refresh_grace_seconds`: the retry
//! gets the *same* new tokens, sealed at rotation under a key only the old token opens (nothing
//! readable is stored). After the grace window, or from another client, presenting a rotated
//! token is reuse: the whole token family is revoked, as before.

use portcullis_sessions::grants::Spent;

use super::clients::Client;
use super::error::OAuthError;
use super::grants::key_of;
use super::token::TokenRequest;
use super::tokens::IssuedTokens;
use crate::Oidc;
use portcullis_auth::seal::SecretBox;

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
        let Some(record) = self.grants().refresh(&token).await? else {
            return self.rotated_before(client, &token).await;
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
        let (tokens, writes) = self
            .prepare_user_tokens(client, &grant, &record.family, &session, opaque)
            .await?;
        let answer = serde_json::to_vec(&tokens).map_err(|_| OAuthError::unavailable())?;
        let sealed = self
            .answer_box(&token)
            .seal(&answer, key_of(&token).as_bytes());
        if !self
            .grants()
            .rotate_refresh(&token, &record, sealed, &writes)
            .await?
        {
            // Another request rotated it first (perhaps this client's own retry).
            return self.rotated_before(client, &token).await;
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
    ) -> Result<IssuedTokens, OAuthError> {
        let invalid =
            || OAuthError::invalid_grant("the refresh token is invalid, expired or revoked");
        let grants = self.grants();
        let Spent::Retry { family, answer } = grants
            .spent_refresh(token, &client.id, self.config.refresh_grace)
            .await?
        else {
            return Err(invalid());
        };
        let opened = self
            .answer_box(token)
            .open(&answer, key_of(token).as_bytes())
            .ok()
            .and_then(|a| serde_json::from_slice::<IssuedTokens>(&a).ok());
        if let Some(answer) = opened
            && self.live_family(&family).await?.is_some()
        {
            tracing::info!(client = %client.id, "a refresh was retried within the grace window; answered as before");
            return Ok(answer);
        }
        grants.revoke_reused(&family).await?;
        Err(invalid())
    }
}
