//! A person's consent to an OpenID Connect client: which client, which scopes, until when.

use chrono::{DateTime, Utc};

use crate::UserId;

/// What a person allowed a client to do on their behalf. Remembered per person and client; a
/// later request for scopes the consent does not cover asks again.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Consent {
    pub user_id: UserId,
    /// An application's client id, or the id of a client registered through the SSO-OIDC API.
    pub client_id: String,
    /// The client's name as it was shown when the person consented.
    pub client_name: String,
    /// Sorted, without duplicates.
    pub scopes: Vec<String>,
    pub granted_at: DateTime<Utc>,
    /// When the consent lapses (a registered client's own expiry); `None`: until revoked.
    pub expires_at: Option<DateTime<Utc>>,
}

impl Consent {
    /// Whether the consent covers every one of `scopes`.
    pub fn covers(&self, scopes: &[String]) -> bool {
        scopes.iter().all(|s| self.scopes.iter().any(|c| c == s))
    }

    /// Whether it is still in force at `now`.
    pub fn is_live(&self, now: DateTime<Utc>) -> bool {
        self.expires_at.is_none_or(|e| e > now)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_consent_covers_only_its_scopes_and_lapses() {
        let now = Utc::now();
        let c = Consent {
            user_id: UserId::new(),
            client_id: "pcrc_x".into(),
            client_name: "CLI".into(),
            scopes: vec!["openid".into(), "sso:account:access".into()],
            granted_at: now,
            expires_at: Some(now + chrono::Duration::hours(1)),
        };
        assert!(c.covers(&["sso:account:access".into()]));
        assert!(c.covers(&[]));
        assert!(!c.covers(&["sso:account:access".into(), "email".into()]));
        assert!(c.is_live(now));
        assert!(!c.is_live(now + chrono::Duration::hours(1)));
    }
}
