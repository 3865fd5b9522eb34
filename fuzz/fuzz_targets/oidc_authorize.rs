//! `/oauth2/authorize` parameters: single-valued parameters, PKCE, redirect URI matching, and the
//! answer by redirect (state and iss come back exactly) and by form_post (no markup injected).
#![no_main]
use std::sync::OnceLock;

use portcullis_domain::OidcSettings;
use portcullis_oidc::fuzzing::{oidc_authorize, oidc_fixture};

/// The harness's one client registration (the fuzz target's state, not the product's).
fn client() -> &'static OidcSettings {
    static CLIENT: OnceLock<OidcSettings> = OnceLock::new();
    CLIENT.get_or_init(oidc_fixture)
}

libfuzzer_sys::fuzz_target!(|data: &[u8]| oidc_authorize(client(), data));
