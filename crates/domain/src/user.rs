//! People in the directory.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::{DisplayName, Email, PersonName, UserId, UserName};

/// A person as stored. `user_name` and `email` are unique (case-insensitively for the name).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct User {
    pub id: UserId,
    pub user_name: UserName,
    pub email: Email,
    pub display_name: DisplayName,
    pub given_name: Option<PersonName>,
    pub family_name: Option<PersonName>,
    pub enabled: bool,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// What an administrator gives to create a person.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewUser {
    pub user_name: UserName,
    pub email: Email,
    pub display_name: DisplayName,
    pub given_name: Option<PersonName>,
    pub family_name: Option<PersonName>,
    pub enabled: bool,
}

/// A partial update: `None` leaves a field alone; `Some(None)` clears an optional one.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct UserPatch {
    pub user_name: Option<UserName>,
    pub email: Option<Email>,
    pub display_name: Option<DisplayName>,
    pub given_name: Option<Option<PersonName>>,
    pub family_name: Option<Option<PersonName>>,
    pub enabled: Option<bool>,
}

impl UserPatch {
    pub fn is_empty(&self) -> bool {
        *self == Self::default()
    }

    /// Applies the patch to a copy of `user` (the store persists the result).
    pub fn apply(&self, user: &User) -> User {
        let mut u = user.clone();
        if let Some(v) = &self.user_name {
            u.user_name = v.clone();
        }
        if let Some(v) = &self.email {
            u.email = v.clone();
        }
        if let Some(v) = &self.display_name {
            u.display_name = v.clone();
        }
        if let Some(v) = &self.given_name {
            u.given_name = v.clone();
        }
        if let Some(v) = &self.family_name {
            u.family_name = v.clone();
        }
        if let Some(v) = self.enabled {
            u.enabled = v;
        }
        u
    }
}
