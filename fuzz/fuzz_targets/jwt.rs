//! JWTs presented to us (id_token_hint, access tokens): header checks, verification with our
//! keys (only our issuer, only unexpired, re-signing round trip); input starting with `{` is a
//! claims set signed with our key and verified back.
//!
//! With FUZZ_SEED_OUT=DIR, every token it signs is written to DIR (fuzz/run seeds uses this).
#![no_main]
use std::sync::OnceLock;

use portcullis_domain::SigningAlgorithm;
use portcullis_oidc::fuzzing::{JwtKeys, jwt};

fn keys() -> &'static JwtKeys {
    static KEYS: OnceLock<JwtKeys> = OnceLock::new();
    KEYS.get_or_init(|| {
        JwtKeys::new(&[
            (
                SigningAlgorithm::RS256,
                "fuzz-rs256",
                include_bytes!("../keys/rs256.pk8"),
            ),
            (
                SigningAlgorithm::ES256,
                "fuzz-es256",
                include_bytes!("../keys/es256.pk8"),
            ),
            (
                SigningAlgorithm::EdDSA,
                "fuzz-eddsa",
                include_bytes!("../keys/eddsa.pk8"),
            ),
        ])
    })
}

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    if let Some(token) = jwt(keys(), data) {
        portcullis_fuzz::keep_seed(token.as_bytes());
    }
});
