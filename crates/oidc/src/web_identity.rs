//! ID tokens for `AssumeRoleWithWebIdentity`: how an account that is a real cloud (AWS with an IAM
//! OIDC provider for our issuer, MinIO, Ceph RGW) lets the broker assume a role for a person. The
//! cloud fetches our discovery document and JWKS from the issuer URL and checks the signature,
//! `iss`, `aud` and the times; the role's trust policy names `aud` and, usually, `sub`.

use async_trait::async_trait;
use portcullis_auth::federation::{CloudGrant, FederationError, WebIdentityTokens};
use portcullis_domain::SigningAlgorithm;

use crate::Oidc;

/// How long the token is good for: one STS call, with the clock skew clouds allow.
pub const WEB_IDENTITY_TOKEN_SECONDS: i64 = 300;

#[async_trait]
impl WebIdentityTokens for Oidc {
    fn issuer(&self) -> String {
        self.auth.issuer_url()
    }

    async fn web_identity_token(
        &self,
        grant: &CloudGrant<'_>,
        audience: &str,
    ) -> Result<String, FederationError> {
        let now = self.auth.clock.now().timestamp();
        // Never past the portal session it comes from.
        let exp = (now + WEB_IDENTITY_TOKEN_SECONDS).min(grant.session_expires.timestamp());
        let mut claims = serde_json::json!({
            "iss": self.auth.issuer_url(),
            "sub": grant.user.id.to_string(),
            "aud": audience,
            "iat": now,
            "nbf": now,
            "exp": exp,
            "jti": portcullis_auth::web::random_token(16),
            "preferred_username": grant.user.user_name.as_str(),
            "email": grant.user.email.as_str(),
        });
        if !grant.tags.is_empty() {
            // AWS's session-tag claim: each tag's value as a one-element list.
            let principal_tags: serde_json::Map<String, serde_json::Value> = grant
                .tags
                .iter()
                .map(|(k, v)| (k.clone(), serde_json::json!([v])))
                .collect();
            claims["https://aws.amazon.com/tags"] = serde_json::json!({
                "principal_tags": principal_tags,
                "transitive_tag_keys": [],
            });
        }
        self.keys
            .sign(SigningAlgorithm::RS256, "JWT", &claims)
            .await
            .map_err(|e| FederationError(Box::new(e)))
    }
}
