//! The verification code the MFA policy sends by email when a person has no MFA device: six
//! digits, valid for `code_lifetime`, kept only as a hash beside the pending sign-in, single use.
//! Its page is `crate::codes`; the first-sign-in one-time password is `crate::first_otp`.

use actix_web::http::StatusCode;
use portcullis_auth::PageError;
use portcullis_auth::metrics::SigninResult;
use portcullis_domain::{Actor, NewAuditEvent, User};
use portcullis_sessions::SessionError;
use rand::Rng;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::Signin;
use crate::delivery::{MessagePurpose, OutgoingMessage};
use crate::state::Pending;

const CODE_NS: &str = "signin-code";

fn code_hash(pending_id: &str, code: &str) -> Vec<u8> {
    Sha256::digest(format!("{pending_id}:{code}").as_bytes()).to_vec()
}

/// Generates a code for the pending sign-in `pending_id`, saves the sign-in (now at the code
/// stage) and emails the code.
#[tracing::instrument(skip_all)]
pub(crate) async fn send(
    signin: &Signin,
    pending_id: &str,
    pending: &Pending,
    user: &User,
) -> Result<(), PageError> {
    let code = format!("{:06}", rand::rng().random_range(0..1_000_000u32));
    let minutes = signin.config.code_lifetime.as_secs() / 60;
    let text = format!(
        "Hello {},\n\nYour verification code is: {code}\n\nEnter it on the sign-in page within {minutes} minutes.\nIf you did not try to sign in, change your password and tell your administrator.\n",
        user.display_name
    );
    signin
        .auth
        .sessions
        .put(
            CODE_NS,
            pending_id,
            &code_hash(pending_id, &code),
            signin.config.code_lifetime,
        )
        .await?;
    signin.save_pending(pending_id, pending).await?;
    let message = OutgoingMessage {
        to: user.email.clone(),
        to_name: Some(user.display_name.to_string()),
        subject: "Your Portcullis verification code".into(),
        text,
        purpose: MessagePurpose::VerificationCode,
    };
    if let Err(e) = signin.sender.send(message).await {
        tracing::error!(error = ?e, sender = %signin.sender.describe(), "could not deliver a sign-in code");
        return Err(PageError::sign_in_message(
            StatusCode::BAD_GATEWAY,
            "We could not send your code",
            "Portcullis could not deliver the email with your code. Try again later, or contact \
             your administrator.",
        ));
    }
    let event = NewAuditEvent::new(
        Actor::User(user.id),
        "signin.code-sent",
        format!("user:{}", user.id),
    )
    .with_details(serde_json::json!({ "purpose": format!("{:?}", pending.stage) }).to_string());
    if let Err(e) = signin.auth.directory.record_event(event).await {
        tracing::warn!(error = ?e, "could not audit a sent code");
    }
    signin.auth.metrics.signin(SigninResult::CodeSent);
    Ok(())
}

/// The hash of the code waiting for `pending_id`, if it is still there.
pub(crate) async fn stored(
    signin: &Signin,
    pending_id: &str,
) -> Result<Option<Vec<u8>>, SessionError> {
    signin.auth.sessions.get(CODE_NS, pending_id).await
}

/// Whether `typed` (spaces ignored) is the code whose hash is `stored`.
pub(crate) fn matches(pending_id: &str, typed: &str, stored: &[u8]) -> bool {
    let typed: String = typed.chars().filter(|c| !c.is_whitespace()).collect();
    typed.len() == 6 && bool::from(code_hash(pending_id, &typed).ct_eq(stored))
}

/// Uses the code up: of two requests with the right code at once, one gets `true`.
pub(crate) async fn take(signin: &Signin, pending_id: &str) -> Result<bool, SessionError> {
    Ok(signin
        .auth
        .sessions
        .take(CODE_NS, pending_id)
        .await?
        .is_some())
}

pub(crate) async fn forget(signin: &Signin, pending_id: &str) {
    let _ = signin.auth.sessions.delete(CODE_NS, pending_id).await;
}
