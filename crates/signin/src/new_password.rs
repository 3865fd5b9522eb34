//! Choosing a new password: after an administrator's one-time password, or after the emailed
//! one-time password of a first sign-in.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use portcullis_domain::Actor;
use serde::Deserialize;

use crate::pages::{NewPasswordPage, form_page};
use crate::password::Password;
use crate::state::{Event, Pending, Stage};
use crate::{Signin, complete};
use portcullis_auth::PageError;
use portcullis_auth::page::CheckedForm;

fn password_form(
    signin: &Signin,
    req: &HttpRequest,
    pending: &Pending,
    error: Option<String>,
    status: StatusCode,
) -> HttpResponse {
    let explanation = if pending.has("otp") {
        "Welcome! Choose the password you will use from now on."
    } else {
        "You signed in with a one-time password. Choose the password you will use from now on."
    };
    form_page(signin, req, status, |csrf| NewPasswordPage {
        csrf,
        username: pending.user_name.clone(),
        explanation,
        min_length: signin.passwords.min_length(),
        error,
    })
}

/// `GET /signin/new-password`.
pub async fn show(signin: web::Data<Signin>, req: HttpRequest) -> Result<HttpResponse, PageError> {
    let (_, pending, _) = signin.pending_at(&req, Stage::NewPassword).await?;
    Ok(password_form(&signin, &req, &pending, None, StatusCode::OK))
}

#[derive(Deserialize)]
pub struct NewPasswordForm {
    pub(crate) csrf: String,
    new_password: String,
    confirm: String,
}

/// `POST /signin/new-password`.
pub async fn submit(
    signin: web::Data<Signin>,
    req: HttpRequest,
    form: CheckedForm<NewPasswordForm>,
) -> Result<HttpResponse, PageError> {
    let (id, pending, user) = signin.pending_at(&req, Stage::NewPassword).await?;
    let form = form.into_inner();
    let refuse = |msg: String| {
        Ok(password_form(
            &signin,
            &req,
            &pending,
            Some(msg),
            StatusCode::BAD_REQUEST,
        ))
    };
    if form.new_password != form.confirm {
        return refuse("The two passwords do not match.".into());
    }
    let password = Password::new(form.new_password);
    if let Err(msg) = signin.passwords.check_policy(&password, &user) {
        return refuse(msg);
    }
    // The one-time password itself may not be reused as the new password.
    if let Ok(Some(old)) = signin.auth.directory.get_password(user.id).await
        && matches!(
            signin.passwords.verify(&password, Some(&old.hash)).await,
            crate::password::Verification::Match { .. }
        )
    {
        return refuse("Choose a password different from the one-time password.".into());
    }
    let hash = signin
        .passwords
        .hash(&password)
        .await
        .map_err(PageError::unavailable)?;
    signin
        .auth
        .directory
        .set_password(Actor::User(user.id), user.id, hash, false)
        .await?;
    let mfa = signin.mfa_policy(&req, user.id).await?;
    let next = pending.next(Event::NewPasswordSet { mfa });
    complete::advance(&signin, &req, &id, next, &user).await
}
