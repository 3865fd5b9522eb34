//! `/oauth2/token` requests (`Authorization` header line, then the form body): form parameters,
//! HTTP Basic client credentials (and their RFC 6749 §2.3.1 round trip), grant types; the same
//! bytes as the SSO-OIDC API's JSON bodies (RegisterClient and its bounds).
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| portcullis_oidc::fuzzing::oidc_token(data));
