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

/// One account on the Accounts tab with the roles the person holds there.
#[derive(Debug, Clone)]
pub struct AccountEntry {
    pub id: String,
    pub name: String,
    pub email: String,
    pub roles: Vec<String>,
}

/// One application on the Applications tab.
#[derive(Debug, Clone)]
pub struct ApplicationEntry {
    pub name: String,
    pub description: String,
    pub initials: String,
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
