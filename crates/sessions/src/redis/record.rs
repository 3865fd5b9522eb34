//! How a portal session is stored in Redis: a version byte, then the session in postcard (a
//! compact binary serde format): the user id as 16 bytes, times as milliseconds, no session id
//! (it is the key). About 60 bytes plus the user agent, against about 380 for the JSON that
//! version 0.1 wrote — Redis memory per session is one of the issue-8 targets.
//!

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, Utc};
use portcullis_domain::UserId;
use serde::{Deserialize, Serialize};

use crate::{ClientInfo, PortalSession, Result, SessionError, SessionId};

/// The first byte of a postcard record.
const VERSION: u8 = 1;

/// The stored fields, borrowed for writing.
#[derive(Serialize)]
struct Write<'a> {
    user_id: UserId,
    created_ms: i64,
    expires_ms: i64,
    amr: &'a [String],
    ip: Option<&'a str>,
    user_agent: Option<&'a str>,
}

/// The stored fields, owned for reading.
#[derive(Deserialize)]
struct Read {
    user_id: UserId,
    created_ms: i64,
    expires_ms: i64,
    amr: Vec<String>,
    ip: Option<String>,
    user_agent: Option<String>,
}

/// How a session id appears in keys and in the per-user index: its 32 bytes in unpadded
/// base64url.
pub(super) fn member(id: &SessionId) -> String {
    let bytes = hex::decode(id.as_str()).unwrap_or_default();
    URL_SAFE_NO_PAD.encode(bytes)
}

/// The session id behind an index member; `None` for anything else.
pub(super) fn id_of_member(member: &str) -> Option<SessionId> {
    let bytes = URL_SAFE_NO_PAD.decode(member).ok()?;
    SessionId::parse(&hex::encode(bytes))
}

/// The bytes stored for `session`.
pub(super) fn encode(session: &PortalSession) -> Result<Vec<u8>> {
    let record = Write {
        user_id: session.user_id,
        created_ms: session.created_at.timestamp_millis(),
        expires_ms: session.expires_at.timestamp_millis(),
        amr: &session.amr,
        ip: session.client.ip.as_deref(),
        user_agent: session.client.user_agent.as_deref(),
    };
    let mut out = vec![VERSION];
    out.extend(
        postcard::to_allocvec(&record)
            .map_err(|e| SessionError::Corrupt(format!("encoding a session: {e}")))?,
    );
    Ok(out)
}

/// The session stored under `id`.
pub(super) fn decode(id: &SessionId, raw: &[u8]) -> Result<PortalSession> {
    match raw.split_first() {
        Some((&VERSION, body)) => {
            let r: Read = postcard::from_bytes(body).map_err(corrupt)?;
            Ok(PortalSession {
                id: id.clone(),
                user_id: r.user_id,
                created_at: millis(r.created_ms)?,
                expires_at: millis(r.expires_ms)?,
                amr: r.amr,
                client: ClientInfo {
                    ip: r.ip,
                    user_agent: r.user_agent,
                },
            })
        }
        _ => Err(SessionError::Corrupt(
            "a session record has an unknown format".into(),
        )),
    }
}

fn millis(ms: i64) -> Result<DateTime<Utc>> {
    DateTime::from_timestamp_millis(ms)
        .ok_or_else(|| SessionError::Corrupt("a session time is out of range".into()))
}

fn corrupt(e: impl std::fmt::Display) -> SessionError {
    SessionError::Corrupt(format!("a session record is not valid: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::SessionToken;

    fn session() -> PortalSession {
        PortalSession {
            id: SessionToken::generate().id(),
            user_id: UserId::new(),
            created_at: DateTime::from_timestamp_millis(1_764_170_000_123).unwrap(),
            expires_at: DateTime::from_timestamp_millis(1_764_198_800_123).unwrap(),
            amr: vec!["pwd".into(), "mfa".into()],
            client: ClientInfo {
                ip: Some("203.0.113.7".into()),
                user_agent: Some("Mozilla/5.0 (X11; Linux x86_64) Firefox/140.0".into()),
            },
        }
    }

    #[test]
    fn round_trips_and_stays_small() {
        let s = session();
        let raw = encode(&s).unwrap();
        assert_eq!(decode(&s.id, &raw).unwrap(), s);
        let json = serde_json::to_vec(&s).unwrap();
        assert!(
            raw.len() * 3 < json.len(),
            "{} bytes against {} as JSON",
            raw.len(),
            json.len()
        );
    }

    #[test]
    fn members_are_short_and_reversible() {
        let id = SessionToken::generate().id();
        let m = member(&id);
        assert_eq!(m.len(), 43);
        assert_eq!(id_of_member(&m), Some(id));
        assert_eq!(id_of_member("not base64!"), None);
        assert_eq!(id_of_member("c2hvcnQ"), None);
    }

    #[test]
    fn refuses_garbage_without_panicking() {
        let id = session().id;
        for raw in [
            &b""[..],
            b"\x01",
            b"\x01\xff\xff",
            b"\x07abc",
            b"{\"id\":1}",
        ] {
            assert!(matches!(decode(&id, raw), Err(SessionError::Corrupt(_))));
        }
    }
}
