//! `/portal/mfa-devices`: a signed-in person's MFA devices — list, rename, remove, add an
//! authenticator app (security keys are added by `crate::webauthn` from the same page). Every
//! change goes through the directory with `Actor::User`, which audits it.

use actix_web::ResponseError;
use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use portcullis_domain::{MfaDevice, MfaDeviceKind, MfaType};
use serde::Deserialize;

use crate::Signin;
use crate::flow::{forbidden_form, unavailable};
use crate::mfa::{device_name, enrolment_secret, pending_secret, store_app, totp};
use crate::pages::{DeviceEntry, DevicesPage, NewTotpPage};
use portcullis_auth::Principal;
use portcullis_auth::web::{Csrf, page, see_other};

const DATE: &str = "%Y-%m-%d %H:%M UTC";

fn kind_label(kind: MfaDeviceKind) -> &'static str {
    match kind {
        MfaDeviceKind::AuthenticatorApp => "Authenticator app",
        MfaDeviceKind::Webauthn => "Security key or passkey",
    }
}

fn entry(d: &MfaDevice) -> DeviceEntry {
    DeviceEntry {
        id: d.id.to_string(),
        name: d.name.to_string(),
        kind: kind_label(d.kind),
        created: d.created_at.format(DATE).to_string(),
        last_used: d
            .last_used_at
            .map(|t| t.format(DATE).to_string())
            .unwrap_or_else(|| "Never".into()),
    }
}

/// The flow-store key of the authenticator-app secret being added in this portal session.
fn enrol_key(current: &Principal) -> String {
    format!("portal:{}", current.session.id.as_str())
}

async fn signed_in(signin: &Signin, req: &HttpRequest) -> Result<Principal, HttpResponse> {
    signin
        .auth
        .signed_in(req)
        .await
        .map_err(|e| e.error_response())
}

/// Signed in recently enough to add or remove an MFA device (a fresh password or MFA within
/// `step_up`): a stolen session cookie alone cannot swap the second factor. Otherwise the
/// person signs in again and comes back to the devices page.
async fn signed_in_recently(signin: &Signin, req: &HttpRequest) -> Result<Principal, HttpResponse> {
    let current = signed_in(signin, req).await?;
    if current.is_recent(&signin.auth) {
        Ok(current)
    } else {
        Err(step_up())
    }
}

/// Where a stale session goes to sign in again before changing MFA devices.
pub const STEP_UP_URL: &str = "/start?reauth=1&step_up=1&return_to=%2Fportal%2Fmfa-devices";

pub fn step_up() -> HttpResponse {
    see_other(STEP_UP_URL, vec![])
}

async fn devices_page(
    signin: &Signin,
    req: &HttpRequest,
    current: &Principal,
    notice: Option<String>,
    error: Option<String>,
    status: StatusCode,
) -> HttpResponse {
    let settings = match signin.auth.directory.get_settings().await {
        Ok(s) => s,
        Err(_) => return unavailable(),
    };
    let devices = match signin
        .auth
        .directory
        .list_mfa_devices(current.user.id)
        .await
    {
        Ok(d) => d,
        Err(_) => return unavailable(),
    };
    let csrf = Csrf::for_form(&signin.auth.cookies, req);
    let body = DevicesPage {
        csrf: csrf.token,
        display_name: current.user.display_name.to_string(),
        devices: devices.iter().map(entry).collect(),
        notice,
        error,
        totp_allowed: settings.mfa.allows(MfaType::AuthenticatorApp),
        totp_limit: MfaDeviceKind::AuthenticatorApp.limit(),
        webauthn: settings.mfa.allows(MfaType::Webauthn),
    };
    page(status, &body, csrf.cookie.into_iter().collect())
}

/// The devices page with an error message (also used by the security-key registration).
pub async fn error_page(signin: &Signin, req: &HttpRequest, text: &str) -> HttpResponse {
    match signed_in(signin, req).await {
        Ok(current) => {
            devices_page(
                signin,
                req,
                &current,
                None,
                Some(text.to_owned()),
                StatusCode::BAD_REQUEST,
            )
            .await
        }
        Err(resp) => resp,
    }
}

#[derive(Debug, Deserialize)]
pub struct DevicesQuery {
    added: Option<String>,
    renamed: Option<String>,
    removed: Option<String>,
}

/// `GET /portal/mfa-devices`.
pub async fn list(
    signin: web::Data<Signin>,
    req: HttpRequest,
    q: web::Query<DevicesQuery>,
) -> HttpResponse {
    let current = match signed_in(&signin, &req).await {
        Ok(c) => c,
        Err(resp) => return resp,
    };
    let notice = if q.added.is_some() {
        Some("The device was added.")
    } else if q.renamed.is_some() {
        Some("The device was renamed.")
    } else if q.removed.is_some() {
        Some("The device was removed.")
    } else {
        None
    };
    devices_page(
        &signin,
        &req,
        &current,
        notice.map(str::to_owned),
        None,
        StatusCode::OK,
    )
    .await
}

#[derive(Debug, Deserialize)]
pub struct RenameForm {
    csrf: String,
    name: String,
}

#[derive(Debug, Deserialize)]
pub struct CsrfForm {
    csrf: String,
}

fn device_id(raw: &str) -> Option<uuid::Uuid> {
    uuid::Uuid::parse_str(raw).ok()
}

const GONE: &str = "That device is not registered for you (it may have been removed already).";

/// `POST /portal/mfa-devices/{id}/rename`.
pub async fn rename(
    signin: web::Data<Signin>,
    req: HttpRequest,
    path: web::Path<String>,
    form: web::Form<RenameForm>,
) -> HttpResponse {
    if !Csrf::verify(&signin.auth.cookies, &req, &form.csrf) {
        return forbidden_form();
    }
    let current = match signed_in(&signin, &req).await {
        Ok(c) => c,
        Err(resp) => return resp,
    };
    let fail =
        |text: String, status| devices_page(&signin, &req, &current, None, Some(text), status);
    let Some(id) = device_id(&path) else {
        return fail(GONE.into(), StatusCode::NOT_FOUND).await;
    };
    let name = match device_name(Some(&form.name), "") {
        Ok(n) => n,
        Err(msg) => return fail(msg, StatusCode::BAD_REQUEST).await,
    };
    let user = current.user.id;
    match signin
        .auth
        .directory
        .rename_mfa_device(portcullis_domain::Actor::User(user), user, id, name)
        .await
    {
        Ok(_) => see_other("/portal/mfa-devices?renamed=1", vec![]),
        Err(portcullis_store::StoreError::NotFound(_)) => {
            fail(GONE.into(), StatusCode::NOT_FOUND).await
        }
        Err(_) => unavailable(),
    }
}

/// `POST /portal/mfa-devices/{id}/remove`.
pub async fn remove(
    signin: web::Data<Signin>,
    req: HttpRequest,
    path: web::Path<String>,
    form: web::Form<CsrfForm>,
) -> HttpResponse {
    if !Csrf::verify(&signin.auth.cookies, &req, &form.csrf) {
        return forbidden_form();
    }
    let current = match signed_in_recently(&signin, &req).await {
        Ok(c) => c,
        Err(resp) => return resp,
    };
    let Some(id) = device_id(&path) else {
        return devices_page(
            &signin,
            &req,
            &current,
            None,
            Some(GONE.into()),
            StatusCode::NOT_FOUND,
        )
        .await;
    };
    let user = current.user.id;
    match signin
        .auth
        .directory
        .delete_mfa_device(portcullis_domain::Actor::User(user), user, id)
        .await
    {
        Ok(()) => see_other("/portal/mfa-devices?removed=1", vec![]),
        Err(portcullis_store::StoreError::NotFound(_)) => {
            devices_page(
                &signin,
                &req,
                &current,
                None,
                Some(GONE.into()),
                StatusCode::NOT_FOUND,
            )
            .await
        }
        Err(_) => unavailable(),
    }
}

fn limit_message() -> String {
    format!(
        "You already have the maximum of {} authenticator apps. Remove one before adding another.",
        MfaDeviceKind::AuthenticatorApp.limit()
    )
}

/// Why this person cannot add an authenticator app now, if they cannot.
async fn cannot_add(
    signin: &Signin,
    current: &Principal,
) -> Result<Option<(String, StatusCode)>, ()> {
    let settings = signin.auth.directory.get_settings().await.map_err(|_| ())?;
    if !settings.mfa.allows(MfaType::AuthenticatorApp) {
        return Ok(Some((
            "Your administrator does not allow authenticator apps.".into(),
            StatusCode::FORBIDDEN,
        )));
    }
    let devices = signin
        .auth
        .directory
        .list_mfa_devices(current.user.id)
        .await
        .map_err(|_| ())?;
    let apps = devices
        .iter()
        .filter(|d| d.kind == MfaDeviceKind::AuthenticatorApp)
        .count();
    if apps >= MfaDeviceKind::AuthenticatorApp.limit() {
        return Ok(Some((limit_message(), StatusCode::CONFLICT)));
    }
    Ok(None)
}

async fn new_totp_page(
    signin: &Signin,
    req: &HttpRequest,
    current: &Principal,
    name: String,
    error: Option<String>,
    status: StatusCode,
) -> HttpResponse {
    let Ok(secret) = enrolment_secret(signin, &enrol_key(current), current.user.id).await else {
        return unavailable();
    };
    let Some(totp) = totp::Enrolment::new(&secret, current.user.user_name.as_str()) else {
        return unavailable();
    };
    let csrf = Csrf::for_form(&signin.auth.cookies, req);
    let body = NewTotpPage {
        csrf: csrf.token,
        display_name: current.user.display_name.to_string(),
        totp,
        name,
        error,
    };
    page(status, &body, csrf.cookie.into_iter().collect())
}

/// `GET /portal/mfa-devices/totp/new`: the QR code of a new secret.
pub async fn new_totp(signin: web::Data<Signin>, req: HttpRequest) -> HttpResponse {
    let current = match signed_in_recently(&signin, &req).await {
        Ok(c) => c,
        Err(resp) => return resp,
    };
    match cannot_add(&signin, &current).await {
        Ok(Some((msg, status))) => {
            devices_page(&signin, &req, &current, None, Some(msg), status).await
        }
        Ok(None) => {
            new_totp_page(
                &signin,
                &req,
                &current,
                "Authenticator app".into(),
                None,
                StatusCode::OK,
            )
            .await
        }
        Err(()) => unavailable(),
    }
}

#[derive(Debug, Deserialize)]
pub struct AddTotpForm {
    csrf: String,
    code: String,
    name: Option<String>,
}

/// `POST /portal/mfa-devices/totp`: the code proving the new app; stores it.
pub async fn add_totp(
    signin: web::Data<Signin>,
    req: HttpRequest,
    form: web::Form<AddTotpForm>,
) -> HttpResponse {
    if !Csrf::verify(&signin.auth.cookies, &req, &form.csrf) {
        return forbidden_form();
    }
    let current = match signed_in_recently(&signin, &req).await {
        Ok(c) => c,
        Err(resp) => return resp,
    };
    match cannot_add(&signin, &current).await {
        Ok(Some((msg, status))) => {
            return devices_page(&signin, &req, &current, None, Some(msg), status).await;
        }
        Ok(None) => {}
        Err(()) => return unavailable(),
    }
    let typed_name = form.name.clone().unwrap_or_default();
    let key = enrol_key(&current);
    let secret = match pending_secret(&signin, &key, current.user.id).await {
        Ok(Some(s)) => s,
        Ok(None) => {
            return new_totp_page(
                &signin,
                &req,
                &current,
                typed_name,
                Some("The setup timed out. Add the new key below to your app.".into()),
                StatusCode::BAD_REQUEST,
            )
            .await;
        }
        Err(()) => return unavailable(),
    };
    let name = match device_name(form.name.as_deref(), "Authenticator app") {
        Ok(n) => n,
        Err(msg) => {
            return new_totp_page(
                &signin,
                &req,
                &current,
                typed_name,
                Some(msg),
                StatusCode::BAD_REQUEST,
            )
            .await;
        }
    };
    let Some(step) = totp::matching_step(&secret, &form.code, signin.auth.clock.now().timestamp())
    else {
        return new_totp_page(
            &signin,
            &req,
            &current,
            typed_name,
            Some("That code is not right. Check the app and try again.".into()),
            StatusCode::UNAUTHORIZED,
        )
        .await;
    };
    match store_app(&signin, current.user.id, name, &secret, step).await {
        Ok(()) => {
            let _ = signin.auth.sessions.delete(totp::ENROL_NS, &key).await;
            see_other("/portal/mfa-devices?added=1", vec![])
        }
        Err(msg) => {
            devices_page(
                &signin,
                &req,
                &current,
                None,
                Some(msg),
                StatusCode::CONFLICT,
            )
            .await
        }
    }
}

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/portal/mfa-devices", web::get().to(list))
        .route("/portal/mfa-devices/totp/new", web::get().to(new_totp))
        .route("/portal/mfa-devices/totp", web::post().to(add_totp))
        .route("/portal/mfa-devices/{id}/rename", web::post().to(rename))
        .route("/portal/mfa-devices/{id}/remove", web::post().to(remove));
}
