//! Portal sessions in Redis.

use ::redis::Script;
use async_trait::async_trait;
use portcullis_domain::UserId;

use super::{RedisSessions, unavailable};
use crate::{NewSession, PortalSession, Result, SessionId, SessionStore, SessionToken};

/// Keys looked at per `SCAN` step when counting sessions, and the pause between steps.
const COUNT_STEP: usize = 250;
const COUNT_PAUSE: std::time::Duration = std::time::Duration::from_millis(1);

/// Ends one session if, and only if, its id is in the user's index.
/// KEYS: the user's index, the session's key. ARGV: the session id, now (ms).
/// Returns 1 when a live session was ended.
pub(super) fn revoke_one_script() -> Script {
    Script::new(
        r"
local score = redis.call('ZSCORE', KEYS[1], ARGV[1])
if not score then return 0 end
redis.call('ZREM', KEYS[1], ARGV[1])
local deleted = redis.call('DEL', KEYS[2])
if deleted == 1 and tonumber(score) > tonumber(ARGV[2]) then return 1 end
return 0
",
    )
}

/// Ends every session in the user's index and the index itself, atomically.
/// KEYS: the user's index. ARGV: the session key prefix, now (ms).
/// Returns how many live sessions were ended.
pub(super) fn revoke_all_script() -> Script {
    Script::new(
        r"
local members = redis.call('ZRANGE', KEYS[1], 0, -1, 'WITHSCORES')
local live = 0
for i = 1, #members, 2 do
  local deleted = redis.call('DEL', ARGV[1] .. members[i])
  if deleted == 1 and tonumber(members[i + 1]) > tonumber(ARGV[2]) then live = live + 1 end
end
redis.call('DEL', KEYS[1])
return live
",
    )
}

use super::record::{decode, encode, id_of_member, member};

#[async_trait]
impl SessionStore for RedisSessions {
    async fn create_session(&self, new: NewSession) -> Result<(SessionToken, PortalSession)> {
        let token = SessionToken::generate();
        let now = self.now();
        let session = PortalSession {
            id: token.id(),
            user_id: new.user_id,
            created_at: now,
            expires_at: new.expires_at,
            amr: new.amr,
            client: new.client,
        };
        let now_ms = now.timestamp_millis();
        let expires_ms = session.expires_at.timestamp_millis();
        // A session that is already over is returned but never stored: reading it would find
        // nothing anyway.
        let Some(ttl_ms) = u64::try_from(expires_ms.saturating_sub(now_ms))
            .ok()
            .filter(|ms| *ms > 0)
        else {
            return Ok((token, session));
        };
        let body = encode(&session)?;
        let index = self.user_index_key(&session.user_id);
        let id = member(&session.id);
        ::redis::pipe()
            .atomic()
            .cmd("SET")
            .arg(self.session_key(&id))
            .arg(body)
            .arg("PX")
            .arg(ttl_ms)
            .ignore()
            .cmd("ZREMRANGEBYSCORE")
            .arg(&index)
            .arg("-inf")
            .arg(now_ms)
            .ignore()
            .cmd("ZADD")
            .arg(&index)
            .arg(expires_ms)
            .arg(&id)
            .ignore()
            // The index lives as long as its longest-lived session: NX sets a first TTL, GT
            // extends it.
            .cmd("PEXPIRE")
            .arg(&index)
            .arg(ttl_ms)
            .arg("NX")
            .ignore()
            .cmd("PEXPIRE")
            .arg(&index)
            .arg(ttl_ms)
            .arg("GT")
            .ignore()
            .query_async::<()>(&mut self.conn())
            .await
            .map_err(unavailable)?;
        Ok((token, session))
    }

    async fn get_session(&self, token: &SessionToken) -> Result<Option<PortalSession>> {
        self.get_session_by_id(&token.id()).await
    }

    async fn get_session_by_id(&self, id: &SessionId) -> Result<Option<PortalSession>> {
        let raw: Option<Vec<u8>> = ::redis::cmd("GET")
            .arg(self.session_key(&member(id)))
            .query_async(&mut self.conn())
            .await
            .map_err(unavailable)?;
        let Some(raw) = raw else {
            return Ok(None);
        };
        let session = decode(id, &raw)?;
        let live = &session.id == id && session.expires_at.timestamp_millis() > self.now_millis();
        Ok(live.then_some(session))
    }

    async fn list_user_sessions(&self, user: UserId) -> Result<Vec<PortalSession>> {
        let index = self.user_index_key(&user);
        let now_ms = self.now_millis();
        let (ids,): (Vec<String>,) = ::redis::pipe()
            .atomic()
            .cmd("ZREMRANGEBYSCORE")
            .arg(&index)
            .arg("-inf")
            .arg(now_ms)
            .ignore()
            .cmd("ZRANGE")
            .arg(&index)
            .arg(0)
            .arg(-1)
            .query_async(&mut self.conn())
            .await
            .map_err(unavailable)?;
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let keys: Vec<String> = ids.iter().map(|m| self.session_key(m)).collect();
        let bodies: Vec<Option<Vec<u8>>> = ::redis::cmd("MGET")
            .arg(&keys)
            .query_async(&mut self.conn())
            .await
            .map_err(unavailable)?;
        let mut sessions = Vec::with_capacity(bodies.len());
        let mut stale = Vec::new();
        for (m, body) in ids.iter().zip(bodies) {
            let (Some(body), Some(id)) = (body, id_of_member(m)) else {
                stale.push(m.as_str());
                continue;
            };
            let session = decode(&id, &body)?;
            if session.user_id == user && session.expires_at.timestamp_millis() > now_ms {
                sessions.push(session);
            }
        }
        if !stale.is_empty() {
            // Sessions gone by their Redis TTL: drop them from the index too.
            ::redis::cmd("ZREM")
                .arg(&index)
                .arg(&stale)
                .query_async::<()>(&mut self.conn())
                .await
                .map_err(unavailable)?;
        }
        sessions.sort_by(|a, b| {
            a.created_at
                .cmp(&b.created_at)
                .then_with(|| a.id.cmp(&b.id))
        });
        Ok(sessions)
    }

    async fn revoke_session(&self, user: UserId, id: &SessionId) -> Result<bool> {
        let ended: i64 = self
            .scripts
            .revoke_one
            .key(self.user_index_key(&user))
            .key(self.session_key(&member(id)))
            .arg(member(id))
            .arg(self.now_millis())
            .invoke_async(&mut self.conn())
            .await
            .map_err(unavailable)?;
        Ok(ended == 1)
    }

    async fn revoke_token(&self, token: &SessionToken) -> Result<()> {
        let id = token.id();
        let m = member(&id);
        let key = self.session_key(&m);
        let raw: Option<Vec<u8>> = ::redis::cmd("GET")
            .arg(&key)
            .query_async(&mut self.conn())
            .await
            .map_err(unavailable)?;
        let Some(raw) = raw else {
            return Ok(());
        };
        let mut pipe = ::redis::pipe();
        pipe.atomic().cmd("DEL").arg(&key).ignore();
        // A record that cannot be decoded is deleted all the same; its index entry then goes
        // when the index is next read.
        if let Ok(session) = decode(&id, &raw) {
            pipe.cmd("ZREM")
                .arg(self.user_index_key(&session.user_id))
                .arg(&m)
                .ignore();
        }
        pipe.query_async::<()>(&mut self.conn())
            .await
            .map_err(unavailable)?;
        Ok(())
    }

    async fn revoke_user_sessions(&self, user: UserId) -> Result<usize> {
        let ended: i64 = self
            .scripts
            .revoke_all
            .key(self.user_index_key(&user))
            .arg(self.session_key_prefix())
            .arg(self.now_millis())
            .invoke_async(&mut self.conn())
            .await
            .map_err(unavailable)?;
        Ok(usize::try_from(ended).unwrap_or(0))
    }

    async fn count_sessions(&self) -> Result<u64> {
        // Session keys expire with their sessions, so the count of keys is the count of live
        // sessions (give or take one whose record expired by the clock a moment ago). The scan
        // walks the whole keyspace, so it goes in small steps with a pause between them: with a
        // million sessions it takes seconds instead of one burst that would hold every other
        // command (session checks) back behind it.
        let pattern = format!("{}*", self.session_key_prefix());
        let mut conn = self.conn();
        let mut cursor: u64 = 0;
        let mut count = 0u64;
        loop {
            let (next, keys): (u64, Vec<String>) = ::redis::cmd("SCAN")
                .arg(cursor)
                .arg("MATCH")
                .arg(&pattern)
                .arg("COUNT")
                .arg(COUNT_STEP)
                .query_async(&mut conn)
                .await
                .map_err(unavailable)?;
            count += keys.len() as u64;
            if next == 0 {
                return Ok(count);
            }
            cursor = next;
            tokio::time::sleep(COUNT_PAUSE).await;
        }
    }

    async fn ping(&self) -> Result<()> {
        let _: String = ::redis::cmd("PING")
            .query_async(&mut self.conn())
            .await
            .map_err(unavailable)?;
        Ok(())
    }

    fn backend(&self) -> &'static str {
        "redis"
    }
}
