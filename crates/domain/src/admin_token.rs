//! Administrator API tokens. The secret itself is shown once and stored only as a SHA-256 hash;
//! these are the facts that may be listed.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::{AdminTokenId, DisplayName};

/// A token's public facts.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AdminToken {
    pub id: AdminTokenId,
    pub name: DisplayName,
    pub created_at: DateTime<Utc>,
    pub expires_at: Option<DateTime<Utc>>,
    /// True for the token generated or configured at first start.
    pub bootstrap: bool,
}

/// A token to store: `hash` is SHA-256 of the secret, never the secret.
#[derive(Clone, PartialEq, Eq)]
pub struct NewAdminToken {
    pub name: DisplayName,
    pub hash: [u8; 32],
    pub expires_at: Option<DateTime<Utc>>,
    pub bootstrap: bool,
}

impl std::fmt::Debug for NewAdminToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NewAdminToken")
            .field("name", &self.name)
            .field("hash", &"<redacted>")
            .field("expires_at", &self.expires_at)
            .field("bootstrap", &self.bootstrap)
            .finish()
    }
}
