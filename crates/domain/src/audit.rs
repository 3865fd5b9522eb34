//! The audit log: who did what to which thing, and when. Written in the same transaction as the
//! change it records.

use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::{AdminTokenId, UserId, ValidationError};

/// Who made a change.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Actor {
    /// Portcullis itself (start-up, schedules, the command line run locally).
    System,
    /// The bootstrap administrator token.
    Bootstrap,
    /// An administrator API token.
    AdminToken(AdminTokenId),
    /// A person acting for themselves (sign-in, their own MFA devices).
    User(UserId),
}

impl fmt::Display for Actor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::System => f.write_str("system"),
            Self::Bootstrap => f.write_str("bootstrap"),
            Self::AdminToken(id) => write!(f, "admin-token:{id}"),
            Self::User(id) => write!(f, "user:{id}"),
        }
    }
}

impl FromStr for Actor {
    type Err = ValidationError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "system" => return Ok(Self::System),
            "bootstrap" => return Ok(Self::Bootstrap),
            _ => {}
        }
        if let Some(id) = s.strip_prefix("admin-token:") {
            return Ok(Self::AdminToken(id.parse()?));
        }
        if let Some(id) = s.strip_prefix("user:") {
            return Ok(Self::User(id.parse()?));
        }
        Err(ValidationError::new(
            "must be system, bootstrap, admin-token:<id> or user:<id>",
        ))
    }
}

/// An audit event about to be written. `action` is a dotted verb such as `user.create`;
/// `target` names the thing changed (`user:<id>`, `account:<id>` …).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewAuditEvent {
    pub actor: Actor,
    pub action: String,
    pub target: String,
    /// Extra facts as a JSON object string; never a secret.
    pub details: Option<String>,
}

impl NewAuditEvent {
    pub fn new(actor: Actor, action: impl Into<String>, target: impl Into<String>) -> Self {
        Self {
            actor,
            action: action.into(),
            target: target.into(),
            details: None,
        }
    }
    pub fn with_details(mut self, details: impl Into<String>) -> Self {
        self.details = Some(details.into());
        self
    }
}

/// An audit event as stored; `id` grows with time.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditEvent {
    pub id: i64,
    pub time: DateTime<Utc>,
    pub actor: String,
    pub action: String,
    pub target: String,
    pub details: Option<String>,
}

/// Which audit events to list. Results come newest first.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AuditFilter {
    pub since: Option<DateTime<Utc>>,
    pub until: Option<DateTime<Utc>>,
    pub actor: Option<String>,
    pub action: Option<String>,
}
