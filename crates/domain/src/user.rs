//! People in the directory.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::{DisplayName, Email, PersonName, UserId, UserName, ValidationError};

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
    /// The administrator's own attributes of the person (department, cost center, …).
    #[serde(default)]
    pub attributes: UserAttributes,
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
    pub attributes: UserAttributes,
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
    /// Replaces all of the person's attributes.
    pub attributes: Option<UserAttributes>,
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
        if let Some(v) = &self.attributes {
            u.attributes = v.clone();
        }
        u
    }
}

/// The most attributes a person may have.
pub const MAX_USER_ATTRIBUTES: usize = 50;

/// The names the built-in placeholders (`${user:…}`) use: a custom attribute cannot take one.
pub const BUILT_IN_USER_FIELDS: [&str; 8] = [
    "subject",
    "userName",
    "email",
    "name",
    "givenName",
    "familyName",
    "groups",
    "id",
];

/// A person's custom attributes, what `${user:<key>}` finds (for AWS session tags; the shape
/// SCIM's enterprise extension fills): at most 50, keys 1–64 of `A-Za-z0-9_.-` starting with a
/// letter and not a built-in field's name, values at most 256 characters without control
/// characters.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(
    try_from = "BTreeMap<String, String>",
    into = "BTreeMap<String, String>"
)]
pub struct UserAttributes(BTreeMap<String, String>);

impl UserAttributes {
    pub fn parse(map: BTreeMap<String, String>) -> Result<Self, ValidationError> {
        if map.len() > MAX_USER_ATTRIBUTES {
            return Err(ValidationError::new(format!(
                "at most {MAX_USER_ATTRIBUTES} attributes"
            )));
        }
        for (k, v) in &map {
            let key_ok = (1..=64).contains(&k.len())
                && k.starts_with(|c: char| c.is_ascii_alphabetic())
                && k.chars()
                    .all(|c| c.is_ascii_alphanumeric() || "_.-".contains(c));
            if !key_ok {
                return Err(ValidationError::new(format!(
                    "the attribute name {k:?} must be 1 to 64 of A-Z a-z 0-9 _ . - starting with \
                     a letter"
                )));
            }
            if BUILT_IN_USER_FIELDS.contains(&k.as_str()) {
                return Err(ValidationError::new(format!(
                    "{k} is a built-in field, not an attribute"
                )));
            }
            if v.chars().count() > 256 || v.chars().any(char::is_control) {
                return Err(ValidationError::new(format!(
                    "the value of {k} must be at most 256 characters without control characters"
                )));
            }
        }
        Ok(Self(map))
    }

    pub fn get(&self, key: &str) -> Option<&str> {
        self.0.get(key).map(String::as_str)
    }

    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.0.iter().map(|(k, v)| (k.as_str(), v.as_str()))
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl TryFrom<BTreeMap<String, String>> for UserAttributes {
    type Error = ValidationError;
    fn try_from(map: BTreeMap<String, String>) -> Result<Self, Self::Error> {
        Self::parse(map)
    }
}

impl From<UserAttributes> for BTreeMap<String, String> {
    fn from(v: UserAttributes) -> Self {
        v.0
    }
}

/// The value of `${user:<field>}` for `user`: a built-in field or a custom attribute; `None`
/// when the person has no such value.
pub fn user_field(user: &User, field: &str) -> Option<String> {
    let opt = |v: &Option<PersonName>| v.as_ref().map(ToString::to_string);
    match field {
        "userName" => Some(user.user_name.to_string()),
        "email" => Some(user.email.to_string()),
        "name" => Some(user.display_name.to_string()),
        "givenName" => opt(&user.given_name),
        "familyName" => opt(&user.family_name),
        "id" | "subject" => Some(user.id.to_string()),
        custom => user.attributes.get(custom).map(str::to_owned),
    }
}

#[cfg(test)]
mod attribute_tests {
    use super::*;

    #[test]
    fn attributes_follow_their_rules() {
        let ok: BTreeMap<String, String> = [
            ("department".into(), "Engineering".into()),
            ("cost.center".into(), "".into()),
        ]
        .into();
        assert!(UserAttributes::parse(ok).is_ok());
        for (k, v) in [
            ("", "x"),
            ("1abc", "x"),
            ("with space", "x"),
            ("email", "x"),
            ("department", "line\nbreak"),
        ] {
            let map: BTreeMap<String, String> = [(k.to_owned(), v.to_owned())].into();
            assert!(UserAttributes::parse(map).is_err(), "{k:?}={v:?}");
        }
        let many: BTreeMap<String, String> =
            (0..51).map(|i| (format!("a{i}"), String::new())).collect();
        assert!(UserAttributes::parse(many).is_err());
        let long: BTreeMap<String, String> = [("a".into(), "x".repeat(257))].into();
        assert!(UserAttributes::parse(long).is_err());
    }
}
