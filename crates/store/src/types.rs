//! Store-level records that are not domain aggregates.

use chrono::{DateTime, Utc};
use portcullis_domain::{
    AccountId, ApplicationKind, ClientType, OidcSettings, PermissionSetId, Principal, RoleName,
};
use portcullis_domain::{AccountKind, AwsAccount, CloudPolicies, SamlSettings};

use crate::{Result, StoreError};

/// Which assignments to list; `None` fields match everything.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AssignmentFilter {
    pub account_id: Option<AccountId>,
    pub permission_set_id: Option<PermissionSetId>,
    pub principal: Option<Principal>,
}

/// One (account, permission set) a user holds.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Entitlement {
    pub account_id: AccountId,
    pub permission_set_id: PermissionSetId,
    pub role_name: RoleName,
}

/// A signing key to store. `private_key` is already encrypted by the caller.
#[derive(Clone, PartialEq, Eq)]
pub struct NewSigningKey {
    pub kid: String,
    /// What signs with it: `oidc`, `saml`, `broker`, …
    pub purpose: String,
    /// `RS256`, `ES256`, `EdDSA`, …
    pub algorithm: String,
    pub private_key: Vec<u8>,
    /// Public key (PEM, or a certificate for SAML).
    pub public_key: String,
    /// When it may start signing (published before then).
    pub active_from: DateTime<Utc>,
}

/// A stored signing key.
#[derive(Clone, PartialEq, Eq)]
pub struct SigningKey {
    pub kid: String,
    pub purpose: String,
    pub algorithm: String,
    pub private_key: Vec<u8>,
    pub public_key: String,
    pub created_at: DateTime<Utc>,
    pub active_from: DateTime<Utc>,
    pub retired_at: Option<DateTime<Utc>>,
}

macro_rules! redacted_debug {
    ($t:ident) => {
        impl std::fmt::Debug for $t {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.debug_struct(stringify!($t))
                    .field("kid", &self.kid)
                    .field("purpose", &self.purpose)
                    .field("algorithm", &self.algorithm)
                    .field("private_key", &"<redacted>")
                    .finish_non_exhaustive()
            }
        }
    };
}
redacted_debug!(NewSigningKey);
redacted_debug!(SigningKey);

/// The current time at the precision both backends store (milliseconds), so that what a write
/// returns equals what a later read returns.
pub(crate) fn now_millis() -> DateTime<Utc> {
    let now = Utc::now();
    DateTime::from_timestamp_millis(now.timestamp_millis()).unwrap_or(now)
}

/// The stored JSON form of an OIDC client registration (the domain type's own serde form).
pub(crate) fn oidc_to_json(settings: &OidcSettings) -> Result<serde_json::Value> {
    serde_json::to_value(settings)
        .map_err(|e| StoreError::Corrupt(format!("applications.oidc: {e}")))
}

/// Reads a stored OIDC client registration back, through the domain's checks.
pub(crate) fn oidc_from_json(value: serde_json::Value) -> Result<OidcSettings> {
    serde_json::from_value(value)
        .map_err(|e| StoreError::Corrupt(format!("applications.oidc: {e}")))
}

/// The stored form of an account's kind: `aws` settings as JSON, `None` for a native account.
pub(crate) fn aws_to_json(kind: &AccountKind) -> Result<Option<serde_json::Value>> {
    kind.aws()
        .map(|a| {
            serde_json::to_value(a).map_err(|e| StoreError::Corrupt(format!("accounts.aws: {e}")))
        })
        .transpose()
}

/// Reads an account's kind back, through the domain's checks.
pub(crate) fn aws_from_json(value: Option<serde_json::Value>) -> Result<AccountKind> {
    match value {
        None => Ok(AccountKind::Native),
        Some(v) => serde_json::from_value::<AwsAccount>(v)
            .map(AccountKind::Aws)
            .map_err(|e| StoreError::Corrupt(format!("accounts.aws: {e}"))),
    }
}

/// The stored JSON form of a permission set's policies.
pub(crate) fn policies_to_json(policies: &CloudPolicies) -> Result<serde_json::Value> {
    serde_json::to_value(policies)
        .map_err(|e| StoreError::Corrupt(format!("permission_sets.policies: {e}")))
}

/// Reads a permission set's policies back, through the domain's checks.
pub(crate) fn policies_from_json(value: serde_json::Value) -> Result<CloudPolicies> {
    serde_json::from_value(value)
        .map_err(|e| StoreError::Corrupt(format!("permission_sets.policies: {e}")))
}

/// The stored JSON form of a SAML service provider registration.
pub(crate) fn saml_to_json(settings: &SamlSettings) -> Result<serde_json::Value> {
    serde_json::to_value(settings)
        .map_err(|e| StoreError::Corrupt(format!("applications.saml: {e}")))
}

/// Reads a stored SAML registration back, through the domain's checks.
pub(crate) fn saml_from_json(value: serde_json::Value) -> Result<SamlSettings> {
    serde_json::from_value(value)
        .map_err(|e| StoreError::Corrupt(format!("applications.saml: {e}")))
}

/// Only a SAML application carries SAML settings.
pub(crate) fn check_saml_kind(kind: ApplicationKind, saml: Option<&SamlSettings>) -> Result<()> {
    if kind == ApplicationKind::Oidc && saml.is_some() {
        return Err(StoreError::Conflict {
            field: "saml",
            message: "an OIDC application has no SAML settings".to_owned(),
        });
    }
    Ok(())
}

/// Only an OIDC application carries OIDC settings.
pub(crate) fn check_oidc_kind(kind: ApplicationKind, oidc: Option<&OidcSettings>) -> Result<()> {
    if kind == ApplicationKind::Saml && oidc.is_some() {
        return Err(StoreError::Conflict {
            field: "oidc",
            message: "a SAML application has no OIDC settings".to_owned(),
        });
    }
    Ok(())
}

/// Only a confidential OIDC client can hold a secret.
pub(crate) fn check_secret_holder(
    kind: ApplicationKind,
    oidc: Option<&OidcSettings>,
) -> Result<()> {
    let message = match (kind, oidc.map(|o| o.client_type)) {
        (ApplicationKind::Oidc, Some(ClientType::Confidential)) => return Ok(()),
        (ApplicationKind::Saml, _) => "a SAML application has no client secret",
        (ApplicationKind::Oidc, Some(ClientType::Public)) => {
            "a public client has no client secret (it uses PKCE instead)"
        }
        (ApplicationKind::Oidc, None) => {
            "this OIDC application has no client settings yet: configure them first"
        }
    };
    Err(StoreError::Conflict {
        field: "clientType",
        message: message.to_owned(),
    })
}

/// Whether an update leaves the client unable to hold a secret (its stored hash then goes).
pub(crate) fn keeps_secret(oidc: Option<&OidcSettings>) -> bool {
    oidc.is_some_and(|o| o.client_type == ClientType::Confidential)
}
