//! The SAML signing key: RSA 2048 with a self-signed certificate, generated at first start, kept
//! in the directory's signing-key store under purpose `saml` with the private half sealed (the
//! `kid` is the associated data) and the certificate (base64 DER) as the public half. Rotation
//! publishes the next certificate in the metadata `publish_ahead` before it signs, and keeps a
//! retired one published for `retain_after_retirement`, as the OIDC key ring does.

use std::sync::Arc;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use portcullis_auth::keys::{
    Key, KeyConfig, KeyInfo, KeyKind, KeyLifecycle, KeyStoreError, NewKey,
};
use portcullis_domain::Actor;
use portcullis_sessions::Clock;
use portcullis_store::{Directory, StoreError};
use sha2::{Digest, Sha256};

use crate::xml;

/// The `purpose` of SAML keys in the signing-key store.
pub const PURPOSE: &str = "saml";
const ALGORITHM: &str = "RSA-SHA256";
/// Certificates are self-signed and only carry the key; SAML peers do not check their dates, but
/// some tools warn on expired ones, so they outlive any sensible rotation interval.
const CERT_DAYS: u32 = 10 * 365;

/// Why the SAML key is unusable.
#[derive(Debug, thiserror::Error)]
pub enum SamlKeyError {
    #[error("SAML signing keys are unavailable")]
    Unavailable(#[source] StoreError),
    #[error("a stored SAML signing key is unusable: {0}")]
    Corrupt(String),
}

impl From<KeyStoreError> for SamlKeyError {
    fn from(e: KeyStoreError) -> Self {
        match e {
            KeyStoreError::Unavailable(e) => Self::Unavailable(e),
            KeyStoreError::Corrupt(why) => Self::Corrupt(why),
        }
    }
}

/// An opened key: its id and times, and (through it) its [`SamlCertificate`].
pub type SamlKey = Key<SamlCertificate>;

/// A key's material: the RSA private key (parsed once) and its self-signed certificate.
pub struct SamlCertificate {
    signer: xml::SigningKey,
}

impl SamlCertificate {
    /// The certificate, DER.
    pub fn cert_der(&self) -> &[u8] {
        self.signer.cert_der()
    }

    /// What signs with this key.
    pub fn signer(&self) -> &xml::SigningKey {
        &self.signer
    }
}

impl std::fmt::Debug for SamlCertificate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SamlCertificate")
    }
}

/// The one algorithm of SAML keys, `RSA-SHA256`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RsaSha256;

/// SAML keys on the shared key lifecycle: the sealed private key (PKCS#8; keys made while SAML
/// was signed through xmlsec are PKCS#1, and still open), the certificate (base64 DER) as the
/// public half, the `kid` `saml-` and the first 32 hex digits of the certificate's SHA-256.
impl KeyKind for SamlCertificate {
    const PURPOSE: &'static str = PURPOSE;
    const NAME: &'static str = "SAML signing key";
    type Algorithm = RsaSha256;
    const ALGORITHMS: &'static [RsaSha256] = &[RsaSha256];

    fn algorithm_name(_: RsaSha256) -> &'static str {
        ALGORITHM
    }

    fn generate(_: RsaSha256) -> Result<NewKey, String> {
        let (key_der, cert_der) =
            xml::generate_key_and_certificate("Portcullis SAML signing", CERT_DAYS)
                .map_err(|e| e.to_string())?;
        Ok(NewKey {
            kid: format!("saml-{}", &hex::encode(Sha256::digest(&cert_der))[..32]),
            private: key_der,
            public: STANDARD.encode(&cert_der),
        })
    }

    fn open(_: RsaSha256, _kid: &str, key_der: &[u8], cert: &str) -> Result<Self, String> {
        let cert_der = STANDARD
            .decode(cert)
            .map_err(|_| "unreadable certificate".to_owned())?;
        Ok(Self {
            signer: xml::SigningKey::open(key_der, cert_der)?,
        })
    }
}

/// A published key's public facts; the algorithm is `RSA-SHA256`.
pub type SamlKeyInfo = KeyInfo<String>;

/// The SAML keys, read from the store and cached per node for `cache_ttl`.
pub struct SamlKeys {
    keys: KeyLifecycle<SamlCertificate>,
}

impl std::fmt::Debug for SamlKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SamlKeys")
    }
}

impl SamlKeys {
    pub fn new(
        directory: Arc<dyn Directory>,
        clock: Arc<dyn Clock>,
        sealing_key: [u8; 32],
        config: KeyConfig,
    ) -> Self {
        Self {
            keys: KeyLifecycle::new(directory, clock, sealing_key, config),
        }
    }

    /// At start: makes sure a key signs now (creating one for immediate use when none does), and
    /// opens every stored key so a wrong master key stops start-up.
    pub async fn ensure_keys(&self) -> Result<(), SamlKeyError> {
        Ok(self.keys.ensure_keys().await?)
    }

    /// The key that signs now.
    pub async fn signing_key(&self) -> Result<Arc<SamlKey>, SamlKeyError> {
        self.keys
            .signing_key(RsaSha256)
            .await?
            .ok_or(SamlKeyError::Unavailable(StoreError::NotFound(
                "active SAML signing key",
            )))
    }

    /// Every published key (pending, active, retired but retained): the metadata lists them all.
    pub async fn published(&self) -> Result<Vec<Arc<SamlKey>>, SamlKeyError> {
        Ok(self.keys.published().await?)
    }

    /// The published keys' public facts, newest first, read from the store (the admin API's key
    /// list): kid, algorithm, times and `pending`/`active`/`retired`, as the OIDC key list has.
    pub async fn list(&self) -> Result<Vec<SamlKeyInfo>, SamlKeyError> {
        let keys = self.keys.list().await?;
        Ok(keys
            .into_iter()
            .map(|k| k.map_algorithm(|_| ALGORITHM.to_owned()))
            .collect())
    }

    /// Creates the next key, published now and signing after `publish_ahead`; the current one
    /// retires when it starts signing. Returns the new key's id.
    pub async fn rotate(&self, actor: Actor) -> Result<String, SamlKeyError> {
        let kids = self.keys.rotate(actor).await?;
        kids.into_iter()
            .next()
            .ok_or_else(|| SamlKeyError::Corrupt("rotation made no key".into()))
    }

    /// Rotates when the newest key has signed for `rotation_interval` (less `publish_ahead`), and
    /// deletes retired keys past retention. `true` when it rotated.
    pub async fn rotate_if_due(&self) -> Result<bool, SamlKeyError> {
        Ok(self.keys.rotate_if_due().await?)
    }
}

#[cfg(test)]
mod tests;
