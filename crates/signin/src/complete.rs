//! Answering the sign-in's transitions (`crate::state`): the MFA policy's inputs (prompt mode,
//! what to do without a device, trusted browsers), saving the pending sign-in and sending the
//! browser to its next stage, then the portal session itself; and signing out.

use actix_web::cookie::{Cookie, SameSite};
use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use portcullis_auth::PageError;
use portcullis_auth::derive::{hmac_sha256, hmac_sha256_verify};
use portcullis_auth::page::CheckedForm;
use portcullis_auth::web::{DEVICE_COOKIE, SESSION_COOKIE, SIGNIN_COOKIE, see_other};
use portcullis_domain::{Actor, MfaPrompt, NewAuditEvent, User, UserId};
use portcullis_sessions::{ClientInfo, NewSession};
use portcullis_store::StoreError;
use serde::Deserialize;

use crate::state::{Pending, Policy, Stage, Transition, usable};
use crate::{Signin, email_code, totp};

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

/// The policy requires a device, the person has none and may not register one (403).
fn blocked() -> PageError {
    PageError::Message {
        status: StatusCode::FORBIDDEN,
        heading: "You cannot sign in yet",
        text: "Your administrator requires multi-factor authentication, and no MFA device is \
               registered for you. Contact your administrator."
            .into(),
        link: "/start",
        link_text: "Back to sign-in",
    }
}

impl Signin {
    /// What the MFA policy says for `user` on this browser; the devices are only listed when
    /// the policy prompts at all.
    pub(crate) async fn mfa_policy(
        &self,
        req: &HttpRequest,
        user: UserId,
    ) -> Result<Policy, StoreError> {
        let settings = self.auth.directory.get_settings().await?;
        let policy = &settings.mfa;
        let trusted_device =
            policy.prompt() == MfaPrompt::ContextChange && self.is_trusted_device(req, user);
        let usable_device = Policy::prompts(policy.prompt(), trusted_device)
            && self
                .auth
                .directory
                .list_mfa_devices(user)
                .await?
                .iter()
                .any(|d| usable(policy, d));
        Ok(Policy {
            prompt: policy.prompt(),
            no_device: policy.no_device(),
            trusted_device,
            usable_device,
        })
    }

    /// Forgets the pending sign-in and what waits beside it (an emailed code, a secret being
    /// registered): its tries are used up.
    pub(crate) async fn start_over(&self, id: &str) -> PageError {
        self.drop_pending(id).await;
        email_code::forget(self, id).await;
        let _ = self
            .auth
            .sessions
            .delete(totp::ENROL_NS, &totp::signin_key(id))
            .await;
        PageError::Restart
    }
}

/// Answers a [`Transition`] of the pending sign-in `id`: saves it once and sends the browser to
/// its next stage (emailing a code first when that is the stage), creates the portal session,
/// or refuses. A `Retry` is answered by the page that shows the form, which has its message.
pub(crate) async fn advance(
    signin: &Signin,
    req: &HttpRequest,
    id: &str,
    transition: Transition,
    user: &User,
) -> Result<HttpResponse, PageError> {
    match transition {
        Transition::To(pending) if pending.stage == Stage::VerificationCode => {
            email_code::send(signin, id, &pending, user).await?;
            Ok(see_other(pending.stage.page(), vec![]))
        }
        Transition::To(pending) => {
            signin.save_pending(id, &pending).await?;
            Ok(see_other(pending.stage.page(), vec![]))
        }
        Transition::Done(pending) => finish(signin, req, id, pending, user).await,
        Transition::Blocked => Err(blocked()),
        Transition::StartOver => Err(signin.start_over(id).await),
        Transition::Retry { .. } => Err(PageError::Restart),
    }
}

/// Creates the portal session (a new token: no fixation) and sends the person on.
#[tracing::instrument(skip_all)]
async fn finish(
    signin: &Signin,
    req: &HttpRequest,
    id: &str,
    pending: Pending,
    user: &User,
) -> Result<HttpResponse, PageError> {
    let settings = signin.auth.directory.get_settings().await?;
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
    let (token, session) = signin.auth.sessions.create_session(new).await?;
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
    if pending.has("mfa") && settings.mfa.prompt() == MfaPrompt::ContextChange {
        cookies.push(signin.trusted_device_cookie(user.id));
    }
    Ok(see_other(
        pending.return_to.as_deref().unwrap_or("/portal"),
        cookies,
    ))
}

#[derive(Debug, Deserialize)]
pub struct SignOutForm {
    pub(crate) csrf: String,
}

/// `POST /signout`: ends the session and forgets the cookie.
pub async fn sign_out(
    signin: web::Data<Signin>,
    req: HttpRequest,
    _form: CheckedForm<SignOutForm>,
) -> Result<HttpResponse, PageError> {
    if let Some(token) = signin.auth.session_token(&req) {
        if let Ok(Some(session)) = signin.auth.sessions.get_session(&token).await {
            let event = NewAuditEvent::new(
                Actor::User(session.user_id),
                "signout",
                format!("user:{}", session.user_id),
            )
            .with_details(serde_json::json!({ "sessionId": session.id }).to_string());
            let _ = signin.auth.directory.record_event(event).await;
        }
        signin.auth.sessions.revoke_token(&token).await?;
    }
    Ok(see_other(
        "/start?signed_out=1",
        vec![signin.auth.cookies.removal(SESSION_COOKIE)],
    ))
}
