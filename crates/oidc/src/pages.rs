//! The pages of this surface (askama templates in `templates/`, extending the shared `base.html`).

use askama::Template;
pub use portcullis_auth::page::MessagePage;
use portcullis_auth::page::PageError;

use crate::error::OAuthError;

/// The page for an [`OAuthError`] met where no client is answered (its redirect URI is not
/// trusted, or the person is the one asking): only our own failures reach a page this way — a
/// store or key unreachable, already logged with its cause where it became an `OAuthError` —
/// so it is the 503 page, and the OAuth code is logged once more inside the request's span.
pub(crate) fn unavailable(e: OAuthError) -> PageError {
    PageError::unavailable(format!("{}: {}", e.code, e.description))
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
