//! What a person signs in with: a password (stored as an argon2id PHC string) and MFA devices
//! (authenticator apps, security keys and passkeys). Secrets are encrypted by the caller before
//! they reach a store, and never printed.

use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::{DisplayName, UserId, ValidationError};

/// A stored password: the PHC string (`$argon2id$v=19$m=…`), and whether the person must choose
/// a new one at their next sign-in (an administrator's one-time password).
#[derive(Clone, PartialEq, Eq)]
pub struct PasswordRecord {
    pub hash: String,
    pub must_change: bool,
    pub updated_at: DateTime<Utc>,
}

impl fmt::Debug for PasswordRecord {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PasswordRecord")
            .field("hash", &"<redacted>")
            .field("must_change", &self.must_change)
            .field("updated_at", &self.updated_at)
            .finish()
    }
}

/// An MFA device's id.
pub type MfaDeviceId = uuid::Uuid;

/// Kinds of MFA device.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum MfaDeviceKind {
    /// TOTP authenticator app (RFC 6238). At most 2 per person.
    AuthenticatorApp,
    /// WebAuthn security key or passkey. At most 6 per person.
    Webauthn,
}

impl MfaDeviceKind {
    pub fn as_str(&self) -> &'static str {
        match self {
            Self::AuthenticatorApp => "AUTHENTICATOR_APP",
            Self::Webauthn => "WEBAUTHN",
        }
    }
    /// How many devices of this kind one person may register (Identity Center's limits).
    pub fn limit(&self) -> usize {
        match self {
            Self::AuthenticatorApp => 2,
            Self::Webauthn => 6,
        }
    }
}

impl FromStr for MfaDeviceKind {
    type Err = ValidationError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "AUTHENTICATOR_APP" => Ok(Self::AuthenticatorApp),
            "WEBAUTHN" => Ok(Self::Webauthn),
            _ => Err(ValidationError::new(
                "must be AUTHENTICATOR_APP or WEBAUTHN",
            )),
        }
    }
}

/// A device to register. `secret` is already encrypted (TOTP key) or serialised (WebAuthn
/// credential) by the caller; stores keep it opaque.
#[derive(Clone, PartialEq, Eq)]
pub struct NewMfaDevice {
    pub user_id: UserId,
    pub kind: MfaDeviceKind,
    pub name: DisplayName,
    pub secret: Vec<u8>,
    /// WebAuthn credential id (base64url), for finding the device at sign-in; `None` for TOTP.
    pub credential_id: Option<String>,
}

/// A registered device, secret included (never printed).
#[derive(Clone, PartialEq, Eq)]
pub struct MfaDevice {
    pub id: MfaDeviceId,
    pub user_id: UserId,
    pub kind: MfaDeviceKind,
    pub name: DisplayName,
    pub secret: Vec<u8>,
    pub credential_id: Option<String>,
    pub created_at: DateTime<Utc>,
    pub last_used_at: Option<DateTime<Utc>>,
}

macro_rules! redacted {
    ($t:ident) => {
        impl fmt::Debug for $t {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.debug_struct(stringify!($t))
                    .field("user_id", &self.user_id)
                    .field("kind", &self.kind)
                    .field("name", &self.name)
                    .field("secret", &"<redacted>")
                    .finish_non_exhaustive()
            }
        }
    };
}
redacted!(NewMfaDevice);
redacted!(MfaDevice);
