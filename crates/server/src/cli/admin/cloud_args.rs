//! The options of an account's kind and its AWS settings (`accounts create` / `update`), and the
//! `NAME=VALUE` options they and `users` share.

/// What kind of account, and how a real AWS account (or STS endpoint) is reached.
#[derive(Debug, Clone, Default, clap::Args)]
pub(super) struct CloudArgs {
    /// `native` (credentials from Portcullis; the default) or `aws` (a real AWS account or an
    /// STS-compatible endpoint; implied by any of the options below).
    #[arg(long, value_parser = ["native", "aws"])]
    pub(super) kind: Option<String>,
    /// The AWS region whose STS and console sign-in are used (default us-east-1).
    #[arg(long)]
    pub(super) region: Option<String>,
    /// STS at another address than the region's public endpoint (private endpoints, MinIO,
    /// Ceph RGW, LocalStack; http only on loopback).
    #[arg(long, value_name = "URL")]
    pub(super) sts_endpoint: Option<String>,
    /// How people are federated: `saml` (the default) or `webIdentity`.
    #[arg(long, value_parser = ["saml", "webIdentity"])]
    pub(super) federation: Option<String>,
    /// The account's IAM SAML provider or OIDC provider ARN (default
    /// arn:aws:iam::ACCOUNT:saml-provider/Portcullis).
    #[arg(long, value_name = "ARN")]
    pub(super) provider_arn: Option<String>,
    /// How roles are named, with {accountId} and {permissionSetName} (default
    /// arn:aws:iam::{accountId}:role/{permissionSetName}).
    #[arg(long, value_name = "TEMPLATE")]
    pub(super) role_arn_template: Option<String>,
    /// The role of one permission set, overriding the template (repeatable).
    #[arg(long = "role-arn", value_name = "PERMISSION_SET=ARN", value_parser = name_value)]
    pub(super) role_arns: Vec<(String, String)>,
    /// The audience of the web-identity token (webIdentity; default sts.amazonaws.com).
    #[arg(long)]
    pub(super) audience: Option<String>,
    /// A session tag: its key and a value template such as ${user:department} (repeatable).
    #[arg(long = "session-tag", value_name = "KEY=TEMPLATE", value_parser = name_value)]
    pub(super) session_tags: Vec<(String, String)>,
    /// Post the console sign-in to the region's sign-in endpoint instead of the global one.
    #[arg(long)]
    pub(super) regional_sign_in: bool,
}

/// `NAME=VALUE`.
pub(super) fn name_value(s: &str) -> Result<(String, String), String> {
    s.split_once('=')
        .filter(|(k, _)| !k.is_empty())
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .ok_or_else(|| "expected NAME=VALUE".to_owned())
}
