//! Accounts: the places people assume roles in (an AWS account id is exactly 12 digits).

use std::fmt;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::{AccountKind, DisplayName, Email, ValidationError};

/// Exactly 12 decimal digits.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct AccountId(String);

impl AccountId {
    pub fn parse(s: impl Into<String>) -> Result<Self, ValidationError> {
        let s = s.into();
        if s.len() == 12 && s.bytes().all(|b| b.is_ascii_digit()) {
            Ok(Self(s))
        } else {
            Err(ValidationError::new("must be exactly 12 digits"))
        }
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for AccountId {
    type Error = ValidationError;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        Self::parse(s)
    }
}

impl From<AccountId> for String {
    fn from(v: AccountId) -> String {
        v.0
    }
}

impl fmt::Display for AccountId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Where the portal's "Management console" link sends a person: an absolute `https` URL
/// (`http` only for `localhost`, for development).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct ConsoleUrl(url::Url);

impl ConsoleUrl {
    pub fn parse(s: impl AsRef<str>) -> Result<Self, ValidationError> {
        let url = url::Url::parse(s.as_ref())
            .map_err(|_| ValidationError::new("must be an absolute URL"))?;
        let local = matches!(url.host_str(), Some("localhost" | "127.0.0.1" | "[::1]"));
        match url.scheme() {
            "https" => {}
            "http" if local => {}
            _ => return Err(ValidationError::new("must be an https URL")),
        }
        if url.host_str().is_none() || !url.username().is_empty() || url.password().is_some() {
            return Err(ValidationError::new(
                "must be an https URL with a host and no credentials",
            ));
        }
        Ok(Self(url))
    }
    pub fn as_str(&self) -> &str {
        self.0.as_str()
    }
}

impl TryFrom<String> for ConsoleUrl {
    type Error = ValidationError;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        Self::parse(s)
    }
}

impl From<ConsoleUrl> for String {
    fn from(v: ConsoleUrl) -> String {
        v.0.into()
    }
}

/// An account as stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Account {
    pub id: AccountId,
    pub name: DisplayName,
    pub email: Email,
    pub console_url: Option<ConsoleUrl>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    /// Native, or a real cloud account and how to reach it.
    #[serde(default)]
    pub kind: AccountKind,
}

/// What an administrator gives to register an account (also the full replacement on update).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewAccount {
    pub id: AccountId,
    pub name: DisplayName,
    pub email: Email,
    pub console_url: Option<ConsoleUrl>,
    pub kind: AccountKind,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn account_ids() {
        assert!(AccountId::parse("123456789012").is_ok());
        for bad in [
            "",
            "12345678901",
            "1234567890123",
            "12345678901a",
            "１２３４５６７８９０１２",
        ] {
            assert!(AccountId::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn console_urls() {
        assert!(ConsoleUrl::parse("https://console.example.com/home").is_ok());
        assert!(ConsoleUrl::parse("http://localhost:9000/").is_ok());
        for bad in [
            "",
            "/relative",
            "http://example.com",
            "javascript:alert(1)",
            "https://u:p@example.com",
        ] {
            assert!(ConsoleUrl::parse(bad).is_err(), "{bad}");
        }
    }
}
