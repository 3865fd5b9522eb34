//! A SAML 2.0 service provider's registration: what an administrator configures for a SAML
//! application (SAML 2.0 Core and Metadata, OASIS saml-core-2.0-os / saml-metadata-2.0-os).

use serde::{Deserialize, Serialize};

use crate::ValidationError;

/// The NameID the SP receives (SAML Core §8.3).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum NameIdFormat {
    /// Stable and opaque per SP: a keyed hash of the user id and the SP's entity id.
    #[default]
    Persistent,
    EmailAddress,
    /// A new random value for every assertion.
    Transient,
    /// The user name.
    Unspecified,
}

impl NameIdFormat {
    pub const ALL: [NameIdFormat; 4] = [
        Self::Persistent,
        Self::EmailAddress,
        Self::Transient,
        Self::Unspecified,
    ];

    /// The wire name the admin API uses.
    pub fn as_str(&self) -> &'static str {
        match self {
            Self::Persistent => "persistent",
            Self::EmailAddress => "emailAddress",
            Self::Transient => "transient",
            Self::Unspecified => "unspecified",
        }
    }

    /// The SAML URN (SAML Core §8.3.1–8.3.8).
    pub fn urn(&self) -> &'static str {
        match self {
            Self::Persistent => "urn:oasis:names:tc:SAML:2.0:nameid-format:persistent",
            Self::EmailAddress => "urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress",
            Self::Transient => "urn:oasis:names:tc:SAML:2.0:nameid-format:transient",
            Self::Unspecified => "urn:oasis:names:tc:SAML:1.1:nameid-format:unspecified",
        }
    }

    pub fn parse(s: &str) -> Result<Self, ValidationError> {
        Self::ALL
            .into_iter()
            .find(|f| f.as_str() == s || f.urn() == s)
            .ok_or_else(|| {
                ValidationError::new("must be persistent, emailAddress, transient or unspecified")
            })
    }
}

/// Which elements carry an XML signature: the Response, the Assertion, or both (the Assertion
/// signed first, then the Response over it — what node-saml's defaults and many SPs expect).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum SignedPart {
    #[default]
    Response,
    Assertion,
    Both,
}

impl SignedPart {
    pub fn parse(s: &str) -> Result<Self, ValidationError> {
        match s {
            "response" => Ok(Self::Response),
            "assertion" => Ok(Self::Assertion),
            "both" => Ok(Self::Both),
            _ => Err(ValidationError::new("must be response, assertion or both")),
        }
    }
    pub fn as_str(&self) -> &'static str {
        match self {
            Self::Response => "response",
            Self::Assertion => "assertion",
            Self::Both => "both",
        }
    }
    /// Whether the Assertion carries its own signature.
    pub fn signs_assertion(&self) -> bool {
        matches!(self, Self::Assertion | Self::Both)
    }
    /// Whether the Response carries a signature.
    pub fn signs_response(&self) -> bool {
        matches!(self, Self::Response | Self::Both)
    }
}

/// A front-channel SAML binding (SAML Bindings §3.4, §3.5) at an SP endpoint.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum SamlBinding {
    HttpRedirect,
    HttpPost,
}

impl SamlBinding {
    pub const ALL: [SamlBinding; 2] = [Self::HttpRedirect, Self::HttpPost];

    /// The name the admin API uses.
    pub fn as_str(&self) -> &'static str {
        match self {
            Self::HttpRedirect => "HTTP-Redirect",
            Self::HttpPost => "HTTP-POST",
        }
    }

    pub fn urn(&self) -> &'static str {
        match self {
            Self::HttpRedirect => "urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect",
            Self::HttpPost => "urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST",
        }
    }

    /// `HTTP-Redirect` / `HTTP-POST`, or their URNs.
    pub fn parse(s: &str) -> Result<Self, ValidationError> {
        Self::ALL
            .into_iter()
            .find(|b| b.as_str() == s || b.urn() == s)
            .ok_or_else(|| ValidationError::new("must be HTTP-Redirect or HTTP-POST"))
    }
}

/// An assertion consumer service (SAML Metadata §2.4.4.1): only the HTTP-POST binding is served.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AssertionConsumerService {
    pub url: SamlUrl,
    pub index: u16,
    pub is_default: bool,
}

/// An SP endpoint: https, or http only on a loopback host; no fragment, no credentials.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct SamlUrl(url::Url);

impl SamlUrl {
    pub fn parse(s: impl AsRef<str>) -> Result<Self, ValidationError> {
        let url = url::Url::parse(s.as_ref())
            .map_err(|_| ValidationError::new("must be an absolute URL"))?;
        let loopback = matches!(url.host_str(), Some("127.0.0.1" | "[::1]" | "localhost"));
        match url.scheme() {
            "https" if url.host_str().is_some() => {}
            "http" if loopback => {}
            _ => {
                return Err(ValidationError::new(
                    "must be an https URL (http only for 127.0.0.1, [::1] or localhost)",
                ));
            }
        }
        if url.fragment().is_some() || !url.username().is_empty() || url.password().is_some() {
            return Err(ValidationError::new(
                "must not have a fragment or credentials",
            ));
        }
        Ok(Self(url))
    }
    pub fn as_str(&self) -> &str {
        self.0.as_str()
    }
    pub fn url(&self) -> &url::Url {
        &self.0
    }
}

impl TryFrom<String> for SamlUrl {
    type Error = ValidationError;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        Self::parse(s)
    }
}

impl From<SamlUrl> for String {
    fn from(v: SamlUrl) -> String {
        v.0.into()
    }
}

/// One attribute of the assertion: its `Name` and a value template — literal text with
/// `${user:subject}`, `${user:email}`, `${user:name}`, `${user:givenName}`, `${user:familyName}`
/// or `${user:groups}` (one attribute value per group) placeholders.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AttributeMapping {
    pub name: String,
    /// `NameFormat` (default `urn:oasis:names:tc:SAML:2.0:attrname-format:uri`... or basic).
    pub name_format: Option<String>,
    pub value: String,
}

/// The placeholders a mapping may use.
pub const PLACEHOLDERS: [&str; 6] = [
    "subject",
    "email",
    "name",
    "givenName",
    "familyName",
    "groups",
];

impl AttributeMapping {
    pub fn new(
        name: String,
        name_format: Option<String>,
        value: String,
    ) -> Result<Self, ValidationError> {
        if name.trim().is_empty() || name.len() > 512 || name.chars().any(char::is_control) {
            return Err(ValidationError::new(
                "name must be 1 to 512 characters without control characters",
            ));
        }
        if value.len() > 2048 || value.chars().any(char::is_control) {
            return Err(ValidationError::new(
                "value must be at most 2048 characters without control characters",
            ));
        }
        let mut rest = value.as_str();
        while let Some(start) = rest.find("${") {
            let after = &rest[start + 2..];
            let end = after
                .find('}')
                .ok_or_else(|| ValidationError::new("value has an unclosed ${"))?;
            let key = &after[..end];
            match key.strip_prefix("user:") {
                Some(k) if PLACEHOLDERS.contains(&k) => {}
                _ => {
                    return Err(ValidationError::new(
                        "value may use only ${user:subject}, ${user:email}, ${user:name}, \
                         ${user:givenName}, ${user:familyName} and ${user:groups}",
                    ));
                }
            }
            rest = &after[end + 1..];
        }
        if value.contains("${user:groups}") && value != "${user:groups}" {
            return Err(ValidationError::new(
                "${user:groups} must be the whole value",
            ));
        }
        Ok(Self {
            name,
            name_format,
            value,
        })
    }
}

crate::bounded_duration!(
    /// How long an assertion is valid (`NotOnOrAfter`): 1 minute to 1 hour, default 5 minutes.
    AssertionLifetime,
    min = 60,
    max = 3_600,
    default = 300,
    limits = "1 minute (PT1M) and 1 hour (PT1H)"
);

/// The longest SP entity id accepted (and so the longest worth looking up).
pub const MAX_ENTITY_ID_BYTES: usize = 1024;

/// A SAML application's service provider registration.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SamlSettings {
    /// The SP's entity id: the `Issuer` of its requests and the `Audience` of our assertions.
    pub entity_id: String,
    pub acs: Vec<AssertionConsumerService>,
    /// The SP's SingleLogoutService (HTTP-Redirect or HTTP-POST answers go here).
    pub slo_url: Option<SamlUrl>,
    /// The bindings the SP accepts at `slo_url` (from its metadata); empty: either.
    #[serde(default)]
    pub slo_bindings: Vec<SamlBinding>,
    /// The SP's signing certificate, base64 DER.
    pub certificate: Option<String>,
    /// Refuse AuthnRequests and LogoutRequests that are not signed.
    pub require_signed_requests: bool,
    pub name_id_format: NameIdFormat,
    pub attributes: Vec<AttributeMapping>,
    pub assertion_lifetime: AssertionLifetime,
    pub signed_part: SignedPart,
    /// Accept RSA-SHA1 / SHA-1 in the SP's signatures (off: RSA-SHA256 with SHA-256 digests only); we always sign with RSA-SHA256.
    pub allow_sha1: bool,
    pub default_relay_state: Option<String>,
    /// Where a portal launch ends up at the SP (sent as RelayState when no default is set).
    pub start_url: Option<SamlUrl>,
}

impl SamlSettings {
    /// Rules across fields: `(field, problem)` for each one broken.
    pub fn problems(&self) -> Vec<(&'static str, &'static str)> {
        let mut out = Vec::new();
        if self.entity_id.trim().is_empty()
            || self.entity_id.len() > MAX_ENTITY_ID_BYTES
            || self.entity_id.chars().any(char::is_control)
        {
            out.push((
                "entity_id",
                "must be 1 to 1024 characters without control characters",
            ));
        }
        if self.acs.is_empty() {
            out.push(("acs", "must name at least one assertion consumer service"));
        }
        let mut indexes: Vec<u16> = self.acs.iter().map(|a| a.index).collect();
        indexes.sort_unstable();
        indexes.dedup();
        if indexes.len() != self.acs.len() {
            out.push(("acs", "indexes must be unique"));
        }
        if self.require_signed_requests && self.certificate.is_none() {
            out.push(("certificate", "is required when requests must be signed"));
        }
        if self
            .default_relay_state
            .as_ref()
            .is_some_and(|r| r.len() > 800 || r.chars().any(char::is_control))
        {
            out.push((
                "default_relay_state",
                "must be at most 800 characters without control characters",
            ));
        }
        out
    }

    /// The default ACS: flagged `is_default`, else the lowest index.
    pub fn default_acs(&self) -> Option<&AssertionConsumerService> {
        self.acs
            .iter()
            .find(|a| a.is_default)
            .or_else(|| self.acs.iter().min_by_key(|a| a.index))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mappings_accept_known_placeholders_only() {
        let m = |v: &str| AttributeMapping::new("a".into(), None, v.into());
        assert!(m("${user:email}").is_ok());
        assert!(m("x-${user:givenName} ${user:familyName}").is_ok());
        assert!(m("${user:groups}").is_ok());
        assert!(m("literal").is_ok());
        assert!(m("${user:password}").is_err());
        assert!(m("${user:email").is_err());
        assert!(m("g:${user:groups}").is_err());
    }

    #[test]
    fn urls_are_https_or_loopback() {
        assert!(SamlUrl::parse("https://sp.example/acs").is_ok());
        assert!(SamlUrl::parse("http://127.0.0.1:8000/acs").is_ok());
        assert!(SamlUrl::parse("http://sp.example/acs").is_err());
        assert!(SamlUrl::parse("javascript:alert(1)").is_err());
    }
}
