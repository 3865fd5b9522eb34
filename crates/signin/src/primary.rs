//! The first steps: `/start`, the username, the password.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use portcullis_domain::{Actor, NewAuditEvent, UserName};
use serde::Deserialize;

use crate::Signin;
use crate::flow::{Pending, Stage, forbidden_form, restart, unavailable};
use crate::pages::{PasswordPage, UsernamePage};
use crate::password::{Password, Verification};
use portcullis_auth::metrics::SigninResult;
use portcullis_auth::throttle::{Attempt, minutes};
use portcullis_auth::web::{Csrf, SIGNIN_COOKIE, page, safe_return_to, see_other};

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
    let csrf = Csrf::for_form(&signin.auth.cookies, req);
    let body = UsernamePage {
        csrf: csrf.token,
        username,
        return_to,
        notice,
        error,
    };
    page(status, &body, csrf.cookie.into_iter().collect())
}

#[derive(Deserialize)]
pub struct UsernameForm {
    csrf: String,
    username: String,
    return_to: Option<String>,
}

/// `POST /signin/username`: remembers the name and asks for the password. Whether the user
/// exists is not revealed here (nor later: an unknown user gets the same answer as a wrong
/// password).
pub async fn submit_username(
    signin: web::Data<Signin>,
    req: HttpRequest,
    form: web::Form<UsernameForm>,
) -> HttpResponse {
    if !Csrf::verify(&signin.auth.cookies, &req, &form.csrf) {
        return forbidden_form();
    }
    let return_to = safe_return_to(form.return_to.as_deref());
    let name = form.username.trim();
    if UserName::parse(name).is_err() {
        let error = Some("Enter your username (letters, digits and + = , . @ _ -).".to_owned());
        return username_page(
            &signin,
            &req,
            name.chars().take(128).collect(),
            return_to,
            None,
            error,
            StatusCode::BAD_REQUEST,
        );
    }
    let pending = Pending {
        user_name: name.to_owned(),
        user_id: None,
        stage: Stage::Password,
        return_to,
        amr: Vec::new(),
    };
    match signin.new_pending(&pending).await {
        Ok(id) => {
            let cookie = signin.auth.cookies.build(
                SIGNIN_COOKIE,
                id,
                15 * 60,
                actix_web::cookie::SameSite::Lax,
            );
            see_other("/signin/password", vec![cookie])
        }
        Err(_) => unavailable(),
    }
}

fn password_form(
    signin: &Signin,
    req: &HttpRequest,
    username: &str,
    error: Option<String>,
    status: StatusCode,
) -> HttpResponse {
    let csrf = Csrf::for_form(&signin.auth.cookies, req);
    let body = PasswordPage {
        csrf: csrf.token,
        username: username.to_owned(),
        error,
    };
    page(status, &body, csrf.cookie.into_iter().collect())
}

/// `GET /signin/password`.
pub async fn password_page(signin: web::Data<Signin>, req: HttpRequest) -> HttpResponse {
    match signin.try_load_pending(&req).await {
        Ok(Some((_, p))) if p.stage == Stage::Password => {
            password_form(&signin, &req, &p.user_name, None, StatusCode::OK)
        }
        Ok(_) => restart(),
        Err(_) => unavailable(),
    }
}

#[derive(Deserialize)]
pub struct PasswordForm {
    csrf: String,
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
    form: web::Form<PasswordForm>,
) -> HttpResponse {
    if !Csrf::verify(&signin.auth.cookies, &req, &form.csrf) {
        return forbidden_form();
    }
    let (id, mut pending) = match signin.try_load_pending(&req).await {
        Ok(Some(found)) => found,
        Ok(None) => return restart(),
        Err(_) => return unavailable(),
    };
    if pending.stage != Stage::Password {
        return restart();
    }
    let address = signin.auth.client_address(&req);
    let user_key = pending.user_name.to_lowercase();
    let reservation = match signin
        .throttle
        .reserve(signin.auth.sessions.as_ref(), &user_key, &address)
        .await
    {
        Ok(Attempt::Allowed(r)) => r,
        Ok(Attempt::Locked(wait)) => {
            signin.auth.metrics.signin(SigninResult::Locked);
            let msg = format!(
                "Too many failed attempts. Try again in {} minutes.",
                minutes(wait)
            );
            return password_form(
                &signin,
                &req,
                &pending.user_name,
                Some(msg),
                StatusCode::TOO_MANY_REQUESTS,
            );
        }
        Err(_) => return unavailable(),
    };

    let Ok(name) = UserName::parse(pending.user_name.clone()) else {
        return restart();
    };
    let (user, settings) = match tokio::join!(
        signin.auth.directory.find_user_by_name(&name),
        signin.auth.directory.get_settings()
    ) {
        (Ok(u), Ok(s)) => (u.filter(|u| u.enabled), s),
        _ => return unavailable(),
    };
    let record = match &user {
        Some(u) => match signin.auth.directory.get_password(u.id).await {
            Ok(r) => r,
            Err(_) => return unavailable(),
        },
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
    if let Some(u) = user.as_ref().filter(|_| passwordless) {
        match crate::first_otp::redeem(&signin, &user_key, &typed).await {
            Ok(true) => {
                if signin
                    .throttle
                    .succeeded(signin.auth.sessions.as_ref(), reservation)
                    .await
                    .is_err()
                {
                    return unavailable();
                }
                pending.user_id = Some(u.id);
                pending.amr.push("otp".into());
                pending.stage = Stage::NewPassword;
                return match signin.save_pending(&id, &pending).await {
                    Ok(()) => see_other("/signin/new-password", vec![]),
                    Err(_) => unavailable(),
                };
            }
            Ok(false) => {}
            Err(_) => return unavailable(),
        }
    }

    match (user, record, verdict) {
        (Some(u), Some(r), Verification::Match { needs_rehash }) => {
            if signin
                .throttle
                .succeeded(signin.auth.sessions.as_ref(), reservation)
                .await
                .is_err()
            {
                return unavailable();
            }
            if needs_rehash
                && let Ok(h) = signin.passwords.hash(&password).await
                && let Err(e) = signin.auth.directory.rehash_password(u.id, h).await
            {
                tracing::warn!(error = ?e, "could not store the re-hashed password");
            }
            pending.user_id = Some(u.id);
            pending.amr.push("pwd".into());
            if r.must_change {
                pending.stage = Stage::NewPassword;
                return match signin.save_pending(&id, &pending).await {
                    Ok(()) => see_other("/signin/new-password", vec![]),
                    Err(_) => unavailable(),
                };
            }
            crate::complete::after_first_factor(&signin, &req, &id, pending, &u).await
        }
        (user, _, _) => {
            // The reservation is kept: it counts as a failure.
            if settings.email_otp {
                let recipient = user.as_ref().filter(|_| passwordless);
                if crate::first_otp::offer(&signin.clone().into_inner(), &user_key, recipient)
                    .await
                    .is_err()
                {
                    return unavailable();
                }
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
            password_form(
                &signin,
                &req,
                &pending.user_name,
                Some(text.into()),
                StatusCode::UNAUTHORIZED,
            )
        }
    }
}
