//! The pages of this surface (askama templates in `templates/`, extending the shared `base.html`).

use askama::Template;
use portcullis_oidc::pages::ScopeLine;

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
