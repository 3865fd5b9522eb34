//! Accounts that are real clouds: how Portcullis reaches an AWS account (or any endpoint that
//! speaks STS — MinIO, Ceph RGW, LocalStack) and federates people into it.
//!
//! An account is [`AccountKind::Native`] (Portcullis mints and checks its own credentials) or
//! [`AccountKind::Aws`]: sign-in and credentials come from the account's STS, by SAML
//! (`AssumeRoleWithSAML`, and the console's SAML sign-in) or by web identity
//! (`AssumeRoleWithWebIdentity` with an ID token Portcullis signs).

mod arn;
mod names;
mod policies;
mod provisioning;
mod tags;
#[cfg(test)]
mod tests;

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::{AccountId, RoleName, User, ValidationError};

pub use arn::{Arn, ArnKind, RoleArnTemplate};
pub use names::{AwsRegion, StsEndpoint, TokenAudience};
pub use policies::{
    CloudPolicies, InlinePolicy, MAX_INLINE_POLICY_CHARS, MAX_MANAGED_POLICIES, ManagedPolicyArn,
    PermissionsBoundary, PolicyReference,
};
pub use provisioning::{
    AccessKeyId, IamRoleName, ProvisioningConnection, ProvisioningRecord, ProvisioningState,
    REMOVAL_ATTEMPT,
};
pub use tags::{MAX_SESSION_TAGS, TagKey, TagTemplate};

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
    /// Session tags (attributes for access control): tag key → value template.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub session_tags: BTreeMap<TagKey, TagTemplate>,
    /// Whether the console sign-in posts to the region's sign-in endpoint
    /// (`https://{region}.signin.aws.amazon.com/saml`) instead of the global one.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub regional_sign_in: bool,
}

/// The global AWS sign-in endpoint for SAML (the recipient of `AssumeRoleWithSAML` assertions
/// too).
pub const AWS_SIGN_IN_URL: &str = "https://signin.aws.amazon.com/saml";

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

/// How IAM names the OIDC provider of an issuer URL: the URL without its scheme and trailing
/// slash (`https://id.example.com/` → `id.example.com`).
pub fn oidc_provider_name(issuer: &str) -> &str {
    issuer
        .trim_start_matches("https://")
        .trim_start_matches("http://")
        .trim_end_matches('/')
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

    /// The session tags for `user`: each template with the person's values; a tag whose template
    /// names a value the person does not have is left out.
    pub fn session_tags_for(&self, user: &User) -> Vec<(String, String)> {
        self.session_tags
            .iter()
            .filter_map(|(k, t)| t.render(user).map(|v| (k.as_str().to_owned(), v)))
            .collect()
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

    /// Where the console's SAML Response is posted: the region's sign-in endpoint, or the
    /// global one.
    pub fn sign_in_url(&self) -> String {
        if self.regional_sign_in {
            format!("https://{}.signin.aws.amazon.com/saml", self.region())
        } else {
            AWS_SIGN_IN_URL.to_owned()
        }
    }

    /// Every URL a SAML assertion for this account is addressed to (what a role's trust policy
    /// allows as `SAML:aud`): the global endpoint (`AssumeRoleWithSAML`), and the regional one
    /// when the console uses it.
    pub fn sign_in_audiences(&self) -> Vec<String> {
        let mut urls = vec![AWS_SIGN_IN_URL.to_owned()];
        if self.regional_sign_in {
            urls.push(self.sign_in_url());
        }
        urls
    }

    /// Where STS answers: the override, or the region's public endpoint.
    pub fn sts_url(&self) -> String {
        match &self.sts_endpoint {
            Some(e) => e.as_str().to_owned(),
            None => format!("https://sts.{}.amazonaws.com", self.region()),
        }
    }

    /// The provider ARN in `account` for our issuer `issuer` (a URL: the OIDC provider is named
    /// after it without its scheme, as IAM names them).
    pub fn provider_arn_for(&self, account: &AccountId, issuer: &str) -> String {
        if let Some(p) = &self.provider_arn {
            return p.as_str().to_owned();
        }
        match self.federation {
            Federation::Saml => format!("arn:aws:iam::{account}:saml-provider/Portcullis"),
            Federation::WebIdentity => {
                format!(
                    "arn:aws:iam::{account}:oidc-provider/{}",
                    oidc_provider_name(issuer)
                )
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
