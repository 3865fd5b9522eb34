//! The `[saml]` section: the identity provider's entity id and how patient it is with requests.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::ConfigError;

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SamlConfig {
    /// Our entity id (an absolute URI); `{public_url}/saml/metadata` when unset. Service
    /// providers pin it: changing it breaks every registration.
    pub entity_id: Option<String>,
    /// How far an AuthnRequest's `IssueInstant` may be from our clock (10–900 seconds).
    pub max_clock_skew_seconds: u64,
    /// How long a person may take to sign in before a parked request is forgotten (60–3600).
    pub pending_lifetime_seconds: u64,
}

impl Default for SamlConfig {
    fn default() -> Self {
        let d = portcullis_saml::SamlConfig::default();
        Self {
            entity_id: None,
            max_clock_skew_seconds: d.max_clock_skew.as_secs(),
            pending_lifetime_seconds: d.pending_lifetime.as_secs(),
        }
    }
}

impl SamlConfig {
    pub(super) fn validate(&self) -> Result<(), ConfigError> {
        if let Some(id) = &self.entity_id
            && url::Url::parse(id).is_err()
        {
            return Err(ConfigError::Invalid(format!(
                "saml.entity_id '{id}' must be an absolute URI"
            )));
        }
        let checks = [
            (
                "max_clock_skew_seconds",
                self.max_clock_skew_seconds,
                10..=900,
            ),
            (
                "pending_lifetime_seconds",
                self.pending_lifetime_seconds,
                60..=3_600,
            ),
        ];
        for (name, value, range) in checks {
            if !range.contains(&value) {
                return Err(ConfigError::Invalid(format!(
                    "saml.{name} must be between {} and {} (it is {value})",
                    range.start(),
                    range.end()
                )));
            }
        }
        Ok(())
    }

    /// The identity provider's view of this section.
    pub fn to_idp(&self) -> portcullis_saml::SamlConfig {
        portcullis_saml::SamlConfig {
            entity_id: self.entity_id.clone(),
            max_clock_skew: Duration::from_secs(self.max_clock_skew_seconds),
            pending_lifetime: Duration::from_secs(self.pending_lifetime_seconds),
        }
    }
}
