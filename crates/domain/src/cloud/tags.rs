//! Session tags: attributes for access control (ABAC). An `aws` account maps tag keys to value
//! templates (`${user:department}`, `${user:email}`, literal text); every assertion and token for
//! the account carries the person's values as `PrincipalTag:<key>` (SAML) or
//! `https://aws.amazon.com/tags` (web identity).

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::text::string_type;
use crate::{User, ValidationError, user_field};

/// The most session tags AWS takes on one session.
pub const MAX_SESSION_TAGS: usize = 50;

string_type!(
    /// A session tag key as AWS takes it: 1–128 letters, digits, spaces and `_ . : / = + - @`,
    /// not starting with `aws:`.
    TagKey,
    |s| {
        let chars_ok = s
            .chars()
            .all(|c| c.is_alphanumeric() || c == ' ' || "_.:/=+-@".contains(c));
        if (1..=128).contains(&s.chars().count())
            && chars_ok
            && !s.to_ascii_lowercase().starts_with("aws:")
        {
            Ok(())
        } else {
            Err(ValidationError::new(
                "must be 1 to 128 letters, digits, spaces and _ . : / = + - @, not starting \
                 with aws:",
            ))
        }
    }
);

string_type!(
    /// A session tag's value template: text (at most 256 characters, no control characters) with
    /// `${user:<field>}` placeholders — `userName`, `email`, `name`, `givenName`, `familyName`,
    /// `id`, or a custom attribute of the person.
    TagTemplate,
    |s| {
        if s.chars().count() > 256 || s.chars().any(char::is_control) {
            return Err(ValidationError::new(
                "must be at most 256 characters without control characters",
            ));
        }
        placeholders(s).map(drop)
    }
);

/// The fields `template` names, in order; an error for a malformed placeholder.
fn placeholders(template: &str) -> Result<Vec<&str>, ValidationError> {
    let mut out = Vec::new();
    let mut rest = template;
    while let Some(start) = rest.find("${") {
        let after = &rest[start + 2..];
        let end = after
            .find('}')
            .ok_or_else(|| ValidationError::new("has an unclosed ${"))?;
        let field = after[..end]
            .strip_prefix("user:")
            .ok_or_else(|| ValidationError::new("placeholders are ${user:<field>}"))?;
        let field_ok = (1..=64).contains(&field.len())
            && field.starts_with(|c: char| c.is_ascii_alphabetic())
            && field
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "_.-".contains(c));
        if !field_ok || field == "groups" {
            return Err(ValidationError::new(format!(
                "${{user:{field}}} is not a field a tag can take"
            )));
        }
        out.push(field);
        rest = &after[end + 1..];
    }
    Ok(out)
}

impl TagTemplate {
    /// The value for `user`; `None` when a placeholder names a value the person does not have.
    /// At most 256 characters (AWS's limit for tag values).
    pub fn render(&self, user: &User) -> Option<String> {
        let mut out = self.0.clone();
        for field in placeholders(&self.0).ok()? {
            let value = user_field(user, field)?;
            out = out.replace(&format!("${{user:{field}}}"), &value);
        }
        Some(out.chars().take(256).collect())
    }
}
