//! Throttling of failed sign-ins, per user and per client address. Counts live in the shared
//! flow store, so every node sees the same numbers.

use std::time::Duration;

use portcullis_sessions::{FlowStore, SessionError};

/// Limits on failed attempts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ThrottleConfig {
    /// Failures of one user name within the window before it is locked.
    pub per_user: u64,
    /// Failures from one client address within the window before it is locked.
    pub per_address: u64,
    /// Window and lock-out length.
    pub window: Duration,
}

impl Default for ThrottleConfig {
    fn default() -> Self {
        Self {
            per_user: 5,
            per_address: 50,
            window: Duration::from_secs(15 * 60),
        }
    }
}

const COUNT_USER: &str = "throttle-user";
const COUNT_ADDRESS: &str = "throttle-address";
const LOCK_USER: &str = "lock-user";
const LOCK_ADDRESS: &str = "lock-address";

/// Checks and records failed attempts.
#[derive(Debug, Clone, Copy)]
pub struct Throttle {
    pub config: ThrottleConfig,
}

impl Throttle {
    /// How long until this user name or address may try again; `None` when it may try now.
    pub async fn locked_for(
        &self,
        flows: &dyn FlowStore,
        user_key: &str,
        address: &str,
    ) -> Result<Option<Duration>, SessionError> {
        let user = flows.ttl(LOCK_USER, user_key).await?;
        let addr = flows.ttl(LOCK_ADDRESS, address).await?;
        Ok(user.into_iter().chain(addr).max())
    }

    /// Records one failure; locks the user name or address when it reaches its limit.
    pub async fn record_failure(
        &self,
        flows: &dyn FlowStore,
        user_key: &str,
        address: &str,
    ) -> Result<(), SessionError> {
        let window = self.config.window;
        if flows.increment(COUNT_USER, user_key, window).await? >= self.config.per_user {
            flows.put(LOCK_USER, user_key, b"1", window).await?;
            flows.delete(COUNT_USER, user_key).await?;
        }
        if flows.increment(COUNT_ADDRESS, address, window).await? >= self.config.per_address {
            flows.put(LOCK_ADDRESS, address, b"1", window).await?;
            flows.delete(COUNT_ADDRESS, address).await?;
        }
        Ok(())
    }

    /// Forgets the user's failures after a successful sign-in.
    pub async fn record_success(
        &self,
        flows: &dyn FlowStore,
        user_key: &str,
    ) -> Result<(), SessionError> {
        flows.delete(COUNT_USER, user_key).await
    }
}

/// "try again in N minutes", rounded up.
pub fn minutes(d: Duration) -> u64 {
    d.as_secs().div_ceil(60).max(1)
}
