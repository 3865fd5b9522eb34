//! Who is calling: the one place where "the session is live and its user exists and is enabled"
//! is decided. The portal pages ask through the cookie ([`Auth::current`], the [`SignedIn`]
//! extractor); the OIDC provider and the broker, holding a session id from a token, ask through
//! [`live_user`] after the session store has said the session is live.

use std::future::Future;
use std::pin::Pin;

use actix_web::{FromRequest, HttpRequest, web};
use portcullis_domain::{User, UserId};
use portcullis_sessions::{PortalSession, SessionError, SessionToken};
use portcullis_store::{Directory, StoreError};

use crate::Auth;
use crate::page::PageError;
use crate::web::SESSION_COOKIE;

/// A signed-in person: a live session whose user exists and is enabled.
#[derive(Debug, Clone)]
pub struct Principal {
    pub session: PortalSession,
    pub user: User,
}

impl Principal {
    /// Whether the person signed in (password, code or MFA) within the step-up window.
    pub fn is_recent(&self, auth: &Auth) -> bool {
        let age = auth.clock.now() - self.session.created_at;
        age <= chrono::Duration::from_std(auth.step_up).unwrap_or(chrono::Duration::MAX)
    }
}

/// The user behind a live session or token, when that user still exists and is enabled;
/// `Ok(None)` when deleted or disabled. Every surface asks this, and only this.
pub async fn live_user(
    directory: &dyn Directory,
    user: UserId,
) -> Result<Option<User>, StoreError> {
    match directory.get_user(user).await {
        Ok(user) if user.enabled => Ok(Some(user)),
        Ok(_) | Err(StoreError::NotFound(_)) => Ok(None),
        Err(e) => Err(e),
    }
}

impl Auth {
    /// The portal session a token names, when it is live and its user enabled.
    pub async fn live_principal(
        &self,
        token: &SessionToken,
    ) -> Result<Option<Principal>, SessionError> {
        let Some(session) = self.sessions.get_session(token).await? else {
            return Ok(None);
        };
        match live_user(self.directory.as_ref(), session.user_id).await {
            Ok(Some(user)) => Ok(Some(Principal { session, user })),
            Ok(None) => Ok(None),
            Err(e) => Err(SessionError::Unavailable(Box::new(e))),
        }
    }

    /// The request's signed-in person; `Ok(None)` when there is no cookie, or it is unknown,
    /// revoked or expired, or the user was deleted or disabled.
    pub async fn current(&self, req: &HttpRequest) -> Result<Option<Principal>, SessionError> {
        match self.session_token(req) {
            Some(token) => self.live_principal(&token).await,
            None => Ok(None),
        }
    }

    /// The session token the request's cookie carries, unchecked.
    pub fn session_token(&self, req: &HttpRequest) -> Option<SessionToken> {
        self.cookies
            .read(req, SESSION_COOKIE)
            .map(SessionToken::from_presented)
    }

    /// Whether the request carried a session cookie at all (to tell "expired" from "never
    /// signed in").
    pub fn has_session_cookie(&self, req: &HttpRequest) -> bool {
        self.cookies.read(req, SESSION_COOKIE).is_some()
    }

    /// The signed-in person, or the page to answer instead: sign-in (remembering where the
    /// request was going, and saying why when a session had existed), or 503.
    pub async fn signed_in(&self, req: &HttpRequest) -> Result<Principal, PageError> {
        match self.current(req).await {
            Ok(Some(p)) => Ok(p),
            Ok(None) => Err(PageError::sign_in(self, req)),
            Err(e) => Err(PageError::unavailable(e)),
        }
    }
}

/// Extracts the signed-in person of a page request; without one the page answers with sign-in
/// (or 503), and the handler never runs. Needs `web::Data<Auth>` in the app.
#[derive(Debug, Clone)]
pub struct SignedIn(pub Principal);

impl std::ops::Deref for SignedIn {
    type Target = Principal;
    fn deref(&self) -> &Principal {
        &self.0
    }
}

impl FromRequest for SignedIn {
    type Error = PageError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, PageError>>>>;

    fn from_request(req: &HttpRequest, _: &mut actix_web::dev::Payload) -> Self::Future {
        let req = req.clone();
        Box::pin(async move {
            let auth = req
                .app_data::<web::Data<Auth>>()
                .cloned()
                .ok_or_else(|| PageError::unavailable("no Auth in the application's data"))?;
            auth.signed_in(&req).await.map(SignedIn)
        })
    }
}
