//! The pending sign-in at `/start`, as the seed describes it: username, then password; an emailed
//! one-time password the first time (then a new password); an emailed verification code when
//! the MFA policy asks for one; then a portal session.
//!
//! State between steps is a pending sign-in in the shared flow store, keyed by a random value in
//! a short-lived cookie: any node can serve any step.

use std::time::Duration;

use actix_web::{HttpRequest, HttpResponse, web};
use portcullis_domain::UserId;
use serde::{Deserialize, Serialize};

use crate::Signin;
use actix_web::ResponseError;
use portcullis_auth::PageError;
use portcullis_auth::web::{SIGNIN_COOKIE, random_token};

/// How long a sign-in may take from username to session.
const PENDING_TTL: Duration = Duration::from_secs(15 * 60);
const PENDING_NS: &str = "signin";

/// Where a pending sign-in stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Stage {
    /// Waiting for the password.
    Password,
    /// The person must choose a new password before going on.
    NewPassword,
    /// The MFA policy sent a verification code by email.
    VerificationCode,
    /// The person has an MFA device: waiting for it (`/signin/mfa`).
    Mfa,
    /// The policy requires a device and the person has none: registering one
    /// (`/signin/mfa/register`).
    MfaRegistration,
}

/// A sign-in in progress.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Pending {
    pub user_name: String,
    /// Set once the person proved who they are with a first factor.
    pub user_id: Option<UserId>,
    pub stage: Stage,
    pub return_to: Option<String>,
    /// Authentication methods so far (RFC 8176: `pwd`, `otp`, `mfa`).
    pub amr: Vec<String>,
}

/// Tries at a code stage, counted in the flow store (not in the pending record, which two
/// requests at once would each read and write back).
const TRIES_NS: &str = "signin-tries";

/// What [`Signin::reserve_try`] decided.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Try {
    /// Check the code; if it is wrong, this many tries are left.
    Go { left_if_wrong: u32 },
    /// The tries are used up: the sign-in starts over.
    UsedUp,
}

impl Signin {
    /// The pending sign-in of this browser: `Ok(None)` when there is none (no cookie, expired,
    /// unreadable), `Err` when the session store cannot be reached — which must be told apart,
    /// or an outage looks to the person like a sign-in that timed out.
    #[tracing::instrument(skip_all)]
    pub(crate) async fn try_load_pending(
        &self,
        req: &HttpRequest,
    ) -> Result<Option<(String, Pending)>, portcullis_sessions::SessionError> {
        let Some(id) = self.auth.cookies.read(req, SIGNIN_COOKIE) else {
            return Ok(None);
        };
        let Some(bytes) = self.auth.sessions.get(PENDING_NS, &id).await? else {
            return Ok(None);
        };
        Ok(serde_json::from_slice(&bytes)
            .ok()
            .map(|pending| (id, pending)))
    }

    #[tracing::instrument(skip_all)]
    pub(crate) async fn save_pending(
        &self,
        id: &str,
        pending: &Pending,
    ) -> Result<(), portcullis_sessions::SessionError> {
        let bytes = serde_json::to_vec(pending)
            .map_err(|e| portcullis_sessions::SessionError::Corrupt(e.to_string()))?;
        self.auth
            .sessions
            .put(PENDING_NS, id, &bytes, PENDING_TTL)
            .await
    }

    pub(crate) async fn new_pending(
        &self,
        pending: &Pending,
    ) -> Result<String, portcullis_sessions::SessionError> {
        let id = random_token(24);
        self.save_pending(&id, pending).await?;
        Ok(id)
    }

    /// Counts one try at the pending sign-in's current stage before the code is checked, so that
    /// at most `code_attempts` codes are ever checked per stage, however many arrive at once.
    pub(crate) async fn reserve_try(
        &self,
        id: &str,
        pending: &Pending,
    ) -> Result<Try, portcullis_sessions::SessionError> {
        let key = format!("{id}:{:?}", pending.stage);
        let n = self
            .auth
            .sessions
            .increment(TRIES_NS, &key, PENDING_TTL)
            .await?;
        let allowed = u64::from(self.config.code_attempts);
        Ok(if n > allowed {
            Try::UsedUp
        } else {
            Try::Go {
                left_if_wrong: u32::try_from(allowed - n).unwrap_or(0),
            }
        })
    }

    pub(crate) async fn drop_pending(&self, id: &str) {
        let _ = self.auth.sessions.delete(PENDING_NS, id).await;
    }
}

/// A page saying the store behind sign-in is unreachable (503), never a panic or a hang.
pub fn unavailable() -> HttpResponse {
    PageError::unavailable("a store behind sign-in is unreachable").error_response()
}

/// The sign-in expired or was never started: back to the first step.
pub fn restart() -> HttpResponse {
    PageError::Restart.error_response()
}

/// A form whose CSRF token is missing or wrong (403).
pub fn forbidden_form() -> HttpResponse {
    PageError::FormExpired.error_response()
}

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/start", web::get().to(crate::primary::start))
        .route(
            "/signin/username",
            web::post().to(crate::primary::submit_username),
        )
        .route(
            "/signin/password",
            web::get().to(crate::primary::password_page),
        )
        .route(
            "/signin/password",
            web::post().to(crate::primary::submit_password),
        )
        .route("/signin/code", web::get().to(crate::codes::code_page))
        .route("/signin/code", web::post().to(crate::codes::submit_code))
        .route(
            "/signin/new-password",
            web::get().to(crate::new_password::show),
        )
        .route(
            "/signin/new-password",
            web::post().to(crate::new_password::submit),
        )
        .route("/signout", web::post().to(crate::complete::sign_out));
}
