//! What the OIDC key ring and the SAML certificates share about a signing key's life: when a
//! key rotates and how long it stays published ([`KeyConfig`]), when it signs ([`signs_at`]),
//! and how the first key of a fresh deployment is dated ([`FIRST_KEY_BACKDATE`]); and the one
//! lifecycle both run on ([`KeyLifecycle`]), generic over what differs ([`KeyKind`]).

use std::time::Duration;

use chrono::{DateTime, TimeDelta, Utc};

pub use lifecycle::{Key, KeyInfo, KeyKind, KeyLifecycle, KeyStoreError, NewKey};

mod lifecycle;
#[cfg(test)]
mod tests;

/// When keys rotate and how long they stay published.
#[derive(Debug, Clone)]
pub struct KeyConfig {
    /// A new key is generated when the newest one is older than this (default 90 days).
    pub rotation_interval: Duration,
    /// How long a new key is published before it signs (default 1 hour), so relying parties
    /// that cache the JWKS see it first.
    pub publish_ahead: Duration,
    /// How long a retired key stays published (at least the longest token lifetime; default
    /// 24 hours).
    pub retain_after_retirement: Duration,
    /// How long a node trusts its in-memory copy of the key set before rereading the store
    /// (an unknown `kid` always rereads at once).
    pub cache_ttl: Duration,
}

impl Default for KeyConfig {
    fn default() -> Self {
        Self {
            rotation_interval: Duration::from_secs(90 * 86_400),
            publish_ahead: Duration::from_secs(3_600),
            retain_after_retirement: Duration::from_secs(86_400),
            cache_ttl: Duration::from_secs(60),
        }
    }
}

/// How far before its creation a node's first key signs from: nodes started together, whose
/// clocks differ by less than this, all see the first one's key signing when they look.
pub const FIRST_KEY_BACKDATE: chrono::TimeDelta = chrono::TimeDelta::seconds(60);

pub fn signs_at(
    active_from: DateTime<Utc>,
    retired_at: Option<DateTime<Utc>>,
    now: DateTime<Utc>,
) -> bool {
    active_from <= now && retired_at.is_none_or(|r| r > now)
}

/// A std duration as a chrono one (configuration bounds keep it far from the limits).
pub fn delta(d: Duration) -> TimeDelta {
    TimeDelta::from_std(d).unwrap_or(TimeDelta::days(36_500))
}

/// A key's state as the admin API shows it: `pending` (published, not yet signing), `active`, or
/// `retired` (published, not signing).
pub fn state_at(
    active_from: DateTime<Utc>,
    retired_at: Option<DateTime<Utc>>,
    now: DateTime<Utc>,
) -> &'static str {
    if active_from > now {
        "pending"
    } else if retired_at.is_some_and(|r| r <= now) {
        "retired"
    } else {
        "active"
    }
}
