//! Flow state in Redis: each value is stored behind its absolute expiry (8-byte big-endian Unix
//! milliseconds), so that reads can check it against the injected clock.

use std::time::Duration;

use ::redis::Script;
use async_trait::async_trait;

use super::{RedisSessions, redis_ttl_millis, unavailable};
use crate::{FlowStore, Result, SessionError};

/// Lua: the expiry in front of a stored entry, or nil when it has none.
const EXPIRY_OF: &str = r"
local function expiry_of(v)
  if not v or #v < 8 then return nil end
  local e = 0
  for i = 1, 8 do e = e * 256 + string.byte(v, i) end
  return e
end
";

/// Stores an entry unless a live one (by the caller's clock) is there.
/// KEYS: the key. ARGV: now (ms), the encoded entry, the Redis TTL (ms). Returns 1 when stored.
pub(super) fn put_if_absent_script() -> Script {
    Script::new(&format!(
        r"{EXPIRY_OF}
local e = expiry_of(redis.call('GET', KEYS[1]))
if e and e > tonumber(ARGV[1]) then return 0 end
redis.call('SET', KEYS[1], ARGV[2], 'PX', ARGV[3])
return 1
"
    ))
}

/// Adds one to a counter, starting a new one (and its window) when there is none live.
/// KEYS: the key. ARGV: now (ms), the encoded expiry of a new window, the window (ms).
/// Returns the new count, or -1 when the entry there is not a counter.
pub(super) fn increment_script() -> Script {
    Script::new(&format!(
        r"{EXPIRY_OF}
local v = redis.call('GET', KEYS[1])
local e = expiry_of(v)
if e and e > tonumber(ARGV[1]) then
  local n = tonumber(string.sub(v, 9))
  if not n then return -1 end
  n = n + 1
  redis.call('SET', KEYS[1], string.sub(v, 1, 8) .. string.format('%d', n), 'KEEPTTL')
  return n
end
redis.call('SET', KEYS[1], ARGV[2] .. '1', 'PX', ARGV[3])
return 1
"
    ))
}

/// Takes one from a live counter, never below zero, keeping its TTL.
/// KEYS: the key. ARGV: now (ms). Returns the new count, 0 when there is none, -1 when the entry
/// there is not a counter.
pub(super) fn decrement_script() -> Script {
    Script::new(&format!(
        r"{EXPIRY_OF}
local v = redis.call('GET', KEYS[1])
local e = expiry_of(v)
if not e or e <= tonumber(ARGV[1]) then return 0 end
local n = tonumber(string.sub(v, 9))
if not n then return -1 end
if n > 0 then n = n - 1 end
redis.call('SET', KEYS[1], string.sub(v, 1, 8) .. string.format('%d', n), 'KEEPTTL')
return n
"
    ))
}

/// Deletes a live entry and stores the given ones, or does nothing (one script: atomic).
/// KEYS: the entry to take, then one key per entry to store. ARGV: now (ms), then for each entry
/// to store its encoded value and its Redis TTL (ms). Returns 1 when it swapped.
pub(super) fn swap_script() -> Script {
    Script::new(&format!(
        r"{EXPIRY_OF}
local e = expiry_of(redis.call('GET', KEYS[1]))
if not e or e <= tonumber(ARGV[1]) then return 0 end
redis.call('DEL', KEYS[1])
for i = 2, #KEYS do
  redis.call('SET', KEYS[i], ARGV[2 * i - 2], 'PX', ARGV[2 * i - 1])
end
return 1
"
    ))
}

/// Unix milliseconds as stored: negative times (before 1970) count as 0.
fn to_stored(ms: i64) -> u64 {
    u64::try_from(ms).unwrap_or(0)
}

/// `expiry ++ value`.
fn encode(expires_ms: u64, value: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(8 + value.len());
    out.extend_from_slice(&expires_ms.to_be_bytes());
    out.extend_from_slice(value);
    out
}

/// Splits a stored entry into its expiry and value.
fn decode(raw: &[u8]) -> Result<(u64, &[u8])> {
    let (head, value) = raw
        .split_first_chunk::<8>()
        .ok_or_else(|| SessionError::Corrupt("a flow entry is shorter than its header".into()))?;
    Ok((u64::from_be_bytes(*head), value))
}

impl RedisSessions {
    /// The absolute expiry, in stored milliseconds, of an entry written now for `ttl`.
    fn expiry_after(&self, ttl: Duration) -> u64 {
        let ttl_ms = u64::try_from(ttl.as_millis()).unwrap_or(u64::MAX);
        to_stored(self.now_millis()).saturating_add(ttl_ms)
    }

    /// The value of a stored entry if it is still live by the clock.
    fn live_value(&self, raw: Option<Vec<u8>>) -> Result<Option<Vec<u8>>> {
        let Some(raw) = raw else {
            return Ok(None);
        };
        let (expires, value) = decode(&raw)?;
        Ok((expires > to_stored(self.now_millis())).then(|| value.to_vec()))
    }
}

#[async_trait]
impl FlowStore for RedisSessions {
    async fn put(&self, ns: &str, key: &str, value: &[u8], ttl: Duration) -> Result<()> {
        ::redis::cmd("SET")
            .arg(self.flow_key(ns, key))
            .arg(encode(self.expiry_after(ttl), value))
            .arg("PX")
            .arg(redis_ttl_millis(ttl))
            .query_async::<()>(&mut self.conn())
            .await
            .map_err(unavailable)
    }

    async fn put_if_absent(
        &self,
        ns: &str,
        key: &str,
        value: &[u8],
        ttl: Duration,
    ) -> Result<bool> {
        let stored: i64 = self
            .scripts
            .put_if_absent
            .key(self.flow_key(ns, key))
            .arg(self.now_millis())
            .arg(encode(self.expiry_after(ttl), value))
            .arg(redis_ttl_millis(ttl))
            .invoke_async(&mut self.conn())
            .await
            .map_err(unavailable)?;
        Ok(stored == 1)
    }

    async fn get(&self, ns: &str, key: &str) -> Result<Option<Vec<u8>>> {
        let raw: Option<Vec<u8>> = ::redis::cmd("GET")
            .arg(self.flow_key(ns, key))
            .query_async(&mut self.conn())
            .await
            .map_err(unavailable)?;
        self.live_value(raw)
    }

    async fn take(&self, ns: &str, key: &str) -> Result<Option<Vec<u8>>> {
        let raw: Option<Vec<u8>> = ::redis::cmd("GETDEL")
            .arg(self.flow_key(ns, key))
            .query_async(&mut self.conn())
            .await
            .map_err(unavailable)?;
        self.live_value(raw)
    }

    async fn delete(&self, ns: &str, key: &str) -> Result<()> {
        ::redis::cmd("DEL")
            .arg(self.flow_key(ns, key))
            .query_async::<()>(&mut self.conn())
            .await
            .map_err(unavailable)
    }

    async fn increment(&self, ns: &str, key: &str, window: Duration) -> Result<u64> {
        let count: i64 = self
            .scripts
            .increment
            .key(self.flow_key(ns, key))
            .arg(self.now_millis())
            .arg(self.expiry_after(window).to_be_bytes().as_slice())
            .arg(redis_ttl_millis(window))
            .invoke_async(&mut self.conn())
            .await
            .map_err(unavailable)?;
        // The key is not named: it may be derived from a secret.
        u64::try_from(count)
            .map_err(|_| SessionError::Corrupt(format!("a flow entry in {ns} is not a counter")))
    }

    async fn decrement(&self, ns: &str, key: &str) -> Result<()> {
        let count: i64 = self
            .scripts
            .decrement
            .key(self.flow_key(ns, key))
            .arg(self.now_millis())
            .invoke_async(&mut self.conn())
            .await
            .map_err(unavailable)?;
        if count < 0 {
            return Err(SessionError::Corrupt(format!(
                "a flow entry in {ns} is not a counter"
            )));
        }
        Ok(())
    }

    async fn swap(&self, ns: &str, key: &str, puts: &[crate::FlowPut<'_>]) -> Result<bool> {
        let mut call = self.scripts.swap.key(self.flow_key(ns, key));
        call.arg(self.now_millis());
        for p in puts {
            call.key(self.flow_key(p.ns, p.key))
                .arg(encode(self.expiry_after(p.ttl), p.value))
                .arg(redis_ttl_millis(p.ttl));
        }
        let swapped: i64 = call
            .invoke_async(&mut self.conn())
            .await
            .map_err(unavailable)?;
        Ok(swapped == 1)
    }

    async fn ttl(&self, ns: &str, key: &str) -> Result<Option<Duration>> {
        let raw: Option<Vec<u8>> = ::redis::cmd("GET")
            .arg(self.flow_key(ns, key))
            .query_async(&mut self.conn())
            .await
            .map_err(unavailable)?;
        let Some(raw) = raw else {
            return Ok(None);
        };
        let (expires, _) = decode(&raw)?;
        let now = to_stored(self.now_millis());
        Ok((expires > now).then(|| Duration::from_millis(expires - now)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_round_trip() {
        let raw = encode(1_700_000_000_123, b"\x00\xffvalue");
        let (expires, value) = decode(&raw).unwrap_or((0, b""));
        assert_eq!(expires, 1_700_000_000_123);
        assert_eq!(value, b"\x00\xffvalue");
        assert!(matches!(decode(b"short"), Err(SessionError::Corrupt(_))));
    }
}
