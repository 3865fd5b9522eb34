//! The OpenID Connect provider (authorization code + PKCE, refresh, client credentials, device
//! authorization, userinfo, revocation, introspection, RP-initiated logout) and the
//! AWS-compatible SSO-OIDC API that `aws sso login` and the AWS SDKs speak.

pub mod authorize;
pub mod aws;
pub mod clients;
pub mod consent;
pub mod device;
pub mod discovery;
pub mod endpoints;
pub mod error;
pub mod grants;
pub mod keys;
pub mod logout;
mod refresh;
pub mod token;
pub mod tokens;

use std::time::Duration;

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
}
