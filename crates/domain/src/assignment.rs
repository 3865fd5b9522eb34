//! Assignments: who (a user, or a group's members) may use which role in which account, and who
//! may use which application.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::{AccountId, ApplicationId, GroupId, PermissionSetId, UserId, ValidationError};

/// USER or GROUP, as the Identity Center API spells it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum PrincipalType {
    User,
    Group,
}

impl PrincipalType {
    pub fn as_str(&self) -> &'static str {
        match self {
            Self::User => "USER",
            Self::Group => "GROUP",
        }
    }
}

impl FromStr for PrincipalType {
    type Err = ValidationError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "USER" => Ok(Self::User),
            "GROUP" => Ok(Self::Group),
            _ => Err(ValidationError::new("must be USER or GROUP")),
        }
    }
}

impl fmt::Display for PrincipalType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The one an assignment is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Principal {
    User(UserId),
    Group(GroupId),
}

impl Principal {
    pub fn principal_type(&self) -> PrincipalType {
        match self {
            Self::User(_) => PrincipalType::User,
            Self::Group(_) => PrincipalType::Group,
        }
    }
    pub fn uuid(&self) -> uuid::Uuid {
        match self {
            Self::User(id) => id.as_uuid(),
            Self::Group(id) => id.as_uuid(),
        }
    }
    pub fn from_parts(kind: PrincipalType, id: uuid::Uuid) -> Self {
        match kind {
            PrincipalType::User => Self::User(UserId::from_uuid(id)),
            PrincipalType::Group => Self::Group(GroupId::from_uuid(id)),
        }
    }
}

/// A role in an account for a principal. The triple is unique.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct AccountAssignment {
    pub account_id: AccountId,
    pub permission_set_id: PermissionSetId,
    pub principal: Principal,
}

/// An application for a principal.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ApplicationAssignment {
    pub application_id: ApplicationId,
    pub principal: Principal,
}
