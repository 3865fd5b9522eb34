//! Groups of people: assignments to a group reach every member.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::{Description, DisplayName, GroupId};

/// A group's unique name.
pub type GroupName = DisplayName;

/// A group as stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Group {
    pub id: GroupId,
    pub name: GroupName,
    pub description: Description,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// What an administrator gives to create a group (also the full replacement on update).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewGroup {
    pub name: GroupName,
    pub description: Description,
}
