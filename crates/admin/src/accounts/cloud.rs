//! The `kind` and `aws` fields of an account on the wire: how a real cloud account is reached and
//! federated into.

use std::collections::BTreeMap;

use portcullis_domain::cloud::MAX_SESSION_TAGS;
use portcullis_domain::{
    AccountId, AccountKind, Arn, AwsAccount, AwsRegion, Federation, FieldErrors, RoleArnTemplate,
    RoleName, StsEndpoint, TagKey, TagTemplate, TokenAudience,
};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// An `aws` account's settings as given. Every field may be left out: absent values follow AWS's
/// defaults (region `us-east-1`, its public STS endpoint, SAML federation, the provider
/// `arn:aws:iam::{accountId}:saml-provider/Portcullis`, roles named after permission sets).
#[derive(Debug, Default, Clone, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct AwsBody {
    /// The region whose STS and console sign-in are used.
    #[schema(example = "eu-west-1")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub region: Option<String>,
    /// STS at another address: a private endpoint, MinIO, Ceph RGW, LocalStack (`http` only on
    /// loopback).
    #[schema(example = "https://sts.eu-west-1.amazonaws.com")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sts_endpoint: Option<String>,
    /// `saml` (AssumeRoleWithSAML and console sign-in; the default) or `webIdentity`
    /// (AssumeRoleWithWebIdentity with an ID token signed by Portcullis).
    #[schema(example = "saml")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub federation: Option<String>,
    /// The account's IAM SAML provider (`saml`) or OIDC provider (`webIdentity`).
    #[schema(example = "arn:aws:iam::123456789012:saml-provider/Portcullis")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub provider_arn: Option<String>,
    /// A role ARN with `{accountId}` and `{permissionSetName}`.
    #[schema(example = "arn:aws:iam::{accountId}:role/{permissionSetName}")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub role_arn_template: Option<String>,
    /// Role ARNs of particular permission sets (by name), overriding the template.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub role_arns: Option<BTreeMap<String, String>>,
    /// The `aud` of the web-identity token (`webIdentity`; default `sts.amazonaws.com`).
    #[schema(example = "sts.amazonaws.com")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub audience: Option<String>,
    /// Session tags (attributes for access control): tag key → value template with
    /// `${user:<field>}` (`userName`, `email`, `name`, `givenName`, `familyName`, `id`, or a
    /// custom attribute), at most 50.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub session_tags: Option<BTreeMap<String, String>>,
    /// Post the console sign-in to the region's sign-in endpoint
    /// (`https://{region}.signin.aws.amazon.com/saml`) instead of the global one; default false.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub regional_sign_in: Option<bool>,
}

/// An `aws` account's settings as they apply (defaults filled in).
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct AwsView {
    pub region: String,
    /// Where STS requests go.
    pub sts_endpoint: String,
    /// Whether the endpoint is the region's default (not set on the account).
    pub sts_endpoint_is_default: bool,
    pub federation: String,
    /// The provider ARN set on the account; absent: the default for the federation method.
    pub provider_arn: Option<String>,
    pub role_arn_template: String,
    pub role_arns: BTreeMap<String, String>,
    /// The web-identity token's audience (used with `webIdentity`).
    pub audience: String,
    pub session_tags: BTreeMap<String, String>,
    pub regional_sign_in: bool,
    /// Where the console's SAML sign-in is posted.
    pub sign_in_url: String,
}

impl From<&AwsAccount> for AwsView {
    fn from(a: &AwsAccount) -> Self {
        Self {
            region: a.region().to_owned(),
            sts_endpoint: a.sts_url(),
            sts_endpoint_is_default: a.sts_endpoint.is_none(),
            federation: a.federation.as_str().to_owned(),
            provider_arn: a.provider_arn.as_ref().map(|p| p.as_str().to_owned()),
            role_arn_template: a
                .role_arn_template
                .as_ref()
                .map_or(RoleArnTemplate::DEFAULT, RoleArnTemplate::as_str)
                .to_owned(),
            role_arns: a
                .role_arns
                .iter()
                .map(|(k, v)| (k.as_str().to_owned(), v.as_str().to_owned()))
                .collect(),
            audience: a.audience().to_owned(),
            session_tags: a
                .session_tags
                .iter()
                .map(|(k, v)| (k.as_str().to_owned(), v.as_str().to_owned()))
                .collect(),
            regional_sign_in: a.regional_sign_in,
            sign_in_url: a.sign_in_url(),
        }
    }
}

/// The account's kind from `kind` (`native` or `aws`) and `aws`, either of which may be absent:
/// `aws` alone means an `aws` account; neither keeps `current`. Errors are recorded in `e`
/// under `kind` and `aws.<field>`.
pub(crate) fn parse_kind(
    e: &mut FieldErrors,
    account: Option<&AccountId>,
    kind: Option<String>,
    aws: Option<AwsBody>,
    current: AccountKind,
) -> Option<AccountKind> {
    let wanted = match kind.as_deref() {
        None => aws.as_ref().map(|_| "aws"),
        Some(k @ ("native" | "aws")) => Some(k),
        Some(_) => {
            e.add("kind", "must be native or aws");
            return None;
        }
    };
    match (wanted, aws) {
        (None, _) => Some(current),
        (Some("native"), Some(_)) => {
            e.add("aws", "only an aws account has aws settings");
            None
        }
        (Some("native"), None) => Some(AccountKind::Native),
        (_, body) => parse_aws(e, account, body.unwrap_or_default()).map(AccountKind::Aws),
    }
}

fn parse_aws(e: &mut FieldErrors, account: Option<&AccountId>, b: AwsBody) -> Option<AwsAccount> {
    let before = e.0.len();
    let region = b.region.map(|v| e.check("aws.region", AwsRegion::parse(v)));
    let sts_endpoint = b
        .sts_endpoint
        .map(|v| e.check("aws.stsEndpoint", StsEndpoint::parse(v)));
    let federation = match b.federation {
        None => Some(Federation::default()),
        Some(v) => e.check("aws.federation", Federation::parse(&v)),
    };
    let provider_arn = b
        .provider_arn
        .map(|v| e.check("aws.providerArn", Arn::parse(v)));
    let role_arn_template = b
        .role_arn_template
        .map(|v| e.check("aws.roleArnTemplate", RoleArnTemplate::parse(v)));
    let audience = b
        .audience
        .map(|v| e.check("aws.audience", TokenAudience::parse(v)));
    let tags = b.session_tags.unwrap_or_default();
    if tags.len() > MAX_SESSION_TAGS {
        e.add(
            "aws.sessionTags",
            format!("at most {MAX_SESSION_TAGS} tags"),
        );
    }
    let mut session_tags = BTreeMap::new();
    for (key, template) in tags {
        let field = format!("aws.sessionTags.{key}");
        let k = e.check(&field, TagKey::parse(key));
        let t = e.check(&field, TagTemplate::parse(template));
        if let (Some(k), Some(t)) = (k, t) {
            session_tags.insert(k, t);
        }
    }
    let mut role_arns = BTreeMap::new();
    for (set, arn) in b.role_arns.unwrap_or_default() {
        let field = format!("aws.roleArns.{set}");
        let name = e.check(&field, RoleName::parse(set));
        let arn = e.check(&field, Arn::parse(arn));
        if let (Some(name), Some(arn)) = (name, arn) {
            role_arns.insert(name, arn);
        }
    }
    if e.0.len() > before {
        return None;
    }
    let aws = AwsAccount {
        region: region.flatten(),
        sts_endpoint: sts_endpoint.flatten(),
        federation: federation?,
        provider_arn: provider_arn.flatten(),
        role_arn_template: role_arn_template.flatten(),
        role_arns,
        audience: audience.flatten(),
        session_tags,
        regional_sign_in: b.regional_sign_in.unwrap_or(false),
    };
    if let Some(account) = account
        && let Err((field, why)) = aws.check_for(account)
    {
        e.add(format!("aws.{field}"), why.message);
        return None;
    }
    Some(aws)
}
