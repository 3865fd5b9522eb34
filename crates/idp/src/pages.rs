//! The page templates (askama, HTML-escaped) and the data each shows.

use askama::Template;

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

#[derive(Debug, Template)]
#[template(path = "message.html")]
pub struct MessagePage {
    pub heading: &'static str,
    pub text: String,
    pub link: &'static str,
    pub link_text: &'static str,
}

impl MessagePage {
    /// A message with a link back to the portal, answered with `status`.
    pub fn to_portal(
        status: actix_web::http::StatusCode,
        heading: &'static str,
        text: impl Into<String>,
    ) -> actix_web::HttpResponse {
        crate::web::page(
            status,
            &Self {
                heading,
                text: text.into(),
                link: "/portal",
                link_text: "Go to your portal",
            },
            vec![],
        )
    }
}

/// One account on the Accounts tab with the roles the person holds there.
#[derive(Debug, Clone)]
pub struct AccountEntry {
    pub id: String,
    pub name: String,
    pub email: String,
    pub roles: Vec<String>,
    /// The account has a console URL: each role shows a **Management console** button.
    pub console: bool,
}

/// One application on the Applications tab.
#[derive(Debug, Clone)]
pub struct ApplicationEntry {
    pub name: String,
    pub description: String,
    pub initials: String,
    /// The uploaded icon (`/applications/{id}/icon`), shown instead of the initials.
    pub icon_url: Option<String>,
    /// Where launching the application goes, when it can be launched from here.
    pub launch_url: Option<String>,
}

#[derive(Debug, Template)]
#[template(path = "portal.html")]
pub struct PortalPage {
    pub csrf: String,
    pub display_name: String,
    pub user_name: String,
    pub expires_at: String,
    pub tab: &'static str,
    pub accounts: Vec<AccountEntry>,
    pub applications: Vec<ApplicationEntry>,
}

/// Up to two initials of an application's name, for its icon.
pub fn initials(name: &str) -> String {
    name.split_whitespace()
        .filter_map(|w| w.chars().next())
        .take(2)
        .flat_map(char::to_uppercase)
        .collect()
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
    pub totp: Option<crate::mfa::totp::Enrolment>,
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
    pub totp: crate::mfa::totp::Enrolment,
    pub name: String,
    pub error: Option<String>,
}

/// The device-authorization page: enter a user code, then allow or deny.
#[derive(Debug, Template)]
#[template(path = "device.html")]
pub struct DevicePage {
    pub csrf: String,
    pub user_code: String,
    /// The asking application, once the code is known.
    pub application: Option<DeviceAsker>,
    pub error: Option<String>,
}

/// The client behind a device code, as the approval page describes it.
#[derive(Debug, Clone)]
pub struct DeviceAsker {
    /// The name it was registered with.
    pub name: String,
    pub client_id: String,
    /// Registered through the SSO-OIDC API rather than by an administrator.
    pub self_registered: bool,
    /// Asks for the person's accounts (`sso:account:access`).
    pub accounts: bool,
    pub scopes: Vec<ScopeLine>,
}

/// One scope on the consent page: its name and what it lets the client do.
#[derive(Debug, Clone)]
pub struct ScopeLine {
    pub name: String,
    pub text: String,
}

/// Asks a person before a client gets their authority.
#[derive(Debug, Template)]
#[template(path = "consent.html")]
pub struct ConsentPage {
    pub csrf: String,
    /// The parked request this answers.
    pub request: String,
    /// The client's name as it was registered.
    pub application: String,
    pub client_id: String,
    /// Registered through the SSO-OIDC API rather than by an administrator.
    pub self_registered: bool,
    /// Asks for the person's accounts (`sso:account:access`).
    pub accounts: bool,
    pub scopes: Vec<ScopeLine>,
    /// Where the answer goes (the redirect URI's origin).
    pub destination: String,
    pub user_name: String,
}

/// Asks before an RP-initiated logout that carries no valid `id_token_hint`.
#[derive(Debug, Template)]
#[template(path = "logout_confirm.html")]
pub struct LogoutConfirmPage {
    pub csrf: String,
    pub application: Option<String>,
    pub client_id: Option<String>,
    pub post_logout_redirect_uri: Option<String>,
    pub state: Option<String>,
}

/// The Access keys page: role credentials just minted for one account and role, with copy-ready
/// snippets (`portal_access_keys.html`). Its `Debug` leaves out the secret and the session token.
#[derive(Template)]
#[template(path = "portal_access_keys.html")]
pub struct AccessKeysPage {
    pub csrf: String,
    pub display_name: String,
    pub account_id: String,
    pub account_name: String,
    pub role: String,
    pub access_key_id: String,
    pub secret_access_key: String,
    pub session_token: String,
    /// RFC 3339, UTC.
    pub expiration: String,
    /// The `~/.aws/credentials` profile name: `{account}_{role}`.
    pub profile: String,
    /// The public URL (the SSO, SSO-OIDC and STS endpoints).
    pub endpoint: String,
    /// `{public_url}/start`.
    pub start_url: String,
    /// Any region name: the AWS CLI needs one; Portcullis ignores it.
    pub sso_region: &'static str,
}

impl std::fmt::Debug for AccessKeysPage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AccessKeysPage")
            .field("account_id", &self.account_id)
            .field("role", &self.role)
            .field("access_key_id", &self.access_key_id)
            .field("expiration", &self.expiration)
            .finish_non_exhaustive()
    }
}

/// A one-button page that asks before a portal action with effects (minting credentials,
/// signing in to a console) when it was reached by a plain link rather than the portal's form.
#[derive(Debug, Template)]
#[template(path = "portal_continue.html")]
pub struct ContinuePage {
    pub csrf: String,
    pub heading: String,
    pub text: String,
    /// Where the button goes (one of our paths).
    pub action: String,
    /// The button posts `action` with the CSRF token; otherwise it is a link to `action`.
    pub post: bool,
    pub button: &'static str,
}

/// One application a person allowed to act for them.
#[derive(Debug, Clone)]
pub struct ConnectedEntry {
    pub name: String,
    pub client_id: String,
    pub scopes: Vec<ScopeLine>,
    pub granted: String,
    pub expires: Option<String>,
}

/// `/portal/connected`: the person's consents.
#[derive(Debug, Template)]
#[template(path = "portal_connected.html")]
pub struct ConnectedPage {
    pub csrf: String,
    pub display_name: String,
    pub entries: Vec<ConnectedEntry>,
    pub notice: Option<String>,
    pub error: Option<String>,
}
