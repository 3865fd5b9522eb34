//! The pages of this surface (askama templates in `templates/`, extending the shared `base.html`).

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse};
use askama::Template;
use portcullis_auth::web::{Csrf, page};

use crate::Signin;

/// A page with a form: `body` gets the browser's CSRF token for the form's `csrf` field (a new
/// token's cookie is set with the page).
pub(crate) fn form_page<T: Template>(
    signin: &Signin,
    req: &HttpRequest,
    status: StatusCode,
    body: impl FnOnce(String) -> T,
) -> HttpResponse {
    let csrf = Csrf::for_form(&signin.auth.cookies, req);
    page(status, &body(csrf.token), csrf.cookie.into_iter().collect())
}

#[derive(Debug, Template)]
#[template(path = "signin_username.html")]
pub struct UsernamePage {
    pub csrf: String,
    pub username: String,
    pub return_to: Option<String>,
    pub notice: Option<String>,
    pub error: Option<String>,
}

#[derive(Debug, Template)]
#[template(path = "signin_password.html")]
pub struct PasswordPage {
    pub csrf: String,
    pub username: String,
    pub error: Option<String>,
}

#[derive(Debug, Template)]
#[template(path = "signin_code.html")]
pub struct CodePage {
    pub csrf: String,
    pub heading: &'static str,
    pub explanation: String,
    pub action: &'static str,
    pub error: Option<String>,
}

#[derive(Debug, Template)]
#[template(path = "signin_new_password.html")]
pub struct NewPasswordPage {
    pub csrf: String,
    pub username: String,
    pub explanation: &'static str,
    pub min_length: usize,
    pub error: Option<String>,
}

/// The second-factor challenge at sign-in.
#[derive(Debug, Template)]
#[template(path = "signin_mfa.html")]
pub struct MfaChallengePage {
    pub csrf: String,
    pub username: String,
    /// The person has an authenticator app the policy allows: show the code form.
    pub totp: bool,
    /// The policy allows security keys and the person has one: show the WebAuthn button.
    pub webauthn: bool,
    pub error: Option<String>,
}

/// Registering a first MFA device during sign-in (policy `REQUIRE_REGISTRATION`).
#[derive(Debug, Template)]
#[template(path = "signin_mfa_register.html")]
pub struct MfaRegistrationPage {
    pub csrf: String,
    pub username: String,
    /// Present when the policy allows authenticator apps.
    pub totp: Option<crate::totp::Enrolment>,
    /// The policy allows security keys: show the WebAuthn button.
    pub webauthn: bool,
    pub error: Option<String>,
}

/// One row of the MFA devices page.
#[derive(Debug, Clone)]
pub struct DeviceEntry {
    pub id: String,
    pub name: String,
    pub kind: &'static str,
    pub created: String,
    pub last_used: String,
}

/// `/portal/mfa-devices`.
#[derive(Debug, Template)]
#[template(path = "portal_devices.html")]
pub struct DevicesPage {
    pub csrf: String,
    pub display_name: String,
    pub devices: Vec<DeviceEntry>,
    pub notice: Option<String>,
    pub error: Option<String>,
    pub totp_allowed: bool,
    pub totp_limit: usize,
    pub webauthn: bool,
}

/// `/portal/mfa-devices/totp/new`.
#[derive(Debug, Template)]
#[template(path = "portal_totp_new.html")]
pub struct NewTotpPage {
    pub csrf: String,
    pub display_name: String,
    pub totp: crate::totp::Enrolment,
    pub name: String,
    pub error: Option<String>,
}
