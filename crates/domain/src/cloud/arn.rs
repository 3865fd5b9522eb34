//! IAM ARNs (roles, SAML providers, OIDC providers) and the template that names a permission
//! set's role.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::{AccountId, ValidationError};

/// What an IAM ARN names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ArnKind {
    Role,
    SamlProvider,
    OidcProvider,
}

impl ArnKind {
    fn resource(self) -> &'static str {
        match self {
            Self::Role => "role",
            Self::SamlProvider => "saml-provider",
            Self::OidcProvider => "oidc-provider",
        }
    }
}

/// An IAM ARN of a role, SAML provider or OIDC provider:
/// `arn:{aws|aws-cn|aws-us-gov}:iam::{12 digits}:{role|saml-provider|oidc-provider}/{name}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Arn {
    arn: String,
    kind: ArnKind,
}

impl Arn {
    pub fn parse(s: impl Into<String>) -> Result<Self, ValidationError> {
        let s = s.into();
        let bad = || {
            ValidationError::new(
                "must be an IAM ARN such as arn:aws:iam::123456789012:role/Name \
                 (role, saml-provider or oidc-provider)",
            )
        };
        if s.len() > 2048 {
            return Err(bad());
        }
        let mut parts = s.splitn(6, ':');
        let (Some("arn"), Some(partition), Some("iam"), Some(""), Some(account), Some(resource)) = (
            parts.next(),
            parts.next(),
            parts.next(),
            parts.next(),
            parts.next(),
            parts.next(),
        ) else {
            return Err(bad());
        };
        if !matches!(partition, "aws" | "aws-cn" | "aws-us-gov")
            || AccountId::parse(account).is_err()
        {
            return Err(bad());
        }
        let (resource_type, path) = resource.split_once('/').ok_or_else(bad)?;
        let kind = match resource_type {
            "role" => ArnKind::Role,
            "saml-provider" => ArnKind::SamlProvider,
            "oidc-provider" => ArnKind::OidcProvider,
            _ => return Err(bad()),
        };
        let name = path.rsplit('/').next().unwrap_or_default();
        let name_ok = match kind {
            // IAM role names: 1–64 of [\w+=,.@-]; paths are /-separated words of the same.
            ArnKind::Role => {
                (1..=64).contains(&name.len())
                    && path.split('/').all(|p| p.chars().all(iam_name_char))
            }
            ArnKind::SamlProvider => {
                (1..=128).contains(&name.len())
                    && name
                        .chars()
                        .all(|c| c.is_ascii_alphanumeric() || "._-".contains(c))
            }
            // A host with an optional path, as the provider's issuer URL without https://.
            ArnKind::OidcProvider => {
                !path.is_empty()
                    && path
                        .chars()
                        .all(|c| c.is_ascii_alphanumeric() || ".-_/:".contains(c))
            }
        };
        if !name_ok {
            return Err(bad());
        }
        Ok(Self { arn: s, kind })
    }

    pub fn as_str(&self) -> &str {
        &self.arn
    }

    pub fn kind(&self) -> ArnKind {
        self.kind
    }

    /// The 12 digits of the account the ARN is in.
    pub fn account(&self) -> &str {
        self.arn.split(':').nth(4).unwrap_or_default()
    }

    /// Checks that this names a `kind` in `account`.
    pub fn check_in(&self, account: &AccountId, kind: ArnKind) -> Result<(), ValidationError> {
        if self.kind() != kind {
            return Err(ValidationError::new(format!(
                "must be a {} ARN",
                kind.resource()
            )));
        }
        if self.account() != account.as_str() {
            return Err(ValidationError::new(format!(
                "must be in account {account} (AWS only trusts its own)"
            )));
        }
        Ok(())
    }
}

/// The characters of IAM names: letters, digits and `+ = , . @ _ -`.
fn iam_name_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || "+=,.@_-".contains(c)
}

impl TryFrom<String> for Arn {
    type Error = ValidationError;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        Self::parse(s)
    }
}

impl From<Arn> for String {
    fn from(v: Arn) -> String {
        v.arn
    }
}

impl fmt::Display for Arn {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.arn)
    }
}

/// How a permission set's role ARN is made: a role ARN with `{accountId}` and
/// `{permissionSetName}` placeholders, which must give a valid role ARN for any account and
/// permission-set name.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct RoleArnTemplate(String);

impl RoleArnTemplate {
    /// What IAM Identity Center's own naming would be without its `AWSReservedSSO_` prefix.
    pub const DEFAULT: &'static str = "arn:aws:iam::{accountId}:role/{permissionSetName}";

    pub fn parse(s: impl Into<String>) -> Result<Self, ValidationError> {
        let s = s.into();
        if !s.contains("{permissionSetName}") {
            return Err(ValidationError::new(
                "must contain {permissionSetName} (every permission set needs its own role)",
            ));
        }
        // Every name a permission set may have (1–32 characters) must give a role ARN.
        let longest = "A".repeat(32);
        for sample in ["A", longest.as_str()] {
            let filled = s
                .replace("{accountId}", "123456789012")
                .replace("{permissionSetName}", sample);
            let arn = Arn::parse(filled).map_err(|_| {
                ValidationError::new(
                    "must give a role ARN (arn:aws:iam::{accountId}:role/…) for every \
                     permission-set name",
                )
            })?;
            if arn.kind() != ArnKind::Role {
                return Err(ValidationError::new("must give a role ARN"));
            }
        }
        if s.contains('{')
            && s.replace("{accountId}", "")
                .replace("{permissionSetName}", "")
                .contains(['{', '}'])
        {
            return Err(ValidationError::new(
                "knows only the placeholders {accountId} and {permissionSetName}",
            ));
        }
        Ok(Self(s))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for RoleArnTemplate {
    type Error = ValidationError;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        Self::parse(s)
    }
}

impl From<RoleArnTemplate> for String {
    fn from(v: RoleArnTemplate) -> String {
        v.0
    }
}
