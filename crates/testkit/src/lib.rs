//! The one home of test clients: what the end-to-end tests (`tests/`), the server's CLI tests
//! and the bench use to talk to a running Portcullis over HTTP.
//!
//! - [`Browser`] and [`Page`]: a cookie-keeping browser that walks the pages (sign-in included)
//!   and follows no redirects by itself;
//! - [`html`]: form fields, hidden inputs, CSRF tokens and character references, as a browser
//!   reads them ([`Form`] finds a form, [`Browser::try_submit`] posts it);
//! - [`Admin`] and [`Answer`]: the admin API;
//! - `sigv4` (feature `sigv4`): STS `GetCallerIdentity` signed by the AWS SDK's own signer.
//!
//! It talks HTTP only: it depends on no product crate.

pub mod admin;
pub mod browser;
pub mod html;
#[cfg(feature = "sigv4")]
pub mod sigv4;

use std::time::Duration;

pub use admin::{Admin, Answer};
pub use browser::{Browser, Page, path_on};
pub use html::{Form, html_unescape};

/// The password the tests give the people they make (long, not a common one).
pub const PASSWORD: &str = "Tr1cky-Horse-Battery";

/// The longest a request may take where an outage must show up as an answer or an error, never
/// a hang (the CLI tests' clients).
pub const TIMEOUT: Duration = Duration::from_secs(15);

/// What a client here fails with.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// No answer: the request could not be sent or its body not read.
    #[error("{method} {url}: {source}")]
    Http {
        method: reqwest::Method,
        url: String,
        #[source]
        source: reqwest::Error,
    },
    /// An answer, not the one expected.
    #[error("{0}")]
    Unexpected(String),
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

/// The first characters of a body, for error messages.
pub fn snippet(body: &str) -> String {
    body.chars().take(200).collect()
}
