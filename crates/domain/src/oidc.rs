//! An OpenID Connect client's registration: what an administrator configures for an OIDC
//! application. The client id is the application's id; the secret lives only as a keyed hash in
//! the store.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::ValidationError;

/// Whether the client can keep a secret (RFC 6749 §2.1).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ClientType {
    /// Authenticates with a client secret (`client_secret_basic` or `client_secret_post`).
    #[default]
    Confidential,
    /// Cannot keep a secret (single-page and native apps): PKCE S256 is required.
    Public,
}

/// The grants a client may use at the token endpoint.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum GrantType {
    #[serde(rename = "authorization_code")]
    AuthorizationCode,
    #[serde(rename = "refresh_token")]
    RefreshToken,
    #[serde(rename = "client_credentials")]
    ClientCredentials,
    #[serde(rename = "urn:ietf:params:oauth:grant-type:device_code")]
    DeviceCode,
}

impl GrantType {
    pub const ALL: [GrantType; 4] = [
        Self::AuthorizationCode,
        Self::RefreshToken,
        Self::ClientCredentials,
        Self::DeviceCode,
    ];

    pub fn as_str(&self) -> &'static str {
        match self {
            Self::AuthorizationCode => "authorization_code",
            Self::RefreshToken => "refresh_token",
            Self::ClientCredentials => "client_credentials",
            Self::DeviceCode => "urn:ietf:params:oauth:grant-type:device_code",
        }
    }
}

impl FromStr for GrantType {
    type Err = ValidationError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|g| g.as_str() == s)
            .ok_or_else(|| {
                ValidationError::new(
                    "must be authorization_code, refresh_token, client_credentials or \
                     urn:ietf:params:oauth:grant-type:device_code",
                )
            })
    }
}

impl fmt::Display for GrantType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The JWS algorithm a client's ID tokens (and access tokens) are signed with.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum SigningAlgorithm {
    #[default]
    RS256,
    ES256,
    EdDSA,
}

impl SigningAlgorithm {
    pub const ALL: [SigningAlgorithm; 3] = [Self::RS256, Self::ES256, Self::EdDSA];

    pub fn as_str(&self) -> &'static str {
        match self {
            Self::RS256 => "RS256",
            Self::ES256 => "ES256",
            Self::EdDSA => "EdDSA",
        }
    }
}

impl FromStr for SigningAlgorithm {
    type Err = ValidationError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|a| a.as_str() == s)
            .ok_or_else(|| ValidationError::new("must be RS256, ES256 or EdDSA"))
    }
}

impl fmt::Display for SigningAlgorithm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A registered redirect URI (or post-logout redirect URI): absolute, no fragment; `https`, or
/// `http` only for a loopback host (RFC 8252 §7.3), or a private-use scheme with a dot in it
/// (`com.example.app:/callback`, RFC 8252 §7.1).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct RedirectUri(url::Url);

impl RedirectUri {
    pub fn parse(s: impl AsRef<str>) -> Result<Self, ValidationError> {
        let s = s.as_ref();
        let url =
            url::Url::parse(s).map_err(|_| ValidationError::new("must be an absolute URI"))?;
        if url.fragment().is_some() {
            return Err(ValidationError::new("must not have a fragment"));
        }
        match url.scheme() {
            "https" if url.host_str().is_some() => {}
            "http" if Self::is_loopback_host(&url) => {}
            "http" => {
                return Err(ValidationError::new(
                    "must use https (http only for 127.0.0.1, [::1] or localhost)",
                ));
            }
            scheme if scheme.contains('.') => {}
            _ => {
                return Err(ValidationError::new(
                    "must be an https URI, a loopback http URI or a private-use scheme",
                ));
            }
        }
        if !url.username().is_empty() || url.password().is_some() {
            return Err(ValidationError::new("must not carry credentials"));
        }
        Ok(Self(url))
    }

    /// Whether this is a loopback redirect by IP literal (`http://127.0.0.1:…` or
    /// `http://[::1]:…`): the only kind a client that registers itself may use, as for the AWS
    /// CLI (RFC 8252 §7.3; `localhost` is left out, §8.3).
    pub fn is_loopback_ip(&self) -> bool {
        self.0.scheme() == "http" && matches!(self.0.host_str(), Some("127.0.0.1" | "[::1]"))
    }

    fn is_loopback_host(url: &url::Url) -> bool {
        matches!(url.host_str(), Some("127.0.0.1" | "[::1]" | "localhost"))
    }

    /// Whether a redirect URI presented by a client matches this registration: exactly, or —
    /// for a loopback `http` registration — with any port (RFC 8252 §7.3).
    pub fn matches(&self, presented: &str) -> bool {
        if self.0.as_str() == presented {
            return true;
        }
        if self.0.scheme() != "http" || !Self::is_loopback_host(&self.0) {
            return false;
        }
        let Ok(mut other) = url::Url::parse(presented) else {
            return false;
        };
        if other.scheme() != "http" || other.host_str() != self.0.host_str() {
            return false;
        }
        if other.set_port(self.0.port()).is_err() {
            return false;
        }
        other.as_str() == self.0.as_str()
    }

    pub fn as_str(&self) -> &str {
        self.0.as_str()
    }
    pub fn url(&self) -> &url::Url {
        &self.0
    }
}

impl TryFrom<String> for RedirectUri {
    type Error = ValidationError;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        Self::parse(s)
    }
}

impl From<RedirectUri> for String {
    fn from(v: RedirectUri) -> String {
        v.0.into()
    }
}

/// A scope name as OAuth defines it (RFC 6749 §3.3: printable ASCII without space, `"` or `\`),
/// at most 128 characters.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Scope(String);

impl Scope {
    pub fn parse(s: impl Into<String>) -> Result<Self, ValidationError> {
        let s = s.into();
        let ok = !s.is_empty()
            && s.len() <= 128
            && s.bytes()
                .all(|b| b == 0x21 || (0x23..=0x5B).contains(&b) || (0x5D..=0x7E).contains(&b));
        if ok {
            Ok(Self(s))
        } else {
            Err(ValidationError::new(
                "must be 1 to 128 printable ASCII characters without spaces, quotes or backslashes",
            ))
        }
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for Scope {
    type Error = ValidationError;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        Self::parse(s)
    }
}

impl From<Scope> for String {
    fn from(v: Scope) -> String {
        v.0
    }
}

crate::bounded_duration!(
    /// How long access and ID tokens live: 5 minutes to 24 hours, default 1 hour.
    TokenLifetime,
    min = 300,
    max = 86_400,
    default = 3_600,
    limits = "5 minutes (PT5M) and 24 hours (PT24H)"
);

crate::bounded_duration!(
    /// How long a refresh token lives (it never outlives the portal session it came from):
    /// 1 hour to 90 days, default 30 days.
    RefreshTokenLifetime,
    min = 3_600,
    max = 90 * 86_400,
    default = 30 * 86_400,
    limits = "1 hour (PT1H) and 90 days (P90D)"
);

/// An OIDC application's client registration.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OidcSettings {
    pub client_type: ClientType,
    pub redirect_uris: Vec<RedirectUri>,
    pub post_logout_redirect_uris: Vec<RedirectUri>,
    pub grant_types: Vec<GrantType>,
    /// Extra scopes a client may ask for with `client_credentials` (beyond none) and that are
    /// put in its access tokens' `scope`.
    pub allowed_scopes: Vec<Scope>,
    /// The `aud` of access tokens issued to this client (`client_credentials` and user tokens);
    /// the client id when absent.
    pub audience: Option<String>,
    pub signing_algorithm: SigningAlgorithm,
    pub access_token_lifetime: TokenLifetime,
    pub id_token_lifetime: TokenLifetime,
    pub refresh_token_lifetime: RefreshTokenLifetime,
    /// Where the portal sends a person who launches the application (OIDC third-party
    /// initiated login); the first redirect URI's origin when absent.
    pub initiate_login_uri: Option<url::Url>,
    /// Whether a person is asked to consent before the application first gets their authority
    /// (off by default: an administrator who registered the application has vouched for it).
    #[serde(default)]
    pub require_consent: bool,
}

impl Default for OidcSettings {
    fn default() -> Self {
        Self {
            client_type: ClientType::Confidential,
            redirect_uris: Vec::new(),
            post_logout_redirect_uris: Vec::new(),
            grant_types: vec![GrantType::AuthorizationCode, GrantType::RefreshToken],
            allowed_scopes: Vec::new(),
            audience: None,
            signing_algorithm: SigningAlgorithm::RS256,
            access_token_lifetime: TokenLifetime::default(),
            id_token_lifetime: TokenLifetime::default(),
            refresh_token_lifetime: RefreshTokenLifetime::default(),
            initiate_login_uri: None,
            require_consent: false,
        }
    }
}

impl OidcSettings {
    /// Rules across fields: `(field, problem)` for each one broken.
    pub fn problems(&self) -> Vec<(&'static str, &'static str)> {
        let mut out = Vec::new();
        if self.grant_types.is_empty() {
            out.push(("grant_types", "must name at least one grant type"));
        }
        if self.grant_types.contains(&GrantType::AuthorizationCode) && self.redirect_uris.is_empty()
        {
            out.push((
                "redirect_uris",
                "must name at least one URI when authorization_code is allowed",
            ));
        }
        if self.client_type == ClientType::Public
            && self.grant_types.contains(&GrantType::ClientCredentials)
        {
            out.push((
                "grant_types",
                "client_credentials needs a confidential client",
            ));
        }
        if let Some(uri) = &self.initiate_login_uri
            && uri.scheme() != "https"
            && !matches!(uri.host_str(), Some("127.0.0.1" | "[::1]" | "localhost"))
        {
            out.push(("initiate_login_uri", "must be an https URL"));
        }
        out
    }

    pub fn allows(&self, grant: GrantType) -> bool {
        self.grant_types.contains(&grant)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loopback_redirect_matches_any_port_but_nothing_else() {
        let r = RedirectUri::parse("http://127.0.0.1/oauth/callback").unwrap();
        assert!(r.matches("http://127.0.0.1/oauth/callback"));
        assert!(r.matches("http://127.0.0.1:54321/oauth/callback"));
        assert!(!r.matches("http://127.0.0.1:54321/oauth/callback2"));
        assert!(!r.matches("http://localhost:54321/oauth/callback"));
        assert!(!r.matches("https://127.0.0.1:54321/oauth/callback"));
        assert!(!r.matches("http://127.0.0.1:54321/oauth/callback?x=1"));
        let https = RedirectUri::parse("https://app.example.com/cb").unwrap();
        assert!(https.matches("https://app.example.com/cb"));
        assert!(!https.matches("https://app.example.com:8443/cb"));
        assert!(!https.matches("https://app.example.com/cb/"));
    }

    #[test]
    fn only_ip_literal_loopback_redirects_count_as_loopback() {
        for (uri, loopback) in [
            ("http://127.0.0.1:8080/cb", true),
            ("http://127.0.0.1/oauth/callback", true),
            ("http://[::1]:9/cb", true),
            ("http://localhost:8080/cb", false),
            ("https://127.0.0.1/cb", false),
            ("https://evil.example/cb", false),
            ("com.example.app:/cb", false),
        ] {
            assert_eq!(
                RedirectUri::parse(uri).unwrap().is_loopback_ip(),
                loopback,
                "{uri}"
            );
        }
    }

    #[test]
    fn redirect_uris_are_checked() {
        for bad in [
            "/relative",
            "http://app.example.com/cb",
            "https://app.example.com/cb#frag",
            "javascript:alert(1)",
            "https://user:pw@app.example.com/cb",
        ] {
            assert!(RedirectUri::parse(bad).is_err(), "{bad}");
        }
        for good in [
            "https://app.example.com/cb",
            "http://localhost:3000/cb",
            "http://[::1]/cb",
            "com.example.app:/oauth2redirect",
        ] {
            assert!(RedirectUri::parse(good).is_ok(), "{good}");
        }
    }

    #[test]
    fn scopes_grants_and_algorithms_parse() {
        assert!(Scope::parse("sso:account:access").is_ok());
        assert!(Scope::parse("a b").is_err());
        assert!(Scope::parse("").is_err());
        assert_eq!(
            "urn:ietf:params:oauth:grant-type:device_code"
                .parse::<GrantType>()
                .unwrap(),
            GrantType::DeviceCode
        );
        assert!("implicit".parse::<GrantType>().is_err());
        assert_eq!(
            "EdDSA".parse::<SigningAlgorithm>().unwrap(),
            SigningAlgorithm::EdDSA
        );
        assert!("none".parse::<SigningAlgorithm>().is_err());
        assert!("HS256".parse::<SigningAlgorithm>().is_err());
    }

    #[test]
    fn settings_rules_across_fields() {
        assert!(
            OidcSettings::default()
                .problems()
                .iter()
                .any(|p| p.0 == "redirect_uris")
        );
        let s = OidcSettings {
            client_type: ClientType::Public,
            grant_types: vec![GrantType::ClientCredentials],
            ..OidcSettings::default()
        };
        assert!(s.problems().iter().any(|p| p.0 == "grant_types"));
        let ok = OidcSettings {
            redirect_uris: vec![RedirectUri::parse("https://app.example.com/cb").unwrap()],
            ..OidcSettings::default()
        };
        assert!(ok.problems().is_empty());
    }
}
