//! The sign-in flow at `/start`, as the seed describes it: username, then password; an emailed
//! one-time password the first time (then a new password); an emailed verification code when
//! the MFA policy asks for one; then a portal session.
//!
//! State between steps is a pending sign-in in the shared flow store, keyed by a random value in
//! a short-lived cookie: any node can serve any step.

mod codes;
pub mod complete;
mod first_otp;
mod new_password;
mod primary;

use std::time::Duration;

use actix_web::{HttpRequest, HttpResponse, web};
use portcullis_domain::UserId;
use serde::{Deserialize, Serialize};

use crate::Idp;
use crate::pages::MessagePage;
use crate::web::{SIGNIN_COOKIE, page, random_token};

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

/// What [`Idp::reserve_try`] decided.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Try {
    /// Check the code; if it is wrong, this many tries are left.
    Go { left_if_wrong: u32 },
    /// The tries are used up: the sign-in starts over.
    UsedUp,
}

impl Idp {
    /// The pending sign-in of this browser: `Ok(None)` when there is none (no cookie, expired,
    /// unreadable), `Err` when the session store cannot be reached — which must be told apart,
    /// or an outage looks to the person like a sign-in that timed out.
    #[tracing::instrument(skip_all)]
    pub(crate) async fn try_load_pending(
        &self,
        req: &HttpRequest,
    ) -> Result<Option<(String, Pending)>, portcullis_sessions::SessionError> {
        let Some(id) = self.cookies.read(req, SIGNIN_COOKIE) else {
            return Ok(None);
        };
        let Some(bytes) = self.sessions.get(PENDING_NS, &id).await? else {
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
        self.sessions.put(PENDING_NS, id, &bytes, PENDING_TTL).await
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
        let n = self.sessions.increment(TRIES_NS, &key, PENDING_TTL).await?;
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
        let _ = self.sessions.delete(PENDING_NS, id).await;
    }
}

/// A page saying the store behind sign-in is unreachable (503), never a panic or a hang.
pub fn unavailable() -> HttpResponse {
    page(
        actix_web::http::StatusCode::SERVICE_UNAVAILABLE,
        &MessagePage {
            heading: "Sign-in is unavailable",
            text: "Portcullis cannot reach its session or directory store right now. Try again in a moment.".into(),
            link: "/start",
            link_text: "Try again",
        },
        vec![],
    )
}

/// The sign-in expired or was never started: back to the first step.
pub fn restart() -> HttpResponse {
    crate::web::see_other("/start?restart=1", vec![])
}

/// A form whose CSRF token is missing or wrong (403).
pub fn forbidden_form() -> HttpResponse {
    page(
        actix_web::http::StatusCode::FORBIDDEN,
        &MessagePage {
            heading: "This form has expired",
            text: "For your security the form could not be accepted (it was stale or not sent by this site). Please start again.".into(),
            link: "/start",
            link_text: "Sign in",
        },
        vec![],
    )
}

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.app_data(
        web::FormConfig::default()
            .limit(16 * 1024)
            .error_handler(|err, _| {
                let text = format!("The form could not be read: {err}");
                let resp = page(
                    actix_web::http::StatusCode::BAD_REQUEST,
                    &MessagePage {
                        heading: "Something was wrong with the form",
                        text,
                        link: "/start",
                        link_text: "Start again",
                    },
                    vec![],
                );
                actix_web::error::InternalError::from_response("bad form", resp).into()
            }),
    )
    .route("/start", web::get().to(primary::start))
    .route("/signin/username", web::post().to(primary::submit_username))
    .route("/signin/password", web::get().to(primary::password_page))
    .route("/signin/password", web::post().to(primary::submit_password))
    .route("/signin/code", web::get().to(codes::code_page))
    .route("/signin/code", web::post().to(codes::submit_code))
    .route("/signin/new-password", web::get().to(new_password::show))
    .route("/signin/new-password", web::post().to(new_password::submit))
    .route("/signout", web::post().to(complete::sign_out));
}
