//! Business applications people launch from the portal. The protocol-specific configuration
//! (OIDC client, SAML service provider) is added by the OIDC and SAML features.

use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::{ApplicationId, Description, DisplayName, ValidationError};

/// How an application federates sign-in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum ApplicationKind {
    Oidc,
    Saml,
}

impl ApplicationKind {
    pub fn as_str(&self) -> &'static str {
        match self {
            Self::Oidc => "OIDC",
            Self::Saml => "SAML",
        }
    }
}

impl FromStr for ApplicationKind {
    type Err = ValidationError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "OIDC" => Ok(Self::Oidc),
            "SAML" => Ok(Self::Saml),
            _ => Err(ValidationError::new("must be OIDC or SAML")),
        }
    }
}

impl fmt::Display for ApplicationKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An application as stored. Its kind never changes after creation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Application {
    pub id: ApplicationId,
    pub name: DisplayName,
    pub description: Description,
    pub kind: ApplicationKind,
    pub enabled: bool,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// What an administrator gives to create an application (name, description and enabled are
/// also what an update replaces).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewApplication {
    pub name: DisplayName,
    pub description: Description,
    pub kind: ApplicationKind,
    pub enabled: bool,
}
