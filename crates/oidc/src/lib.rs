//! The OpenID Connect provider (authorization code + PKCE, refresh, client credentials, device
//! authorization, userinfo, revocation, introspection, RP-initiated logout) and the
//! AWS-compatible SSO-OIDC API that `aws sso login` and the AWS SDKs speak.
//!
//! [`Oidc`] holds what these endpoints use beyond [`portcullis_auth::Auth`]: the token-signing
//! key ring, the client-secret hasher, the key that seals a refresh rotation's answer, and the
//! OIDC settings. What a person authorized (codes, token families, refresh tokens, device
//! codes) lives in the session store (`grants.rs`, `refresh.rs`); docs/design/oidc.md.
//!
//! May import: `portcullis-auth` and the floors below it. Not `signin`, `saml`, `broker` (its
//! siblings): it sends a person without a session to `/start` by URL, never by call.

pub mod authorize;
pub mod aws;
pub mod clients;
pub mod consent;
pub mod device;
pub mod discovery;
pub mod endpoints;
pub mod error;
#[doc(hidden)]
pub mod fuzzing;
pub mod grants;
pub mod keys;
pub mod logout;
pub mod pages;
mod refresh;
pub mod token;
pub mod tokens;
pub mod web_identity;

use std::sync::Arc;
use std::time::Duration;

use portcullis_auth::Auth;

use actix_web::web;

/// OIDC settings from the server's configuration.
#[derive(Debug, Clone)]
pub struct OidcConfig {
    pub keys: keys::KeyConfig,
    /// How long an authorization code may wait to be redeemed.
    pub code_lifetime: Duration,
    /// How long a device code (and its user code) lives.
    pub device_code_lifetime: Duration,
    /// The polling interval device clients are told to keep.
    pub device_poll_interval: Duration,
    /// How long a client registered through the SSO-OIDC API (`/client/register`) stays valid.
    pub registered_client_lifetime: Duration,
    /// How long such a registration lives until it is first used to get a token.
    pub unused_registration_lifetime: Duration,
    /// Registrations one client address (an IPv6 /64) may make per hour.
    pub registrations_per_hour: u64,
    /// How long after a refresh token was rotated the same client may present it again and get
    /// the same answer (a retry whose first answer was lost); zero: never.
    pub refresh_grace: Duration,
}

impl Default for OidcConfig {
    fn default() -> Self {
        Self {
            keys: keys::KeyConfig::default(),
            code_lifetime: Duration::from_secs(60),
            device_code_lifetime: Duration::from_secs(600),
            device_poll_interval: Duration::from_secs(5),
            registered_client_lifetime: Duration::from_secs(90 * 86_400),
            unused_registration_lifetime: Duration::from_secs(86_400),
            registrations_per_hour: 20,
            refresh_grace: Duration::from_secs(30),
        }
    }
}

/// Keys derived from the master key by the server, one per purpose.
pub struct OidcKeys {
    /// Seals the private halves of token-signing keys at rest.
    pub signing_keys: [u8; 32],
    /// Keys the hash of OIDC client secrets (and, derived from it, the sealing of a refresh
    /// rotation's answer).
    pub client_secrets: [u8; 32],
}

impl std::fmt::Debug for OidcKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("OidcKeys(<redacted>)")
    }
}

/// Everything the OIDC provider and the SSO-OIDC API use.
pub struct Oidc {
    pub auth: Arc<Auth>,
    pub config: OidcConfig,
    /// Token-signing keys (shared by every node through the directory).
    pub keys: keys::KeyRing,
    /// Hashes and checks OIDC client secrets.
    pub client_secrets: clients::SecretHasher,
    /// Keys the sealing of a refresh rotation's answer (with the rotated token).
    answer_key: [u8; 32],
}

impl std::fmt::Debug for Oidc {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Oidc")
            .field("auth", &self.auth)
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

impl Oidc {
    pub fn new(auth: Arc<Auth>, config: OidcConfig, keys: OidcKeys) -> Self {
        Self {
            keys: keys::KeyRing::new(
                auth.directory.clone(),
                auth.clock.clone(),
                keys.signing_keys,
                auth.issuer_url(),
                config.keys.clone(),
            ),
            answer_key: portcullis_auth::derive::derive(
                &keys.client_secrets,
                b"portcullis refresh answer v1",
            ),
            client_secrets: clients::SecretHasher::new(keys.client_secrets),
            auth,
            config,
        }
    }
}

/// Mounts the OIDC provider's endpoints, the device page and the SSO-OIDC API.
pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/oauth2/authorize", web::get().to(authorize::authorize_get))
        .route(
            "/oauth2/authorize",
            web::post().to(authorize::authorize_post),
        )
        .route("/oauth2/consent", web::post().to(consent::consent_post))
        .route("/oauth2/token", web::post().to(token::token))
        .route("/oauth2/userinfo", web::get().to(endpoints::userinfo))
        .route("/oauth2/userinfo", web::post().to(endpoints::userinfo))
        .route("/oauth2/revoke", web::post().to(endpoints::revoke))
        .route("/oauth2/introspect", web::post().to(endpoints::introspect))
        .route("/oauth2/logout", web::get().to(logout::logout_get))
        .route("/oauth2/logout", web::post().to(logout::logout_post))
        .route(
            "/oauth2/device_authorization",
            web::post().to(device::device_authorization),
        )
        .route("/device", web::get().to(device::device_get))
        .route("/device", web::post().to(device::device_post))
        // The AWS SSO-OIDC API, at the root paths the AWS SDKs use.
        .route("/client/register", web::post().to(aws::register))
        .route(
            "/device_authorization",
            web::post().to(aws::device_authorization),
        )
        .route("/token", web::post().to(aws::create_token))
        .route("/authorize", web::get().to(authorize::authorize_get));
    discovery::routes(cfg);
}
