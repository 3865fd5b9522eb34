//! After the first factor: the MFA policy (prompt mode, what to do without a device, trusted
//! browsers), then the portal session itself; and signing out.

use actix_web::cookie::{Cookie, SameSite};
use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use portcullis_auth::derive::{hmac_sha256, hmac_sha256_verify};
use portcullis_domain::{Actor, MfaPrompt, NewAuditEvent, NoDeviceAction, User, UserId};
use portcullis_sessions::{ClientInfo, NewSession};
use serde::Deserialize;

use crate::Signin;
use crate::flow::{Pending, Stage, forbidden_form, unavailable};
use crate::pages::MessagePage;
use portcullis_auth::web::{Csrf, DEVICE_COOKIE, SESSION_COOKIE, SIGNIN_COOKIE, page, see_other};

/// What the trusted-device MAC covers besides the payload.
const DEVICE_LABEL: &[u8] = b"portcullis trusted device v1";

impl Signin {
    /// A cookie that marks this browser as trusted for `user` until it expires (MFA prompt
    /// "when the sign-in context changes"): user id, expiry, HMAC-SHA256 under the device key.
    fn trusted_device_cookie(&self, user: UserId) -> Cookie<'static> {
        let expires =
            self.auth.clock.now().timestamp() + self.config.trusted_device.as_secs() as i64;
        let mut payload = user.as_uuid().as_bytes().to_vec();
        payload.extend_from_slice(&expires.to_be_bytes());
        let mut value = payload.clone();
        value.extend_from_slice(&self.device_mac(&payload));
        self.auth.cookies.build(
            DEVICE_COOKIE,
            URL_SAFE_NO_PAD.encode(value),
            self.config.trusted_device.as_secs() as i64,
            SameSite::Lax,
        )
    }

    fn device_mac(&self, payload: &[u8]) -> [u8; 32] {
        hmac_sha256(&self.device_key, &[DEVICE_LABEL, payload])
    }

    /// Whether this browser carries a valid trusted-device cookie for `user`.
    fn is_trusted_device(&self, req: &HttpRequest, user: UserId) -> bool {
        let Some(raw) = self.auth.cookies.read(req, DEVICE_COOKIE) else {
            return false;
        };
        let Ok(bytes) = URL_SAFE_NO_PAD.decode(raw) else {
            return false;
        };
        if bytes.len() != 16 + 8 + 32 {
            return false;
        }
        let (payload, tag) = bytes.split_at(24);
        if !hmac_sha256_verify(&self.device_key, &[DEVICE_LABEL, payload], tag) {
            return false;
        }
        let mut exp = [0u8; 8];
        exp.copy_from_slice(&payload[16..24]);
        payload[..16] == *user.as_uuid().as_bytes()
            && i64::from_be_bytes(exp) > self.auth.clock.now().timestamp()
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
    signin: &Signin,
    req: &HttpRequest,
    id: &str,
    mut pending: Pending,
    user: &User,
) -> HttpResponse {
    let settings = match signin.auth.directory.get_settings().await {
        Ok(s) => s,
        Err(_) => return unavailable(),
    };
    let policy = &settings.mfa;
    let already_otp = pending.amr.iter().any(|m| m == "otp");
    if policy.prompt() == MfaPrompt::Never
        || (policy.prompt() == MfaPrompt::ContextChange && signin.is_trusted_device(req, user.id))
    {
        return finish(signin, req, id, pending, user).await;
    }
    let devices = match signin.auth.directory.list_mfa_devices(user.id).await {
        Ok(d) => d,
        Err(_) => return unavailable(),
    };
    if devices.iter().any(|d| crate::mfa::usable(policy, d)) {
        return crate::mfa::start_challenge(signin, id, pending).await;
    }
    match policy.no_device() {
        NoDeviceAction::Allow => finish(signin, req, id, pending, user).await,
        NoDeviceAction::Block => blocked(
            "Your administrator requires multi-factor authentication, and no MFA device is registered for you. \
             Contact your administrator.",
        ),
        NoDeviceAction::RequireRegistration => {
            crate::mfa::start_registration(signin, id, pending).await
        }
        NoDeviceAction::EmailCode if already_otp => {
            // The emailed one-time password already proved control of the mailbox.
            finish(signin, req, id, pending, user).await
        }
        NoDeviceAction::EmailCode => {
            pending.stage = Stage::VerificationCode;
            crate::codes::send_code(signin, id, pending, user).await
        }
    }
}

/// Creates the portal session (a new token: no fixation) and sends the person on.
#[tracing::instrument(skip_all)]
pub async fn finish(
    signin: &Signin,
    req: &HttpRequest,
    id: &str,
    pending: Pending,
    user: &User,
) -> HttpResponse {
    let settings = match signin.auth.directory.get_settings().await {
        Ok(s) => s,
        Err(_) => return unavailable(),
    };
    let lifetime = settings.session_lifetime.seconds();
    let now = signin.auth.clock.now();
    let new = NewSession {
        user_id: user.id,
        expires_at: now + chrono::Duration::seconds(lifetime as i64),
        amr: pending.amr.clone(),
        client: ClientInfo {
            ip: Some(signin.auth.client_address(req)),
            user_agent: req
                .headers()
                .get(actix_web::http::header::USER_AGENT)
                .and_then(|v| v.to_str().ok())
                .map(|s| s.chars().take(256).collect()),
        },
    };
    let (token, session) = match signin.auth.sessions.create_session(new).await {
        Ok(t) => t,
        Err(_) => return unavailable(),
    };
    signin.drop_pending(id).await;
    signin.auth.metrics.session_created();
    signin
        .auth
        .metrics
        .signin(portcullis_auth::metrics::SigninResult::Success);
    let event = NewAuditEvent::new(Actor::User(user.id), "signin.success", format!("user:{}", user.id)).with_details(
        serde_json::json!({ "sessionId": session.id, "amr": pending.amr, "address": session.client.ip }).to_string(),
    );
    if let Err(e) = signin.auth.directory.record_event(event).await {
        tracing::warn!(error = ?e, "could not audit a sign-in");
    }
    let mut cookies = vec![
        signin.auth.cookies.build(
            SESSION_COOKIE,
            token.expose().to_owned(),
            lifetime as i64,
            SameSite::Lax,
        ),
        signin.auth.cookies.removal(SIGNIN_COOKIE),
    ];
    if pending.amr.iter().any(|m| m == "mfa") && settings.mfa.prompt() == MfaPrompt::ContextChange {
        cookies.push(signin.trusted_device_cookie(user.id));
    }
    see_other(pending.return_to.as_deref().unwrap_or("/portal"), cookies)
}

#[derive(Debug, Deserialize)]
pub struct SignOutForm {
    csrf: String,
}

/// `POST /signout`: ends the session and forgets the cookie.
pub async fn sign_out(
    signin: web::Data<Signin>,
    req: HttpRequest,
    form: web::Form<SignOutForm>,
) -> HttpResponse {
    if !Csrf::verify(&signin.auth.cookies, &req, &form.csrf) {
        return forbidden_form();
    }
    if let Some(raw) = signin.auth.cookies.read(&req, SESSION_COOKIE) {
        let token = portcullis_sessions::SessionToken::from_presented(raw);
        if let Ok(Some(session)) = signin.auth.sessions.get_session(&token).await {
            let event = NewAuditEvent::new(
                Actor::User(session.user_id),
                "signout",
                format!("user:{}", session.user_id),
            )
            .with_details(serde_json::json!({ "sessionId": session.id }).to_string());
            let _ = signin.auth.directory.record_event(event).await;
        }
        if signin.auth.sessions.revoke_token(&token).await.is_err() {
            return unavailable();
        }
    }
    see_other(
        "/start?signed_out=1",
        vec![signin.auth.cookies.removal(SESSION_COOKIE)],
    )
}
