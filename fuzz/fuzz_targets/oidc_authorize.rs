//! `/oauth2/authorize` parameters: single-valued parameters, PKCE, redirect URI matching, and the
//! answer by redirect (state and iss come back exactly) and by form_post (no markup injected).
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| portcullis_idp::fuzzing::oidc_authorize(data));
