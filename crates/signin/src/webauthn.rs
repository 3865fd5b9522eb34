//! Security keys and passkeys (WebAuthn, through webauthn-rs): registering one during sign-in
//! (when the policy requires a device) or from the MFA devices page, and using one as the
//! second factor at sign-in.
//!
//! Each ceremony has two requests: `…/options` (JSON, asked by `static/webauthn.js`) returns the
//! challenge and keeps the ceremony state in the shared flow store for five minutes; the
//! browser's answer comes back as an ordinary form post (`credential` = the JSON the
//! authenticator produced), so the result is a normal page or redirect. JSON requests carry the
//! CSRF token in `X-CSRF-Token`.

use std::time::Duration;

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use portcullis_domain::{Actor, DisplayName, MfaDevice, MfaDeviceKind, NewMfaDevice, User};
use serde::Deserialize;
use serde::de::DeserializeOwned;
use webauthn_rs::prelude::{
    Passkey, PasskeyAuthentication, PasskeyRegistration, PublicKeyCredential,
    RegisterPublicKeyCredential, Url, Webauthn, WebauthnBuilder,
};

use crate::mfa::{challenge_failed, registration_failed};
use crate::state::{Event, Factor, Pending, Stage};
use crate::{Signin, complete};
use portcullis_auth::metrics::MfaKind;
use portcullis_auth::page::CheckedForm;
use portcullis_auth::web::{CSRF_COOKIE, Csrf, see_other};
use portcullis_auth::{PageError, SignedIn};

const CEREMONY_TTL: Duration = Duration::from_secs(5 * 60);
const AUTH_NS: &str = "webauthn-auth";
const REG_NS: &str = "webauthn-reg";

/// The relying party for the public URL: its host is the RP id, its origin the only origin.
/// Plain http is accepted only for `localhost` (development); elsewhere WebAuthn is off.
pub fn relying_party(public_url: &Url) -> Option<Webauthn> {
    let host = public_url.host_str()?;
    if public_url.scheme() != "https" && host != "localhost" {
        return None;
    }
    let origin = Url::parse(&public_url.origin().ascii_serialization()).ok()?;
    WebauthnBuilder::new(host, &origin)
        .ok()?
        .rp_name("Portcullis")
        .timeout(Duration::from_secs(120))
        .build()
        .ok()
}

/// Whether security keys can be used with this deployment's public URL.
pub fn available(signin: &Signin) -> bool {
    relying_party(&signin.auth.public_url).is_some()
}

fn json_error(status: StatusCode, message: &str) -> HttpResponse {
    HttpResponse::build(status).json(serde_json::json!({ "error": message }))
}

/// JSON endpoints check the double-submit token in a header instead of a form field.
fn header_csrf_ok(signin: &Signin, req: &HttpRequest) -> bool {
    let sent = req
        .headers()
        .get("x-csrf-token")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    !sent.is_empty()
        && signin.auth.cookies.read(req, CSRF_COOKIE).is_some()
        && Csrf::verify(&signin.auth.cookies, req, sent)
}

fn passkeys(devices: &[MfaDevice]) -> Vec<(MfaDevice, Passkey)> {
    devices
        .iter()
        .filter(|d| d.kind == MfaDeviceKind::Webauthn)
        .filter_map(|d| {
            serde_json::from_slice::<Passkey>(&d.secret)
                .ok()
                .map(|p| (d.clone(), p))
        })
        .collect()
}

fn credential_id(p: &Passkey) -> String {
    URL_SAFE_NO_PAD.encode::<&[u8]>(p.cred_id().as_ref())
}

async fn put_state<T: serde::Serialize>(signin: &Signin, ns: &str, key: &str, state: &T) -> bool {
    match serde_json::to_vec(state) {
        Ok(bytes) => signin
            .auth
            .sessions
            .put(ns, key, &bytes, CEREMONY_TTL)
            .await
            .is_ok(),
        Err(_) => false,
    }
}

/// Takes (single use) a ceremony's state.
async fn take_state<T: DeserializeOwned>(signin: &Signin, ns: &str, key: &str) -> Option<T> {
    let bytes = signin.auth.sessions.take(ns, key).await.ok()??;
    serde_json::from_slice(&bytes).ok()
}

#[derive(Debug, Deserialize)]
pub struct CredentialForm {
    pub(crate) csrf: String,
    credential: String,
    name: Option<String>,
}

/// The name the person gave the key, or "Security key".
fn device_name(raw: Option<&str>) -> Result<DisplayName, String> {
    let given = raw
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .unwrap_or("Security key");
    DisplayName::parse(given.chars().take(64).collect::<String>())
        .map_err(|e| format!("The name {}.", e.message))
}

/// Whether the organisation's MFA policy allows security keys and passkeys now: checked at
/// every step (a key registered while they were allowed does not outlive the policy).
async fn policy_allows(signin: &Signin) -> Result<bool, portcullis_store::StoreError> {
    Ok(signin
        .auth
        .directory
        .get_settings()
        .await?
        .mfa
        .allows(portcullis_domain::MfaType::Webauthn))
}

const NOT_ALLOWED: &str =
    "Security keys and passkeys are not allowed by your organisation's MFA policy.";

// ----- second factor at sign-in -----

/// The pending sign-in at `stage`, for the JSON endpoints: 409 when there is none (the page
/// tells the person to start again), 503 when the stores cannot be reached.
async fn pending_json(
    signin: &Signin,
    req: &HttpRequest,
    stage: Stage,
) -> Result<(String, Pending, User), HttpResponse> {
    signin.pending_at(req, stage).await.map_err(|e| match e {
        PageError::Unavailable(cause) => {
            tracing::error!(error = %cause, "a security key ceremony could not start: a store is unreachable");
            json_error(StatusCode::SERVICE_UNAVAILABLE, "try again shortly")
        }
        _ => json_error(StatusCode::CONFLICT, "the sign-in expired; start again"),
    })
}

/// `POST /signin/mfa/webauthn/options`: a challenge for the person's registered keys.
pub async fn signin_options(signin: web::Data<Signin>, req: HttpRequest) -> HttpResponse {
    if !header_csrf_ok(&signin, &req) {
        return json_error(StatusCode::FORBIDDEN, "invalid CSRF token");
    }
    let Some(rp) = relying_party(&signin.auth.public_url) else {
        return json_error(
            StatusCode::NOT_FOUND,
            "security keys are not available on this site",
        );
    };
    let (id, _, user) = match pending_json(&signin, &req, Stage::Mfa).await {
        Ok(found) => found,
        Err(answer) => return answer,
    };
    match policy_allows(&signin).await {
        Ok(true) => {}
        Ok(false) => return json_error(StatusCode::FORBIDDEN, NOT_ALLOWED),
        Err(_) => return json_error(StatusCode::SERVICE_UNAVAILABLE, "try again shortly"),
    }
    let Ok(devices) = signin.auth.directory.list_mfa_devices(user.id).await else {
        return json_error(StatusCode::SERVICE_UNAVAILABLE, "try again shortly");
    };
    let keys: Vec<Passkey> = passkeys(&devices).into_iter().map(|(_, p)| p).collect();
    if keys.is_empty() {
        return json_error(
            StatusCode::CONFLICT,
            "no security key is registered for you",
        );
    }
    match rp.start_passkey_authentication(&keys) {
        Ok((challenge, state)) if put_state(&signin, AUTH_NS, &id, &state).await => {
            HttpResponse::Ok().json(challenge)
        }
        Ok(_) => json_error(StatusCode::SERVICE_UNAVAILABLE, "try again shortly"),
        Err(e) => {
            tracing::warn!(error = %e, "cannot start a WebAuthn authentication");
            json_error(
                StatusCode::INTERNAL_SERVER_ERROR,
                "cannot start the security key check",
            )
        }
    }
}

/// `POST /signin/mfa/webauthn/verify`: checks the signed challenge, then finishes sign-in.
pub async fn signin_verify(
    signin: web::Data<Signin>,
    req: HttpRequest,
    form: CheckedForm<CredentialForm>,
) -> Result<HttpResponse, PageError> {
    let rp = relying_party(&signin.auth.public_url).ok_or(PageError::Restart)?;
    let (id, pending, user) = signin.pending_at(&req, Stage::Mfa).await?;
    if !policy_allows(&signin).await? {
        signin.auth.metrics.mfa(MfaKind::Webauthn, false);
        return Err(challenge_failed(NOT_ALLOWED));
    }
    let state = take_state::<PasskeyAuthentication>(&signin, AUTH_NS, &id)
        .await
        .ok_or_else(|| challenge_failed("The security key check took too long. Try again."))?;
    let credential = serde_json::from_str::<PublicKeyCredential>(&form.credential)
        .map_err(|_| challenge_failed("The security key's answer could not be read. Try again."))?;
    let result = match rp.finish_passkey_authentication(&credential, &state) {
        Ok(r) => r,
        Err(e) => {
            tracing::info!(error = %e, user = %user.id, "a security key check failed");
            signin.auth.metrics.mfa(MfaKind::Webauthn, false);
            return Err(challenge_failed(
                "That security key was not accepted. Try again or use another method.",
            ));
        }
    };
    let devices = signin.auth.directory.list_mfa_devices(user.id).await?;
    let Some((device, mut key)) = passkeys(&devices)
        .into_iter()
        .find(|(_, p)| p.cred_id() == result.cred_id())
    else {
        signin.auth.metrics.mfa(MfaKind::Webauthn, false);
        return Err(challenge_failed(
            "That security key is not registered for you.",
        ));
    };
    let updated = key
        .update_credential(&result)
        .filter(|changed| *changed)
        .and_then(|_| serde_json::to_vec(&key).ok());
    signin
        .auth
        .directory
        .record_mfa_use(user.id, device.id, signin.auth.clock.now(), None, updated)
        .await?;
    signin.auth.metrics.mfa(MfaKind::Webauthn, true);
    let next = pending.next(Event::SecondFactor(Factor::SecurityKey));
    complete::advance(&signin, &req, &id, next, &user).await
}

// ----- registration -----

async fn start_registration(signin: &Signin, user: &User, state_key: &str) -> HttpResponse {
    let Some(rp) = relying_party(&signin.auth.public_url) else {
        return json_error(
            StatusCode::NOT_FOUND,
            "security keys are not available on this site",
        );
    };
    match policy_allows(signin).await {
        Ok(true) => {}
        Ok(false) => return json_error(StatusCode::FORBIDDEN, NOT_ALLOWED),
        Err(_) => return json_error(StatusCode::SERVICE_UNAVAILABLE, "try again shortly"),
    }
    let Ok(devices) = signin.auth.directory.list_mfa_devices(user.id).await else {
        return json_error(StatusCode::SERVICE_UNAVAILABLE, "try again shortly");
    };
    if devices
        .iter()
        .filter(|d| d.kind == MfaDeviceKind::Webauthn)
        .count()
        >= MfaDeviceKind::Webauthn.limit()
    {
        return json_error(
            StatusCode::CONFLICT,
            "you already have 6 security keys or passkeys; remove one first",
        );
    }
    let exclude = passkeys(&devices)
        .into_iter()
        .map(|(_, p)| p.cred_id().clone())
        .collect();
    match rp.start_passkey_registration(
        user.id.as_uuid(),
        user.user_name.as_str(),
        user.display_name.as_str(),
        Some(exclude),
    ) {
        Ok((challenge, state)) if put_state(signin, REG_NS, state_key, &state).await => {
            HttpResponse::Ok().json(challenge)
        }
        Ok(_) => json_error(StatusCode::SERVICE_UNAVAILABLE, "try again shortly"),
        Err(e) => {
            tracing::warn!(error = %e, "cannot start a WebAuthn registration");
            json_error(
                StatusCode::INTERNAL_SERVER_ERROR,
                "cannot start registering a security key",
            )
        }
    }
}

/// Verifies an attestation and stores the new key. `Err` carries the message for the person.
async fn finish_registration(
    signin: &Signin,
    user: &User,
    state_key: &str,
    form: &CredentialForm,
) -> Result<(), String> {
    let rp = relying_party(&signin.auth.public_url)
        .ok_or("Security keys are not available on this site.")?;
    if !policy_allows(signin)
        .await
        .map_err(|_| "The security key could not be saved. Try again shortly.")?
    {
        return Err(NOT_ALLOWED.into());
    }
    let state = take_state::<PasskeyRegistration>(signin, REG_NS, state_key)
        .await
        .ok_or("Registering the security key took too long. Try again.")?;
    let credential = serde_json::from_str::<RegisterPublicKeyCredential>(&form.credential)
        .map_err(|_| "The security key's answer could not be read. Try again.")?;
    let key = rp
        .finish_passkey_registration(&credential, &state)
        .map_err(|e| {
            tracing::info!(error = %e, user = %user.id, "a security key registration failed");
            "That security key could not be registered.".to_owned()
        })?;
    let secret =
        serde_json::to_vec(&key).map_err(|_| "The security key could not be saved.".to_owned())?;
    let device = NewMfaDevice {
        user_id: user.id,
        kind: MfaDeviceKind::Webauthn,
        name: device_name(form.name.as_deref())?,
        secret,
        credential_id: Some(credential_id(&key)),
    };
    match signin
        .auth
        .directory
        .add_mfa_device(Actor::User(user.id), device)
        .await
    {
        Ok(_) => Ok(()),
        Err(portcullis_store::StoreError::Conflict { message, .. }) => Err(format!("{message}.")),
        Err(_) => Err("The security key could not be saved. Try again shortly.".into()),
    }
}

/// `POST /signin/mfa/register/webauthn/options`: registering a first key during sign-in.
pub async fn enrol_options(signin: web::Data<Signin>, req: HttpRequest) -> HttpResponse {
    if !header_csrf_ok(&signin, &req) {
        return json_error(StatusCode::FORBIDDEN, "invalid CSRF token");
    }
    match pending_json(&signin, &req, Stage::MfaRegistration).await {
        Ok((id, _, user)) => start_registration(&signin, &user, &id).await,
        Err(answer) => answer,
    }
}

/// `POST /signin/mfa/register/webauthn`: stores the key and finishes sign-in.
pub async fn enrol_finish(
    signin: web::Data<Signin>,
    req: HttpRequest,
    form: CheckedForm<CredentialForm>,
) -> Result<HttpResponse, PageError> {
    let (id, pending, user) = signin.pending_at(&req, Stage::MfaRegistration).await?;
    finish_registration(&signin, &user, &id, &form)
        .await
        .map_err(registration_failed)?;
    let next = pending.next(Event::SecondFactor(Factor::SecurityKey));
    complete::advance(&signin, &req, &id, next, &user).await
}

/// `POST /portal/mfa-devices/webauthn/options`: a signed-in person adds a key.
pub async fn portal_options(signin: web::Data<Signin>, req: HttpRequest) -> HttpResponse {
    if !header_csrf_ok(&signin, &req) {
        return json_error(StatusCode::FORBIDDEN, "invalid CSRF token");
    }
    match signin.auth.current(&req).await {
        Ok(Some(c)) if c.is_recent(&signin.auth) => {
            start_registration(&signin, &c.user, c.session.id.as_str()).await
        }
        Ok(Some(_)) => HttpResponse::Unauthorized().json(serde_json::json!({
            "error": "for your security, sign in again before adding a security key",
            "signIn": crate::devices::STEP_UP_URL,
        })),
        Ok(None) => json_error(StatusCode::UNAUTHORIZED, "sign in again"),
        Err(_) => json_error(StatusCode::SERVICE_UNAVAILABLE, "try again shortly"),
    }
}

/// `POST /portal/mfa-devices/webauthn`: stores the key, back to the devices page.
pub async fn portal_finish(
    signin: web::Data<Signin>,
    req: HttpRequest,
    form: CheckedForm<CredentialForm>,
    current: SignedIn,
) -> Result<HttpResponse, PageError> {
    let current = crate::devices::recent(&signin, current)?;
    match finish_registration(&signin, &current.user, current.session.id.as_str(), &form).await {
        Ok(()) => Ok(see_other("/portal/mfa-devices?added=1", vec![])),
        Err(text) => {
            crate::devices::with_error(&signin, &req, &current, text, StatusCode::BAD_REQUEST).await
        }
    }
}

async fn script() -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/javascript; charset=utf-8")
        .insert_header(("Cache-Control", "no-cache"))
        .body(include_str!("../static/webauthn.js"))
}

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/static/webauthn.js", web::get().to(script))
        .route(
            "/signin/mfa/webauthn/options",
            web::post().to(signin_options),
        )
        .route("/signin/mfa/webauthn/verify", web::post().to(signin_verify))
        .route(
            "/signin/mfa/register/webauthn/options",
            web::post().to(enrol_options),
        )
        .route(
            "/signin/mfa/register/webauthn",
            web::post().to(enrol_finish),
        )
        .route(
            "/portal/mfa-devices/webauthn/options",
            web::post().to(portal_options),
        )
        .route(
            "/portal/mfa-devices/webauthn",
            web::post().to(portal_finish),
        );
}
