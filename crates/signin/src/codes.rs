//! `/signin/code`: the page of the verification code the MFA policy emails when a person has no
//! MFA device (the code itself is `crate::email_code`). A limited number of tries, counted
//! before each check.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use portcullis_auth::PageError;
use portcullis_auth::metrics::MfaKind;
use portcullis_auth::page::CheckedForm;
use serde::Deserialize;

use crate::pages::{CodePage, form_page};
use crate::state::{Event, Stage, Transition, Try};
use crate::{Signin, complete, email_code};

fn code_form(
    signin: &Signin,
    req: &HttpRequest,
    error: Option<String>,
    status: StatusCode,
) -> HttpResponse {
    form_page(signin, req, status, |csrf| CodePage {
        csrf,
        heading: "Verification code",
        explanation: "We emailed you a verification code. Enter it below to finish signing in."
            .to_owned(),
        action: "/signin/code",
        error,
    })
}

/// `GET /signin/code`.
pub async fn code_page(
    signin: web::Data<Signin>,
    req: HttpRequest,
) -> Result<HttpResponse, PageError> {
    signin.load_at(&req, Stage::VerificationCode).await?;
    Ok(code_form(&signin, &req, None, StatusCode::OK))
}

#[derive(Deserialize)]
pub struct CodeForm {
    pub(crate) csrf: String,
    code: String,
}

/// `POST /signin/code`.
pub async fn submit_code(
    signin: web::Data<Signin>,
    req: HttpRequest,
    form: CheckedForm<CodeForm>,
) -> Result<HttpResponse, PageError> {
    let (id, pending) = signin.load_at(&req, Stage::VerificationCode).await?;
    let user_id = pending.user_id.ok_or(PageError::Restart)?;
    let Some(stored) = email_code::stored(&signin, &id).await? else {
        signin.drop_pending(&id).await;
        return Err(PageError::Restart);
    };
    let left = match signin.reserve_try(&id, &pending).await? {
        Try::Go { left_if_wrong } => left_if_wrong,
        Try::UsedUp => return Err(signin.start_over(&id).await),
    };
    if !email_code::matches(&id, &form.code, &stored) {
        signin.auth.metrics.mfa(MfaKind::Email, false);
        return match pending.next(Event::WrongCode { tries_left: left }) {
            Transition::Retry { tries_left, .. } => Ok(code_form(
                &signin,
                &req,
                Some(format!("That code is not right. {tries_left} tries left.")),
                StatusCode::UNAUTHORIZED,
            )),
            _ => Err(signin.start_over(&id).await),
        };
    }
    if !email_code::take(&signin, &id).await? {
        return Err(PageError::Restart);
    }
    let user = signin.auth.directory.get_user(user_id).await?;
    if !user.enabled {
        return Err(PageError::Restart);
    }
    signin.auth.metrics.mfa(MfaKind::Email, true);
    let next = pending.next(Event::CodeVerified);
    complete::advance(&signin, &req, &id, next, &user).await
}
