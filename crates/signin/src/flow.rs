//! Where a pending sign-in ([`Pending`], `crate::state`) is kept between requests: the shared
//! flow store, keyed by a random value in a short-lived cookie, so any node can serve any step.
//! Also the tries at a code stage, counted beside it.

use std::time::Duration;

use actix_web::HttpRequest;
use portcullis_auth::PageError;
use portcullis_auth::metrics::SigninResult;
use portcullis_auth::throttle::{Attempt, Reservation, minutes};
use portcullis_auth::web::{SIGNIN_COOKIE, random_token};
use portcullis_domain::User;
use portcullis_sessions::SessionError;

use crate::Signin;
use crate::state::{Pending, Stage, Try, tries};

/// How long a sign-in may take from username to session.
pub(crate) const PENDING_TTL: Duration = Duration::from_secs(15 * 60);
const PENDING_NS: &str = "signin";

/// Tries at a code stage, counted in the flow store (not in the pending record, which two
/// requests at once would each read and write back).
const TRIES_NS: &str = "signin-tries";

impl Signin {
    /// The pending sign-in of this browser: `Ok(None)` when there is none (no cookie, expired,
    /// unreadable), `Err` when the session store cannot be reached — which must be told apart,
    /// or an outage looks to the person like a sign-in that timed out.
    #[tracing::instrument(skip_all)]
    pub(crate) async fn try_load_pending(
        &self,
        req: &HttpRequest,
    ) -> Result<Option<(String, Pending)>, SessionError> {
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

    /// The pending sign-in at `stage`; otherwise the sign-in starts over.
    pub(crate) async fn load_at(
        &self,
        req: &HttpRequest,
        stage: Stage,
    ) -> Result<(String, Pending), PageError> {
        match self.try_load_pending(req).await? {
            Some((id, pending)) if pending.stage == stage => Ok((id, pending)),
            _ => Err(PageError::Restart),
        }
    }

    /// The pending sign-in at `stage` and its (enabled) user; otherwise the sign-in starts over.
    pub(crate) async fn pending_at(
        &self,
        req: &HttpRequest,
        stage: Stage,
    ) -> Result<(String, Pending, User), PageError> {
        let (id, pending) = self.load_at(req, stage).await?;
        let user_id = pending.user_id.ok_or(PageError::Restart)?;
        match portcullis_auth::principal::live_user(self.auth.directory.as_ref(), user_id).await? {
            Some(user) => Ok((id, pending, user)),
            None => {
                self.drop_pending(&id).await;
                Err(PageError::Restart)
            }
        }
    }

    #[tracing::instrument(skip_all)]
    pub(crate) async fn save_pending(
        &self,
        id: &str,
        pending: &Pending,
    ) -> Result<(), SessionError> {
        let bytes =
            serde_json::to_vec(pending).map_err(|e| SessionError::Corrupt(e.to_string()))?;
        self.auth
            .sessions
            .put(PENDING_NS, id, &bytes, PENDING_TTL)
            .await
    }

    pub(crate) async fn new_pending(&self, pending: &Pending) -> Result<String, SessionError> {
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
    ) -> Result<Try, SessionError> {
        let key = format!("{id}:{:?}", pending.stage);
        let n = self
            .auth
            .sessions
            .increment(TRIES_NS, &key, PENDING_TTL)
            .await?;
        Ok(tries(n, self.config.code_attempts))
    }

    /// One attempt of the pending sign-in's person from this address, counted against the
    /// throttle before anything is checked; `Ok(Err(message))` when they are locked out.
    pub(crate) async fn reserve_attempt(
        &self,
        req: &HttpRequest,
        pending: &Pending,
    ) -> Result<Result<Reservation, String>, SessionError> {
        let address = self.auth.client_address(req);
        let user_key = pending.user_name.to_lowercase();
        match self
            .throttle
            .reserve(self.auth.sessions.as_ref(), &user_key, &address)
            .await?
        {
            Attempt::Allowed(r) => Ok(Ok(r)),
            Attempt::Locked(wait) => {
                self.auth.metrics.signin(SigninResult::Locked);
                Ok(Err(format!(
                    "Too many failed attempts. Try again in {} minutes.",
                    minutes(wait)
                )))
            }
        }
    }

    pub(crate) async fn drop_pending(&self, id: &str) {
        let _ = self.auth.sessions.delete(PENDING_NS, id).await;
    }
}
