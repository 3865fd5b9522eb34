//! Accounts that are real clouds: how Portcullis reaches an AWS account (or any endpoint that
//! speaks STS — MinIO, Ceph RGW, LocalStack) and federates people into it.
//!
//! An account is [`AccountKind::Native`] (Portcullis mints and checks its own credentials) or
//! [`AccountKind::Aws`]: sign-in and credentials come from the account's STS, by SAML
//! (`AssumeRoleWithSAML`, and the console's SAML sign-in) or by web identity
//! (`AssumeRoleWithWebIdentity` with an ID token Portcullis signs).

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Serialize};

use crate::{AccountId, RoleName, ValidationError};

/// What kind of account this is.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "camelCase")]
pub enum AccountKind {
    /// Credentials minted by Portcullis, understood by its own STS.
    #[default]
    Native,
    /// A real AWS account or an STS-compatible endpoint.
    Aws(AwsAccount),
}

impl AccountKind {
    /// `"native"` or `"aws"`.
    pub fn name(&self) -> &'static str {
        match self {
            Self::Native => "native",
            Self::Aws(_) => "aws",
        }
    }

    pub fn aws(&self) -> Option<&AwsAccount> {
        match self {
            Self::Native => None,
            Self::Aws(a) => Some(a),
        }
    }
}

/// How people are federated into an AWS account.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum Federation {
    /// `AssumeRoleWithSAML`, and the console by SAML sign-in (what IAM Identity Center does).
    #[default]
    Saml,
    /// `AssumeRoleWithWebIdentity` with an ID token signed by Portcullis (MinIO, Ceph RGW).
    WebIdentity,
}

impl Federation {
    pub fn parse(s: &str) -> Result<Self, ValidationError> {
        match s {
            "saml" => Ok(Self::Saml),
            "webIdentity" => Ok(Self::WebIdentity),
            _ => Err(ValidationError::new("must be saml or webIdentity")),
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Saml => "saml",
            Self::WebIdentity => "webIdentity",
        }
    }
}

/// The settings of an `aws` account. Everything but the federation method is optional: absent
/// values follow AWS's own defaults ([`AwsAccount::sts_url`], [`AwsAccount::provider_arn_for`],
/// [`AwsAccount::role_arn_for`]).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AwsAccount {
    /// The region whose STS and sign-in endpoint are used (`us-east-1` when absent).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub region: Option<AwsRegion>,
    /// Where STS is reached, overriding the region's public endpoint (private clouds, tests).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sts_endpoint: Option<StsEndpoint>,
    #[serde(default)]
    pub federation: Federation,
    /// The IAM SAML provider (`saml`) or OIDC provider (`webIdentity`) in this account; absent:
    /// `arn:aws:iam::{accountId}:saml-provider/Portcullis`, or the OIDC provider named after our
    /// issuer's host.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub provider_arn: Option<Arn>,
    /// How a permission set's role is named; absent: [`RoleArnTemplate::DEFAULT`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub role_arn_template: Option<RoleArnTemplate>,
    /// Role ARNs for particular permission sets, overriding the template.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub role_arns: BTreeMap<RoleName, Arn>,
    /// The `aud` of the web-identity token (`webIdentity` only); absent: [`DEFAULT_AUDIENCE`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub audience: Option<TokenAudience>,
}

/// `RoleSessionName` for a user name: AWS wants 2–64 of `[\w+=,.@-]`, and user names are 1–128
/// of `A-Za-z0-9+=,.@_-` — cut to 64, a one-character name padded with `_`. The same name goes
/// into SAML assertions and `AssumeRoleWithWebIdentity`.
pub fn role_session_name(user_name: &str) -> String {
    let mut name: String = user_name
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || "+=,.@_-".contains(*c))
        .take(64)
        .collect();
    while name.len() < 2 {
        name.push('_');
    }
    name
}

/// The shortest session STS grants (AWS: 15 minutes).
pub const MIN_CLOUD_SESSION_SECONDS: i64 = 900;

/// How long a cloud session may last: the permission set's duration, capped by what is left of
/// the portal session, and at least STS's 15 minutes (AWS refuses shorter ones).
pub fn cloud_session_seconds(permission_set_seconds: u64, portal_session_left_seconds: i64) -> u32 {
    let wanted = i64::try_from(permission_set_seconds).unwrap_or(i64::MAX);
    let seconds = wanted
        .min(portal_session_left_seconds)
        .max(MIN_CLOUD_SESSION_SECONDS);
    u32::try_from(seconds).unwrap_or(u32::MAX)
}

/// The audience STS expects of a web-identity token when the account names none.
pub const DEFAULT_AUDIENCE: &str = "sts.amazonaws.com";

/// The region used when an account names none.
pub const DEFAULT_REGION: &str = "us-east-1";

impl AwsAccount {
    /// Checks that the ARNs belong to `account`: AWS only trusts a provider and assumes a role
    /// of the account itself.
    pub fn check_for(&self, account: &AccountId) -> Result<(), (String, ValidationError)> {
        if let Some(p) = &self.provider_arn {
            let kind = match self.federation {
                Federation::Saml => ArnKind::SamlProvider,
                Federation::WebIdentity => ArnKind::OidcProvider,
            };
            p.check_in(account, kind)
                .map_err(|e| ("providerArn".to_owned(), e))?;
        }
        for (set, arn) in &self.role_arns {
            arn.check_in(account, ArnKind::Role)
                .map_err(|e| (format!("roleArns.{}", set.as_str()), e))?;
        }
        Ok(())
    }

    /// The web-identity token's audience, or [`DEFAULT_AUDIENCE`].
    pub fn audience(&self) -> &str {
        self.audience
            .as_ref()
            .map_or(DEFAULT_AUDIENCE, TokenAudience::as_str)
    }

    /// The region, or [`DEFAULT_REGION`].
    pub fn region(&self) -> &str {
        self.region
            .as_ref()
            .map_or(DEFAULT_REGION, AwsRegion::as_str)
    }

    /// Where STS answers: the override, or the region's public endpoint.
    pub fn sts_url(&self) -> String {
        match &self.sts_endpoint {
            Some(e) => e.as_str().to_owned(),
            None => format!("https://sts.{}.amazonaws.com", self.region()),
        }
    }

    /// The provider ARN in `account` for an issuer whose host is `issuer_host`.
    pub fn provider_arn_for(&self, account: &AccountId, issuer_host: &str) -> String {
        if let Some(p) = &self.provider_arn {
            return p.as_str().to_owned();
        }
        match self.federation {
            Federation::Saml => format!("arn:aws:iam::{account}:saml-provider/Portcullis"),
            Federation::WebIdentity => {
                format!("arn:aws:iam::{account}:oidc-provider/{issuer_host}")
            }
        }
    }

    /// The role a permission set is assumed as in `account`.
    pub fn role_arn_for(&self, account: &AccountId, permission_set: &RoleName) -> String {
        if let Some(arn) = self.role_arns.get(permission_set) {
            return arn.as_str().to_owned();
        }
        self.role_arn_template
            .as_ref()
            .map_or(RoleArnTemplate::DEFAULT, RoleArnTemplate::as_str)
            .replace("{accountId}", account.as_str())
            .replace("{permissionSetName}", permission_set.as_str())
    }
}

/// The `aud` a cloud expects of a web-identity token: 1–256 printable characters, no spaces
/// (`sts.amazonaws.com`, a MinIO client id, a URL).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct TokenAudience(String);

impl TokenAudience {
    pub fn parse(s: impl Into<String>) -> Result<Self, ValidationError> {
        let s = s.into();
        if (1..=256).contains(&s.len()) && s.chars().all(|c| c.is_ascii_graphic()) {
            Ok(Self(s))
        } else {
            Err(ValidationError::new(
                "must be 1 to 256 printable ASCII characters without spaces",
            ))
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for TokenAudience {
    type Error = ValidationError;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        Self::parse(s)
    }
}

impl From<TokenAudience> for String {
    fn from(v: TokenAudience) -> String {
        v.0
    }
}

/// An AWS region name such as `eu-west-1` or `us-gov-west-1`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct AwsRegion(String);

impl AwsRegion {
    pub fn parse(s: impl Into<String>) -> Result<Self, ValidationError> {
        let s = s.into();
        // area(-gov|-iso…)-direction-number: lower-case letters in dash-separated parts, the
        // last a number.
        let parts: Vec<&str> = s.split('-').collect();
        let words_ok = parts.len() >= 3
            && parts[..parts.len() - 1]
                .iter()
                .all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_lowercase()));
        let number_ok = parts.last().is_some_and(|n| {
            !n.is_empty() && n.len() <= 2 && n.bytes().all(|b| b.is_ascii_digit())
        });
        if s.len() <= 32 && words_ok && number_ok {
            Ok(Self(s))
        } else {
            Err(ValidationError::new(
                "must be an AWS region name such as eu-west-1",
            ))
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for AwsRegion {
    type Error = ValidationError;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        Self::parse(s)
    }
}

impl From<AwsRegion> for String {
    fn from(v: AwsRegion) -> String {
        v.0
    }
}

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

/// What an IAM ARN names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ArnKind {
    Role,
    SamlProvider,
    OidcProvider,
}

impl ArnKind {
    fn resource(self) -> &'static str {
        match self {
            Self::Role => "role",
            Self::SamlProvider => "saml-provider",
            Self::OidcProvider => "oidc-provider",
        }
    }
}

/// An IAM ARN of a role, SAML provider or OIDC provider:
/// `arn:{aws|aws-cn|aws-us-gov}:iam::{12 digits}:{role|saml-provider|oidc-provider}/{name}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Arn {
    arn: String,
    kind: ArnKind,
}

impl Arn {
    pub fn parse(s: impl Into<String>) -> Result<Self, ValidationError> {
        let s = s.into();
        let bad = || {
            ValidationError::new(
                "must be an IAM ARN such as arn:aws:iam::123456789012:role/Name \
                 (role, saml-provider or oidc-provider)",
            )
        };
        if s.len() > 2048 {
            return Err(bad());
        }
        let mut parts = s.splitn(6, ':');
        let (Some("arn"), Some(partition), Some("iam"), Some(""), Some(account), Some(resource)) = (
            parts.next(),
            parts.next(),
            parts.next(),
            parts.next(),
            parts.next(),
            parts.next(),
        ) else {
            return Err(bad());
        };
        if !matches!(partition, "aws" | "aws-cn" | "aws-us-gov")
            || AccountId::parse(account).is_err()
        {
            return Err(bad());
        }
        let (resource_type, path) = resource.split_once('/').ok_or_else(bad)?;
        let kind = match resource_type {
            "role" => ArnKind::Role,
            "saml-provider" => ArnKind::SamlProvider,
            "oidc-provider" => ArnKind::OidcProvider,
            _ => return Err(bad()),
        };
        let name = path.rsplit('/').next().unwrap_or_default();
        let name_ok = match kind {
            // IAM role names: 1–64 of [\w+=,.@-]; paths are /-separated words of the same.
            ArnKind::Role => {
                (1..=64).contains(&name.len())
                    && path.split('/').all(|p| p.chars().all(iam_name_char))
            }
            ArnKind::SamlProvider => {
                (1..=128).contains(&name.len())
                    && name
                        .chars()
                        .all(|c| c.is_ascii_alphanumeric() || "._-".contains(c))
            }
            // A host with an optional path, as the provider's issuer URL without https://.
            ArnKind::OidcProvider => {
                !path.is_empty()
                    && path
                        .chars()
                        .all(|c| c.is_ascii_alphanumeric() || ".-_/:".contains(c))
            }
        };
        if !name_ok {
            return Err(bad());
        }
        Ok(Self { arn: s, kind })
    }

    pub fn as_str(&self) -> &str {
        &self.arn
    }

    pub fn kind(&self) -> ArnKind {
        self.kind
    }

    /// The 12 digits of the account the ARN is in.
    pub fn account(&self) -> &str {
        self.arn.split(':').nth(4).unwrap_or_default()
    }

    /// Checks that this names a `kind` in `account`.
    pub fn check_in(&self, account: &AccountId, kind: ArnKind) -> Result<(), ValidationError> {
        if self.kind() != kind {
            return Err(ValidationError::new(format!(
                "must be a {} ARN",
                kind.resource()
            )));
        }
        if self.account() != account.as_str() {
            return Err(ValidationError::new(format!(
                "must be in account {account} (AWS only trusts its own)"
            )));
        }
        Ok(())
    }
}

/// The characters of IAM names: letters, digits and `+ = , . @ _ -`.
fn iam_name_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || "+=,.@_-".contains(c)
}

impl TryFrom<String> for Arn {
    type Error = ValidationError;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        Self::parse(s)
    }
}

impl From<Arn> for String {
    fn from(v: Arn) -> String {
        v.arn
    }
}

impl fmt::Display for Arn {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.arn)
    }
}

/// How a permission set's role ARN is made: a role ARN with `{accountId}` and
/// `{permissionSetName}` placeholders, which must give a valid role ARN for any account and
/// permission-set name.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct RoleArnTemplate(String);

impl RoleArnTemplate {
    /// What IAM Identity Center's own naming would be without its `AWSReservedSSO_` prefix.
    pub const DEFAULT: &'static str = "arn:aws:iam::{accountId}:role/{permissionSetName}";

    pub fn parse(s: impl Into<String>) -> Result<Self, ValidationError> {
        let s = s.into();
        if !s.contains("{permissionSetName}") {
            return Err(ValidationError::new(
                "must contain {permissionSetName} (every permission set needs its own role)",
            ));
        }
        // Every name a permission set may have (1–32 characters) must give a role ARN.
        let longest = "A".repeat(32);
        for sample in ["A", longest.as_str()] {
            let filled = s
                .replace("{accountId}", "123456789012")
                .replace("{permissionSetName}", sample);
            let arn = Arn::parse(filled).map_err(|_| {
                ValidationError::new(
                    "must give a role ARN (arn:aws:iam::{accountId}:role/…) for every \
                     permission-set name",
                )
            })?;
            if arn.kind() != ArnKind::Role {
                return Err(ValidationError::new("must give a role ARN"));
            }
        }
        if s.contains('{')
            && s.replace("{accountId}", "")
                .replace("{permissionSetName}", "")
                .contains(['{', '}'])
        {
            return Err(ValidationError::new(
                "knows only the placeholders {accountId} and {permissionSetName}",
            ));
        }
        Ok(Self(s))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for RoleArnTemplate {
    type Error = ValidationError;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        Self::parse(s)
    }
}

impl From<RoleArnTemplate> for String {
    fn from(v: RoleArnTemplate) -> String {
        v.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn account() -> AccountId {
        AccountId::parse("123456789012").unwrap()
    }

    #[test]
    fn cloud_sessions_are_capped_by_the_portal_session_but_never_below_sts_minimum() {
        assert_eq!(cloud_session_seconds(7_200, 28_800), 7_200);
        assert_eq!(cloud_session_seconds(7_200, 3_000), 3_000);
        assert_eq!(cloud_session_seconds(7_200, 60), 900);
        assert_eq!(cloud_session_seconds(43_200, -5), 900);
    }

    #[test]
    fn role_session_names_follow_aws_rules() {
        assert_eq!(role_session_name("ada"), "ada");
        assert_eq!(role_session_name("a"), "a_");
        assert_eq!(role_session_name(&"x".repeat(128)).len(), 64);
        assert_eq!(
            role_session_name("ada.l+ove@example.com"),
            "ada.l+ove@example.com"
        );
    }

    #[test]
    fn arns() {
        for ok in [
            "arn:aws:iam::123456789012:role/Admin",
            "arn:aws:iam::123456789012:role/path/to/Admin+=,.@_-",
            "arn:aws-cn:iam::123456789012:saml-provider/Portcullis",
            "arn:aws-us-gov:iam::123456789012:oidc-provider/idp.example.com/realms/x",
        ] {
            assert!(Arn::parse(ok).is_ok(), "{ok}");
        }
        for bad in [
            "",
            "arn:aws:iam::12345678901:role/Admin",
            "arn:aws:s3:::bucket",
            "arn:aws:iam:us-east-1:123456789012:role/Admin",
            "arn:aws:iam::123456789012:user/ada",
            "arn:aws:iam::123456789012:role/",
            "arn:aws:iam::123456789012:role/with space",
            "arn:aws:iam::123456789012:role/ünïcode",
            "arn:other:iam::123456789012:role/Admin",
        ] {
            assert!(Arn::parse(bad).is_err(), "{bad}");
        }
        let long = format!("arn:aws:iam::123456789012:role/{}", "a".repeat(65));
        assert!(Arn::parse(long).is_err());
        let arn = Arn::parse("arn:aws:iam::123456789012:role/Admin").unwrap();
        assert_eq!(arn.account(), "123456789012");
        assert!(arn.check_in(&account(), ArnKind::Role).is_ok());
        assert!(arn.check_in(&account(), ArnKind::SamlProvider).is_err());
        let other = AccountId::parse("210987654321").unwrap();
        assert!(arn.check_in(&other, ArnKind::Role).is_err());
    }

    #[test]
    fn role_arn_templates() {
        assert!(RoleArnTemplate::parse(RoleArnTemplate::DEFAULT).is_ok());
        assert!(
            RoleArnTemplate::parse("arn:aws:iam::{accountId}:role/portcullis/{permissionSetName}")
                .is_ok()
        );
        for bad in [
            "arn:aws:iam::{accountId}:role/Fixed",
            "arn:aws:iam::{accountId}:user/{permissionSetName}",
            "arn:aws:iam::{account}:role/{permissionSetName}",
            "arn:aws:iam::{accountId}:role/{permissionSetName}{extra}",
            // 32 + 40 characters: beyond IAM's 64.
            "arn:aws:iam::{accountId}:role/{permissionSetName}-aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
        ] {
            assert!(RoleArnTemplate::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn regions_and_endpoints() {
        for ok in ["us-east-1", "eu-west-3", "us-gov-west-1", "ap-southeast-10"] {
            assert!(AwsRegion::parse(ok).is_ok(), "{ok}");
        }
        for bad in [
            "",
            "us-east",
            "US-EAST-1",
            "us-east-1a",
            "us--1",
            "eu-west-123",
        ] {
            assert!(AwsRegion::parse(bad).is_err(), "{bad}");
        }
        assert_eq!(
            StsEndpoint::parse("https://sts.eu-west-1.amazonaws.com/")
                .unwrap()
                .as_str(),
            "https://sts.eu-west-1.amazonaws.com"
        );
        assert!(StsEndpoint::parse("http://127.0.0.1:5000").is_ok());
        assert!(StsEndpoint::parse("http://localhost:9000/sts").is_ok());
        for bad in [
            "http://sts.example.com",
            "ftp://sts.example.com",
            "https://user:pw@sts.example.com",
            "https://sts.example.com/?x=1",
            "sts.example.com",
        ] {
            assert!(StsEndpoint::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn defaults_follow_aws() {
        let a = AwsAccount::default();
        let id = account();
        let set = RoleName::parse("ReadOnly").unwrap();
        assert_eq!(a.sts_url(), "https://sts.us-east-1.amazonaws.com");
        assert_eq!(
            a.provider_arn_for(&id, "id.example.com"),
            "arn:aws:iam::123456789012:saml-provider/Portcullis"
        );
        assert_eq!(
            a.role_arn_for(&id, &set),
            "arn:aws:iam::123456789012:role/ReadOnly"
        );
        let web = AwsAccount {
            federation: Federation::WebIdentity,
            region: Some(AwsRegion::parse("eu-west-1").unwrap()),
            role_arns: [(
                set.clone(),
                Arn::parse("arn:aws:iam::123456789012:role/custom/RO").unwrap(),
            )]
            .into(),
            ..AwsAccount::default()
        };
        assert_eq!(web.sts_url(), "https://sts.eu-west-1.amazonaws.com");
        assert_eq!(web.audience(), "sts.amazonaws.com");
        assert!(TokenAudience::parse("minio").is_ok());
        for bad in ["", "with space", "tab\t", "ünï"] {
            assert!(TokenAudience::parse(bad).is_err(), "{bad}");
        }
        assert_eq!(
            web.provider_arn_for(&id, "id.example.com"),
            "arn:aws:iam::123456789012:oidc-provider/id.example.com"
        );
        assert_eq!(
            web.role_arn_for(&id, &set),
            "arn:aws:iam::123456789012:role/custom/RO"
        );
    }

    #[test]
    fn arns_must_be_the_accounts_own() {
        let foreign = AwsAccount {
            provider_arn: Some(Arn::parse("arn:aws:iam::210987654321:saml-provider/P").unwrap()),
            ..AwsAccount::default()
        };
        assert_eq!(foreign.check_for(&account()).unwrap_err().0, "providerArn");
        let wrong_kind = AwsAccount {
            federation: Federation::WebIdentity,
            provider_arn: Some(Arn::parse("arn:aws:iam::123456789012:saml-provider/P").unwrap()),
            ..AwsAccount::default()
        };
        assert!(wrong_kind.check_for(&account()).is_err());
        let role = AwsAccount {
            role_arns: [(
                RoleName::parse("Admin").unwrap(),
                Arn::parse("arn:aws:iam::210987654321:role/Admin").unwrap(),
            )]
            .into(),
            ..AwsAccount::default()
        };
        assert_eq!(role.check_for(&account()).unwrap_err().0, "roleArns.Admin");
    }

    #[test]
    fn stored_form_round_trips() {
        let kind = AccountKind::Aws(AwsAccount {
            sts_endpoint: Some(StsEndpoint::parse("http://127.0.0.1:5000").unwrap()),
            provider_arn: Some(Arn::parse("arn:aws:iam::123456789012:saml-provider/P").unwrap()),
            role_arn_template: Some(
                RoleArnTemplate::parse("arn:aws:iam::{accountId}:role/x/{permissionSetName}")
                    .unwrap(),
            ),
            ..AwsAccount::default()
        });
        let json = serde_json::to_string(&kind).unwrap();
        assert!(json.contains(r#""kind":"aws""#), "{json}");
        assert_eq!(serde_json::from_str::<AccountKind>(&json).unwrap(), kind);
        // A stored value that no longer validates is refused, not trusted.
        let tampered = json.replace("saml-provider/P", "user/P");
        assert!(serde_json::from_str::<AccountKind>(&tampered).is_err());
        assert_eq!(
            serde_json::to_string(&AccountKind::Native).unwrap(),
            r#"{"kind":"native"}"#
        );
    }
}
