//! Portal sessions in SQLite.

use async_trait::async_trait;
use portcullis_domain::UserId;
use rusqlite::{OptionalExtension, params};

use super::EmbeddedSessions;
use crate::{
    NewSession, PortalSession, Result, SessionError, SessionId, SessionStore, SessionToken,
};

fn decode(body: &str) -> Result<PortalSession> {
    serde_json::from_str(body)
        .map_err(|e| SessionError::Corrupt(format!("a session record is not valid: {e}")))
}

#[async_trait]
impl SessionStore for EmbeddedSessions {
    async fn create_session(&self, new: NewSession) -> Result<(SessionToken, PortalSession)> {
        let token = SessionToken::generate();
        let now = self.clock.now();
        let session = PortalSession {
            id: token.id(),
            user_id: new.user_id,
            created_at: now,
            expires_at: new.expires_at,
            amr: new.amr,
            client: new.client,
        };
        let expires_ms = session.expires_at.timestamp_millis();
        // A session that is already over is returned but never stored: reading it would find
        // nothing anyway.
        if expires_ms <= now.timestamp_millis() {
            return Ok((token, session));
        }
        let body = serde_json::to_string(&session)
            .map_err(|e| SessionError::Corrupt(format!("encoding a session: {e}")))?;
        let id = session.id.as_str().to_owned();
        let user = session.user_id.to_string();
        self.write(move |c| {
            c.prepare_cached(
                "INSERT INTO sessions (id, user_id, body, expires_at) VALUES (?1, ?2, ?3, ?4)",
            )?
            .execute(params![id, user, body, expires_ms])
        })
        .await?;
        Ok((token, session))
    }

    async fn get_session(&self, token: &SessionToken) -> Result<Option<PortalSession>> {
        self.get_session_by_id(&token.id()).await
    }

    async fn get_session_by_id(&self, id: &SessionId) -> Result<Option<PortalSession>> {
        let key = id.as_str().to_owned();
        let now = self.now_millis();
        let body: Option<String> = self
            .read(move |c| {
                c.prepare_cached("SELECT body FROM sessions WHERE id = ?1 AND expires_at > ?2")?
                    .query_row(params![key, now], |row| row.get(0))
                    .optional()
            })
            .await?;
        let Some(body) = body else {
            return Ok(None);
        };
        let session = decode(&body)?;
        Ok((&session.id == id).then_some(session))
    }

    async fn list_user_sessions(&self, user: UserId) -> Result<Vec<PortalSession>> {
        let user_key = user.to_string();
        let now = self.now_millis();
        let bodies: Vec<String> = self
            .read(move |c| {
                c.prepare_cached(
                    "SELECT body FROM sessions WHERE user_id = ?1 AND expires_at > ?2",
                )?
                .query_map(params![user_key, now], |row| row.get(0))?
                .collect()
            })
            .await?;
        let mut sessions = Vec::with_capacity(bodies.len());
        for body in bodies {
            let session = decode(&body)?;
            if session.user_id == user {
                sessions.push(session);
            }
        }
        sessions.sort_by(|a, b| {
            a.created_at
                .cmp(&b.created_at)
                .then_with(|| a.id.cmp(&b.id))
        });
        Ok(sessions)
    }

    async fn revoke_session(&self, user: UserId, id: &SessionId) -> Result<bool> {
        let id = id.as_str().to_owned();
        let user = user.to_string();
        let now = self.now_millis();
        let expires: Option<i64> = self
            .write(move |c| {
                c.prepare_cached(
                    "DELETE FROM sessions WHERE id = ?1 AND user_id = ?2 RETURNING expires_at",
                )?
                .query_row(params![id, user], |row| row.get(0))
                .optional()
            })
            .await?;
        Ok(expires.is_some_and(|e| e > now))
    }

    async fn revoke_token(&self, token: &SessionToken) -> Result<()> {
        let id = token.id().as_str().to_owned();
        self.write(move |c| {
            c.prepare_cached("DELETE FROM sessions WHERE id = ?1")?
                .execute([id])
        })
        .await?;
        Ok(())
    }

    async fn revoke_user_sessions(&self, user: UserId) -> Result<usize> {
        let user = user.to_string();
        let now = self.now_millis();
        self.write(move |c| {
            let live = c
                .prepare_cached("DELETE FROM sessions WHERE user_id = ?1 AND expires_at > ?2")?
                .execute(params![user, now])?;
            c.prepare_cached("DELETE FROM sessions WHERE user_id = ?1")?
                .execute([&user])?;
            Ok(live)
        })
        .await
    }

    async fn count_sessions(&self) -> Result<u64> {
        let now = self.now_millis();
        let n = self
            .read(move |c| {
                c.query_row(
                    "SELECT COUNT(*) FROM sessions WHERE expires_at > ?1",
                    [now],
                    |row| row.get::<_, i64>(0),
                )
            })
            .await?;
        Ok(n.max(0) as u64)
    }

    async fn ping(&self) -> Result<()> {
        self.read(|c| c.query_row("SELECT 1", [], |row| row.get::<_, i64>(0)))
            .await?;
        // The writer thread answers too (a write that changes nothing).
        self.write(|_| Ok(())).await
    }

    fn backend(&self) -> &'static str {
        "embedded"
    }
}
