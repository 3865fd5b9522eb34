//! The portal session of the person making a request, from the session cookie.

use actix_web::HttpRequest;
use portcullis_domain::User;
use portcullis_sessions::{PortalSession, SessionError, SessionToken};

use crate::Idp;
use crate::web::SESSION_COOKIE;

/// A signed-in person: a live session whose user exists and is enabled.
#[derive(Debug, Clone)]
pub struct Current {
    pub session: PortalSession,
    pub user: User,
}

impl Current {
    /// Whether the person signed in (password, code or MFA) within the step-up window.
    pub fn is_recent(&self, idp: &Idp) -> bool {
        let age = idp.clock.now() - self.session.created_at;
        age <= chrono::Duration::from_std(idp.config.step_up).unwrap_or(chrono::Duration::MAX)
    }
}

/// The request's session; `Ok(None)` when there is no cookie, or it is unknown, revoked or
/// expired, or the user was deleted or disabled.
pub async fn current_session(
    idp: &Idp,
    req: &HttpRequest,
) -> Result<Option<Current>, SessionError> {
    let Some(raw) = idp.cookies.read(req, SESSION_COOKIE) else {
        return Ok(None);
    };
    let token = SessionToken::from_presented(raw);
    let Some(session) = idp.sessions.get_session(&token).await? else {
        return Ok(None);
    };
    match idp.directory.get_user(session.user_id).await {
        Ok(user) if user.enabled => Ok(Some(Current { session, user })),
        Ok(_) | Err(portcullis_store::StoreError::NotFound(_)) => Ok(None),
        Err(e) => Err(SessionError::Unavailable(Box::new(e))),
    }
}

/// Whether the request carried a session cookie at all (to tell "expired" from "never signed in").
pub fn has_session_cookie(idp: &Idp, req: &HttpRequest) -> bool {
    idp.cookies.read(req, SESSION_COOKIE).is_some()
}
