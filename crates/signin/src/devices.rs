//! `/portal/mfa-devices`: a signed-in person's MFA devices — list, rename, remove, add an
//! authenticator app (security keys are added by `crate::webauthn` from the same page). Every
//! change goes through the directory with `Actor::User`, which audits it.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use portcullis_domain::{Actor, MfaDevice, MfaDeviceKind, MfaType};
use portcullis_store::StoreError;
use serde::Deserialize;

use crate::Signin;
use crate::pages::{DeviceEntry, DevicesPage, NewTotpPage, form_page};
use crate::totp::{self, device_name, enrolment_secret, limit_message, pending_secret, store_app};
use portcullis_auth::page::CheckedForm;
use portcullis_auth::web::see_other;
use portcullis_auth::{PageError, Principal, SignedIn};

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

/// Where a stale session goes to sign in again before changing MFA devices.
pub const STEP_UP_URL: &str = "/start?reauth=1&step_up=1&return_to=%2Fportal%2Fmfa-devices";

/// Signed in recently enough to add or remove an MFA device (a fresh password or MFA within
/// `step_up`): a stolen session cookie alone cannot swap the second factor. Otherwise the
/// person signs in again and comes back to the devices page.
pub(crate) fn recent(signin: &Signin, current: SignedIn) -> Result<Principal, PageError> {
    if current.is_recent(&signin.auth) {
        Ok(current.0)
    } else {
        Err(PageError::StepUp {
            location: STEP_UP_URL,
        })
    }
}

async fn devices_page(
    signin: &Signin,
    req: &HttpRequest,
    current: &Principal,
    notice: Option<String>,
    error: Option<String>,
    status: StatusCode,
) -> Result<HttpResponse, PageError> {
    let settings = signin.auth.directory.get_settings().await?;
    let devices = signin
        .auth
        .directory
        .list_mfa_devices(current.user.id)
        .await?;
    Ok(form_page(signin, req, status, |csrf| DevicesPage {
        csrf,
        display_name: current.user.display_name.to_string(),
        devices: devices.iter().map(entry).collect(),
        notice,
        error,
        totp_allowed: settings.mfa.allows(MfaType::AuthenticatorApp),
        totp_limit: MfaDeviceKind::AuthenticatorApp.limit(),
        webauthn: settings.mfa.allows(MfaType::Webauthn),
    }))
}

/// The devices page saying what went wrong with a change (also used by the security-key
/// registration).
pub(crate) async fn with_error(
    signin: &Signin,
    req: &HttpRequest,
    current: &Principal,
    text: impl Into<String>,
    status: StatusCode,
) -> Result<HttpResponse, PageError> {
    devices_page(signin, req, current, None, Some(text.into()), status).await
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
    current: SignedIn,
) -> Result<HttpResponse, PageError> {
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
    pub(crate) csrf: String,
    name: String,
}

#[derive(Debug, Deserialize)]
pub struct CsrfForm {
    pub(crate) csrf: String,
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
    form: CheckedForm<RenameForm>,
    current: SignedIn,
) -> Result<HttpResponse, PageError> {
    let fail = |text: String, status| with_error(&signin, &req, &current, text, status);
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
        .rename_mfa_device(Actor::User(user), user, id, name)
        .await
    {
        Ok(_) => Ok(see_other("/portal/mfa-devices?renamed=1", vec![])),
        Err(StoreError::NotFound(_)) => fail(GONE.into(), StatusCode::NOT_FOUND).await,
        Err(e) => Err(e.into()),
    }
}

/// `POST /portal/mfa-devices/{id}/remove`.
pub async fn remove(
    signin: web::Data<Signin>,
    req: HttpRequest,
    path: web::Path<String>,
    _form: CheckedForm<CsrfForm>,
    current: SignedIn,
) -> Result<HttpResponse, PageError> {
    let current = recent(&signin, current)?;
    let gone = || with_error(&signin, &req, &current, GONE, StatusCode::NOT_FOUND);
    let Some(id) = device_id(&path) else {
        return gone().await;
    };
    let user = current.user.id;
    match signin
        .auth
        .directory
        .delete_mfa_device(Actor::User(user), user, id)
        .await
    {
        Ok(()) => Ok(see_other("/portal/mfa-devices?removed=1", vec![])),
        Err(StoreError::NotFound(_)) => gone().await,
        Err(e) => Err(e.into()),
    }
}

/// Why this person cannot add an authenticator app now, if they cannot.
async fn cannot_add(
    signin: &Signin,
    current: &Principal,
) -> Result<Option<(String, StatusCode)>, StoreError> {
    let settings = signin.auth.directory.get_settings().await?;
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
        .await?;
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
) -> Result<HttpResponse, PageError> {
    let secret = enrolment_secret(signin, &enrol_key(current), current.user.id).await?;
    let totp = totp::Enrolment::new(&secret, current.user.user_name.as_str()).ok_or_else(|| {
        PageError::unavailable("an authenticator app's QR code could not be made")
    })?;
    Ok(form_page(signin, req, status, |csrf| NewTotpPage {
        csrf,
        display_name: current.user.display_name.to_string(),
        totp,
        name,
        error,
    }))
}

/// `GET /portal/mfa-devices/totp/new`: the QR code of a new secret.
pub async fn new_totp(
    signin: web::Data<Signin>,
    req: HttpRequest,
    current: SignedIn,
) -> Result<HttpResponse, PageError> {
    let current = recent(&signin, current)?;
    if let Some((msg, status)) = cannot_add(&signin, &current).await? {
        return with_error(&signin, &req, &current, msg, status).await;
    }
    let name = "Authenticator app".to_owned();
    new_totp_page(&signin, &req, &current, name, None, StatusCode::OK).await
}

#[derive(Debug, Deserialize)]
pub struct AddTotpForm {
    pub(crate) csrf: String,
    code: String,
    name: Option<String>,
}

/// `POST /portal/mfa-devices/totp`: the code proving the new app; stores it.
pub async fn add_totp(
    signin: web::Data<Signin>,
    req: HttpRequest,
    form: CheckedForm<AddTotpForm>,
    current: SignedIn,
) -> Result<HttpResponse, PageError> {
    let current = recent(&signin, current)?;
    if let Some((msg, status)) = cannot_add(&signin, &current).await? {
        return with_error(&signin, &req, &current, msg, status).await;
    }
    let typed_name = form.name.clone().unwrap_or_default();
    let again = |msg: String, status| {
        new_totp_page(
            &signin,
            &req,
            &current,
            typed_name.clone(),
            Some(msg),
            status,
        )
    };
    let key = enrol_key(&current);
    let Some(secret) = pending_secret(&signin, &key, current.user.id).await? else {
        let msg = "The setup timed out. Add the new key below to your app.".into();
        return again(msg, StatusCode::BAD_REQUEST).await;
    };
    let name = match device_name(form.name.as_deref(), "Authenticator app") {
        Ok(n) => n,
        Err(msg) => return again(msg, StatusCode::BAD_REQUEST).await,
    };
    let Some(step) = totp::matching_step(&secret, &form.code, signin.auth.clock.now().timestamp())
    else {
        let msg = "That code is not right. Check the app and try again.".into();
        return again(msg, StatusCode::UNAUTHORIZED).await;
    };
    match store_app(&signin, current.user.id, name, &secret, step).await {
        Ok(()) => {
            let _ = signin.auth.sessions.delete(totp::ENROL_NS, &key).await;
            Ok(see_other("/portal/mfa-devices?added=1", vec![]))
        }
        Err(msg) => with_error(&signin, &req, &current, msg, StatusCode::CONFLICT).await,
    }
}

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/portal/mfa-devices", web::get().to(list))
        .route("/portal/mfa-devices/totp/new", web::get().to(new_totp))
        .route("/portal/mfa-devices/totp", web::post().to(add_totp))
        .route("/portal/mfa-devices/{id}/rename", web::post().to(rename))
        .route("/portal/mfa-devices/{id}/remove", web::post().to(remove));
}
