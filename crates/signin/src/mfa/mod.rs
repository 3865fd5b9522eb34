//! The second factor at sign-in: the challenge for a person who has an MFA device
//! (`/signin/mfa`), and registering a first device when the policy requires one
//! (`/signin/mfa/register`). Authenticator apps are served here; security keys by
//! `crate::webauthn` on the same pages (the `webauthn-signin` / `webauthn-register` buttons).

pub mod totp;

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use portcullis_domain::{
    Actor, DisplayName, MfaDevice, MfaDeviceKind, MfaPolicy, MfaType, NewAuditEvent, NewMfaDevice,
    User, UserId,
};
use serde::Deserialize;

use crate::Signin;
use crate::flow::{Pending, Stage, Try, forbidden_form, restart, unavailable};
use crate::pages::{MessagePage, MfaChallengePage, MfaRegistrationPage};
use portcullis_auth::metrics::{MfaKind, SigninResult};
use portcullis_auth::throttle::{Attempt, Reservation, minutes};
use portcullis_auth::web::{Csrf, page, see_other};

/// Whether the policy lets this device be used.
pub fn usable(policy: &MfaPolicy, device: &MfaDevice) -> bool {
    match device.kind {
        MfaDeviceKind::AuthenticatorApp => policy.allows(MfaType::AuthenticatorApp),
        MfaDeviceKind::Webauthn => policy.allows(MfaType::Webauthn),
    }
}

/// The person has a usable device: ask for it.
pub(crate) async fn start_challenge(
    signin: &Signin,
    id: &str,
    mut pending: Pending,
) -> HttpResponse {
    pending.stage = Stage::Mfa;
    match signin.save_pending(id, &pending).await {
        Ok(()) => see_other("/signin/mfa", vec![]),
        Err(_) => unavailable(),
    }
}

/// The policy requires a device and the person has none: have them register one.
pub(crate) async fn start_registration(
    signin: &Signin,
    id: &str,
    mut pending: Pending,
) -> HttpResponse {
    pending.stage = Stage::MfaRegistration;
    match signin.save_pending(id, &pending).await {
        Ok(()) => see_other("/signin/mfa/register", vec![]),
        Err(_) => unavailable(),
    }
}

/// The pending sign-in at `stage` and its (enabled) user; `Err` is the answer to give: start
/// over when there is none, the 503 page when the stores cannot be reached.
pub(crate) async fn pending_at(
    signin: &Signin,
    req: &HttpRequest,
    stage: Stage,
) -> Result<(String, Pending, User), HttpResponse> {
    let (id, pending) = match signin.try_load_pending(req).await {
        Ok(Some(found)) => found,
        Ok(None) => return Err(restart()),
        Err(_) => return Err(unavailable()),
    };
    let Some(user_id) = pending.user_id.filter(|_| pending.stage == stage) else {
        return Err(restart());
    };
    match signin.auth.directory.get_user(user_id).await {
        Ok(u) if u.enabled => Ok((id, pending, u)),
        Ok(_) | Err(portcullis_store::StoreError::NotFound(_)) => {
            signin.drop_pending(&id).await;
            Err(restart())
        }
        Err(_) => Err(unavailable()),
    }
}

async fn policy_and_devices(
    signin: &Signin,
    user: UserId,
) -> Result<(MfaPolicy, Vec<MfaDevice>), HttpResponse> {
    let settings = signin
        .auth
        .directory
        .get_settings()
        .await
        .map_err(|_| unavailable())?;
    let devices = signin
        .auth
        .directory
        .list_mfa_devices(user)
        .await
        .map_err(|_| unavailable())?;
    Ok((settings.mfa, devices))
}

fn challenge_form(
    signin: &Signin,
    req: &HttpRequest,
    pending: &Pending,
    policy: &MfaPolicy,
    devices: &[MfaDevice],
    error: Option<String>,
    status: StatusCode,
) -> HttpResponse {
    let has = |kind: MfaDeviceKind| devices.iter().any(|d| d.kind == kind && usable(policy, d));
    let csrf = Csrf::for_form(&signin.auth.cookies, req);
    let body = MfaChallengePage {
        csrf: csrf.token,
        username: pending.user_name.clone(),
        totp: has(MfaDeviceKind::AuthenticatorApp),
        webauthn: has(MfaDeviceKind::Webauthn),
        error,
    };
    page(status, &body, csrf.cookie.into_iter().collect())
}

/// `GET /signin/mfa`.
pub async fn challenge_page(signin: web::Data<Signin>, req: HttpRequest) -> HttpResponse {
    let (_, pending, user) = match pending_at(&signin, &req, Stage::Mfa).await {
        Ok(p) => p,
        Err(resp) => return resp,
    };
    match policy_and_devices(&signin, user.id).await {
        Ok((policy, devices)) => challenge_form(
            &signin,
            &req,
            &pending,
            &policy,
            &devices,
            None,
            StatusCode::OK,
        ),
        Err(resp) => resp,
    }
}

/// A second factor that was not accepted (used by the security-key check): say so, and offer
/// to try again.
pub fn challenge_error(_idp: &Signin, _req: &HttpRequest, text: &str) -> HttpResponse {
    page(
        StatusCode::UNAUTHORIZED,
        &MessagePage {
            heading: "That did not work",
            text: text.to_owned(),
            link: "/signin/mfa",
            link_text: "Try again",
        },
        vec![],
    )
}

/// A device that could not be registered during sign-in (used by the security-key
/// registration): say so, and offer to try again.
pub fn registration_error(_idp: &Signin, _req: &HttpRequest, text: &str) -> HttpResponse {
    page(
        StatusCode::BAD_REQUEST,
        &MessagePage {
            heading: "The device was not registered",
            text: text.to_owned(),
            link: "/signin/mfa/register",
            link_text: "Try again",
        },
        vec![],
    )
}

#[derive(Debug, Deserialize)]
pub struct CodeForm {
    csrf: String,
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
    /// The tries are used up: start over.
    StartOver(HttpResponse),
}

async fn gate(signin: &Signin, req: &HttpRequest, id: &str, pending: &Pending) -> Result<Gate, ()> {
    let address = signin.auth.client_address(req);
    let user_key = pending.user_name.to_lowercase();
    let reservation = match signin
        .throttle
        .reserve(signin.auth.sessions.as_ref(), &user_key, &address)
        .await
        .map_err(|_| ())?
    {
        Attempt::Allowed(r) => r,
        Attempt::Locked(wait) => {
            signin.auth.metrics.signin(SigninResult::Locked);
            return Ok(Gate::Locked(format!(
                "Too many failed attempts. Try again in {} minutes.",
                minutes(wait)
            )));
        }
    };
    match signin.reserve_try(id, pending).await.map_err(|_| ())? {
        Try::Go { left_if_wrong } => Ok(Gate::Go(reservation, left_if_wrong)),
        Try::UsedUp => Ok(Gate::StartOver(start_over(signin, id).await)),
    }
}

async fn start_over(signin: &Signin, id: &str) -> HttpResponse {
    signin.drop_pending(id).await;
    let _ = signin
        .auth
        .sessions
        .delete(totp::ENROL_NS, &signin_key(id))
        .await;
    see_other("/start?restart=1", vec![])
}

/// A wrong code (its try already counted): audits it; `Err(answer)` when it was the last try.
async fn wrong_code(
    signin: &Signin,
    req: &HttpRequest,
    id: &str,
    user: &User,
    reason: &str,
    left: u32,
) -> Result<u32, HttpResponse> {
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
    if left == 0 {
        return Err(start_over(signin, id).await);
    }
    Ok(left)
}

/// `POST /signin/mfa/totp`: a code from an authenticator app.
pub async fn submit_totp(
    signin: web::Data<Signin>,
    req: HttpRequest,
    form: web::Form<CodeForm>,
) -> HttpResponse {
    if !Csrf::verify(&signin.auth.cookies, &req, &form.csrf) {
        return forbidden_form();
    }
    let (id, mut pending, user) = match pending_at(&signin, &req, Stage::Mfa).await {
        Ok(p) => p,
        Err(resp) => return resp,
    };
    let (policy, devices) = match policy_and_devices(&signin, user.id).await {
        Ok(p) => p,
        Err(resp) => return resp,
    };
    let (reservation, left) = match gate(&signin, &req, &id, &pending).await {
        Ok(Gate::Go(r, left)) => (r, left),
        Ok(Gate::Locked(msg)) => {
            return challenge_form(
                &signin,
                &req,
                &pending,
                &policy,
                &devices,
                Some(msg),
                StatusCode::TOO_MANY_REQUESTS,
            );
        }
        Ok(Gate::StartOver(answer)) => return answer,
        Err(()) => return unavailable(),
    };
    let apps: Vec<MfaDevice> = devices
        .iter()
        .filter(|d| d.kind == MfaDeviceKind::AuthenticatorApp && usable(&policy, d))
        .cloned()
        .collect();
    let check = match totp::verify(&signin, user.id, &apps, &form.code).await {
        Ok(c) => c,
        Err(_) => return unavailable(),
    };
    match check {
        totp::Check::Accepted(_) => {
            signin.auth.metrics.mfa(MfaKind::Totp, true);
            if signin
                .throttle
                .succeeded(signin.auth.sessions.as_ref(), reservation)
                .await
                .is_err()
            {
                return unavailable();
            }
            pending.amr.extend(["otp".to_owned(), "mfa".to_owned()]);
            crate::complete::finish(&signin, &req, &id, pending, &user).await
        }
        totp::Check::Replayed | totp::Check::Wrong => {
            signin.auth.metrics.mfa(MfaKind::Totp, false);
            let replayed = check == totp::Check::Replayed;
            let reason = if replayed {
                "totp-replayed"
            } else {
                "totp-wrong"
            };
            let left = match wrong_code(&signin, &req, &id, &user, reason, left).await {
                Ok(left) => left,
                Err(resp) => return resp,
            };
            let msg = if replayed {
                format!(
                    "That code was already used. Wait for the next code from your app. {left} tries left."
                )
            } else {
                format!("That code is not right. {left} tries left.")
            };
            challenge_form(
                &signin,
                &req,
                &pending,
                &policy,
                &devices,
                Some(msg),
                StatusCode::UNAUTHORIZED,
            )
        }
    }
}

/// The flow-store key of the secret being registered during the sign-in `pending_id`.
fn signin_key(pending_id: &str) -> String {
    format!("signin:{pending_id}")
}

/// The secret waiting in the flow store under `key` (sealed for `user`), or a new one.
pub(crate) async fn enrolment_secret(
    signin: &Signin,
    key: &str,
    user: UserId,
) -> Result<Vec<u8>, ()> {
    let aad = totp::aad(user);
    match signin.auth.sessions.get(totp::ENROL_NS, key).await {
        Ok(Some(sealed)) => {
            if let Ok(secret) = signin.secrets.open(&sealed, &aad) {
                return Ok(secret);
            }
        }
        Ok(None) => {}
        Err(_) => return Err(()),
    }
    let secret = totp::new_secret();
    signin
        .auth
        .sessions
        .put(
            totp::ENROL_NS,
            key,
            &signin.secrets.seal(&secret, &aad),
            totp::ENROL_TTL,
        )
        .await
        .map_err(|_| ())?;
    Ok(secret)
}

/// The secret waiting under `key`, if it is still there.
pub(crate) async fn pending_secret(
    signin: &Signin,
    key: &str,
    user: UserId,
) -> Result<Option<Vec<u8>>, ()> {
    match signin.auth.sessions.get(totp::ENROL_NS, key).await {
        Ok(Some(sealed)) => Ok(signin.secrets.open(&sealed, &totp::aad(user)).ok()),
        Ok(None) => Ok(None),
        Err(_) => Err(()),
    }
}

/// The name a person gave a device, or `default`. `Err` carries the message to show.
pub(crate) fn device_name(raw: Option<&str>, default: &str) -> Result<DisplayName, String> {
    let given = raw
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .unwrap_or(default);
    if given.chars().count() > 64 {
        return Err("The device name may be at most 64 characters.".into());
    }
    DisplayName::parse(given.to_owned()).map_err(|e| format!("The device name {}.", e.message))
}

/// Stores a proven authenticator app (sealed) and marks `step` used, so the code that proved
/// it cannot be used again. `Err` carries the message to show.
pub(crate) async fn store_app(
    signin: &Signin,
    user: UserId,
    name: DisplayName,
    secret: &[u8],
    step: i64,
) -> Result<(), String> {
    let device = NewMfaDevice {
        user_id: user,
        kind: MfaDeviceKind::AuthenticatorApp,
        name,
        secret: signin.secrets.seal(secret, &totp::aad(user)),
        credential_id: None,
    };
    let stored = match signin
        .auth
        .directory
        .add_mfa_device(Actor::User(user), device)
        .await
    {
        Ok(d) => d,
        Err(portcullis_store::StoreError::Conflict { .. }) => {
            return Err(format!(
                "You already have the maximum of {} authenticator apps. Remove one before adding another.",
                MfaDeviceKind::AuthenticatorApp.limit()
            ));
        }
        Err(e) => {
            tracing::error!(error = ?e, "could not store an authenticator app");
            return Err("The authenticator app could not be saved. Try again shortly.".into());
        }
    };
    if let Err(e) = signin
        .auth
        .directory
        .record_mfa_use(user, stored.id, signin.auth.clock.now(), Some(step), None)
        .await
    {
        tracing::warn!(error = ?e, "could not mark the registration code used");
    }
    Ok(())
}

async fn registration_form(
    signin: &Signin,
    req: &HttpRequest,
    id: &str,
    pending: &Pending,
    user: &User,
    error: Option<String>,
    status: StatusCode,
) -> HttpResponse {
    let settings = match signin.auth.directory.get_settings().await {
        Ok(s) => s,
        Err(_) => return unavailable(),
    };
    let totp = if settings.mfa.allows(MfaType::AuthenticatorApp) {
        let Ok(secret) = enrolment_secret(signin, &signin_key(id), user.id).await else {
            return unavailable();
        };
        totp::Enrolment::new(&secret, user.user_name.as_str())
    } else {
        None
    };
    let csrf = Csrf::for_form(&signin.auth.cookies, req);
    let body = MfaRegistrationPage {
        csrf: csrf.token,
        username: pending.user_name.clone(),
        totp,
        webauthn: settings.mfa.allows(MfaType::Webauthn),
        error,
    };
    page(status, &body, csrf.cookie.into_iter().collect())
}

/// `GET /signin/mfa/register`.
pub async fn registration_page(signin: web::Data<Signin>, req: HttpRequest) -> HttpResponse {
    match pending_at(&signin, &req, Stage::MfaRegistration).await {
        Ok((id, pending, user)) => {
            registration_form(&signin, &req, &id, &pending, &user, None, StatusCode::OK).await
        }
        Err(resp) => resp,
    }
}

/// `POST /signin/mfa/register/totp`: the code proving the new authenticator app; stores it and
/// finishes the sign-in.
pub async fn submit_registration(
    signin: web::Data<Signin>,
    req: HttpRequest,
    form: web::Form<CodeForm>,
) -> HttpResponse {
    if !Csrf::verify(&signin.auth.cookies, &req, &form.csrf) {
        return forbidden_form();
    }
    let (id, mut pending, user) = match pending_at(&signin, &req, Stage::MfaRegistration).await {
        Ok(p) => p,
        Err(resp) => return resp,
    };
    let allowed = match signin.auth.directory.get_settings().await {
        Ok(s) => s.mfa.allows(MfaType::AuthenticatorApp),
        Err(_) => return unavailable(),
    };
    if !allowed {
        return restart();
    }
    let key = signin_key(&id);
    let secret = match pending_secret(&signin, &key, user.id).await {
        Ok(Some(s)) => s,
        Ok(None) => {
            let msg = "The setup timed out. Add the new key below to your app.".to_owned();
            return registration_form(
                &signin,
                &req,
                &id,
                &pending,
                &user,
                Some(msg),
                StatusCode::BAD_REQUEST,
            )
            .await;
        }
        Err(()) => return unavailable(),
    };
    let name = match device_name(form.name.as_deref(), "Authenticator app") {
        Ok(n) => n,
        Err(msg) => {
            return registration_form(
                &signin,
                &req,
                &id,
                &pending,
                &user,
                Some(msg),
                StatusCode::BAD_REQUEST,
            )
            .await;
        }
    };
    let (reservation, left) = match gate(&signin, &req, &id, &pending).await {
        Ok(Gate::Go(r, left)) => (r, left),
        Ok(Gate::Locked(msg)) => {
            return registration_form(
                &signin,
                &req,
                &id,
                &pending,
                &user,
                Some(msg),
                StatusCode::TOO_MANY_REQUESTS,
            )
            .await;
        }
        Ok(Gate::StartOver(answer)) => return answer,
        Err(()) => return unavailable(),
    };
    let Some(step) = totp::matching_step(&secret, &form.code, signin.auth.clock.now().timestamp())
    else {
        let left = match wrong_code(&signin, &req, &id, &user, "totp-registration", left).await {
            Ok(left) => left,
            Err(resp) => return resp,
        };
        let msg = format!("That code is not right. {left} tries left.");
        return registration_form(
            &signin,
            &req,
            &id,
            &pending,
            &user,
            Some(msg),
            StatusCode::UNAUTHORIZED,
        )
        .await;
    };
    if let Err(msg) = store_app(&signin, user.id, name, &secret, step).await {
        return registration_form(
            &signin,
            &req,
            &id,
            &pending,
            &user,
            Some(msg),
            StatusCode::CONFLICT,
        )
        .await;
    }
    let _ = signin.auth.sessions.delete(totp::ENROL_NS, &key).await;
    if signin
        .throttle
        .succeeded(signin.auth.sessions.as_ref(), reservation)
        .await
        .is_err()
    {
        return unavailable();
    }
    pending.amr.extend(["otp".to_owned(), "mfa".to_owned()]);
    crate::complete::finish(&signin, &req, &id, pending, &user).await
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
