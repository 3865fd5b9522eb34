//! The emailed one-time password of a first sign-in (a person created without a password, with
//! `emailOtp` on). The person types it where a password goes, as the sign-in guide says; then
//! they choose a password.
//!
//! To a client, a name without a password looks exactly like an unknown name or a wrong
//! password: every failed attempt gets the same answer and does the same store work, whatever
//! the name is. Only the mailbox of a real passwordless person receives a code, sent in the
//! background so the answer's timing does not depend on it. At most one code is live per name
//! (a new one only after it expires), and each is single-use.

use std::sync::Arc;

use portcullis_domain::{Actor, NewAuditEvent, User};
use rand::Rng;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::Signin;
use crate::delivery::{MessagePurpose, OutgoingMessage};
use portcullis_auth::metrics::SigninResult;

const NS: &str = "first-otp";

fn key(user_key: &str) -> String {
    hex::encode(Sha256::digest(user_key.as_bytes()))
}

fn code_hash(user_key: &str, code: &str) -> Vec<u8> {
    Sha256::digest(format!("portcullis first otp v1\0{user_key}\0{code}").as_bytes()).to_vec()
}

/// Whether `typed` is the live one-time password of `user_key` (a lower-cased user name); a
/// match uses it up. Of two requests with the same code at once, one wins.
pub(super) async fn redeem(
    signin: &Signin,
    user_key: &str,
    typed: &str,
) -> Result<bool, portcullis_sessions::SessionError> {
    let typed: String = typed.chars().filter(|c| !c.is_whitespace()).collect();
    if typed.len() != 6 || !typed.bytes().all(|b| b.is_ascii_digit()) {
        return Ok(false);
    }
    let Some(stored) = signin.auth.sessions.get(NS, &key(user_key)).await? else {
        return Ok(false);
    };
    if !bool::from(code_hash(user_key, &typed).ct_eq(&stored)) {
        return Ok(false);
    }
    Ok(signin
        .auth
        .sessions
        .take(NS, &key(user_key))
        .await?
        .is_some())
}

/// After a failed attempt of `user_key` while emailed one-time passwords are on: makes sure a
/// code is live for the name — for every name, so the work does not tell names apart — and, when
/// `recipient` is a person without a password, emails it to them in the background.
pub(super) async fn offer(
    signin: &Arc<Signin>,
    user_key: &str,
    recipient: Option<&User>,
) -> Result<(), portcullis_sessions::SessionError> {
    let code = format!("{:06}", rand::rng().random_range(0..1_000_000u32));
    let fresh = signin
        .auth
        .sessions
        .put_if_absent(
            NS,
            &key(user_key),
            &code_hash(user_key, &code),
            signin.config.code_lifetime,
        )
        .await?;
    if let (true, Some(user)) = (fresh, recipient) {
        let signin = signin.clone();
        let user = user.clone();
        tokio::spawn(async move { send(&signin, &user, &code).await });
    }
    Ok(())
}

async fn send(signin: &Signin, user: &User, code: &str) {
    let minutes = signin.config.code_lifetime.as_secs() / 60;
    let message = OutgoingMessage {
        to: user.email.clone(),
        to_name: Some(user.display_name.to_string()),
        subject: "Your one-time password for Portcullis".into(),
        text: format!(
            "Hello {},\n\nYour one-time password is: {code}\n\nEnter it as your password on the sign-in page within {minutes} minutes; you will then choose a password.\nIf you did not try to sign in, you can ignore this message.\n",
            user.display_name
        ),
        purpose: MessagePurpose::OneTimePassword,
    };
    if let Err(e) = signin.sender.send(message).await {
        tracing::error!(error = ?e, sender = %signin.sender.describe(), "could not deliver a first sign-in one-time password");
        return;
    }
    let event = NewAuditEvent::new(
        Actor::User(user.id),
        "signin.code-sent",
        format!("user:{}", user.id),
    )
    .with_details(serde_json::json!({ "purpose": "FirstSignIn" }).to_string());
    if let Err(e) = signin.auth.directory.record_event(event).await {
        tracing::warn!(error = ?e, "could not audit a sent code");
    }
    signin.auth.metrics.signin(SigninResult::CodeSent);
}
