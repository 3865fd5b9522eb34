//! The plain values of an `aws` account: its region, its STS endpoint, a token audience.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::ValidationError;
use crate::text::string_type;

string_type!(
    /// The `aud` a cloud expects of a web-identity token: 1–256 printable characters, no spaces
    /// (`sts.amazonaws.com`, a MinIO client id, a URL).
    TokenAudience,
    |s| {
        if (1..=256).contains(&s.len()) && s.chars().all(|c| c.is_ascii_graphic()) {
            Ok(())
        } else {
            Err(ValidationError::new(
                "must be 1 to 256 printable ASCII characters without spaces",
            ))
        }
    }
);

string_type!(
    /// An AWS region name such as `eu-west-1` or `us-gov-west-1`: lower-case words joined by
    /// dashes, the last a number.
    AwsRegion,
    |s| {
        let parts: Vec<&str> = s.split('-').collect();
        let words_ok = parts.len() >= 3
            && parts[..parts.len() - 1]
                .iter()
                .all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_lowercase()));
        let number_ok = parts.last().is_some_and(|n| {
            !n.is_empty() && n.len() <= 2 && n.bytes().all(|b| b.is_ascii_digit())
        });
        if s.len() <= 32 && words_ok && number_ok {
            Ok(())
        } else {
            Err(ValidationError::new(
                "must be an AWS region name such as eu-west-1",
            ))
        }
    }
);

/// An STS endpoint: an absolute `https` URL with a host and nothing after the path (`http`
/// only on loopback, for emulators and tests).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct StsEndpoint(String);

impl StsEndpoint {
    pub fn parse(s: impl Into<String>) -> Result<Self, ValidationError> {
        let s = s.into();
        let url =
            url::Url::parse(&s).map_err(|_| ValidationError::new("must be an absolute URL"))?;
        let loopback = matches!(url.host(), Some(url::Host::Domain("localhost")))
            || matches!(url.host(), Some(url::Host::Ipv4(ip)) if ip.is_loopback())
            || matches!(url.host(), Some(url::Host::Ipv6(ip)) if ip.is_loopback());
        match url.scheme() {
            "https" => {}
            "http" if loopback => {}
            _ => {
                return Err(ValidationError::new(
                    "must be an https URL (http only on loopback)",
                ));
            }
        }
        if url.host_str().is_none()
            || !url.username().is_empty()
            || url.password().is_some()
            || url.query().is_some()
            || url.fragment().is_some()
            || s.len() > 2048
        {
            return Err(ValidationError::new(
                "must have a host and no credentials, query or fragment",
            ));
        }
        // Kept as given, without a trailing slash (STS requests are POSTed to it).
        Ok(Self(url.as_str().trim_end_matches('/').to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for StsEndpoint {
    type Error = ValidationError;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        Self::parse(s)
    }
}

impl From<StsEndpoint> for String {
    fn from(v: StsEndpoint) -> String {
        v.0
    }
}
