//! Throttling of sign-in guesses, per user name and per client address. Counts live in the
//! shared flow store, so every node sees the same numbers.
//!
//! An attempt is *reserved* before the secret is checked: the counters are incremented first
//! (atomically, in the shared store) and the attempt goes ahead only when the new counts are
//! within the limits. However many guesses arrive at once, on one node or many, at most the
//! allowed number of failures is ever checked in a window. An attempt that succeeds gives its
//! reservation back; one that fails keeps it. A window starts with the first counted attempt and lasts
//! `window`; once a limit is passed, the name or address waits until its window ends.

use std::net::IpAddr;
use std::time::Duration;

use portcullis_sessions::{FlowStore, SessionError};

/// Limits on failed attempts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ThrottleConfig {
    /// Attempts of one user name within the window that may be checked.
    pub per_user: u64,
    /// Attempts from one client address (an IPv6 /64) within the window that may be checked.
    pub per_address: u64,
    /// The window.
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

/// Reserves and releases attempts.
#[derive(Debug, Clone, Copy)]
pub struct Throttle {
    pub config: ThrottleConfig,
}

/// An attempt that may go ahead: its keys, to give it back if it succeeds.
#[derive(Debug, Clone)]
#[must_use = "a reservation is given back on success, or kept on failure"]
pub struct Reservation {
    user_key: String,
    address_key: String,
}

/// What [`Throttle::reserve`] decided.
#[derive(Debug)]
pub enum Attempt {
    /// Check the secret; then [`Throttle::succeeded`] or nothing.
    Allowed(Reservation),
    /// Refused without checking anything: try again after this long.
    Locked(Duration),
}

impl Throttle {
    /// Counts an attempt of `user_key` (a lower-cased user name) from `address`, before anything
    /// is checked. Two requests at once get different counts, so the limits hold under
    /// concurrency.
    pub async fn reserve(
        &self,
        flows: &dyn FlowStore,
        user_key: &str,
        address: &str,
    ) -> Result<Attempt, SessionError> {
        let window = self.config.window;
        let address_key = address_key(address);
        let (user, addr) = tokio::join!(
            flows.increment(COUNT_USER, user_key, window),
            flows.increment(COUNT_ADDRESS, &address_key, window)
        );
        let (user, addr) = (user?, addr?);
        let mut wait = None;
        if user > self.config.per_user {
            wait = flows.ttl(COUNT_USER, user_key).await?;
        }
        if addr > self.config.per_address {
            wait = wait.max(flows.ttl(COUNT_ADDRESS, &address_key).await?);
        }
        Ok(match wait {
            Some(w) => Attempt::Locked(w),
            // The window ended between the increment and the ttl: the next try starts anew.
            None if user > self.config.per_user || addr > self.config.per_address => {
                Attempt::Locked(Duration::from_secs(1))
            }
            None => Attempt::Allowed(Reservation {
                user_key: user_key.to_owned(),
                address_key,
            }),
        })
    }

    /// The attempt succeeded: the name and the address get its reservation back. The window's
    /// failures stay counted until it ends: forgetting them on a success would let the guesses
    /// still in flight beside it be checked too, past the limit.
    pub async fn succeeded(
        &self,
        flows: &dyn FlowStore,
        reservation: Reservation,
    ) -> Result<(), SessionError> {
        let (user, addr) = tokio::join!(
            flows.decrement(COUNT_USER, &reservation.user_key),
            flows.decrement(COUNT_ADDRESS, &reservation.address_key)
        );
        user.and(addr)
    }
}

/// The counter key of a client address: an IPv4 address as it is, an IPv6 address by its /64
/// (one customer's allocation: any host in it counts as the same client). IPv4-mapped IPv6
/// addresses count as their IPv4 address.
pub fn address_key(address: &str) -> String {
    match address.parse::<IpAddr>() {
        Ok(IpAddr::V6(v6)) => match v6.to_ipv4_mapped() {
            Some(v4) => v4.to_string(),
            None => {
                let s = v6.segments();
                let net = std::net::Ipv6Addr::new(s[0], s[1], s[2], s[3], 0, 0, 0, 0);
                format!("{net}/64")
            }
        },
        Ok(IpAddr::V4(v4)) => v4.to_string(),
        Err(_) => address.to_owned(),
    }
}

/// "try again in N minutes", rounded up.
pub fn minutes(d: Duration) -> u64 {
    d.as_secs().div_ceil(60).max(1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ipv6_addresses_count_by_their_64() {
        assert_eq!(address_key("2001:db8:1:2:3:4:5:6"), "2001:db8:1:2::/64");
        assert_eq!(address_key("2001:db8:1:2::ffff"), "2001:db8:1:2::/64");
        assert_ne!(
            address_key("2001:db8:1:3::1"),
            address_key("2001:db8:1:2::1")
        );
        assert_eq!(address_key("::ffff:192.0.2.7"), "192.0.2.7");
        assert_eq!(address_key("192.0.2.7"), "192.0.2.7");
        assert_eq!(address_key("unknown"), "unknown");
    }
}
