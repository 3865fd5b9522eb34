//! Signing keys for ID tokens and access tokens: generated at first start, stored in the
//! directory with the private half sealed under a key derived from the master key, shared by every
//! node, published in the JWKS before they sign, and kept there after retirement until everything
//! they signed has expired.
//!
//! Keys are generated with aws-lc-rs (RSA 2048 for RS256, P-256 for ES256, Ed25519 for EdDSA) and
//! stored as PKCS#8 v1 DER sealed with AES-256-GCM (the `kid` is the associated data, so a sealed
//! key copied to another row does not open); the `public_key` column holds the public JWK. The
//! `kid` is the key's RFC 7638 JWK thumbprint. Tokens are signed and verified with jsonwebtoken
//! (RFC 7515); every time decision uses the injected [`Clock`], never jsonwebtoken's system time.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use portcullis_auth::keys::{KeyLifecycle, KeyStoreError};
use portcullis_domain::{Actor, SigningAlgorithm};
use portcullis_sessions::Clock;
use portcullis_store::{Directory, StoreError};

pub(crate) use material::{KeyMaterial, token_header};
pub use portcullis_auth::keys::KeyConfig;

/// The `purpose` of OIDC keys in the signing-key store.
pub const PURPOSE: &str = "oidc";

/// Why signing or verifying failed.
#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    /// The directory could not be reached.
    #[error("signing keys are unavailable")]
    Unavailable(#[source] portcullis_store::StoreError),
    /// A stored key could not be opened or parsed (wrong master key, manual edit).
    #[error("a stored signing key is unusable: {0}")]
    Corrupt(String),
    /// The presented token is not one of ours, or is expired, malformed, or signed wrongly.
    #[error("token rejected: {0}")]
    Rejected(&'static str),
}

/// A verified token: header facts and its claims.
#[derive(Debug, Clone)]
pub struct Verified {
    pub kid: String,
    pub alg: SigningAlgorithm,
    /// The header's `typ` (`at+jwt` for access tokens, `JWT` for ID tokens).
    pub typ: Option<String>,
    pub claims: serde_json::Map<String, serde_json::Value>,
}

/// A key as the admin API lists it (never the private half).
pub type KeyInfo = portcullis_auth::keys::KeyInfo<SigningAlgorithm>;

impl From<KeyStoreError> for KeyError {
    fn from(e: KeyStoreError) -> Self {
        match e {
            KeyStoreError::Unavailable(e) => Self::Unavailable(e),
            KeyStoreError::Corrupt(why) => Self::Corrupt(why),
        }
    }
}

// ---------------------------------------------------------------------------------------------
// The key ring: the key set from the store, cached per node (the lifecycle is auth's).

/// The key set, cached per node.
pub struct KeyRing {
    keys: KeyLifecycle<KeyMaterial>,
    clock: Arc<dyn Clock>,
    issuer: String,
}

impl std::fmt::Debug for KeyRing {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KeyRing")
            .field("issuer", &self.issuer)
            .finish_non_exhaustive()
    }
}

fn no_signing_key() -> KeyError {
    KeyError::Unavailable(StoreError::NotFound("active signing key"))
}

impl KeyRing {
    /// `sealing_key` seals private keys at rest; `issuer` is the `iss` every token carries.
    pub fn new(
        directory: Arc<dyn Directory>,
        clock: Arc<dyn Clock>,
        sealing_key: [u8; 32],
        issuer: String,
        config: KeyConfig,
    ) -> Self {
        Self {
            keys: KeyLifecycle::new(directory, clock.clone(), sealing_key, config),
            clock,
            issuer,
        }
    }

    /// At start: makes sure one active key exists per algorithm (creating what is missing, for
    /// immediate use — nothing can have cached an empty set), and opens every key, so a wrong
    /// master key stops start-up rather than the first sign-in.
    pub async fn ensure_keys(&self) -> Result<(), KeyError> {
        Ok(self.keys.ensure_keys().await?)
    }

    /// Signs `claims` with the newest active key of `alg`; the header carries `kid` and `typ`.
    pub async fn sign(
        &self,
        alg: SigningAlgorithm,
        typ: &str,
        claims: &serde_json::Value,
    ) -> Result<String, KeyError> {
        let key = self
            .keys
            .signing_key(alg)
            .await?
            .ok_or_else(no_signing_key)?;
        key.sign(typ, claims)
    }

    /// Verifies a token we issued: a published `kid`, the header's `alg` equal to that key's
    /// algorithm (so `none`, HS256 and algorithm confusion are refused), the signature, `iss` equal
    /// to the issuer and `exp` in the future by the injected clock. Audience and `typ` are the
    /// caller's to check.
    pub async fn verify(&self, token: &str) -> Result<Verified, KeyError> {
        self.verify_inner(token, true).await
    }

    /// As [`KeyRing::verify`], but an expired token still verifies: for `id_token_hint` at
    /// logout, which is often expired. Key, algorithm, signature and issuer are checked the same.
    pub async fn verify_allowing_expired(&self, token: &str) -> Result<Verified, KeyError> {
        self.verify_inner(token, false).await
    }

    async fn verify_inner(&self, token: &str, check_expiry: bool) -> Result<Verified, KeyError> {
        // Refuses `none`, HS* and malformed headers before touching the store.
        let (_, kid, _) = token_header(token)?;
        let now = self.clock.now();
        // An unknown kid rereads the store (perhaps rotated on another node meanwhile).
        let key = self
            .keys
            .find(&kid)
            .await?
            .ok_or(KeyError::Rejected("unknown key"))?;
        let expiry_time = if check_expiry {
            now
        } else {
            DateTime::<Utc>::MIN_UTC
        };
        key.verify(token, &self.issuer, expiry_time)
    }

    /// The JWKS document: every published key (pending, active, retired but retained).
    pub async fn jwks(&self) -> Result<serde_json::Value, KeyError> {
        let keys: Vec<serde_json::Value> = self
            .keys
            .published()
            .await?
            .iter()
            .map(|k| k.jwk.clone())
            .collect();
        Ok(serde_json::json!({ "keys": keys }))
    }

    /// The published keys (as [`KeyRing::jwks`] has them), newest first, read from the store.
    pub async fn list(&self) -> Result<Vec<KeyInfo>, KeyError> {
        Ok(self.keys.list().await?)
    }

    /// Creates a new key per algorithm, published now and signing after `publish_ahead`; the
    /// current keys retire when the new ones start signing. Returns the key set afterwards.
    pub async fn rotate(&self, actor: Actor) -> Result<Vec<KeyInfo>, KeyError> {
        self.keys.rotate(actor).await?;
        self.list().await
    }

    /// Rotates when the newest key is older than `rotation_interval` (one node wins when several
    /// try at once) and deletes retired keys past `retain_after_retirement`. `true` when it rotated.
    pub async fn rotate_if_due(&self) -> Result<bool, KeyError> {
        Ok(self.keys.rotate_if_due().await?)
    }

    /// For readiness: the key set can be read and every algorithm has a key that signs now.
    pub async fn ready(&self) -> Result<(), KeyError> {
        if self.keys.ready().await? {
            Ok(())
        } else {
            Err(no_signing_key())
        }
    }
}

mod material;
mod signer;
#[cfg(test)]
mod tests;
