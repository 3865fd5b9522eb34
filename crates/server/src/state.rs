//! Application state shared by every request handler (no globals: everything travels here).

use std::sync::Arc;

use portcullis_idp::Idp;
use portcullis_store::Directory;

use crate::config::Config;

/// What handlers can reach.
#[derive(Clone)]
pub struct AppState {
    pub directory: Arc<dyn Directory>,
    pub config: Arc<Config>,
    /// Sign-in, sessions and the portal (shares the directory).
    pub idp: Arc<Idp>,
}

impl std::fmt::Debug for AppState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AppState")
            .field("directory", &self.directory.backend())
            .finish_non_exhaustive()
    }
}
