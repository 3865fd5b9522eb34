//! Federating a person into a real cloud account: what the broker asks of the identity provider.
//!
//! The broker obtains credentials from an account's own STS (`AssumeRoleWithSAML`,
//! `AssumeRoleWithWebIdentity`); the assertion or token it presents is made by the SAML IdP or
//! the OpenID provider, its siblings. These traits are how the broker reaches them without
//! importing them: the SAML IdP implements [`CloudAssertions`], the OpenID provider
//! [`WebIdentityTokens`], and the server hands both to the broker.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use portcullis_domain::User;

/// Who is federated, into which role, for how long.
#[derive(Debug, Clone)]
pub struct CloudGrant<'a> {
    pub user: &'a User,
    /// The role to assume (`arn:aws:iam::{account}:role/…`).
    pub role_arn: &'a str,
    /// The account's IAM SAML provider or OIDC provider.
    pub provider_arn: &'a str,
    /// How long the cloud session may last, in seconds (AWS: 900 to 43,200).
    pub duration_seconds: u32,
    /// When the person's portal session ends (the assertion must not outlive it).
    pub session_expires: DateTime<Utc>,
    /// Session tags (attributes for access control), key and value.
    pub tags: Vec<(String, String)>,
}

/// A failure to make an assertion or token: ours (no key), never the person's.
#[derive(Debug, thiserror::Error)]
#[error("could not make the federation assertion: {0}")]
pub struct FederationError(#[source] pub Box<dyn std::error::Error + Send + Sync>);

/// Assertions and tokens for clouds.
#[async_trait]
pub trait CloudAssertions: Send + Sync {
    /// A signed SAML Response for AWS (`urn:amazon:webservices`), base64-encoded as STS and the
    /// AWS sign-in page take it: one `Role` value `role_arn,provider_arn`, `RoleSessionName`
    /// (the person's user name), `SessionDuration`, `SourceIdentity`, and a `PrincipalTag:<key>`
    /// per session tag.
    async fn aws_saml_response(&self, grant: &CloudGrant<'_>) -> Result<String, FederationError>;

    /// The IdP metadata an account's IAM SAML provider is made from (every published signing
    /// certificate, so that a key rotation reaches the accounts before the new key signs).
    async fn idp_metadata(&self) -> Result<String, FederationError>;
}

/// ID tokens for `AssumeRoleWithWebIdentity` (AWS, MinIO, Ceph RGW).
#[async_trait]
pub trait WebIdentityTokens: Send + Sync {
    /// A short-lived ID token signed by our OpenID provider (RS256, a key of our JWKS): `iss` our
    /// issuer URL, `aud` the given audience, `sub` the person's stable id, plus the person's
    /// user name and email, and the session tags under `https://aws.amazon.com/tags`; valid for
    /// a few minutes — long enough for one STS call.
    async fn web_identity_token(
        &self,
        grant: &CloudGrant<'_>,
        audience: &str,
    ) -> Result<String, FederationError>;

    /// Our issuer URL: what an account's IAM OIDC provider is made for.
    fn issuer(&self) -> String;
}
