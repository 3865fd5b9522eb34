//! Portcullis identity provider: sign-in (password, email one-time passwords and verification
//! codes, MFA), portal sessions, the portal pages, the OIDC provider and the SAML identity provider.

pub mod crypto;
pub mod delivery;
#[doc(hidden)]
pub mod fuzzing;
pub mod metrics;
pub mod mfa;
pub mod oidc;
pub mod pages;
pub mod password;
pub mod portal;
pub mod saml;
pub mod session;
pub mod signin;
pub mod throttle;
pub mod web;
pub mod webauthn;

use std::sync::Arc;
use std::time::Duration;

use actix_web::web as aw;
use portcullis_sessions::{Clock, Sessions};
use portcullis_store::Directory;

use delivery::MessageSender;
use password::{PasswordConfig, PasswordError, Passwords};
use throttle::{Throttle, ThrottleConfig};
use web::Cookies;

/// Sign-in settings from the server's configuration.
#[derive(Debug, Clone)]
pub struct IdpConfig {
    /// The public URL; https means `Secure` cookies with the `__Host-` prefix.
    pub public_url: url::Url,
    pub passwords: PasswordConfig,
    pub throttle: ThrottleConfig,
    /// How long a browser stays trusted after MFA when the prompt is "when context changes".
    pub trusted_device: Duration,
    /// How recent a sign-in must be before a person adds or removes MFA devices.
    pub step_up: Duration,
    /// How long an emailed code is valid.
    pub code_lifetime: Duration,
    /// Wrong codes allowed before the sign-in starts over.
    pub code_attempts: u32,
    /// Reverse proxies whose `X-Forwarded-For` names the real client (for throttling and the
    /// session's recorded address).
    pub trusted_proxies: Vec<web::ProxyRange>,
    pub oidc: oidc::OidcConfig,
    pub saml: saml::SamlConfig,
}

impl IdpConfig {
    pub fn new(public_url: url::Url) -> Self {
        Self {
            public_url,
            passwords: PasswordConfig::default(),
            throttle: ThrottleConfig::default(),
            trusted_device: Duration::from_secs(30 * 86_400),
            step_up: Duration::from_secs(5 * 60),
            code_lifetime: Duration::from_secs(10 * 60),
            code_attempts: 5,
            trusted_proxies: Vec::new(),
            oidc: oidc::OidcConfig::default(),
            saml: saml::SamlConfig::default(),
        }
    }
}

/// Keys derived from the master key by the server, one per purpose.
pub struct IdpKeys {
    /// Signs trusted-device cookies.
    pub device: [u8; 32],
    /// Seals MFA secrets at rest.
    pub secrets: [u8; 32],
    /// Seals the private halves of token-signing keys at rest.
    pub signing_keys: [u8; 32],
    /// Keys the hash of OIDC client secrets.
    pub client_secrets: [u8; 32],
}

impl std::fmt::Debug for IdpKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("IdpKeys(<redacted>)")
    }
}

/// Everything the sign-in and portal handlers use.
pub struct Idp {
    pub directory: Arc<dyn Directory>,
    pub sessions: Arc<dyn Sessions>,
    pub sender: Arc<dyn MessageSender>,
    pub clock: Arc<dyn Clock>,
    pub passwords: Passwords,
    pub throttle: Throttle,
    pub cookies: Cookies,
    pub config: IdpConfig,
    /// Signs trusted-device cookies (derived from the master key by the server).
    device_key: [u8; 32],
    /// Seals MFA secrets at rest (its key is derived from the master key by the server).
    pub secrets: crypto::SecretBox,
    /// Sign-in counters (no-ops unless the server sets them with [`Idp::with_metrics`]).
    pub metrics: metrics::SigninMetrics,
    /// Token-signing keys (shared by every node through the directory).
    pub keys: oidc::keys::KeyRing,
    /// Hashes and checks OIDC client secrets.
    pub client_secrets: oidc::clients::SecretHasher,
    /// This node's short-lived copy of the OIDC applications' clients.
    /// The SAML signing key and its certificate (shared through the directory like the OIDC keys).
    pub saml_keys: saml::keys::SamlKeys,
    /// Keys persistent NameIDs and session indexes (derived from the client-secret key).
    saml_names: [u8; 32],
    /// Keys the sealing of a refresh rotation's answer (with the rotated token).
    answer_key: [u8; 32],
}

impl std::fmt::Debug for Idp {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Idp")
            .field("directory", &self.directory.backend())
            .field("sessions", &self.sessions.backend())
            .field("sender", &self.sender.describe())
            .finish_non_exhaustive()
    }
}

impl Idp {
    /// The requesting client's address, through the configured trusted proxies.
    pub fn client_address(&self, req: &actix_web::HttpRequest) -> String {
        web::client_address(req, &self.config.trusted_proxies)
    }

    pub fn new(
        directory: Arc<dyn Directory>,
        sessions: Arc<dyn Sessions>,
        sender: Arc<dyn MessageSender>,
        clock: Arc<dyn Clock>,
        config: IdpConfig,
        keys: IdpKeys,
    ) -> Result<Self, PasswordError> {
        let issuer = config.public_url.as_str().trim_end_matches('/').to_owned();
        Ok(Self {
            keys: oidc::keys::KeyRing::new(
                directory.clone(),
                clock.clone(),
                keys.signing_keys,
                issuer,
                config.oidc.keys.clone(),
            ),
            saml_keys: saml::keys::SamlKeys::new(
                directory.clone(),
                clock.clone(),
                keys.signing_keys,
                config.oidc.keys.clone(),
            ),
            saml_names: derive(&keys.client_secrets, b"portcullis saml nameid v1"),
            answer_key: derive(&keys.client_secrets, b"portcullis refresh answer v1"),
            client_secrets: oidc::clients::SecretHasher::new(keys.client_secrets),
            passwords: Passwords::new(&config.passwords)?,
            throttle: Throttle {
                config: config.throttle,
            },
            cookies: Cookies::new(config.public_url.scheme() == "https"),
            directory,
            sessions,
            sender,
            clock,
            config,
            device_key: keys.device,
            secrets: crypto::SecretBox::new(&keys.secrets),
            metrics: metrics::SigninMetrics::disabled(),
        })
    }

    /// The `SessionIndex` of assertions: a keyed hash of the session id (the id never leaves).
    pub fn saml_session_index(&self, session_id: &str) -> String {
        format!(
            "_{}",
            &hex::encode(derive(&self.saml_names, session_id.as_bytes()))[..32]
        )
    }

    /// Records sign-in outcomes with these instruments.
    pub fn with_metrics(mut self, metrics: metrics::SigninMetrics) -> Self {
        self.metrics = metrics;
        self
    }
}

/// HMAC-SHA256(key, label).
fn derive(key: &[u8; 32], label: &[u8]) -> [u8; 32] {
    use hmac::Mac;
    match <hmac::Hmac<sha2::Sha256> as Mac>::new_from_slice(key) {
        Ok(mut mac) => {
            mac.update(label);
            mac.finalize().into_bytes().into()
        }
        // HMAC takes keys of any length.
        Err(_) => [0u8; 32],
    }
}

async fn stylesheet() -> actix_web::HttpResponse {
    actix_web::HttpResponse::Ok()
        .content_type("text/css; charset=utf-8")
        .insert_header(("Cache-Control", "public, max-age=3600"))
        .body(include_str!("../static/portcullis.css"))
}

/// Mounts the sign-in pages, the portal and their assets.
pub fn routes(cfg: &mut aw::ServiceConfig) {
    cfg.route("/static/portcullis.css", aw::get().to(stylesheet));
    signin::routes(cfg);
    mfa::routes(cfg);
    webauthn::routes(cfg);
    portal::routes(cfg);
    oidc::routes(cfg);
    oidc::discovery::routes(cfg);
    saml::routes(cfg);
}
