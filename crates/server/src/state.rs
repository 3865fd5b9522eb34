//! The surfaces one node serves, built once at start and shared by every request handler (no
//! globals: everything travels here).

use std::sync::Arc;

use portcullis_admin::Admin;
use portcullis_auth::Auth;
use portcullis_oidc::Oidc;
use portcullis_portal::Portal;
use portcullis_saml::Saml;
use portcullis_signin::Signin;
use portcullis_store::Directory;

use crate::config::Config;

/// What handlers can reach.
#[derive(Clone)]
pub struct AppState {
    pub directory: Arc<dyn Directory>,
    pub config: Arc<Config>,
    /// Who is calling; the stores and cookies every surface shares.
    pub auth: Arc<Auth>,
    pub signin: Arc<Signin>,
    pub oidc: Arc<Oidc>,
    pub saml: Arc<Saml>,
    pub portal: Arc<Portal>,
    pub admin: Arc<Admin>,
}

impl std::fmt::Debug for AppState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AppState")
            .field("directory", &self.directory.backend())
            .finish_non_exhaustive()
    }
}
