//! The first steps: `/start`, the username, the password.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use portcullis_domain::{Actor, NewAuditEvent, UserName};
use serde::Deserialize;

use crate::pages::{PasswordPage, UsernamePage, form_page};
use crate::password::{Password, Verification};
use crate::state::{Event, Pending, Stage};
use crate::{Signin, complete};
use portcullis_auth::PageError;
use portcullis_auth::metrics::SigninResult;
use portcullis_auth::page::CheckedForm;
use portcullis_auth::web::{SIGNIN_COOKIE, safe_return_to, see_other};

#[derive(Debug, Deserialize)]
pub struct StartQuery {
    return_to: Option<String>,
    expired: Option<String>,
    signed_out: Option<String>,
    restart: Option<String>,
    /// Sign in again even with a live session (OIDC `prompt=login`, `max_age`, a step-up).
    reauth: Option<String>,
    /// The sign-in again is a step-up before changing MFA devices.
    step_up: Option<String>,
}

/// `GET /start`: the portal when signed in, otherwise the first sign-in step.
pub async fn start(
    signin: web::Data<Signin>,
    req: HttpRequest,
    q: web::Query<StartQuery>,
) -> HttpResponse {
    let return_to = safe_return_to(q.return_to.as_deref());
    if q.reauth.is_none()
        && let Ok(Some(_)) = signin.auth.current(&req).await
    {
        return see_other(return_to.as_deref().unwrap_or("/portal"), vec![]);
    }
    let notice = if q.expired.is_some() {
        Some("Your session has ended. Sign in again to continue.".to_owned())
    } else if q.signed_out.is_some() {
        Some("You have signed out.".to_owned())
    } else if q.restart.is_some() {
        Some("Your sign-in timed out. Please start again.".to_owned())
    } else if q.step_up.is_some() {
        Some("For your security, sign in again before changing your MFA devices.".to_owned())
    } else {
        None
    };
    username_page(
        &signin,
        &req,
        String::new(),
        return_to,
        notice,
        None,
        StatusCode::OK,
    )
}

fn username_page(
    signin: &Signin,
    req: &HttpRequest,
    username: String,
    return_to: Option<String>,
    notice: Option<String>,
    error: Option<String>,
    status: StatusCode,
) -> HttpResponse {
    form_page(signin, req, status, |csrf| UsernamePage {
        csrf,
        username,
        return_to,
        notice,
        error,
    })
}

#[derive(Deserialize)]
pub struct UsernameForm {
    pub(crate) csrf: String,
    username: String,
    return_to: Option<String>,
}

/// `POST /signin/username`: remembers the name and asks for the password. Whether the user
/// exists is not revealed here (nor later: an unknown user gets the same answer as a wrong
/// password).
pub async fn submit_username(
    signin: web::Data<Signin>,
    req: HttpRequest,
    form: CheckedForm<UsernameForm>,
) -> Result<HttpResponse, PageError> {
    let return_to = safe_return_to(form.return_to.as_deref());
    let name = form.username.trim();
    if UserName::parse(name).is_err() {
        let error = Some("Enter your username (letters, digits and + = , . @ _ -).".to_owned());
        return Ok(username_page(
            &signin,
            &req,
            name.chars().take(128).collect(),
            return_to,
            None,
            error,
            StatusCode::BAD_REQUEST,
        ));
    }
    let pending = Pending::start(name.to_owned(), return_to);
    let id = signin.new_pending(&pending).await?;
    let cookie = signin.auth.cookies.build(
        SIGNIN_COOKIE,
        id,
        crate::flow::PENDING_TTL.as_secs() as i64,
        actix_web::cookie::SameSite::Lax,
    );
    Ok(see_other(pending.stage.page(), vec![cookie]))
}

fn password_form(
    signin: &Signin,
    req: &HttpRequest,
    username: &str,
    error: Option<String>,
    status: StatusCode,
) -> HttpResponse {
    form_page(signin, req, status, |csrf| PasswordPage {
        csrf,
        username: username.to_owned(),
        error,
    })
}

/// `GET /signin/password`.
pub async fn password_page(
    signin: web::Data<Signin>,
    req: HttpRequest,
) -> Result<HttpResponse, PageError> {
    let (_, p) = signin.load_at(&req, Stage::Password).await?;
    Ok(password_form(
        &signin,
        &req,
        &p.user_name,
        None,
        StatusCode::OK,
    ))
}

#[derive(Deserialize)]
pub struct PasswordForm {
    pub(crate) csrf: String,
    password: String,
}

const WRONG: &str = "Incorrect username or password.";
/// What every failed attempt says while emailed one-time passwords are on: the same words for
/// an unknown name, a wrong password and a person who has no password yet.
const WRONG_OR_FIRST: &str = "Incorrect username or password. Signing in for the first time? \
    We have emailed you a one-time password: enter it as your password.";

/// `POST /signin/password`: throttled (the attempt is counted before anything is checked); the
/// same answer and the same work (an argon2 verification, one flow-store write when emailed
/// one-time passwords are on) whether the user does not exist, is disabled, has no password
/// yet, or typed the wrong password.
pub async fn submit_password(
    signin: web::Data<Signin>,
    req: HttpRequest,
    form: CheckedForm<PasswordForm>,
) -> Result<HttpResponse, PageError> {
    let (id, pending) = signin.load_at(&req, Stage::Password).await?;
    let address = signin.auth.client_address(&req);
    let user_key = pending.user_name.to_lowercase();
    let reservation = match signin.reserve_attempt(&req, &pending).await? {
        Ok(r) => r,
        Err(message) => {
            return Ok(password_form(
                &signin,
                &req,
                &pending.user_name,
                Some(message),
                StatusCode::TOO_MANY_REQUESTS,
            ));
        }
    };

    let name = UserName::parse(pending.user_name.clone()).map_err(|_| PageError::Restart)?;
    let (user, settings) = tokio::join!(
        signin.auth.directory.find_user_by_name(&name),
        signin.auth.directory.get_settings()
    );
    let (user, settings) = (user?.filter(|u| u.enabled), settings?);
    let record = match &user {
        Some(u) => signin.auth.directory.get_password(u.id).await?,
        None => None,
    };
    let typed = form.into_inner().password;
    let password = Password::new(typed.clone());
    let verdict = signin
        .passwords
        .verify(&password, record.as_ref().map(|r| r.hash.as_str()))
        .await;

    // A person created without a password, with emailed one-time passwords on, types the
    // emailed code where the password goes.
    let passwordless = record.is_none() && settings.email_otp;
    if let Some(u) = user.as_ref().filter(|_| passwordless)
        && crate::first_otp::redeem(&signin, &user_key, &typed).await?
    {
        signin
            .throttle
            .succeeded(signin.auth.sessions.as_ref(), reservation)
            .await?;
        let next = pending.next(Event::FirstOtpRedeemed { user: u.id });
        return complete::advance(&signin, &req, &id, next, u).await;
    }

    match (user, record, verdict) {
        (Some(u), Some(r), Verification::Match { needs_rehash }) => {
            signin
                .throttle
                .succeeded(signin.auth.sessions.as_ref(), reservation)
                .await?;
            if needs_rehash
                && let Ok(h) = signin.passwords.hash(&password).await
                && let Err(e) = signin.auth.directory.rehash_password(u.id, h).await
            {
                tracing::warn!(error = ?e, "could not store the re-hashed password");
            }
            let mfa = signin.mfa_policy(&req, u.id).await?;
            let next = pending.next(Event::PasswordVerified {
                user: u.id,
                must_change: r.must_change,
                mfa,
            });
            complete::advance(&signin, &req, &id, next, &u).await
        }
        (user, _, _) => {
            // The reservation is kept: it counts as a failure.
            if settings.email_otp {
                let recipient = user.as_ref().filter(|_| passwordless);
                crate::first_otp::offer(&signin.clone().into_inner(), &user_key, recipient).await?;
            }
            signin.auth.metrics.signin(SigninResult::Failure);
            let (actor, target) = match &user {
                Some(u) => (Actor::User(u.id), format!("user:{}", u.id)),
                None => (Actor::System, format!("user-name:{user_key}")),
            };
            let event = NewAuditEvent::new(actor, "signin.failure", target).with_details(
                serde_json::json!({ "reason": "bad-credentials", "address": address }).to_string(),
            );
            if let Err(e) = signin.auth.directory.record_event(event).await {
                tracing::warn!(error = ?e, "could not audit a failed sign-in");
            }
            let text = if settings.email_otp {
                WRONG_OR_FIRST
            } else {
                WRONG
            };
            Ok(password_form(
                &signin,
                &req,
                &pending.user_name,
                Some(text.into()),
                StatusCode::UNAUTHORIZED,
            ))
        }
    }
}
