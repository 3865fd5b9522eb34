//! Permission sets: the role a person assumes in an account. The set's name is the role name.

use std::fmt;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::cloud::CloudPolicies;
use crate::{Description, PermissionSetId, ValidationError};

/// A role name: 1–32 of `A-Z a-z 0-9 + = , . @ _ -` (the Identity Center permission-set name rule).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct RoleName(String);

impl RoleName {
    pub fn parse(s: impl Into<String>) -> Result<Self, ValidationError> {
        let s = s.into();
        if s.is_empty() || s.len() > 32 {
            return Err(ValidationError::new("must be 1 to 32 characters"));
        }
        if !s
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "+=,.@_-".contains(c))
        {
            return Err(ValidationError::new(
                "may contain only letters, digits and + = , . @ _ -",
            ));
        }
        Ok(Self(s))
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for RoleName {
    type Error = ValidationError;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        Self::parse(s)
    }
}

impl From<RoleName> for String {
    fn from(v: RoleName) -> String {
        v.0
    }
}

impl fmt::Display for RoleName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

crate::bounded_duration!(
    /// How long role credentials from this permission set live: 1 to 12 hours, default 1 hour.
    PermissionSetDuration,
    min = 3_600,
    max = 12 * 3_600,
    default = 3_600,
    limits = "1 hour (PT1H) and 12 hours (PT12H)"
);

/// A permission set as stored. Its name is unique.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PermissionSet {
    pub id: PermissionSetId,
    pub name: RoleName,
    pub description: Description,
    pub session_duration: PermissionSetDuration,
    /// What its role may do in `aws` accounts (provisioned there; unused by native accounts).
    pub policies: CloudPolicies,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// What an administrator gives to create a permission set (also the full replacement on update).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewPermissionSet {
    pub name: RoleName,
    pub description: Description,
    pub session_duration: PermissionSetDuration,
    pub policies: CloudPolicies,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn role_names() {
        assert!(RoleName::parse("AdministratorAccess").is_ok());
        assert!(RoleName::parse("a+=,.@_-").is_ok());
        assert!(RoleName::parse("").is_err());
        assert!(RoleName::parse("x".repeat(33)).is_err());
        assert!(RoleName::parse("with space").is_err());
    }

    #[test]
    fn durations() {
        assert_eq!(PermissionSetDuration::default().to_iso8601(), "PT1H");
        assert!(PermissionSetDuration::parse_iso8601("PT12H").is_ok());
        assert!(PermissionSetDuration::parse_iso8601("PT90M").is_ok());
        assert!(PermissionSetDuration::parse_iso8601("PT59M").is_err());
        assert!(PermissionSetDuration::parse_iso8601("PT13H").is_err());
        assert!(PermissionSetDuration::parse_iso8601("P1D").is_err());
    }
}
