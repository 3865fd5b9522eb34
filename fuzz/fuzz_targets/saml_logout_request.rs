//! SAML LogoutRequests, as `saml_authn_request` does AuthnRequests.
#![no_main]
use portcullis_idp::fuzzing::{SamlRequest, saml_request};

libfuzzer_sys::fuzz_target!(|data: &[u8]| saml_request(SamlRequest::Logout, data));
