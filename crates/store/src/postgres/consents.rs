//! People's consents to OIDC clients in PostgreSQL.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use portcullis_domain::{Actor, Consent, UserId};
use tokio_postgres::Row;

use super::{PostgresDirectory, col, execute, insert_audit, millis, pg_err, query, query_opt};
use crate::{ConsentStore, Result, StoreError, events};

const COLS: &str = "user_id, client_id, client_name, scopes, granted_at, expires_at";

fn consent_row(r: &Row) -> Result<Consent> {
    let scopes: String = col(r, "scopes")?;
    Ok(Consent {
        user_id: UserId::from_uuid(col(r, "user_id")?),
        client_id: col(r, "client_id")?,
        client_name: col(r, "client_name")?,
        scopes: scopes
            .split(' ')
            .filter(|s| !s.is_empty())
            .map(str::to_owned)
            .collect(),
        granted_at: col(r, "granted_at")?,
        expires_at: col(r, "expires_at")?,
    })
}

#[async_trait]
impl ConsentStore for PostgresDirectory {
    async fn grant_consent(&self, actor: Actor, mut consent: Consent) -> Result<Consent> {
        consent.scopes.sort();
        consent.scopes.dedup();
        consent.granted_at = millis(consent.granted_at);
        consent.expires_at = consent.expires_at.map(millis);
        let mut client = self.client().await?;
        let tx = client.transaction().await.map_err(pg_err)?;
        execute(
            &tx,
            "INSERT INTO oidc_consents (user_id, client_id, client_name, scopes, granted_at, \
             expires_at) VALUES ($1, $2, $3, $4, $5, $6) \
             ON CONFLICT (user_id, client_id) DO UPDATE SET client_name = excluded.client_name, \
             scopes = excluded.scopes, granted_at = excluded.granted_at, \
             expires_at = excluded.expires_at",
            &[
                &consent.user_id.as_uuid(),
                &consent.client_id,
                &consent.client_name,
                &consent.scopes.join(" "),
                &consent.granted_at,
                &consent.expires_at,
            ],
        )
        .await?;
        insert_audit(
            &tx,
            &events::consent(actor, "grant", consent.user_id, &consent.client_id),
        )
        .await?;
        tx.commit().await.map_err(pg_err)?;
        Ok(consent)
    }

    async fn get_consent(
        &self,
        user: UserId,
        client_id: &str,
        now: DateTime<Utc>,
    ) -> Result<Option<Consent>> {
        let client = self.client().await?;
        query_opt(
            &client,
            &format!(
                "SELECT {COLS} FROM oidc_consents WHERE user_id = $1 AND client_id = $2 \
                 AND (expires_at IS NULL OR expires_at > $3)"
            ),
            &[&user.as_uuid(), &client_id, &now],
        )
        .await?
        .as_ref()
        .map(consent_row)
        .transpose()
    }

    async fn list_consents(&self, user: UserId, now: DateTime<Utc>) -> Result<Vec<Consent>> {
        let client = self.client().await?;
        query(
            &client,
            &format!(
                "SELECT {COLS} FROM oidc_consents WHERE user_id = $1 \
                 AND (expires_at IS NULL OR expires_at > $2) \
                 ORDER BY granted_at DESC, client_id"
            ),
            &[&user.as_uuid(), &now],
        )
        .await?
        .iter()
        .map(consent_row)
        .collect()
    }

    async fn revoke_consent(&self, actor: Actor, user: UserId, client_id: &str) -> Result<()> {
        let mut client = self.client().await?;
        let tx = client.transaction().await.map_err(pg_err)?;
        let n = execute(
            &tx,
            "DELETE FROM oidc_consents WHERE user_id = $1 AND client_id = $2",
            &[&user.as_uuid(), &client_id],
        )
        .await?;
        if n == 0 {
            return Err(StoreError::NotFound("consent"));
        }
        insert_audit(&tx, &events::consent(actor, "revoke", user, client_id)).await?;
        tx.commit().await.map_err(pg_err)
    }
}
