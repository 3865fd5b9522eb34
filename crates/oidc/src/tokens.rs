//! Minting tokens: RFC 9068 access tokens, ID tokens, refresh tokens, and the SSO-OIDC API's
//! opaque access tokens.

use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use portcullis_domain::{SigningAlgorithm, User};
use portcullis_sessions::PortalSession;
use portcullis_sessions::sso::SsoAccess;
use serde_json::{Value, json};
use sha2::{Digest, Sha256, Sha512};

use super::clients::Client;
use super::error::OAuthError;
use super::grants::{Grant, Pending};
use crate::Oidc;

/// How long an SSO-OIDC access token lives at most (never beyond its portal session).
const SSO_ACCESS_LIFETIME: Duration = Duration::from_secs(3_600);

/// What the token endpoint returns.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct IssuedTokens {
    pub access_token: String,
    pub expires_in: u64,
    pub refresh_token: Option<String>,
    pub id_token: Option<String>,
    pub scope: String,
}

impl IssuedTokens {
    /// The RFC 6749 §5.1 JSON body.
    pub fn to_oauth_json(&self) -> Value {
        let mut body = json!({
            "access_token": self.access_token,
            "token_type": "Bearer",
            "expires_in": self.expires_in,
            "scope": self.scope,
        });
        if let Some(r) = &self.refresh_token {
            body["refresh_token"] = json!(r);
        }
        if let Some(i) = &self.id_token {
            body["id_token"] = json!(i);
        }
        body
    }

    /// The SSO-OIDC `CreateToken` body (camelCase).
    pub fn to_aws_json(&self) -> Value {
        let mut body = json!({
            "accessToken": self.access_token,
            "tokenType": "Bearer",
            "expiresIn": self.expires_in,
        });
        if let Some(r) = &self.refresh_token {
            body["refreshToken"] = json!(r);
        }
        if let Some(i) = &self.id_token {
            body["idToken"] = json!(i);
        }
        body
    }
}

/// The OIDC `at_hash`: the left half of the access token's hash under the ID token's algorithm.
pub fn at_hash(alg: SigningAlgorithm, access_token: &str) -> String {
    let digest: Vec<u8> = match alg {
        SigningAlgorithm::RS256 | SigningAlgorithm::ES256 => {
            Sha256::digest(access_token.as_bytes()).to_vec()
        }
        SigningAlgorithm::EdDSA => Sha512::digest(access_token.as_bytes()).to_vec(),
    };
    URL_SAFE_NO_PAD.encode(&digest[..digest.len() / 2])
}

/// The user's claims for the granted scopes (ID token and userinfo).
pub fn user_claims(
    user: &User,
    groups: &[String],
    scopes: &[String],
) -> serde_json::Map<String, Value> {
    let has = |s: &str| scopes.iter().any(|x| x == s);
    let mut claims = serde_json::Map::new();
    claims.insert("sub".into(), json!(user.id.to_string()));
    if has("profile") {
        claims.insert("name".into(), json!(user.display_name.to_string()));
        claims.insert(
            "preferred_username".into(),
            json!(user.user_name.to_string()),
        );
        if let Some(g) = &user.given_name {
            claims.insert("given_name".into(), json!(g.to_string()));
        }
        if let Some(f) = &user.family_name {
            claims.insert("family_name".into(), json!(f.to_string()));
        }
        claims.insert("updated_at".into(), json!(user.updated_at.timestamp()));
    }
    if has("email") {
        claims.insert("email".into(), json!(user.email.to_string()));
        // Addresses are set by administrators, and every first sign-in proves the person
        // receives mail there.
        claims.insert("email_verified".into(), json!(true));
    }
    if has("groups") {
        claims.insert("groups".into(), json!(groups));
    }
    claims
}

impl Oidc {
    /// The user and their group names, for claims.
    pub async fn user_and_groups(
        &self,
        user: portcullis_domain::UserId,
        with_groups: bool,
    ) -> Result<(User, Vec<String>), OAuthError> {
        let user_id = user;
        let user = self.auth.directory.get_user(user_id).await?;
        let groups = if with_groups {
            self.auth
                .directory
                .list_user_groups(user_id)
                .await?
                .into_iter()
                .map(|g| g.name.to_string())
                .collect()
        } else {
            Vec::new()
        };
        Ok((user, groups))
    }

    /// Tokens for a person's grant: an access token (a JWT, or opaque for SSO-OIDC clients), an
    /// ID token when `openid` was granted, and a refresh token when the client may refresh.
    ///
    /// Nothing is stored yet: what must be (an SSO-OIDC access token, the refresh token) comes
    /// back as writes that the grant commits together with spending what it exchanged.
    pub(crate) async fn prepare_user_tokens(
        &self,
        client: &Client,
        grant: &Grant,
        family: &str,
        session: &PortalSession,
        opaque: bool,
    ) -> Result<(IssuedTokens, Vec<Pending>), OAuthError> {
        let mut writes = Vec::new();
        let now = self.auth.clock.now();
        let remaining = self.remaining(session);
        if remaining.is_zero() {
            return Err(OAuthError::invalid_grant("the portal session has ended"));
        }
        let settings = &client.settings;
        let (access_token, expires_in) = if opaque {
            let lifetime = SSO_ACCESS_LIFETIME.min(remaining);
            let token = format!("pcsso_{}", portcullis_auth::web::random_token(32));
            let record = SsoAccess {
                user_id: grant.user_id,
                session_id: grant.session_id.clone(),
                client_id: client.id.clone(),
                scopes: grant.scopes.clone(),
                family: family.to_owned(),
                expires_at: now + chrono::Duration::from_std(lifetime).unwrap_or_default(),
            };
            writes.push(Pending::sso_access(&token, &record, lifetime)?);
            (token, lifetime.as_secs())
        } else {
            let lifetime =
                Duration::from_secs(settings.access_token_lifetime.seconds()).min(remaining);
            let exp = now.timestamp() + lifetime.as_secs() as i64;
            let claims = json!({
                "iss": self.auth.issuer_url(),
                "sub": grant.user_id.to_string(),
                "aud": settings.audience.clone().unwrap_or_else(|| client.id.clone()),
                "client_id": client.id,
                "scope": grant.scope_string(),
                "iat": now.timestamp(),
                "exp": exp,
                "jti": portcullis_auth::web::random_token(16),
                "auth_time": grant.auth_time.timestamp(),
                "sid": family,
            });
            let token = self
                .keys
                .sign(settings.signing_algorithm, "at+jwt", &claims)
                .await?;
            (token, lifetime.as_secs())
        };
        let id_token = if grant.has_scope("openid") {
            let (user, groups) = self
                .user_and_groups(grant.user_id, grant.has_scope("groups"))
                .await?;
            let mut claims = user_claims(&user, &groups, &grant.scopes);
            let lifetime = Duration::from_secs(settings.id_token_lifetime.seconds());
            claims.insert("iss".into(), json!(self.auth.issuer_url()));
            claims.insert("aud".into(), json!(client.id));
            claims.insert("azp".into(), json!(client.id));
            claims.insert("iat".into(), json!(now.timestamp()));
            claims.insert(
                "exp".into(),
                json!(now.timestamp() + lifetime.as_secs() as i64),
            );
            claims.insert("auth_time".into(), json!(grant.auth_time.timestamp()));
            claims.insert("amr".into(), json!(grant.amr));
            claims.insert("sid".into(), json!(family));
            claims.insert(
                "at_hash".into(),
                json!(at_hash(settings.signing_algorithm, &access_token)),
            );
            if let Some(nonce) = &grant.nonce {
                claims.insert("nonce".into(), json!(nonce));
            }
            Some(
                self.keys
                    .sign(settings.signing_algorithm, "JWT", &Value::Object(claims))
                    .await?,
            )
        } else {
            None
        };
        let refresh_token = if client.allows(portcullis_domain::GrantType::RefreshToken) {
            let lifetime = Duration::from_secs(settings.refresh_token_lifetime.seconds());
            let (token, write) = self.new_refresh(grant, family, session, lifetime)?;
            writes.push(write);
            Some(token)
        } else {
            None
        };
        let tokens = IssuedTokens {
            access_token,
            expires_in,
            refresh_token,
            id_token,
            scope: grant.scope_string(),
        };
        Ok((tokens, writes))
    }

    /// A `client_credentials` access token: the client acts for itself.
    pub async fn issue_client_token(
        &self,
        client: &Client,
        scopes: Vec<String>,
    ) -> Result<IssuedTokens, OAuthError> {
        let now = self.auth.clock.now();
        let settings = &client.settings;
        let lifetime = settings.access_token_lifetime.seconds();
        let scope = scopes.join(" ");
        let claims = json!({
            "iss": self.auth.issuer_url(),
            "sub": client.id,
            "aud": settings.audience.clone().unwrap_or_else(|| client.id.clone()),
            "client_id": client.id,
            "scope": scope,
            "iat": now.timestamp(),
            "exp": now.timestamp() + lifetime as i64,
            "jti": portcullis_auth::web::random_token(16),
        });
        let access_token = self
            .keys
            .sign(settings.signing_algorithm, "at+jwt", &claims)
            .await?;
        Ok(IssuedTokens {
            access_token,
            expires_in: lifetime,
            refresh_token: None,
            id_token: None,
            scope,
        })
    }
}
