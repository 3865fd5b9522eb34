//! The one page error and the extractors every page uses.
//!
//! A page handler returns `Result<HttpResponse, PageError>`; actix turns the error into its page
//! through [`PageError`]'s `ResponseError` impl — one message page, the security headers, and,
//! for a failure of ours, the cause logged inside the request's span (which carries its id and
//! trace). No handler builds an error page by hand.

use std::future::Future;
use std::pin::Pin;

use actix_web::cookie::Cookie;
use actix_web::http::StatusCode;
use actix_web::{FromRequest, HttpRequest, HttpResponse, ResponseError, web};
use askama::Template;
use serde::de::DeserializeOwned;

use crate::Auth;
use crate::web::{Csrf, SESSION_COOKIE, page, see_other};

/// A page with a heading, a sentence and one link.
#[derive(Debug, Template)]
#[template(path = "message.html")]
pub struct MessagePage {
    pub heading: &'static str,
    pub text: String,
    pub link: &'static str,
    pub link_text: &'static str,
}

/// Why a page could not be answered as asked.
#[derive(Debug, thiserror::Error)]
pub enum PageError {
    /// No live session: to sign-in, remembering where the request was going.
    #[error("sign-in required")]
    SignIn {
        location: String,
        clear: Box<Cookie<'static>>,
    },
    /// The sign-in in progress expired or was never started: back to its first step.
    #[error("the sign-in expired")]
    Restart,
    /// A sensitive change needs a recent sign-in: to `location`, which signs in again.
    #[error("a recent sign-in is required")]
    StepUp { location: &'static str },
    /// A form whose CSRF token is missing or wrong.
    #[error("the form's CSRF token did not match")]
    FormExpired,
    /// A message to the person: what went wrong and where to go.
    #[error("{heading}: {text}")]
    Message {
        status: StatusCode,
        heading: &'static str,
        text: String,
        link: &'static str,
        link_text: &'static str,
    },
    /// A store or dependency of ours failed; the cause is logged, never shown.
    #[error("unavailable: {0}")]
    Unavailable(Box<dyn std::error::Error + Send + Sync>),
}

impl PageError {
    /// To sign-in, remembering the request's path and saying why when a session had existed.
    pub fn sign_in(auth: &Auth, req: &HttpRequest) -> Self {
        let path = req
            .uri()
            .path_and_query()
            .map(|p| p.as_str())
            .unwrap_or("/portal");
        let return_to: String = url::form_urlencoded::byte_serialize(path.as_bytes()).collect();
        let expired = if auth.has_session_cookie(req) {
            "&expired=1"
        } else {
            ""
        };
        Self::SignIn {
            location: format!("/start?return_to={return_to}{expired}"),
            clear: Box::new(auth.cookies.removal(SESSION_COOKIE)),
        }
    }

    /// A failure of ours (503); `cause` is logged when the page is answered.
    pub fn unavailable(cause: impl Into<Box<dyn std::error::Error + Send + Sync>>) -> Self {
        Self::Unavailable(cause.into())
    }

    /// A message with a link back to the portal.
    pub fn portal(status: StatusCode, heading: &'static str, text: impl Into<String>) -> Self {
        Self::Message {
            status,
            heading,
            text: text.into(),
            link: "/portal",
            link_text: "Go to your portal",
        }
    }

    /// A message with a link to start signing in again.
    pub fn sign_in_message(
        status: StatusCode,
        heading: &'static str,
        text: impl Into<String>,
    ) -> Self {
        Self::Message {
            status,
            heading,
            text: text.into(),
            link: "/start",
            link_text: "Start again",
        }
    }

    /// The 404 of an account or role the person does not hold — the same whether it exists.
    pub fn not_held() -> Self {
        Self::Message {
            status: StatusCode::NOT_FOUND,
            heading: "No access",
            text: "This account or role does not exist or is not assigned to you. If you need it, \
                   ask your administrator."
                .into(),
            link: "/portal?tab=accounts",
            link_text: "Back to your accounts",
        }
    }

    // ---- The OIDC, SAML and portal pages' constructors. ----

    /// A sign-in request (OAuth or SAML) that cannot be answered to its application — the
    /// application is unknown, or its redirect URI or ACS is not trusted yet — told to the
    /// person, with a link back to the portal.
    pub fn cannot_complete(status: StatusCode, text: impl Into<String>) -> Self {
        Self::portal(status, "This sign-in request cannot be completed", text)
    }
}

impl ResponseError for PageError {
    fn status_code(&self) -> StatusCode {
        match self {
            Self::SignIn { .. } | Self::Restart | Self::StepUp { .. } => StatusCode::SEE_OTHER,
            Self::FormExpired => StatusCode::FORBIDDEN,
            Self::Message { status, .. } => *status,
            Self::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
        }
    }

    fn error_response(&self) -> HttpResponse {
        let message = |heading, text: &str, link, link_text| {
            page(
                self.status_code(),
                &MessagePage {
                    heading,
                    text: text.to_owned(),
                    link,
                    link_text,
                },
                vec![],
            )
        };
        match self {
            Self::SignIn { location, clear } => see_other(location, vec![(**clear).clone()]),
            Self::Restart => see_other("/start?restart=1", vec![]),
            Self::StepUp { location } => see_other(location, vec![]),
            Self::FormExpired => message(
                "This form has expired",
                "For your security the form could not be accepted (it was stale or not sent by \
                 this site). Please start again.",
                "/start",
                "Sign in",
            ),
            Self::Message {
                heading,
                text,
                link,
                link_text,
                ..
            } => message(heading, text, link, link_text),
            Self::Unavailable(cause) => {
                tracing::error!(error = %cause, "a page could not be answered: a store is unreachable");
                message(
                    "Sign-in is unavailable",
                    "Portcullis cannot reach its session or directory store right now. Try again \
                     in a moment.",
                    "/start",
                    "Try again",
                )
            }
        }
    }
}

impl From<portcullis_sessions::SessionError> for PageError {
    fn from(e: portcullis_sessions::SessionError) -> Self {
        Self::unavailable(e)
    }
}

impl From<portcullis_store::StoreError> for PageError {
    fn from(e: portcullis_store::StoreError) -> Self {
        Self::unavailable(e)
    }
}

/// The form reader every page uses: small bodies only, and a message page when unreadable.
pub fn form_config() -> web::FormConfig {
    web::FormConfig::default()
        .limit(16 * 1024)
        .error_handler(|err, _| {
            PageError::sign_in_message(
                StatusCode::BAD_REQUEST,
                "Something was wrong with the form",
                format!("The form could not be read: {err}"),
            )
            .into()
        })
}

/// A form that carries this site's CSRF token in its `csrf` field.
pub trait CsrfField {
    fn csrf(&self) -> &str;
}

/// A form whose CSRF token matched the browser's cookie (compared in constant time); otherwise
/// the page answers 403 and the handler never runs. Needs `web::Data<Auth>` in the app.
#[derive(Debug)]
pub struct CheckedForm<T>(pub T);

impl<T> std::ops::Deref for CheckedForm<T> {
    type Target = T;
    fn deref(&self) -> &T {
        &self.0
    }
}

impl<T> CheckedForm<T> {
    pub fn into_inner(self) -> T {
        self.0
    }
}

impl<T: DeserializeOwned + CsrfField + 'static> FromRequest for CheckedForm<T> {
    type Error = actix_web::Error;
    type Future = Pin<Box<dyn Future<Output = Result<Self, actix_web::Error>>>>;

    fn from_request(req: &HttpRequest, payload: &mut actix_web::dev::Payload) -> Self::Future {
        let form = web::Form::<T>::from_request(req, payload);
        let req = req.clone();
        Box::pin(async move {
            let form = form.await?.into_inner();
            let auth = req
                .app_data::<web::Data<Auth>>()
                .ok_or_else(|| PageError::unavailable("no Auth in the application's data"))?;
            if Csrf::verify(&auth.cookies, &req, form.csrf()) {
                Ok(Self(form))
            } else {
                Err(PageError::FormExpired.into())
            }
        })
    }
}
