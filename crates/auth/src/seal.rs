//! Secrets at rest: MFA secrets are sealed with AES-256-GCM under a key derived from the master
//! key before they reach a store. The sealed form is `version ‖ 12-byte random nonce ‖
//! ciphertext-and-tag`; the associated data (the owner's user id) binds a secret to its owner, so
//! a sealed secret copied to another user's row does not open.

use aes_gcm::aead::{Aead, KeyInit, Payload};
use aes_gcm::{Aes256Gcm, Nonce};
use rand::RngCore;

const VERSION: u8 = 1;
const NONCE_LEN: usize = 12;

/// Why a sealed secret could not be opened.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum CryptoError {
    #[error("the sealed secret is malformed")]
    Malformed,
    #[error("the sealed secret has an unknown version {0}")]
    UnknownVersion(u8),
    #[error("the sealed secret does not open under this key and owner")]
    Rejected,
}

/// Seals and opens secrets under one 32-byte key.
#[derive(Clone)]
pub struct SecretBox {
    cipher: Aes256Gcm,
}

impl std::fmt::Debug for SecretBox {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SecretBox(<redacted>)")
    }
}

impl SecretBox {
    pub fn new(key: &[u8; 32]) -> Self {
        Self {
            cipher: Aes256Gcm::new(key.into()),
        }
    }

    /// Encrypts `plaintext`, authenticating `aad` with it.
    pub fn seal(&self, plaintext: &[u8], aad: &[u8]) -> Vec<u8> {
        let mut nonce = [0u8; NONCE_LEN];
        rand::rng().fill_bytes(&mut nonce);
        // AES-GCM encryption fails only for inputs beyond 64 GiB.
        let ciphertext = self
            .cipher
            .encrypt(
                Nonce::from_slice(&nonce),
                Payload {
                    msg: plaintext,
                    aad,
                },
            )
            .unwrap_or_default();
        let mut out = Vec::with_capacity(1 + NONCE_LEN + ciphertext.len());
        out.push(VERSION);
        out.extend_from_slice(&nonce);
        out.extend_from_slice(&ciphertext);
        out
    }

    /// Decrypts what [`SecretBox::seal`] produced with the same key and `aad`.
    pub fn open(&self, sealed: &[u8], aad: &[u8]) -> Result<Vec<u8>, CryptoError> {
        let (&version, rest) = sealed.split_first().ok_or(CryptoError::Malformed)?;
        if version != VERSION {
            return Err(CryptoError::UnknownVersion(version));
        }
        if rest.len() < NONCE_LEN + 16 {
            return Err(CryptoError::Malformed);
        }
        let (nonce, ciphertext) = rest.split_at(NONCE_LEN);
        self.cipher
            .decrypt(
                Nonce::from_slice(nonce),
                Payload {
                    msg: ciphertext,
                    aad,
                },
            )
            .map_err(|_| CryptoError::Rejected)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn boxed() -> SecretBox {
        SecretBox::new(&[7u8; 32])
    }

    #[test]
    fn round_trip() {
        let b = boxed();
        let sealed = b.seal(b"twenty bytes secret!", b"user-1");
        assert_eq!(sealed[0], VERSION);
        assert_eq!(sealed.len(), 1 + 12 + 20 + 16);
        assert!(!sealed.windows(20).any(|w| w == b"twenty bytes secret!"));
        assert_eq!(
            b.open(&sealed, b"user-1").as_deref(),
            Ok(&b"twenty bytes secret!"[..])
        );
        // A fresh nonce every time.
        assert_ne!(sealed, b.seal(b"twenty bytes secret!", b"user-1"));
    }

    #[test]
    fn tampering_is_detected() {
        let b = boxed();
        let sealed = b.seal(b"secret", b"user-1");
        for i in 1..sealed.len() {
            let mut t = sealed.clone();
            t[i] ^= 0x01;
            assert_eq!(b.open(&t, b"user-1"), Err(CryptoError::Rejected), "{i}");
        }
        let mut v = sealed.clone();
        v[0] = 9;
        assert_eq!(b.open(&v, b"user-1"), Err(CryptoError::UnknownVersion(9)));
        assert_eq!(
            b.open(&sealed[..10], b"user-1"),
            Err(CryptoError::Malformed)
        );
        assert_eq!(b.open(&[], b"user-1"), Err(CryptoError::Malformed));
    }

    #[test]
    fn wrong_aad_or_key_is_refused() {
        let b = boxed();
        let sealed = b.seal(b"secret", b"user-1");
        assert_eq!(b.open(&sealed, b"user-2"), Err(CryptoError::Rejected));
        assert_eq!(
            SecretBox::new(&[8u8; 32]).open(&sealed, b"user-1"),
            Err(CryptoError::Rejected)
        );
    }
}
