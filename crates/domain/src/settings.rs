//! Organisation-wide settings an administrator controls: portal session lifetime, MFA policy and
//! the email one-time-password switch (the Identity Center authentication settings).

use serde::{Deserialize, Serialize};

use crate::ValidationError;

crate::bounded_duration!(
    /// The absolute lifetime of a portal session: 15 minutes to 90 days, default 8 hours.
    SessionLifetime,
    min = 15 * 60,
    max = 90 * 86_400,
    default = 8 * 3_600,
    limits = "15 minutes (PT15M) and 90 days (P90D)"
);

/// When to ask for a second factor.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, Default)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum MfaPrompt {
    /// Every sign-in.
    EverySignIn,
    /// Only when the sign-in context changes (a new browser or device).
    #[default]
    ContextChange,
    /// Never (MFA disabled).
    Never,
}

/// Kinds of second factor a person may register.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum MfaType {
    /// Authenticator apps (TOTP, RFC 6238).
    AuthenticatorApp,
    /// Security keys and built-in authenticators (WebAuthn, passkeys).
    Webauthn,
}

/// What happens at sign-in when MFA is due but the person has no device registered.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, Default)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum NoDeviceAction {
    /// Make them register a device before they reach the portal.
    RequireRegistration,
    /// Send a verification code by email.
    #[default]
    EmailCode,
    /// Refuse the sign-in.
    Block,
    /// Let them in with the password alone.
    Allow,
}

/// The MFA policy. At least one type is allowed unless the prompt is `Never`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct MfaPolicy {
    prompt: MfaPrompt,
    allowed_types: Vec<MfaType>,
    no_device: NoDeviceAction,
}

impl MfaPolicy {
    pub fn new(
        prompt: MfaPrompt,
        mut allowed_types: Vec<MfaType>,
        no_device: NoDeviceAction,
    ) -> Result<Self, ValidationError> {
        allowed_types.sort();
        allowed_types.dedup();
        if allowed_types.is_empty() && prompt != MfaPrompt::Never {
            return Err(ValidationError::new(
                "at least one MFA type must be allowed unless the prompt is NEVER",
            ));
        }
        if allowed_types.is_empty() && no_device == NoDeviceAction::RequireRegistration {
            return Err(ValidationError::new(
                "REQUIRE_REGISTRATION needs at least one allowed MFA type",
            ));
        }
        Ok(Self {
            prompt,
            allowed_types,
            no_device,
        })
    }
    pub fn prompt(&self) -> MfaPrompt {
        self.prompt
    }
    pub fn allowed_types(&self) -> &[MfaType] {
        &self.allowed_types
    }
    pub fn allows(&self, t: MfaType) -> bool {
        self.allowed_types.contains(&t)
    }
    pub fn no_device(&self) -> NoDeviceAction {
        self.no_device
    }
}

impl Default for MfaPolicy {
    fn default() -> Self {
        Self {
            prompt: MfaPrompt::default(),
            allowed_types: vec![MfaType::AuthenticatorApp, MfaType::Webauthn],
            no_device: NoDeviceAction::default(),
        }
    }
}

/// All organisation settings, stored as one row.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "camelCase")]
pub struct Settings {
    pub session_lifetime: SessionLifetime,
    pub mfa: MfaPolicy,
    /// Users created without a password receive an emailed one-time password at first sign-in.
    pub email_otp: bool,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn session_lifetime_bounds() {
        assert_eq!(SessionLifetime::default().to_iso8601(), "PT8H");
        assert!(SessionLifetime::parse_iso8601("PT15M").is_ok());
        assert!(SessionLifetime::parse_iso8601("P90D").is_ok());
        assert!(SessionLifetime::parse_iso8601("PT14M").is_err());
        assert!(SessionLifetime::parse_iso8601("P91D").is_err());
        let msg = SessionLifetime::from_seconds(1).err().map(|e| e.message);
        assert!(msg.is_some_and(|m| m.contains("15 minutes") && m.contains("90 days")));
    }

    #[test]
    fn mfa_policy_rules() {
        assert!(MfaPolicy::new(MfaPrompt::Never, vec![], NoDeviceAction::Allow).is_ok());
        assert!(MfaPolicy::new(MfaPrompt::EverySignIn, vec![], NoDeviceAction::Allow).is_err());
        let p = MfaPolicy::new(
            MfaPrompt::EverySignIn,
            vec![MfaType::Webauthn, MfaType::Webauthn],
            NoDeviceAction::Block,
        );
        assert_eq!(p.map(|p| p.allowed_types().len()).ok(), Some(1));
    }
}
