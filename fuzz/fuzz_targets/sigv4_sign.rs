//! Requests signed here with the fuzz credentials, then verified: a plain correctly signed
//! request must verify, and with its body changed must not. Reaches what lies past the
//! signature check, which mutated signatures never do.
//!
//! With FUZZ_SEED_OUT=DIR, every signed request is written to DIR (seeds for `sigv4`).
#![no_main]
use std::sync::OnceLock;

use portcullis_broker::fuzzing::{Fixture, sigv4_sign};

/// The harness's credentials and keys (the fuzz target's state, not the product's).
fn fixture() -> &'static Fixture {
    static FIXTURE: OnceLock<Fixture> = OnceLock::new();
    FIXTURE.get_or_init(Fixture::new)
}

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    if let Some(signed) = sigv4_sign(fixture(), data) {
        portcullis_fuzz::keep_seed(&signed);
    }
});
