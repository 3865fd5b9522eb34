//! People's consents to OIDC clients in SQLite.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use deadpool_sqlite::rusqlite::{Row, params};
use portcullis_domain::{Actor, Consent, UserId};

use super::users::user_exists;
use super::{SqliteDirectory, col_parse, col_time, col_time_opt, query_all, query_opt};
use crate::{ConsentStore, Result, StoreError, events};

const COLS: &str = "user_id, client_id, client_name, scopes, granted_at, expires_at";

fn consent_row(row: &Row<'_>) -> Result<Consent> {
    let scopes: String = row.get(3)?;
    Ok(Consent {
        user_id: col_parse(row, 0, "oidc_consents.user_id")?,
        client_id: row.get(1)?,
        client_name: row.get(2)?,
        scopes: scopes
            .split(' ')
            .filter(|s| !s.is_empty())
            .map(str::to_owned)
            .collect(),
        granted_at: col_time(row, 4)?,
        expires_at: col_time_opt(row, 5)?,
    })
}

/// Sorted and without duplicates, as the domain type promises.
fn normalised(mut consent: Consent) -> Consent {
    consent.scopes.sort();
    consent.scopes.dedup();
    consent.granted_at = DateTime::from_timestamp_millis(consent.granted_at.timestamp_millis())
        .unwrap_or(consent.granted_at);
    consent.expires_at = consent
        .expires_at
        .map(|e| DateTime::from_timestamp_millis(e.timestamp_millis()).unwrap_or(e));
    consent
}

#[async_trait]
impl ConsentStore for SqliteDirectory {
    async fn grant_consent(&self, actor: Actor, consent: Consent) -> Result<Consent> {
        let consent = normalised(consent);
        self.write(move |tx| {
            if !user_exists(tx, consent.user_id)? {
                return Err(StoreError::NotFound("user"));
            }
            tx.prepare_cached(
                "INSERT INTO oidc_consents (user_id, client_id, client_name, scopes, granted_at, \
                 expires_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6) \
                 ON CONFLICT (user_id, client_id) DO UPDATE SET client_name = excluded.client_name, \
                 scopes = excluded.scopes, granted_at = excluded.granted_at, \
                 expires_at = excluded.expires_at",
            )?
            .execute(params![
                consent.user_id.to_string(),
                consent.client_id,
                consent.client_name,
                consent.scopes.join(" "),
                consent.granted_at.timestamp_millis(),
                consent.expires_at.map(|e| e.timestamp_millis()),
            ])?;
            let event = events::consent(actor, "grant", consent.user_id, &consent.client_id);
            Ok((consent, event))
        })
        .await
    }

    async fn get_consent(
        &self,
        user: UserId,
        client_id: &str,
        now: DateTime<Utc>,
    ) -> Result<Option<Consent>> {
        let client_id = client_id.to_owned();
        self.read(move |c| {
            query_opt(
                c,
                &format!(
                    "SELECT {COLS} FROM oidc_consents WHERE user_id = ?1 AND client_id = ?2 \
                     AND (expires_at IS NULL OR expires_at > ?3)"
                ),
                params![user.to_string(), client_id, now.timestamp_millis()],
                consent_row,
            )
        })
        .await
    }

    async fn list_consents(&self, user: UserId, now: DateTime<Utc>) -> Result<Vec<Consent>> {
        self.read(move |c| {
            query_all(
                c,
                &format!(
                    "SELECT {COLS} FROM oidc_consents WHERE user_id = ?1 \
                     AND (expires_at IS NULL OR expires_at > ?2) \
                     ORDER BY granted_at DESC, client_id"
                ),
                params![user.to_string(), now.timestamp_millis()],
                consent_row,
            )
        })
        .await
    }

    async fn revoke_consent(&self, actor: Actor, user: UserId, client_id: &str) -> Result<()> {
        let client_id = client_id.to_owned();
        self.write(move |tx| {
            let n = tx
                .prepare_cached("DELETE FROM oidc_consents WHERE user_id = ?1 AND client_id = ?2")?
                .execute(params![user.to_string(), client_id])?;
            if n == 0 {
                return Err(StoreError::NotFound("consent"));
            }
            Ok(((), events::consent(actor, "revoke", user, &client_id)))
        })
        .await
    }
}
