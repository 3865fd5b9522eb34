//! The `[oidc]` section: token-signing key rotation and the lifetimes of OIDC flow artefacts.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::ConfigError;

/// Signing-key schedule and OIDC flow lifetimes.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OidcConfig {
    /// A new signing key per algorithm is made when the newest is this many days old (1–3650).
    pub key_rotation_days: u64,
    /// How long a new key is published in the JWKS before it signs (0–7 days), so relying
    /// parties that cache the JWKS already know it.
    pub key_publish_ahead_seconds: u64,
    /// How long a retired key stays in the JWKS (5 minutes–90 days): at least the longest
    /// lifetime of a token it signed.
    pub key_retain_seconds: u64,
    /// How long an authorization code may wait to be redeemed (10–600).
    pub code_lifetime_seconds: u64,
    /// How long a device code and its user code live (60–3600).
    pub device_code_lifetime_seconds: u64,
    /// The polling interval device clients are told to keep (1–60).
    pub device_poll_interval_seconds: u64,
    /// Clients one address (an IPv6 /64) may register through the SSO-OIDC API
    /// (`/client/register`) per hour (1–10000).
    pub registrations_per_hour: u64,
    /// How long such a registration lives until it is first used to get a token (300 s–90 days);
    /// once used, it lives its full 90 days.
    pub unused_registration_seconds: u64,
    /// How long after a refresh token is rotated its client may present it again and get the
    /// same answer (a retry whose answer was lost; 0–300, 0: never). Later it is reuse, which
    /// revokes the grant.
    pub refresh_grace_seconds: u64,
}

impl Default for OidcConfig {
    fn default() -> Self {
        Self {
            key_rotation_days: 90,
            key_publish_ahead_seconds: 3_600,
            key_retain_seconds: 86_400,
            code_lifetime_seconds: 60,
            device_code_lifetime_seconds: 600,
            device_poll_interval_seconds: 5,
            registrations_per_hour: 20,
            unused_registration_seconds: 86_400,
            refresh_grace_seconds: 30,
        }
    }
}

impl OidcConfig {
    pub(super) fn validate(&self) -> Result<(), ConfigError> {
        let checks: [(&str, u64, std::ops::RangeInclusive<u64>); 9] = [
            ("key_rotation_days", self.key_rotation_days, 1..=3_650),
            (
                "key_publish_ahead_seconds",
                self.key_publish_ahead_seconds,
                0..=7 * 86_400,
            ),
            (
                "key_retain_seconds",
                self.key_retain_seconds,
                300..=90 * 86_400,
            ),
            (
                "code_lifetime_seconds",
                self.code_lifetime_seconds,
                10..=600,
            ),
            (
                "device_code_lifetime_seconds",
                self.device_code_lifetime_seconds,
                60..=3_600,
            ),
            (
                "device_poll_interval_seconds",
                self.device_poll_interval_seconds,
                1..=60,
            ),
            (
                "registrations_per_hour",
                self.registrations_per_hour,
                1..=10_000,
            ),
            (
                "unused_registration_seconds",
                self.unused_registration_seconds,
                300..=90 * 86_400,
            ),
            ("refresh_grace_seconds", self.refresh_grace_seconds, 0..=300),
        ];
        for (name, value, range) in checks {
            if !range.contains(&value) {
                return Err(ConfigError::Invalid(format!(
                    "oidc.{name} must be between {} and {} (it is {value})",
                    range.start(),
                    range.end()
                )));
            }
        }
        if self.key_publish_ahead_seconds >= self.key_rotation_days * 86_400 {
            return Err(ConfigError::Invalid(
                "oidc.key_publish_ahead_seconds must be shorter than oidc.key_rotation_days".into(),
            ));
        }
        if self.device_poll_interval_seconds >= self.device_code_lifetime_seconds {
            return Err(ConfigError::Invalid(
                "oidc.device_poll_interval_seconds must be shorter than \
                 oidc.device_code_lifetime_seconds"
                    .into(),
            ));
        }
        Ok(())
    }

    /// The identity provider's view of this section (other OIDC settings keep their defaults).
    pub fn to_idp(&self) -> portcullis_oidc::OidcConfig {
        let defaults = portcullis_oidc::OidcConfig::default();
        portcullis_oidc::OidcConfig {
            keys: portcullis_auth::keys::KeyConfig {
                rotation_interval: Duration::from_secs(self.key_rotation_days * 86_400),
                publish_ahead: Duration::from_secs(self.key_publish_ahead_seconds),
                retain_after_retirement: Duration::from_secs(self.key_retain_seconds),
                ..defaults.keys
            },
            code_lifetime: Duration::from_secs(self.code_lifetime_seconds),
            device_code_lifetime: Duration::from_secs(self.device_code_lifetime_seconds),
            device_poll_interval: Duration::from_secs(self.device_poll_interval_seconds),
            registrations_per_hour: self.registrations_per_hour,
            unused_registration_lifetime: Duration::from_secs(self.unused_registration_seconds),
            refresh_grace: Duration::from_secs(self.refresh_grace_seconds),
            ..defaults
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn defaults_are_valid_and_map_to_the_idp() {
        let c = OidcConfig::default();
        c.validate().unwrap();
        let idp = c.to_idp();
        assert_eq!(idp.keys.rotation_interval, Duration::from_secs(90 * 86_400));
        assert_eq!(idp.keys.publish_ahead, Duration::from_secs(3_600));
        assert_eq!(
            idp.keys.retain_after_retirement,
            Duration::from_secs(86_400)
        );
        assert_eq!(idp.code_lifetime, Duration::from_secs(60));
        assert_eq!(idp.device_code_lifetime, Duration::from_secs(600));
        assert_eq!(idp.device_poll_interval, Duration::from_secs(5));
    }

    #[test]
    fn out_of_range_values_are_refused() {
        let bad = [
            OidcConfig {
                key_rotation_days: 0,
                ..Default::default()
            },
            OidcConfig {
                key_retain_seconds: 10,
                ..Default::default()
            },
            OidcConfig {
                code_lifetime_seconds: 3_600,
                ..Default::default()
            },
            OidcConfig {
                device_poll_interval_seconds: 0,
                ..Default::default()
            },
            OidcConfig {
                key_rotation_days: 1,
                key_publish_ahead_seconds: 86_400,
                ..Default::default()
            },
            OidcConfig {
                device_code_lifetime_seconds: 60,
                device_poll_interval_seconds: 60,
                ..Default::default()
            },
        ];
        for c in bad {
            let e = c.validate().unwrap_err().to_string();
            assert!(e.starts_with("oidc."), "{e}");
        }
    }
}
