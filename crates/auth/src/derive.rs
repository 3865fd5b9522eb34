//! HMAC-SHA256 (aws-lc-rs), and keys derived from a key by label: one label per purpose, so no
//! key serves two. HMAC takes keys of any length, so nothing here can fail.

use aws_lc_rs::hmac;

/// HMAC-SHA256 of the concatenation of `parts` under `key`.
pub fn hmac_sha256(key: &[u8], parts: &[&[u8]]) -> [u8; 32] {
    let mut ctx = hmac::Context::with_key(&hmac::Key::new(hmac::HMAC_SHA256, key));
    for p in parts {
        ctx.update(p);
    }
    let mut out = [0u8; 32];
    out.copy_from_slice(ctx.sign().as_ref());
    out
}

/// Whether `tag` is the HMAC-SHA256 of `parts` under `key` (compared in constant time).
pub fn hmac_sha256_verify(key: &[u8], parts: &[&[u8]], tag: &[u8]) -> bool {
    use subtle::ConstantTimeEq;
    tag.len() == 32 && bool::from(hmac_sha256(key, parts).ct_eq(tag))
}

/// The key for one purpose, derived from `key` (HMAC-SHA256 of the purpose's label).
pub fn derive(key: &[u8], label: &[u8]) -> [u8; 32] {
    hmac_sha256(key, &[label])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_rfc_4231_case_2() {
        let mac = hmac_sha256(b"Jefe", &[b"what do ya want ", b"for nothing?"]);
        assert_eq!(
            mac.iter().map(|b| format!("{b:02x}")).collect::<String>(),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
    }

    #[test]
    fn labels_give_distinct_keys() {
        assert_ne!(derive(&[1; 32], b"a"), derive(&[1; 32], b"b"));
        assert_eq!(derive(&[1; 32], b"a"), hmac_sha256(&[1; 32], &[b"a"]));
    }
}
