//! Validated text values shared by several aggregates.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::ValidationError;

fn has_control(s: &str) -> bool {
    s.chars().any(char::is_control)
}

macro_rules! string_type {
    ($(#[$doc:meta])* $name:ident, $check:expr) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(try_from = "String", into = "String")]
        pub struct $name(String);

        impl $name {
            pub fn parse(s: impl Into<String>) -> Result<Self, ValidationError> {
                let s: String = s.into();
                let check: fn(&str) -> Result<(), ValidationError> = $check;
                check(&s)?;
                Ok(Self(s))
            }
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl TryFrom<String> for $name {
            type Error = ValidationError;
            fn try_from(s: String) -> Result<Self, Self::Error> {
                Self::parse(s)
            }
        }

        impl From<$name> for String {
            fn from(v: $name) -> String {
                v.0
            }
        }

        impl AsRef<str> for $name {
            fn as_ref(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }
    };
}

pub(crate) use string_type;

/// Bounded free text: non-blank, at most `max` characters, no control characters.
fn bounded(s: &str, max: usize) -> Result<(), ValidationError> {
    if s.trim().is_empty() {
        return Err(ValidationError::new("must not be blank"));
    }
    if s.chars().count() > max {
        return Err(ValidationError::new(format!(
            "must be at most {max} characters"
        )));
    }
    if has_control(s) {
        return Err(ValidationError::new("must not contain control characters"));
    }
    if s.trim() != s {
        return Err(ValidationError::new(
            "must not start or end with white space",
        ));
    }
    Ok(())
}

string_type!(
    /// The name a person signs in with: 1–128 of `A-Z a-z 0-9 + = , . @ _ -`. Unique, compared
    /// case-insensitively by the stores (Identity Center user names are case-insensitive).
    UserName,
    |s| {
        if s.is_empty() || s.chars().count() > 128 {
            return Err(ValidationError::new("must be 1 to 128 characters"));
        }
        if !s.chars().all(|c| c.is_ascii_alphanumeric() || "+=,.@_-".contains(c)) {
            return Err(ValidationError::new(
                "may contain only letters, digits and + = , . @ _ -",
            ));
        }
        Ok(())
    }
);

string_type!(
    /// An email address: `local@domain`, at most 254 characters, no spaces. Deliverability is
    /// proved by sending mail, not by a pattern.
    Email,
    |s| {
        if s.len() > 254 {
            return Err(ValidationError::new("must be at most 254 characters"));
        }
        let Some((local, domain)) = s.rsplit_once('@') else {
            return Err(ValidationError::new("must be an email address (name@domain)"));
        };
        let domain_ok = !domain.is_empty()
            && domain.contains('.')
            && !domain.starts_with('.')
            && !domain.ends_with('.')
            && domain.chars().all(|c| c.is_alphanumeric() || c == '.' || c == '-');
        if local.is_empty() || local.len() > 64 || !domain_ok || s.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err(ValidationError::new("must be an email address (name@domain)"));
        }
        Ok(())
    }
);

string_type!(
    /// A human-readable name of a thing (display name, account name): 1–256 characters.
    DisplayName,
    |s| bounded(s, 256)
);

string_type!(
    /// A given or family name: 1–128 characters.
    PersonName,
    |s| bounded(s, 128)
);

string_type!(
    /// A description: at most 700 characters (Identity Center's limit), may be empty.
    Description,
    |s| {
        if s.chars().count() > 700 {
            return Err(ValidationError::new("must be at most 700 characters"));
        }
        if s.chars().any(|c| c.is_control() && c != '\n' && c != '\t') {
            return Err(ValidationError::new("must not contain control characters"));
        }
        Ok(())
    }
);

impl Description {
    /// The empty description.
    pub fn default_empty() -> Self {
        Self(String::new())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn user_names() {
        assert!(UserName::parse("alice.smith@example.com").is_ok());
        assert!(UserName::parse("").is_err());
        assert!(UserName::parse("a b").is_err());
        assert!(UserName::parse("x".repeat(129)).is_err());
    }

    #[test]
    fn emails() {
        assert!(Email::parse("a@example.com").is_ok());
        for bad in [
            "",
            "a",
            "@example.com",
            "a@",
            "a@b",
            "a b@example.com",
            "a@.com",
        ] {
            assert!(Email::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn display_names() {
        assert!(DisplayName::parse("Alice").is_ok());
        assert!(DisplayName::parse("  ").is_err());
        assert!(DisplayName::parse(" Alice").is_err());
        assert!(DisplayName::parse("a\u{7}").is_err());
        assert!(Description::parse("").is_ok());
        assert!(Description::parse("x".repeat(701)).is_err());
    }
}
