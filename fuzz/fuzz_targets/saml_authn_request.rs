//! SAML AuthnRequests: the XML a Redirect or POST binding carries (both decodings must agree),
//! the raw `SAMLRequest` value, the endpoint's parameter handling, samael's parse and round trip,
//! and signature checks that must refuse every input.
#![no_main]
use portcullis_idp::fuzzing::{SamlRequest, saml_request};

libfuzzer_sys::fuzz_target!(|data: &[u8]| saml_request(SamlRequest::Authn, data));
