//! Requests signed here with the fuzz credentials, then verified: a plain correctly signed
//! request must verify, and with its body changed must not. Reaches what lies past the
//! signature check, which mutated signatures never do.
//!
//! With FUZZ_SEED_OUT=DIR, every signed request is written to DIR (seeds for `sigv4`).
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    if let Some(signed) = portcullis_broker::fuzzing::sigv4_sign(data) {
        portcullis_fuzz::keep_seed(&signed);
    }
});
