//! People signing in: the flow at `/start` (username, password, an emailed one-time password the
//! first time, a new password, an emailed verification code), MFA (authenticator apps, security
//! keys and passkeys through WebAuthn, the policy that asks for them), and the self-service
//! pages for a person's own MFA devices.
//!
//! [`Signin`] holds what these pages use beyond [`portcullis_auth::Auth`]: the password hasher,
//! the message sender, the throttle, and the keys for trusted-device cookies and sealed MFA
//! secrets. The sign-in is a value, [`state::Pending`], whose stages follow one another by pure
//! transitions ([`state::Pending::next`]); between requests it waits in the shared flow store
//! (`flow.rs`), so any node can serve any step. Handlers load it, check what was sent, ask for
//! the transition and answer it (`complete.rs`); page errors are `portcullis_auth::PageError`.
//!
//! May import: `portcullis-auth` and the floors below it. Not `oidc`, `saml`, `broker` (its
//! siblings) nor `portal`/`admin` (above it).

mod codes;
mod complete;
pub mod delivery;
mod devices;
mod email_code;
mod first_otp;
mod flow;
mod mfa;
mod new_password;
mod pages;
pub mod password;
mod primary;
pub mod state;
pub mod totp;
pub mod webauthn;

use std::sync::Arc;
use std::time::Duration;

use actix_web::web as aw;
use portcullis_auth::Auth;
use portcullis_auth::page::CsrfField;
use portcullis_auth::seal::SecretBox;
use portcullis_auth::throttle::{Throttle, ThrottleConfig};

use delivery::MessageSender;
use password::{PasswordConfig, PasswordError, Passwords};

/// Sign-in settings from the server's configuration.
#[derive(Debug, Clone)]
pub struct SigninConfig {
    pub passwords: PasswordConfig,
    pub throttle: ThrottleConfig,
    /// How long a browser stays trusted after MFA when the prompt is "when context changes".
    pub trusted_device: Duration,
    /// How long an emailed code is valid.
    pub code_lifetime: Duration,
    /// Wrong codes allowed before the sign-in starts over.
    pub code_attempts: u32,
}

impl Default for SigninConfig {
    fn default() -> Self {
        Self {
            passwords: PasswordConfig::default(),
            throttle: ThrottleConfig::default(),
            trusted_device: Duration::from_secs(30 * 86_400),
            code_lifetime: Duration::from_secs(10 * 60),
            code_attempts: 5,
        }
    }
}

/// Keys derived from the master key by the server, one per purpose.
pub struct SigninKeys {
    /// Signs trusted-device cookies.
    pub device: [u8; 32],
    /// Seals MFA secrets at rest.
    pub secrets: [u8; 32],
}

impl std::fmt::Debug for SigninKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SigninKeys(<redacted>)")
    }
}

/// Everything the sign-in, MFA and device pages use.
pub struct Signin {
    pub auth: Arc<Auth>,
    pub sender: Arc<dyn MessageSender>,
    pub passwords: Passwords,
    pub throttle: Throttle,
    pub config: SigninConfig,
    /// Signs trusted-device cookies.
    device_key: [u8; 32],
    /// Seals MFA secrets at rest.
    pub secrets: SecretBox,
}

impl std::fmt::Debug for Signin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Signin")
            .field("auth", &self.auth)
            .field("sender", &self.sender.describe())
            .finish_non_exhaustive()
    }
}

impl Signin {
    pub fn new(
        auth: Arc<Auth>,
        sender: Arc<dyn MessageSender>,
        config: SigninConfig,
        keys: SigninKeys,
    ) -> Result<Self, PasswordError> {
        Ok(Self {
            passwords: Passwords::new(&config.passwords)?,
            throttle: Throttle {
                config: config.throttle,
            },
            auth,
            sender,
            config,
            device_key: keys.device,
            secrets: SecretBox::new(&keys.secrets),
        })
    }
}

/// Mounts the sign-in, MFA and MFA-device pages; needs `web::Data<Signin>` and
/// `web::Data<Auth>` in the app.
pub fn routes(cfg: &mut aw::ServiceConfig) {
    cfg.route("/start", aw::get().to(primary::start))
        .route("/signin/username", aw::post().to(primary::submit_username))
        .route("/signin/password", aw::get().to(primary::password_page))
        .route("/signin/password", aw::post().to(primary::submit_password))
        .route("/signin/code", aw::get().to(codes::code_page))
        .route("/signin/code", aw::post().to(codes::submit_code))
        .route("/signin/new-password", aw::get().to(new_password::show))
        .route("/signin/new-password", aw::post().to(new_password::submit))
        .route("/signout", aw::post().to(complete::sign_out));
    mfa::routes(cfg);
    webauthn::routes(cfg);
    devices::routes(cfg);
}

/// The forms of these pages carry the CSRF token in their `csrf` field.
macro_rules! csrf_field {
    ($($form:ty),+ $(,)?) => {
        $(impl CsrfField for $form {
            fn csrf(&self) -> &str {
                &self.csrf
            }
        })+
    };
}

csrf_field!(
    primary::UsernameForm,
    primary::PasswordForm,
    new_password::NewPasswordForm,
    codes::CodeForm,
    mfa::CodeForm,
    webauthn::CredentialForm,
    complete::SignOutForm,
    devices::RenameForm,
    devices::CsrfForm,
    devices::AddTotpForm,
);
