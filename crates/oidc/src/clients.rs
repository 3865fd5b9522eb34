//! Client secrets: generated (256 bits), shown once, stored as a keyed hash (HMAC-SHA256 under a
//! key derived from the master key) — cheap to check on every token request, useless if the
//! directory leaks without the master key.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use rand::RngCore;
use subtle::ConstantTimeEq;

use chrono::{DateTime, Utc};
use portcullis_domain::{ApplicationId, ClientType, GrantType, OidcSettings, RedirectUri, Scope};
use serde::{Deserialize, Serialize};

use super::error::OAuthError;
use crate::Oidc;

/// Hashes and checks client secrets.
#[derive(Clone)]
pub struct SecretHasher {
    key: [u8; 32],
}

impl std::fmt::Debug for SecretHasher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SecretHasher(<redacted>)")
    }
}

impl SecretHasher {
    pub fn new(key: [u8; 32]) -> Self {
        Self { key }
    }

    /// A fresh secret (43 URL-safe characters) and its hash.
    pub fn generate(&self) -> (String, Vec<u8>) {
        let mut raw = [0u8; 32];
        rand::rng().fill_bytes(&mut raw);
        let secret = URL_SAFE_NO_PAD.encode(raw);
        let hash = self.hash(&secret);
        (secret, hash)
    }

    pub fn hash(&self, secret: &str) -> Vec<u8> {
        portcullis_auth::derive::hmac_sha256(
            &self.key,
            &[b"portcullis client secret v1\0", secret.as_bytes()],
        )
        .to_vec()
    }

    /// Whether `secret` hashes to `hash`, compared in constant time.
    pub fn verify(&self, secret: &str, hash: &[u8]) -> bool {
        let computed = self.hash(secret);
        !hash.is_empty() && bool::from(computed.as_slice().ct_eq(hash))
    }
}

/// Where a client's registration lives.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClientSource {
    /// An OIDC application in the directory; only people assigned to it get tokens.
    Application(ApplicationId),
    /// Registered through the SSO-OIDC API (`/client/register`): the AWS CLI and SDKs.
    Registered,
}

/// A client as the endpoints see it.
#[derive(Debug, Clone)]
pub struct Client {
    pub id: String,
    pub name: String,
    pub source: ClientSource,
    pub settings: OidcSettings,
    /// When a registration through the SSO-OIDC API lapses (`None` for applications).
    pub registered_until: Option<DateTime<Utc>>,
    /// Whether such a registration has got a token yet.
    pub registration_used: bool,
    secret_hash: Option<Vec<u8>>,
}

impl Client {
    /// Clients that must prove PKCE: public ones and every SSO-OIDC registration.
    pub fn requires_pkce(&self) -> bool {
        self.settings.client_type == ClientType::Public || self.source == ClientSource::Registered
    }

    pub fn allows(&self, grant: GrantType) -> bool {
        self.settings.allows(grant)
    }

    /// The registered redirect URI the presented one matches, if any.
    pub fn redirect_matches(&self, presented: &str) -> bool {
        self.settings
            .redirect_uris
            .iter()
            .any(|r| r.matches(presented))
    }

    /// Whether `scope` may be asked for: the OpenID scopes, or one the client was given.
    pub fn knows_scope(&self, scope: &str) -> bool {
        matches!(
            scope,
            "openid" | "profile" | "email" | "groups" | "offline_access"
        ) || self
            .settings
            .allowed_scopes
            .iter()
            .any(|s| s.as_str() == scope)
    }
}

/// How the caller authenticated at a client-authenticated endpoint.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuthMethod {
    Basic,
    Post,
    None,
}

/// The credentials a request carries: HTTP Basic or form fields (never both).
#[derive(Debug, Clone, Default)]
pub struct PresentedClient {
    pub client_id: Option<String>,
    pub client_secret: Option<String>,
    pub basic: bool,
}

impl PresentedClient {
    /// From the `Authorization: Basic` header (RFC 6749 §2.3.1: id and secret form-urlencoded)
    /// and the form's `client_id` / `client_secret`.
    pub fn from_request(
        req: &actix_web::HttpRequest,
        form_id: Option<&str>,
        form_secret: Option<&str>,
    ) -> Result<Self, OAuthError> {
        let basic = req
            .headers()
            .get(actix_web::http::header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| {
                v.strip_prefix("Basic ")
                    .or_else(|| v.strip_prefix("basic "))
            });
        let Some(encoded) = basic else {
            return Ok(Self {
                client_id: form_id.map(str::to_owned),
                client_secret: form_secret.map(str::to_owned),
                basic: false,
            });
        };
        if form_secret.is_some() {
            return Err(OAuthError::invalid_request(
                "use one client authentication method, not both HTTP Basic and client_secret",
            ));
        }
        let bad = || OAuthError::invalid_client("malformed HTTP Basic credentials");
        let decoded = base64::engine::general_purpose::STANDARD
            .decode(encoded.trim())
            .map_err(|_| bad())?;
        let text = String::from_utf8(decoded).map_err(|_| bad())?;
        let (id, secret) = text.split_once(':').ok_or_else(bad)?;
        let decode = |s: &str| {
            url::form_urlencoded::parse(format!("v={s}").as_bytes())
                .next()
                .map(|(_, v)| v.into_owned())
        };
        let id = decode(id).ok_or_else(bad)?;
        if form_id.is_some_and(|f| f != id) {
            return Err(OAuthError::invalid_request(
                "client_id in the body differs from the HTTP Basic credentials",
            ));
        }
        Ok(Self {
            client_id: Some(id),
            client_secret: Some(decode(secret).ok_or_else(bad)?),
            basic: true,
        })
    }
}

/// A client registered through `/client/register`, as kept in the session store.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RegisteredClient {
    pub name: String,
    pub secret_hash: Vec<u8>,
    pub scopes: Vec<String>,
    pub grant_types: Vec<String>,
    pub redirect_uris: Vec<String>,
    pub issued_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
    /// Whether it has got a token yet; until then it lives only the unused-registration
    /// lifetime.
    #[serde(default)]
    pub used: bool,
}

/// The session-store namespace of SSO-OIDC client registrations.
pub const REGISTERED_NS: &str = "sso-client";

impl Oidc {
    /// The enabled client with this id, or `None`. An application's client is read through the
    /// directory's per-node cache (two in-memory lookups on a warm node; a change anywhere
    /// reaches it within milliseconds).
    pub async fn find_client(&self, client_id: &str) -> Result<Option<Client>, OAuthError> {
        if let Some(uuid) = uuid::Uuid::parse_str(client_id)
            .ok()
            .filter(|u| u.hyphenated().to_string() == client_id)
        {
            let id = ApplicationId::from_uuid(uuid);
            let app = match self.auth.directory.get_application(id).await {
                Ok(app) => app,
                Err(portcullis_store::StoreError::NotFound(_)) => return Ok(None),
                Err(e) => return Err(e.into()),
            };
            let Some(settings) = app.oidc.clone().filter(|_| app.enabled) else {
                return Ok(None);
            };
            let secret_hash = if settings.client_type == ClientType::Confidential {
                self.auth.directory.client_secret_hash(id).await?
            } else {
                None
            };
            return Ok(Some(Client {
                id: client_id.to_owned(),
                name: app.name.to_string(),
                source: ClientSource::Application(id),
                settings,
                registered_until: None,
                registration_used: true,
                secret_hash,
            }));
        }
        let Some(raw) = self.auth.sessions.get(REGISTERED_NS, client_id).await? else {
            return Ok(None);
        };
        let reg: RegisteredClient = serde_json::from_slice(&raw)
            .map_err(|_| OAuthError::invalid_client("the client registration is unreadable"))?;
        if reg.expires_at <= self.auth.clock.now() {
            return Ok(None);
        }
        let grant_types = reg
            .grant_types
            .iter()
            .filter_map(|g| g.parse().ok())
            .collect();
        let settings = OidcSettings {
            client_type: ClientType::Confidential,
            redirect_uris: reg
                .redirect_uris
                .iter()
                .filter_map(|r| RedirectUri::parse(r).ok())
                .collect(),
            grant_types,
            allowed_scopes: reg
                .scopes
                .iter()
                .filter_map(|s| Scope::parse(s.as_str()).ok())
                .collect(),
            ..OidcSettings::default()
        };
        Ok(Some(Client {
            id: client_id.to_owned(),
            name: reg.name,
            source: ClientSource::Registered,
            settings,
            registered_until: Some(reg.expires_at),
            registration_used: reg.used,
            secret_hash: Some(reg.secret_hash),
        }))
    }

    /// Authenticates the client a request names: a confidential client by its secret, a public
    /// one by its id alone (presenting a secret is then an error). Unknown client, missing or
    /// wrong secret: `invalid_client`.
    pub async fn authenticate_client(
        &self,
        presented: &PresentedClient,
    ) -> Result<(Client, AuthMethod), OAuthError> {
        let Some(id) = presented.client_id.as_deref().filter(|s| !s.is_empty()) else {
            return Err(OAuthError::invalid_client(
                "client authentication is required",
            ));
        };
        let unknown = || OAuthError::invalid_client("unknown client or wrong credentials");
        let client = self.find_client(id).await?.ok_or_else(unknown)?;
        let method = if presented.basic {
            AuthMethod::Basic
        } else {
            AuthMethod::Post
        };
        match (&client.secret_hash, presented.client_secret.as_deref()) {
            (Some(hash), Some(secret)) if self.client_secrets.verify(secret, hash) => {
                Ok((client, method))
            }
            (None, None) if client.settings.client_type == ClientType::Public => {
                Ok((client, AuthMethod::None))
            }
            _ => Err(unknown()),
        }
    }

    /// Stores a client registered through the SSO-OIDC API; returns its id and secret.
    pub async fn register_client(
        &self,
        name: String,
        scopes: Vec<String>,
        grant_types: Vec<String>,
        redirect_uris: Vec<String>,
    ) -> Result<(String, String, RegisteredClient), OAuthError> {
        let lifetime = self.config.registered_client_lifetime;
        let (secret, secret_hash) = self.client_secrets.generate();
        let now = self.auth.clock.now();
        let reg = RegisteredClient {
            name,
            secret_hash,
            scopes,
            grant_types,
            redirect_uris,
            issued_at: now,
            expires_at: now + chrono::Duration::from_std(lifetime).unwrap_or_default(),
            used: false,
        };
        let id = format!("pcrc_{}", portcullis_auth::web::random_token(16));
        let unused = self.config.unused_registration_lifetime.min(lifetime);
        self.put_json(REGISTERED_NS, &id, &reg, unused).await?;
        Ok((id, secret, reg))
    }

    /// A registered client got its first token: from now on its registration lives until its
    /// own expiry rather than the unused-registration lifetime.
    pub async fn mark_registration_used(&self, client: &Client) -> Result<(), OAuthError> {
        if client.source != ClientSource::Registered || client.registration_used {
            return Ok(());
        }
        let Some(mut reg) = self
            .get_json::<RegisteredClient>(REGISTERED_NS, &client.id)
            .await?
        else {
            return Ok(());
        };
        reg.used = true;
        let left = (reg.expires_at - self.auth.clock.now())
            .to_std()
            .unwrap_or(std::time::Duration::ZERO);
        if left.is_zero() {
            return Ok(());
        }
        self.put_json(REGISTERED_NS, &client.id, &reg, left).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_verify_only_against_their_own_hash_and_key() {
        let h = SecretHasher::new([7; 32]);
        let (secret, hash) = h.generate();
        assert_eq!(secret.len(), 43);
        assert!(h.verify(&secret, &hash));
        assert!(!h.verify("other", &hash));
        assert!(!h.verify(&secret, &[]));
        assert!(!SecretHasher::new([8; 32]).verify(&secret, &hash));
    }
}
