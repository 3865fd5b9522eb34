//! Choosing a new password: after an administrator's one-time password, or after the emailed
//! one-time password of a first sign-in.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use portcullis_domain::Actor;
use serde::Deserialize;

use crate::Signin;
use crate::flow::{Pending, Stage, forbidden_form, unavailable};
use crate::pages::NewPasswordPage;
use crate::password::Password;
use portcullis_auth::web::{Csrf, page};

fn form_page(
    signin: &Signin,
    req: &HttpRequest,
    pending: &Pending,
    error: Option<String>,
    status: StatusCode,
) -> HttpResponse {
    let csrf = Csrf::for_form(&signin.auth.cookies, req);
    let explanation = if pending.amr.iter().any(|m| m == "otp") {
        "Welcome! Choose the password you will use from now on."
    } else {
        "You signed in with a one-time password. Choose the password you will use from now on."
    };
    let body = NewPasswordPage {
        csrf: csrf.token,
        username: pending.user_name.clone(),
        explanation,
        min_length: signin.passwords.min_length(),
        error,
    };
    page(status, &body, csrf.cookie.into_iter().collect())
}

/// `GET /signin/new-password`.
pub async fn show(signin: web::Data<Signin>, req: HttpRequest) -> HttpResponse {
    match crate::mfa::pending_at(&signin, &req, Stage::NewPassword).await {
        Ok((_, pending, _)) => form_page(&signin, &req, &pending, None, StatusCode::OK),
        Err(answer) => answer,
    }
}

#[derive(Deserialize)]
pub struct NewPasswordForm {
    csrf: String,
    new_password: String,
    confirm: String,
}

/// `POST /signin/new-password`.
pub async fn submit(
    signin: web::Data<Signin>,
    req: HttpRequest,
    form: web::Form<NewPasswordForm>,
) -> HttpResponse {
    if !Csrf::verify(&signin.auth.cookies, &req, &form.csrf) {
        return forbidden_form();
    }
    let (id, pending, user) = match crate::mfa::pending_at(&signin, &req, Stage::NewPassword).await
    {
        Ok(found) => found,
        Err(answer) => return answer,
    };
    let form = form.into_inner();
    if form.new_password != form.confirm {
        return form_page(
            &signin,
            &req,
            &pending,
            Some("The two passwords do not match.".into()),
            StatusCode::BAD_REQUEST,
        );
    }
    let password = Password::new(form.new_password);
    if let Err(msg) = signin.passwords.check_policy(&password, &user) {
        return form_page(&signin, &req, &pending, Some(msg), StatusCode::BAD_REQUEST);
    }
    // The one-time password itself may not be reused as the new password.
    if let Ok(Some(old)) = signin.auth.directory.get_password(user.id).await
        && matches!(
            signin.passwords.verify(&password, Some(&old.hash)).await,
            crate::password::Verification::Match { .. }
        )
    {
        return form_page(
            &signin,
            &req,
            &pending,
            Some("Choose a password different from the one-time password.".into()),
            StatusCode::BAD_REQUEST,
        );
    }
    let Ok(hash) = signin.passwords.hash(&password).await else {
        return unavailable();
    };
    if signin
        .auth
        .directory
        .set_password(Actor::User(user.id), user.id, hash, false)
        .await
        .is_err()
    {
        return unavailable();
    }
    crate::complete::after_first_factor(&signin, &req, &id, pending, &user).await
}
