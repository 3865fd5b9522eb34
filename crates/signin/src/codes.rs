//! The verification code the MFA policy sends by email when a person has no MFA device. Six
//! digits, valid for ten minutes, stored only as a hash, a limited number of tries (counted
//! before each check). The first-sign-in one-time password is `crate::first_otp`.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use portcullis_domain::{Actor, NewAuditEvent, User};
use rand::Rng;
use serde::Deserialize;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::Signin;
use crate::delivery::{MessagePurpose, OutgoingMessage};
use crate::flow::{Pending, Stage, Try, forbidden_form, restart, unavailable};
use crate::pages::{CodePage, MessagePage};
use portcullis_auth::metrics::{MfaKind, SigninResult};
use portcullis_auth::web::{Csrf, page, see_other};

const CODE_NS: &str = "signin-code";

fn code_hash(pending_id: &str, code: &str) -> Vec<u8> {
    Sha256::digest(format!("{pending_id}:{code}").as_bytes()).to_vec()
}

/// Generates a code for this pending sign-in, emails it, and shows the code page.
#[tracing::instrument(skip_all)]
pub async fn send_code(
    signin: &Signin,
    pending_id: &str,
    pending: Pending,
    user: &User,
) -> HttpResponse {
    let code = format!("{:06}", rand::rng().random_range(0..1_000_000u32));
    let minutes = signin.config.code_lifetime.as_secs() / 60;
    let (subject, purpose, text) = (
        "Your Portcullis verification code",
        MessagePurpose::VerificationCode,
        format!(
            "Hello {},\n\nYour verification code is: {code}\n\nEnter it on the sign-in page within {minutes} minutes.\nIf you did not try to sign in, change your password and tell your administrator.\n",
            user.display_name
        ),
    );
    if signin
        .auth
        .sessions
        .put(
            CODE_NS,
            pending_id,
            &code_hash(pending_id, &code),
            signin.config.code_lifetime,
        )
        .await
        .is_err()
        || signin.save_pending(pending_id, &pending).await.is_err()
    {
        return unavailable();
    }
    let message = OutgoingMessage {
        to: user.email.clone(),
        to_name: Some(user.display_name.to_string()),
        subject: subject.into(),
        text,
        purpose,
    };
    if let Err(e) = signin.sender.send(message).await {
        tracing::error!(error = ?e, sender = %signin.sender.describe(), "could not deliver a sign-in code");
        return page(
            StatusCode::BAD_GATEWAY,
            &MessagePage {
                heading: "We could not send your code",
                text: "Portcullis could not deliver the email with your code. Try again later, or contact your administrator.".into(),
                link: "/start",
                link_text: "Start again",
            },
            vec![],
        );
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
    see_other("/signin/code", vec![])
}

fn code_form(
    signin: &Signin,
    req: &HttpRequest,
    error: Option<String>,
    status: StatusCode,
) -> HttpResponse {
    let csrf = Csrf::for_form(&signin.auth.cookies, req);
    let (heading, explanation) = (
        "Verification code",
        "We emailed you a verification code. Enter it below to finish signing in.".to_owned(),
    );
    let body = CodePage {
        csrf: csrf.token,
        heading,
        explanation,
        action: "/signin/code",
        error,
    };
    page(status, &body, csrf.cookie.into_iter().collect())
}

fn is_code_stage(s: Stage) -> bool {
    s == Stage::VerificationCode
}

/// `GET /signin/code`.
pub async fn code_page(signin: web::Data<Signin>, req: HttpRequest) -> HttpResponse {
    match signin.try_load_pending(&req).await {
        Ok(Some((_, p))) if is_code_stage(p.stage) => {
            code_form(&signin, &req, None, StatusCode::OK)
        }
        Ok(_) => restart(),
        Err(_) => unavailable(),
    }
}

#[derive(Deserialize)]
pub struct CodeForm {
    csrf: String,
    code: String,
}

/// `POST /signin/code`.
pub async fn submit_code(
    signin: web::Data<Signin>,
    req: HttpRequest,
    form: web::Form<CodeForm>,
) -> HttpResponse {
    if !Csrf::verify(&signin.auth.cookies, &req, &form.csrf) {
        return forbidden_form();
    }
    let (id, mut pending) = match signin.try_load_pending(&req).await {
        Ok(Some(found)) => found,
        Ok(None) => return restart(),
        Err(_) => return unavailable(),
    };
    let Some(user_id) = pending.user_id.filter(|_| is_code_stage(pending.stage)) else {
        return restart();
    };
    let stored = match signin.auth.sessions.get(CODE_NS, &id).await {
        Ok(Some(h)) => h,
        Ok(None) => {
            signin.drop_pending(&id).await;
            return restart();
        }
        Err(_) => return unavailable(),
    };
    let left = match signin.reserve_try(&id, &pending).await {
        Ok(Try::Go { left_if_wrong }) => left_if_wrong,
        Ok(Try::UsedUp) => return start_over(&signin, &id).await,
        Err(_) => return unavailable(),
    };
    let typed: String = form.code.chars().filter(|c| !c.is_whitespace()).collect();
    let ok = typed.len() == 6 && bool::from(code_hash(&id, &typed).ct_eq(&stored));
    if !ok {
        signin.auth.metrics.mfa(MfaKind::Email, false);
        if left == 0 {
            return start_over(&signin, &id).await;
        }
        return code_form(
            &signin,
            &req,
            Some(format!("That code is not right. {left} tries left.")),
            StatusCode::UNAUTHORIZED,
        );
    }
    // Single use: of two requests with the right code at once, one goes on.
    match signin.auth.sessions.take(CODE_NS, &id).await {
        Ok(Some(_)) => {}
        Ok(None) => return restart(),
        Err(_) => return unavailable(),
    }
    let user = match signin.auth.directory.get_user(user_id).await {
        Ok(u) if u.enabled => u,
        Ok(_) => return restart(),
        Err(_) => return unavailable(),
    };
    signin.auth.metrics.mfa(MfaKind::Email, true);
    pending.amr.extend(["otp".to_owned(), "mfa".to_owned()]);
    crate::complete::finish(&signin, &req, &id, pending, &user).await
}

/// The tries are used up: the sign-in and its code are forgotten.
async fn start_over(signin: &Signin, id: &str) -> HttpResponse {
    signin.drop_pending(id).await;
    let _ = signin.auth.sessions.delete(CODE_NS, id).await;
    see_other("/start?restart=1", vec![])
}
