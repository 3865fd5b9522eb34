//! Portal sessions in Redis.

use ::redis::Script;
use async_trait::async_trait;
use portcullis_domain::UserId;

use super::{RedisSessions, unavailable};
use crate::{NewSession, PortalSession, Result, SessionId, SessionStore, SessionToken};

/// Fields read per `HSCAN` step when counting sessions (one step unless sessions expire over
/// more than this many different minutes).
const COUNT_STEP: usize = 1_000;

/// The live-sessions counter field of a session expiring at `expires_ms`: the minute it ends
/// in, rounded up, so that a field whose minute has begun counts nobody who is still signed in
/// after it. The same rounding is written in Lua in [`LIVE_BUCKET_LUA`].
fn live_bucket(expires_ms: i64) -> i64 {
    expires_ms.div_euclid(60_000) + i64::from(expires_ms.rem_euclid(60_000) != 0)
}

/// Lua: `bucket(ms)`, the counter field of a session expiring at `ms` (as [`live_bucket`]).
const LIVE_BUCKET_LUA: &str = "
local function bucket(ms)
  return string.format('%d', math.ceil(tonumber(ms) / 60000))
end
";

/// Ends one session if, and only if, its id is in the user's index.
/// KEYS: the user's index, the session's key, the live-sessions counters.
/// ARGV: the session id, now (ms). Returns 1 when a live session was ended.
pub(super) fn revoke_one_script() -> Script {
    Script::new(&format!(
        r"{LIVE_BUCKET_LUA}
local score = redis.call('ZSCORE', KEYS[1], ARGV[1])
if not score then return 0 end
redis.call('ZREM', KEYS[1], ARGV[1])
local deleted = redis.call('DEL', KEYS[2])
if deleted == 1 and tonumber(score) > tonumber(ARGV[2]) then
  redis.call('HINCRBY', KEYS[3], bucket(score), -1)
  return 1
end
return 0
"
    ))
}

/// Ends every session in the user's index and the index itself, atomically.
/// KEYS: the user's index, the live-sessions counters. ARGV: the session key prefix, now (ms).
/// Returns how many live sessions were ended.
pub(super) fn revoke_all_script() -> Script {
    Script::new(&format!(
        r"{LIVE_BUCKET_LUA}
local members = redis.call('ZRANGE', KEYS[1], 0, -1, 'WITHSCORES')
local live = 0
for i = 1, #members, 2 do
  local deleted = redis.call('DEL', ARGV[1] .. members[i])
  if deleted == 1 and tonumber(members[i + 1]) > tonumber(ARGV[2]) then
    live = live + 1
    redis.call('HINCRBY', KEYS[2], bucket(members[i + 1]), -1)
  end
end
redis.call('DEL', KEYS[1])
return live
"
    ))
}

/// Ends the session stored under `KEYS[1]`, if it is still there.
/// KEYS: the session's key, the user's index, the live-sessions counters.
/// ARGV: the session id, its counter field or the empty string when it is no longer live.
pub(super) fn revoke_token_script() -> Script {
    Script::new(
        r"
if redis.call('DEL', KEYS[1]) == 0 then return 0 end
redis.call('ZREM', KEYS[2], ARGV[1])
if ARGV[2] ~= '' then redis.call('HINCRBY', KEYS[3], ARGV[2], -1) end
return 1
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
        let live = self.live_sessions_key();
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
            // The live-sessions gauge: one counter per minute in which sessions end.
            .cmd("HINCRBY")
            .arg(&live)
            .arg(live_bucket(expires_ms))
            .arg(1)
            .ignore()
            .cmd("PEXPIRE")
            .arg(&live)
            .arg(ttl_ms)
            .arg("NX")
            .ignore()
            .cmd("PEXPIRE")
            .arg(&live)
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
            .key(self.live_sessions_key())
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
        let Ok(session) = decode(&id, &raw) else {
            // A record that cannot be decoded is deleted all the same; its index entry then
            // goes when the index is next read.
            return ::redis::cmd("DEL")
                .arg(&key)
                .query_async::<()>(&mut self.conn())
                .await
                .map_err(unavailable);
        };
        let expires_ms = session.expires_at.timestamp_millis();
        let field = if expires_ms > self.now_millis() {
            live_bucket(expires_ms).to_string()
        } else {
            String::new()
        };
        self.scripts
            .revoke_token
            .key(&key)
            .key(self.user_index_key(&session.user_id))
            .key(self.live_sessions_key())
            .arg(&m)
            .arg(field)
            .invoke_async::<i64>(&mut self.conn())
            .await
            .map_err(unavailable)?;
        Ok(())
    }

    async fn revoke_user_sessions(&self, user: UserId) -> Result<usize> {
        let ended: i64 = self
            .scripts
            .revoke_all
            .key(self.user_index_key(&user))
            .key(self.live_sessions_key())
            .arg(self.session_key_prefix())
            .arg(self.now_millis())
            .invoke_async(&mut self.conn())
            .await
            .map_err(unavailable)?;
        Ok(usize::try_from(ended).unwrap_or(0))
    }

    async fn count_sessions(&self) -> Result<u64> {
        // Every live session is counted under the minute it ends in (creation adds one,
        // revocation takes one away, expiry needs nothing: its minute passes). Counting sums the
        // minutes still to come and drops the ones gone by — a few hundred small fields rather
        // than a walk over every session key. A field whose minute has begun still counts its
        // sessions, so the figure may include sessions that ended up to a minute ago.
        let key = self.live_sessions_key();
        let now_ms = self.now_millis();
        let mut conn = self.conn();
        let mut cursor: u64 = 0;
        let mut count = 0i64;
        let mut past = Vec::new();
        loop {
            let (next, fields): (u64, Vec<(i64, i64)>) = ::redis::cmd("HSCAN")
                .arg(&key)
                .arg(cursor)
                .arg("COUNT")
                .arg(COUNT_STEP)
                .query_async(&mut conn)
                .await
                .map_err(unavailable)?;
            for (minute, n) in fields {
                if minute.saturating_mul(60_000) > now_ms {
                    count += n;
                } else {
                    past.push(minute);
                }
            }
            if next == 0 {
                break;
            }
            cursor = next;
        }
        if !past.is_empty() {
            ::redis::cmd("HDEL")
                .arg(&key)
                .arg(&past)
                .query_async::<()>(&mut conn)
                .await
                .map_err(unavailable)?;
        }
        Ok(u64::try_from(count).unwrap_or(0))
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
