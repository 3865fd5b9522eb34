//! The second factor at sign-in: the challenge for a person who has an MFA device
//! (`/signin/mfa`), and registering a first device when the policy requires one
//! (`/signin/mfa/register`). Authenticator apps are served here; security keys by
//! `crate::webauthn` on the same pages (the `webauthn-signin` / `webauthn-register` buttons).

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use portcullis_auth::PageError;
use portcullis_auth::metrics::MfaKind;
use portcullis_auth::page::CheckedForm;
use portcullis_auth::throttle::Reservation;
use portcullis_domain::{Actor, MfaDevice, MfaDeviceKind, MfaPolicy, MfaType, NewAuditEvent, User};
use serde::Deserialize;

use crate::pages::{MfaChallengePage, MfaRegistrationPage, form_page};
use crate::state::{Event, Factor, Pending, Stage, Transition, Try, usable};
use crate::totp::{self, device_name, enrolment_secret, pending_secret, signin_key, store_app};
use crate::{Signin, complete};

/// A second factor that was not accepted (a security key's check): say so, and offer to try
/// again (401).
pub(crate) fn challenge_failed(text: impl Into<String>) -> PageError {
    PageError::Message {
        status: StatusCode::UNAUTHORIZED,
        heading: "That did not work",
        text: text.into(),
        link: "/signin/mfa",
        link_text: "Try again",
    }
}

/// A device that could not be registered during sign-in (a security key's registration): say
/// so, and offer to try again (400).
pub(crate) fn registration_failed(text: impl Into<String>) -> PageError {
    PageError::Message {
        status: StatusCode::BAD_REQUEST,
        heading: "The device was not registered",
        text: text.into(),
        link: "/signin/mfa/register",
        link_text: "Try again",
    }
}

/// The MFA policy and the person's devices.
async fn policy_and_devices(
    signin: &Signin,
    user: &User,
) -> Result<(MfaPolicy, Vec<MfaDevice>), PageError> {
    let settings = signin.auth.directory.get_settings().await?;
    let devices = signin.auth.directory.list_mfa_devices(user.id).await?;
    Ok((settings.mfa, devices))
}

fn challenge_form(
    signin: &Signin,
    req: &HttpRequest,
    pending: &Pending,
    (policy, devices): &(MfaPolicy, Vec<MfaDevice>),
    error: Option<String>,
    status: StatusCode,
) -> HttpResponse {
    let has = |kind: MfaDeviceKind| devices.iter().any(|d| d.kind == kind && usable(policy, d));
    form_page(signin, req, status, |csrf| MfaChallengePage {
        csrf,
        username: pending.user_name.clone(),
        totp: has(MfaDeviceKind::AuthenticatorApp),
        webauthn: has(MfaDeviceKind::Webauthn),
        error,
    })
}

/// `GET /signin/mfa`.
pub async fn challenge_page(
    signin: web::Data<Signin>,
    req: HttpRequest,
) -> Result<HttpResponse, PageError> {
    let (_, pending, user) = signin.pending_at(&req, Stage::Mfa).await?;
    let found = policy_and_devices(&signin, &user).await?;
    Ok(challenge_form(
        &signin,
        &req,
        &pending,
        &found,
        None,
        StatusCode::OK,
    ))
}

#[derive(Debug, Deserialize)]
pub struct CodeForm {
    pub(crate) csrf: String,
    code: String,
    name: Option<String>,
}

/// Whether a second-factor code may be checked: its try is counted first, against the
/// throttle (name and address) and against this sign-in stage's tries.
enum Gate {
    /// Check it; if wrong, this many tries are left.
    Go(Reservation, u32),
    /// Locked out: the message to show.
    Locked(String),
}

async fn gate(
    signin: &Signin,
    req: &HttpRequest,
    id: &str,
    pending: &Pending,
) -> Result<Gate, PageError> {
    let reservation = match signin.reserve_attempt(req, pending).await? {
        Ok(r) => r,
        Err(message) => return Ok(Gate::Locked(message)),
    };
    match signin.reserve_try(id, pending).await? {
        Try::Go { left_if_wrong } => Ok(Gate::Go(reservation, left_if_wrong)),
        Try::UsedUp => Err(signin.start_over(id).await),
    }
}

/// A wrong code (its try already counted): audits it, and says what follows — the form again
/// with the tries left, or (the last try) starting over.
async fn wrong_code(
    signin: &Signin,
    req: &HttpRequest,
    id: &str,
    pending: Pending,
    user: &User,
    reason: &str,
    left: u32,
) -> Result<(Pending, u32), PageError> {
    let address = signin.auth.client_address(req);
    let event = NewAuditEvent::new(
        Actor::User(user.id),
        "signin.failure",
        format!("user:{}", user.id),
    )
    .with_details(serde_json::json!({ "reason": reason, "address": address }).to_string());
    if let Err(e) = signin.auth.directory.record_event(event).await {
        tracing::warn!(error = ?e, "could not audit a failed second factor");
    }
    match pending.next(Event::WrongCode { tries_left: left }) {
        Transition::Retry {
            pending,
            tries_left,
        } => Ok((pending, tries_left)),
        _ => Err(signin.start_over(id).await),
    }
}

/// `POST /signin/mfa/totp`: a code from an authenticator app.
pub async fn submit_totp(
    signin: web::Data<Signin>,
    req: HttpRequest,
    form: CheckedForm<CodeForm>,
) -> Result<HttpResponse, PageError> {
    let (id, pending, user) = signin.pending_at(&req, Stage::Mfa).await?;
    let found = policy_and_devices(&signin, &user).await?;
    let (reservation, left) = match gate(&signin, &req, &id, &pending).await? {
        Gate::Go(r, left) => (r, left),
        Gate::Locked(msg) => {
            return Ok(challenge_form(
                &signin,
                &req,
                &pending,
                &found,
                Some(msg),
                StatusCode::TOO_MANY_REQUESTS,
            ));
        }
    };
    let (policy, devices) = &found;
    let apps: Vec<MfaDevice> = devices
        .iter()
        .filter(|d| d.kind == MfaDeviceKind::AuthenticatorApp && usable(policy, d))
        .cloned()
        .collect();
    let check = totp::verify(&signin, user.id, &apps, &form.code).await?;
    if let totp::Check::Accepted(_) = check {
        signin.auth.metrics.mfa(MfaKind::Totp, true);
        signin
            .throttle
            .succeeded(signin.auth.sessions.as_ref(), reservation)
            .await?;
        let next = pending.next(Event::SecondFactor(Factor::AuthenticatorApp));
        return complete::advance(&signin, &req, &id, next, &user).await;
    }
    signin.auth.metrics.mfa(MfaKind::Totp, false);
    let replayed = check == totp::Check::Replayed;
    let reason = if replayed {
        "totp-replayed"
    } else {
        "totp-wrong"
    };
    let (pending, left) = wrong_code(&signin, &req, &id, pending, &user, reason, left).await?;
    let msg = if replayed {
        format!(
            "That code was already used. Wait for the next code from your app. {left} tries left."
        )
    } else {
        format!("That code is not right. {left} tries left.")
    };
    Ok(challenge_form(
        &signin,
        &req,
        &pending,
        &found,
        Some(msg),
        StatusCode::UNAUTHORIZED,
    ))
}

async fn registration_form(
    signin: &Signin,
    req: &HttpRequest,
    id: &str,
    pending: &Pending,
    user: &User,
    error: Option<String>,
    status: StatusCode,
) -> Result<HttpResponse, PageError> {
    let settings = signin.auth.directory.get_settings().await?;
    let totp = if settings.mfa.allows(MfaType::AuthenticatorApp) {
        let secret = enrolment_secret(signin, &signin_key(id), user.id).await?;
        totp::Enrolment::new(&secret, user.user_name.as_str())
    } else {
        None
    };
    Ok(form_page(signin, req, status, |csrf| MfaRegistrationPage {
        csrf,
        username: pending.user_name.clone(),
        totp,
        webauthn: settings.mfa.allows(MfaType::Webauthn),
        error,
    }))
}

/// `GET /signin/mfa/register`.
pub async fn registration_page(
    signin: web::Data<Signin>,
    req: HttpRequest,
) -> Result<HttpResponse, PageError> {
    let (id, pending, user) = signin.pending_at(&req, Stage::MfaRegistration).await?;
    registration_form(&signin, &req, &id, &pending, &user, None, StatusCode::OK).await
}

/// `POST /signin/mfa/register/totp`: the code proving the new authenticator app; stores it and
/// finishes the sign-in.
pub async fn submit_registration(
    signin: web::Data<Signin>,
    req: HttpRequest,
    form: CheckedForm<CodeForm>,
) -> Result<HttpResponse, PageError> {
    let (id, pending, user) = signin.pending_at(&req, Stage::MfaRegistration).await?;
    let settings = signin.auth.directory.get_settings().await?;
    if !settings.mfa.allows(MfaType::AuthenticatorApp) {
        return Err(PageError::Restart);
    }
    let again = async |pending: &Pending, msg: String, status: StatusCode| {
        registration_form(&signin, &req, &id, pending, &user, Some(msg), status).await
    };
    let key = signin_key(&id);
    let Some(secret) = pending_secret(&signin, &key, user.id).await? else {
        let msg = "The setup timed out. Add the new key below to your app.".to_owned();
        return again(&pending, msg, StatusCode::BAD_REQUEST).await;
    };
    let name = match device_name(form.name.as_deref(), "Authenticator app") {
        Ok(n) => n,
        Err(msg) => return again(&pending, msg, StatusCode::BAD_REQUEST).await,
    };
    let (reservation, left) = match gate(&signin, &req, &id, &pending).await? {
        Gate::Go(r, left) => (r, left),
        Gate::Locked(msg) => return again(&pending, msg, StatusCode::TOO_MANY_REQUESTS).await,
    };
    let Some(step) = totp::matching_step(&secret, &form.code, signin.auth.clock.now().timestamp())
    else {
        let (pending, left) = wrong_code(
            &signin,
            &req,
            &id,
            pending,
            &user,
            "totp-registration",
            left,
        )
        .await?;
        let msg = format!("That code is not right. {left} tries left.");
        return again(&pending, msg, StatusCode::UNAUTHORIZED).await;
    };
    if let Err(msg) = store_app(&signin, user.id, name, &secret, step).await {
        return again(&pending, msg, StatusCode::CONFLICT).await;
    }
    let _ = signin.auth.sessions.delete(totp::ENROL_NS, &key).await;
    signin
        .throttle
        .succeeded(signin.auth.sessions.as_ref(), reservation)
        .await?;
    let next = pending.next(Event::SecondFactor(Factor::AuthenticatorApp));
    complete::advance(&signin, &req, &id, next, &user).await
}

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/signin/mfa", web::get().to(challenge_page))
        .route("/signin/mfa/totp", web::post().to(submit_totp))
        .route("/signin/mfa/register", web::get().to(registration_page))
        .route(
            "/signin/mfa/register/totp",
            web::post().to(submit_registration),
        );
}
