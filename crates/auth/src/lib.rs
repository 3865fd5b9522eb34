//! Floor 2 of the house: what every surface (sign-in, OIDC, SAML, broker, portal, admin) shares,
//! so that no two of them need each other.
//!
//! - [`Auth`]: who is calling. A portal session cookie becomes a live [`principal::Principal`]
//!   (the session is live and its user exists and is enabled) in one place,
//!   [`principal::live_principal`], which the broker's token and session checks use too.
//! - [`seal`]: AES-256-GCM sealing of secrets at rest; [`derive`]: HMAC-SHA256 and the keys
//!   derived from the master key, one label per purpose.
//! - [`keys`]: one signing-key lifecycle (`KeyLifecycle<K: KeyKind>`: load and cache per node,
//!   create the first key once across nodes, publish ahead, rotate, retire, prune, list) that the
//!   OIDC key ring and the SAML certificates are thin users of.
//! - [`throttle`]: reserved-before-checked attempt counting in the shared flow store.
//! - [`web`] and [`page`]: cookies, CSRF, the client address through trusted proxies, the
//!   security headers, the page chrome (`templates/base.html`, the stylesheet) and the one page
//!   error with its `ResponseError`.
//! - [`metrics`]: the sign-in, MFA and token counters.
//! - [`federation`]: what the broker asks of the identity provider to federate a person into a
//!   real cloud account (a signed SAML Response for AWS), implemented by the server over the
//!   SAML IdP.
//!
//! May import: `portcullis-domain`, `portcullis-store`, `portcullis-sessions` (the floors
//! below). Never a concrete backend, never a sibling surface.

pub mod derive;
pub mod federation;
#[doc(hidden)]
pub mod fuzzing;
pub mod keys;
pub mod metrics;
pub mod page;
pub mod principal;
pub mod seal;
pub mod throttle;
pub mod web;

use std::sync::Arc;
use std::time::Duration;

use portcullis_sessions::{Clock, Sessions};
use portcullis_store::Directory;

pub use page::PageError;
pub use principal::{Principal, SignedIn};

/// What every surface needs to know who is calling: the stores, the clock, the cookie names, and
/// the public URL.
pub struct Auth {
    pub directory: Arc<dyn Directory>,
    pub sessions: Arc<dyn Sessions>,
    pub clock: Arc<dyn Clock>,
    pub cookies: web::Cookies,
    /// The public URL; https means `Secure` cookies with the `__Host-` prefix.
    pub public_url: url::Url,
    /// Reverse proxies whose `X-Forwarded-For` names the real client.
    pub trusted_proxies: Vec<web::ProxyRange>,
    /// How recent a sign-in must be for a sensitive change (adding or removing MFA devices).
    pub step_up: Duration,
    /// Sign-in, MFA and token counters (no-ops unless the server sets them).
    pub metrics: metrics::SigninMetrics,
}

impl std::fmt::Debug for Auth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Auth")
            .field("directory", &self.directory.backend())
            .field("sessions", &self.sessions.backend())
            .field("public_url", &self.public_url.as_str())
            .finish_non_exhaustive()
    }
}

impl Auth {
    pub fn new(
        directory: Arc<dyn Directory>,
        sessions: Arc<dyn Sessions>,
        clock: Arc<dyn Clock>,
        public_url: url::Url,
    ) -> Self {
        Self {
            cookies: web::Cookies::new(public_url.scheme() == "https"),
            directory,
            sessions,
            clock,
            public_url,
            trusted_proxies: Vec::new(),
            step_up: Duration::from_secs(5 * 60),
            metrics: metrics::SigninMetrics::disabled(),
        }
    }

    pub fn with_trusted_proxies(mut self, proxies: Vec<web::ProxyRange>) -> Self {
        self.trusted_proxies = proxies;
        self
    }

    pub fn with_step_up(mut self, step_up: Duration) -> Self {
        self.step_up = step_up;
        self
    }

    /// Records sign-in outcomes with these instruments.
    pub fn with_metrics(mut self, metrics: metrics::SigninMetrics) -> Self {
        self.metrics = metrics;
        self
    }

    /// The requesting client's address, through the configured trusted proxies.
    pub fn client_address(&self, req: &actix_web::HttpRequest) -> String {
        web::client_address(req, &self.trusted_proxies)
    }

    /// The public URL without its trailing slash: the OIDC issuer, the base of every link.
    pub fn issuer_url(&self) -> String {
        self.public_url.as_str().trim_end_matches('/').to_owned()
    }
}

async fn stylesheet() -> actix_web::HttpResponse {
    actix_web::HttpResponse::Ok()
        .content_type("text/css; charset=utf-8")
        .insert_header(("Cache-Control", "public, max-age=3600"))
        .body(include_str!("../static/portcullis.css"))
}

/// Mounts what every page shares: the stylesheet, and the form reader's error page.
pub fn routes(cfg: &mut actix_web::web::ServiceConfig) {
    cfg.app_data(page::form_config()).route(
        "/static/portcullis.css",
        actix_web::web::get().to(stylesheet),
    );
}
