//! Opaque identifiers. Random UUIDs: they say nothing about order or count.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::ValidationError;

macro_rules! uuid_id {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(transparent)]
        pub struct $name(Uuid);

        impl $name {
            pub fn new() -> Self {
                Self(Uuid::new_v4())
            }
            pub fn from_uuid(id: Uuid) -> Self {
                Self(id)
            }
            pub fn as_uuid(&self) -> Uuid {
                self.0
            }
        }

        impl Default for $name {
            fn default() -> Self {
                Self::new()
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                self.0.fmt(f)
            }
        }

        impl FromStr for $name {
            type Err = ValidationError;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                Uuid::parse_str(s)
                    .map(Self)
                    .map_err(|_| ValidationError::new("must be a UUID"))
            }
        }
    };
}

uuid_id!(
    /// A person in the directory.
    UserId
);
uuid_id!(
    /// A group of people.
    GroupId
);
uuid_id!(
    /// A permission set (a role that can be assigned in accounts).
    PermissionSetId
);
uuid_id!(
    /// A business application (OIDC relying party or SAML service provider).
    ApplicationId
);
uuid_id!(
    /// An administrator API token (its id, never its secret).
    AdminTokenId
);
