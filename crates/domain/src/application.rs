//! Business applications people launch from the portal, with their protocol-specific
//! configuration: an OIDC application carries its client registration ([`OidcSettings`]), a SAML
//! application its service provider registration ([`SamlSettings`]).

use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::{ApplicationId, Description, DisplayName, OidcSettings, SamlSettings, ValidationError};

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
    /// The client registration of an OIDC application (its client id is [`Application::id`]);
    /// `None` for SAML, and for an OIDC application stored before client registration existed
    /// (it cannot sign anyone in until an administrator configures it).
    pub oidc: Option<OidcSettings>,
    /// The service provider registration of a SAML application; `None` for OIDC, and for a SAML
    /// application stored before SAML support (it cannot sign anyone in until configured).
    pub saml: Option<SamlSettings>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl Application {
    /// The OAuth `client_id` of an OIDC application: its id, as a UUID string.
    pub fn client_id(&self) -> String {
        self.id.to_string()
    }
}

/// What an administrator gives to create an application (name, description, enabled and the OIDC
/// settings are also what an update replaces).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewApplication {
    pub name: DisplayName,
    pub description: Description,
    pub kind: ApplicationKind,
    pub enabled: bool,
    /// `Some` for kind OIDC, `None` for SAML.
    pub oidc: Option<OidcSettings>,
    /// `Some` for kind SAML, `None` for OIDC.
    pub saml: Option<SamlSettings>,
}
