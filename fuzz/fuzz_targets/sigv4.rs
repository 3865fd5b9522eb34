//! SigV4-signed requests (raw: `METHOD URI`, header lines, empty line, body) through the broker's
//! verification: only the fuzz credentials, only within the clock skew.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| portcullis_broker::fuzzing::sigv4_request(data));
