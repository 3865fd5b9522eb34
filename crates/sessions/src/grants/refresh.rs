//! Refresh tokens (RFC 6749 §6) with rotation: each use exchanges the token for its successors in
//! one atomic step, and the rotated token leaves a note behind until it would have expired, so a
//! second presentation is recognised — as the same client's retry within the grace window, or as
//! reuse, which revokes the family (RFC 9700 §4.14.2).

use std::time::Duration;

use super::records::Rotated;
use super::{GrantStore, REFRESH_NS, REFRESH_USED_NS, RefreshRecord, Result, Write, key_of, until};

/// Where a refresh token that is no longer live stands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Spent {
    /// Never issued, expired, or deleted by revocation: nothing to do.
    Unknown,
    /// Rotated within the grace window by the same client, and its family is alive: the answer
    /// that rotation gave (sealed as the caller sealed it), to give again.
    Retry { family: String, answer: Vec<u8> },
    /// Rotated before, and presented again outside the grace window or by another client (or
    /// after its family ended): reuse. The family is now revoked.
    Revoked,
}

impl GrantStore<'_> {
    /// The live refresh token, without spending it (introspection, revocation, a rotation about
    /// to happen).
    pub async fn refresh(&self, token: &str) -> Result<Option<RefreshRecord>> {
        self.get_json(REFRESH_NS, &key_of(token)).await
    }

    /// Deletes a live refresh token (it then finds nothing: [`Spent::Unknown`]).
    pub async fn delete_refresh(&self, token: &str) -> Result<()> {
        Ok(self.flow.delete(REFRESH_NS, &key_of(token)).await?)
    }

    /// Rotates `token` (whose live record is `record`): spends it and stores `writes` (its
    /// successors) and a note of the rotation holding `answer`, all in one atomic step. `false`,
    /// and nothing written, when another rotation spent it first: ask [`spent_refresh`] then.
    ///
    /// [`spent_refresh`]: Self::spent_refresh
    pub async fn rotate_refresh(
        &self,
        token: &str,
        record: &RefreshRecord,
        answer: Vec<u8>,
        writes: &[Write],
    ) -> Result<bool> {
        let key = key_of(token);
        let now = self.now();
        let rotated = Rotated {
            family: record.family.clone(),
            client_id: record.grant.client_id.clone(),
            user_id: record.grant.user_id,
            rotated_at: now,
            answer,
        };
        let remembered = until(now, record.expires_at, Duration::from_secs(1));
        let mut writes = writes.to_vec();
        writes.push(Write::json(
            REFRESH_USED_NS,
            key.clone(),
            &rotated,
            remembered,
        )?);
        self.commit(REFRESH_NS, &key, &writes).await
    }

    /// A refresh token that is not live, presented by `client_id`. Rotated no more than `grace`
    /// ago by the same client, its family alive: [`Spent::Retry`]. Otherwise, if it was ever
    /// rotated, this is reuse: its family is revoked ([`Spent::Revoked`]).
    pub async fn spent_refresh(
        &self,
        token: &str,
        client_id: &str,
        grace: Duration,
    ) -> Result<Spent> {
        let key = key_of(token);
        let Some(raw) = self.flow.get(REFRESH_USED_NS, &key).await? else {
            return Ok(Spent::Unknown);
        };
        let Ok(rotated) = serde_json::from_slice::<Rotated>(&raw) else {
            // A note from before answers were kept: the family id itself.
            self.revoke_reused(&String::from_utf8_lossy(&raw)).await?;
            return Ok(Spent::Revoked);
        };
        let grace = chrono::Duration::from_std(grace).unwrap_or(chrono::Duration::zero());
        let within = self.now() - rotated.rotated_at <= grace;
        if within && rotated.client_id == client_id && self.family(&rotated.family).await?.is_some()
        {
            tracing::info!(client = %client_id, "a refresh was retried within the grace window");
            return Ok(Spent::Retry {
                family: rotated.family,
                answer: rotated.answer,
            });
        }
        self.revoke_reused(&rotated.family).await?;
        Ok(Spent::Revoked)
    }

    /// Revokes the family of a rotated refresh token presented again.
    pub async fn revoke_reused(&self, family: &str) -> Result<()> {
        tracing::warn!("a rotated refresh token was presented again; revoking its family");
        self.revoke_family(family).await
    }
}
