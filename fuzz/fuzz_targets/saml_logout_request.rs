//! SAML LogoutRequests, as `saml_authn_request` does AuthnRequests.
#![no_main]
use std::sync::OnceLock;

use portcullis_saml::fuzzing::{SamlRequest, saml_fixture, saml_request};
use portcullis_saml::ServiceProvider;

/// The harness's one SP, made at the first input (the fuzz target's state, not the product's).
fn sp() -> &'static ServiceProvider {
    static SP: OnceLock<ServiceProvider> = OnceLock::new();
    SP.get_or_init(saml_fixture)
}

libfuzzer_sys::fuzz_target!(|data: &[u8]| saml_request(SamlRequest::Logout, sp(), data));
