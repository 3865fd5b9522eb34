//! After the first factor: the MFA policy (prompt mode, what to do without a device, trusted
//! browsers), then the portal session itself; and signing out.

use actix_web::cookie::{Cookie, SameSite};
use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, Mac};
use portcullis_domain::{Actor, MfaPrompt, NewAuditEvent, NoDeviceAction, User, UserId};
use portcullis_sessions::{ClientInfo, NewSession};
use serde::Deserialize;
use sha2::Sha256;

use super::{Pending, Stage, forbidden_form, unavailable};
use crate::Idp;
use crate::pages::MessagePage;
use crate::web::{Csrf, DEVICE_COOKIE, SESSION_COOKIE, SIGNIN_COOKIE, page, see_other};

impl Idp {
    /// A cookie that marks this browser as trusted for `user` until it expires (MFA prompt
    /// "when the sign-in context changes"): user id, expiry, HMAC-SHA256 under the device key.
    fn trusted_device_cookie(&self, user: UserId) -> Cookie<'static> {
        let expires = self.clock.now().timestamp() + self.config.trusted_device.as_secs() as i64;
        let mut payload = user.as_uuid().as_bytes().to_vec();
        payload.extend_from_slice(&expires.to_be_bytes());
        let mut value = payload.clone();
        value.extend_from_slice(&self.device_mac(&payload));
        self.cookies.build(
            DEVICE_COOKIE,
            URL_SAFE_NO_PAD.encode(value),
            self.config.trusted_device.as_secs() as i64,
            SameSite::Lax,
        )
    }

    fn device_mac(&self, payload: &[u8]) -> Vec<u8> {
        let Ok(mut mac) = <Hmac<Sha256> as Mac>::new_from_slice(&self.device_key) else {
            return Vec::new();
        };
        mac.update(b"portcullis trusted device v1");
        mac.update(payload);
        mac.finalize().into_bytes().to_vec()
    }

    /// Whether this browser carries a valid trusted-device cookie for `user`.
    fn is_trusted_device(&self, req: &HttpRequest, user: UserId) -> bool {
        let Some(raw) = self.cookies.read(req, DEVICE_COOKIE) else {
            return false;
        };
        let Ok(bytes) = URL_SAFE_NO_PAD.decode(raw) else {
            return false;
        };
        if bytes.len() != 16 + 8 + 32 {
            return false;
        }
        let (payload, tag) = bytes.split_at(24);
        let Ok(mut mac) = <Hmac<Sha256> as Mac>::new_from_slice(&self.device_key) else {
            return false;
        };
        mac.update(b"portcullis trusted device v1");
        mac.update(payload);
        if mac.verify_slice(tag).is_err() {
            return false;
        }
        let mut exp = [0u8; 8];
        exp.copy_from_slice(&payload[16..24]);
        payload[..16] == *user.as_uuid().as_bytes()
            && i64::from_be_bytes(exp) > self.clock.now().timestamp()
    }
}

fn blocked(text: &str) -> HttpResponse {
    page(
        StatusCode::FORBIDDEN,
        &MessagePage {
            heading: "You cannot sign in yet",
            text: text.to_owned(),
            link: "/start",
            link_text: "Back to sign-in",
        },
        vec![],
    )
}

/// The first factor is done (password, or one-time password and a new password): apply the
/// MFA policy, then finish.
pub async fn after_first_factor(
    idp: &Idp,
    req: &HttpRequest,
    id: &str,
    mut pending: Pending,
    user: &User,
) -> HttpResponse {
    let settings = match idp.directory.get_settings().await {
        Ok(s) => s,
        Err(_) => return unavailable(),
    };
    let policy = &settings.mfa;
    let already_otp = pending.amr.iter().any(|m| m == "otp");
    if policy.prompt() == MfaPrompt::Never
        || (policy.prompt() == MfaPrompt::ContextChange && idp.is_trusted_device(req, user.id))
    {
        return finish(idp, req, id, pending, user).await;
    }
    let devices = match idp.directory.list_mfa_devices(user.id).await {
        Ok(d) => d,
        Err(_) => return unavailable(),
    };
    if devices.iter().any(|d| crate::mfa::usable(policy, d)) {
        return crate::mfa::start_challenge(idp, id, pending).await;
    }
    match policy.no_device() {
        NoDeviceAction::Allow => finish(idp, req, id, pending, user).await,
        NoDeviceAction::Block => blocked(
            "Your administrator requires multi-factor authentication, and no MFA device is registered for you. \
             Contact your administrator.",
        ),
        NoDeviceAction::RequireRegistration => {
            crate::mfa::start_registration(idp, id, pending).await
        }
        NoDeviceAction::EmailCode if already_otp => {
            // The emailed one-time password already proved control of the mailbox.
            finish(idp, req, id, pending, user).await
        }
        NoDeviceAction::EmailCode => {
            pending.stage = Stage::VerificationCode;
            super::codes::send_code(idp, id, pending, user).await
        }
    }
}

/// Creates the portal session (a new token: no fixation) and sends the person on.
#[tracing::instrument(skip_all)]
pub async fn finish(
    idp: &Idp,
    req: &HttpRequest,
    id: &str,
    pending: Pending,
    user: &User,
) -> HttpResponse {
    let settings = match idp.directory.get_settings().await {
        Ok(s) => s,
        Err(_) => return unavailable(),
    };
    let lifetime = settings.session_lifetime.seconds();
    let now = idp.clock.now();
    let new = NewSession {
        user_id: user.id,
        expires_at: now + chrono::Duration::seconds(lifetime as i64),
        amr: pending.amr.clone(),
        client: ClientInfo {
            ip: Some(idp.client_address(req)),
            user_agent: req
                .headers()
                .get(actix_web::http::header::USER_AGENT)
                .and_then(|v| v.to_str().ok())
                .map(|s| s.chars().take(256).collect()),
        },
    };
    let (token, session) = match idp.sessions.create_session(new).await {
        Ok(t) => t,
        Err(_) => return unavailable(),
    };
    idp.drop_pending(id).await;
    idp.metrics.session_created();
    idp.metrics.signin(crate::metrics::SigninResult::Success);
    let event = NewAuditEvent::new(Actor::User(user.id), "signin.success", format!("user:{}", user.id)).with_details(
        serde_json::json!({ "sessionId": session.id, "amr": pending.amr, "address": session.client.ip }).to_string(),
    );
    if let Err(e) = idp.directory.record_event(event).await {
        tracing::warn!(error = ?e, "could not audit a sign-in");
    }
    let mut cookies = vec![
        idp.cookies.build(
            SESSION_COOKIE,
            token.expose().to_owned(),
            lifetime as i64,
            SameSite::Lax,
        ),
        idp.cookies.removal(SIGNIN_COOKIE),
    ];
    if pending.amr.iter().any(|m| m == "mfa") && settings.mfa.prompt() == MfaPrompt::ContextChange {
        cookies.push(idp.trusted_device_cookie(user.id));
    }
    see_other(pending.return_to.as_deref().unwrap_or("/portal"), cookies)
}

#[derive(Debug, Deserialize)]
pub struct SignOutForm {
    csrf: String,
}

/// `POST /signout`: ends the session and forgets the cookie.
pub async fn sign_out(
    idp: web::Data<Idp>,
    req: HttpRequest,
    form: web::Form<SignOutForm>,
) -> HttpResponse {
    if !Csrf::verify(&idp.cookies, &req, &form.csrf) {
        return forbidden_form();
    }
    if let Some(raw) = idp.cookies.read(&req, SESSION_COOKIE) {
        let token = portcullis_sessions::SessionToken::from_presented(raw);
        if let Ok(Some(session)) = idp.sessions.get_session(&token).await {
            let event = NewAuditEvent::new(
                Actor::User(session.user_id),
                "signout",
                format!("user:{}", session.user_id),
            )
            .with_details(serde_json::json!({ "sessionId": session.id }).to_string());
            let _ = idp.directory.record_event(event).await;
        }
        if idp.sessions.revoke_token(&token).await.is_err() {
            return unavailable();
        }
    }
    see_other(
        "/start?signed_out=1",
        vec![idp.cookies.removal(SESSION_COOKIE)],
    )
}
