//! SP metadata XML as the admin API registers it (`saml.metadataXml`): the registration it
//! yields passes the cross-field rules and survives the API's view → body round trip.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| portcullis_admin::fuzzing::saml_metadata(data));
