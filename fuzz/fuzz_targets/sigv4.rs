//! SigV4-signed requests (raw: `METHOD URI`, header lines, empty line, body) through the broker's
//! verification: only the fuzz credentials, only within the clock skew.
#![no_main]
use std::sync::OnceLock;

use portcullis_broker::fuzzing::{Fixture, sigv4_request};

/// The harness's credentials and keys (the fuzz target's state, not the product's).
fn fixture() -> &'static Fixture {
    static FIXTURE: OnceLock<Fixture> = OnceLock::new();
    FIXTURE.get_or_init(Fixture::new)
}

libfuzzer_sys::fuzz_target!(|data: &[u8]| sigv4_request(fixture(), data));
