//! The SAML signing key: RSA 2048 with a self-signed certificate, generated at first start, kept
//! in the directory's signing-key store under purpose `saml` with the private half sealed (the
//! `kid` is the associated data) and the certificate (base64 DER) as the public half. Rotation
//! publishes the next certificate in the metadata `publish_ahead` before it signs, and keeps a
//! retired one published for `retain_after_retirement`, as the OIDC key ring does.

use std::sync::{Arc, RwLock};

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use chrono::{DateTime, Utc};
use portcullis_domain::Actor;
use portcullis_sessions::Clock;
use portcullis_store::{Directory, NewSigningKey, SigningKey, StoreError};
use sha2::{Digest, Sha256};

use crate::xml;
use portcullis_auth::keys::{FIRST_KEY_BACKDATE, KeyConfig, delta, signs_at, state_at};
use portcullis_auth::seal::SecretBox;

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

/// An opened key.
pub struct SamlKey {
    pub kid: String,
    /// PKCS#1 RSA private key.
    key_der: Vec<u8>,
    pub cert_der: Vec<u8>,
    pub active_from: DateTime<Utc>,
    pub retired_at: Option<DateTime<Utc>>,
}

impl SamlKey {
    pub fn key_der(&self) -> &[u8] {
        &self.key_der
    }
}

impl std::fmt::Debug for SamlKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SamlKey")
            .field("kid", &self.kid)
            .finish_non_exhaustive()
    }
}

/// A published key's public facts.
#[derive(Debug, Clone)]
pub struct SamlKeyInfo {
    pub kid: String,
    /// `RSA-SHA256`.
    pub algorithm: String,
    pub created_at: DateTime<Utc>,
    pub active_from: DateTime<Utc>,
    pub retired_at: Option<DateTime<Utc>>,
    /// `pending` (published, not yet signing), `active`, or `retired` (published, not signing).
    pub state: &'static str,
}

/// The opened keys, newest first.
type KeySet = Arc<Vec<Arc<SamlKey>>>;

/// The SAML keys, read from the store and cached per node for `cache_ttl`.
pub struct SamlKeys {
    directory: Arc<dyn Directory>,
    clock: Arc<dyn Clock>,
    config: KeyConfig,
    sealer: SecretBox,
    cache: RwLock<Option<(DateTime<Utc>, KeySet)>>,
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
            directory,
            clock,
            config,
            sealer: SecretBox::new(&sealing_key),
            cache: RwLock::new(None),
        }
    }

    /// At start: makes sure a key signs now (creating one for immediate use when none does), and
    /// opens every stored key so a wrong master key stops start-up.
    pub async fn ensure_keys(&self) -> Result<(), SamlKeyError> {
        let now = self.clock.now();
        let stored = self.stored().await?;
        if !stored
            .iter()
            .any(|k| signs_at(k.active_from, k.retired_at, now))
        {
            let Some(kid) = self.create_first(now).await? else {
                tracing::info!("another node created the SAML signing key; using it");
                return self.load(true).await.map(|_| ());
            };
            if let Some(next) = stored
                .iter()
                .filter(|k| k.active_from > now && k.retired_at.is_none())
                .map(|k| k.active_from)
                .min()
            {
                self.retire(&kid, next).await?;
            }
            tracing::info!(%kid, "created a SAML signing key");
        }
        self.load(true).await.map(|_| ())
    }

    /// The key that signs now.
    pub async fn signing_key(&self) -> Result<Arc<SamlKey>, SamlKeyError> {
        let now = self.clock.now();
        for force in [false, true] {
            let keys = self.load(force).await?;
            if let Some(k) = keys
                .iter()
                .filter(|k| signs_at(k.active_from, k.retired_at, now))
                .max_by_key(|k| k.active_from)
            {
                return Ok(k.clone());
            }
        }
        Err(SamlKeyError::Unavailable(StoreError::NotFound(
            "active SAML signing key",
        )))
    }

    /// Every published key (pending, active, retired but retained): the metadata lists them all.
    pub async fn published(&self) -> Result<Vec<Arc<SamlKey>>, SamlKeyError> {
        let now = self.clock.now();
        Ok(self
            .load(false)
            .await?
            .iter()
            .filter(|k| self.is_published(k.retired_at, now))
            .cloned()
            .collect())
    }

    /// The published keys' public facts, newest first, read from the store (the admin API's key
    /// list): kid, algorithm, times and `pending`/`active`/`retired`, as the OIDC key list has.
    pub async fn list(&self) -> Result<Vec<SamlKeyInfo>, SamlKeyError> {
        let now = self.clock.now();
        Ok(self
            .stored()
            .await?
            .into_iter()
            .filter(|k| self.is_published(k.retired_at, now))
            .map(|k| SamlKeyInfo {
                state: state_at(k.active_from, k.retired_at, now),
                kid: k.kid,
                algorithm: k.algorithm,
                created_at: k.created_at,
                active_from: k.active_from,
                retired_at: k.retired_at,
            })
            .collect())
    }

    /// Creates the next key, published now and signing after `publish_ahead`; the current one
    /// retires when it starts signing. Returns the new key's id.
    pub async fn rotate(&self, actor: Actor) -> Result<String, SamlKeyError> {
        let active_from = self.clock.now() + delta(self.config.publish_ahead);
        let stored = self.stored().await?;
        let kid = self.create(actor, active_from).await?;
        for old in stored.iter().filter(|k| k.retired_at.is_none()) {
            self.retire(&old.kid, active_from).await?;
        }
        tracing::info!(%kid, %active_from, %actor, "rotated the SAML signing key");
        self.load(true).await?;
        Ok(kid)
    }

    /// Rotates when the newest key has signed for `rotation_interval` (less `publish_ahead`), and
    /// deletes retired keys past retention. `true` when it rotated.
    pub async fn rotate_if_due(&self) -> Result<bool, SamlKeyError> {
        let now = self.clock.now();
        let stored = self.stored().await?;
        for key in stored
            .iter()
            .filter(|k| !self.is_published(k.retired_at, now))
        {
            match self
                .directory
                .delete_signing_key(Actor::System, &key.kid)
                .await
            {
                Ok(()) | Err(StoreError::NotFound(_)) => {}
                Err(e) => return Err(SamlKeyError::Unavailable(e)),
            }
        }
        let newest = stored.iter().map(|k| k.active_from).max();
        let due = newest.is_some_and(|n| {
            n + delta(self.config.rotation_interval) <= now + delta(self.config.publish_ahead)
        });
        if newest.is_none() {
            self.ensure_keys().await?;
        }
        if !due {
            return Ok(false);
        }
        self.rotate(Actor::System).await?;
        Ok(true)
    }

    fn is_published(&self, retired_at: Option<DateTime<Utc>>, now: DateTime<Utc>) -> bool {
        retired_at.is_none_or(|r| r + delta(self.config.retain_after_retirement) > now)
    }

    async fn stored(&self) -> Result<Vec<SigningKey>, SamlKeyError> {
        self.directory
            .list_signing_keys(PURPOSE)
            .await
            .map_err(SamlKeyError::Unavailable)
    }

    async fn create(
        &self,
        actor: Actor,
        active_from: DateTime<Utc>,
    ) -> Result<String, SamlKeyError> {
        let key = self.generate(active_from).await?;
        let kid = key.kid.clone();
        self.directory
            .insert_signing_key(actor, key)
            .await
            .map_err(SamlKeyError::Unavailable)?;
        Ok(kid)
    }

    /// Creates a key unless one signs `now` already (perhaps created a moment ago by another
    /// node starting at the same time); `None` when one did. It signs from a little before now,
    /// as the first token-signing keys do.
    async fn create_first(&self, now: DateTime<Utc>) -> Result<Option<String>, SamlKeyError> {
        let key = self.generate(now - FIRST_KEY_BACKDATE).await?;
        let created = self
            .directory
            .insert_first_signing_key(Actor::System, key, now)
            .await
            .map_err(SamlKeyError::Unavailable)?;
        Ok(created.map(|k| k.kid))
    }

    /// A new key and certificate, the private half sealed, ready to store.
    async fn generate(&self, active_from: DateTime<Utc>) -> Result<NewSigningKey, SamlKeyError> {
        let (key_der, cert_der) = tokio::task::spawn_blocking(|| {
            xml::generate_key_and_certificate("Portcullis SAML signing", CERT_DAYS)
        })
        .await
        .map_err(|e| SamlKeyError::Corrupt(format!("key generation stopped: {e}")))?
        .map_err(|e| SamlKeyError::Corrupt(e.to_string()))?;
        let kid = format!("saml-{}", &hex::encode(Sha256::digest(&cert_der))[..32]);
        Ok(NewSigningKey {
            private_key: self.sealer.seal(&key_der, kid.as_bytes()),
            kid,
            purpose: PURPOSE.to_owned(),
            algorithm: ALGORITHM.to_owned(),
            public_key: STANDARD.encode(&cert_der),
            active_from,
        })
    }

    async fn retire(&self, kid: &str, at: DateTime<Utc>) -> Result<(), SamlKeyError> {
        self.directory
            .retire_signing_key(Actor::System, kid, at)
            .await
            .map_err(SamlKeyError::Unavailable)
    }

    async fn load(&self, force: bool) -> Result<KeySet, SamlKeyError> {
        let now = self.clock.now();
        let cached = match self.cache.read() {
            Ok(c) => c.clone(),
            Err(p) => p.into_inner().clone(),
        };
        if !force
            && let Some((at, keys)) = &cached
            && now >= *at
            && now - *at < delta(self.config.cache_ttl)
        {
            return Ok(keys.clone());
        }
        let mut keys = Vec::new();
        for s in self.stored().await? {
            let previous = cached
                .as_ref()
                .and_then(|(_, ks)| ks.iter().find(|k| k.kid == s.kid).cloned());
            let key = match previous {
                Some(k) => Arc::new(SamlKey {
                    kid: k.kid.clone(),
                    key_der: k.key_der.clone(),
                    cert_der: k.cert_der.clone(),
                    active_from: s.active_from,
                    retired_at: s.retired_at,
                }),
                None => Arc::new(self.open(&s)?),
            };
            keys.push(key);
        }
        let keys = Arc::new(keys);
        match self.cache.write() {
            Ok(mut c) => *c = Some((now, keys.clone())),
            Err(p) => *p.into_inner() = Some((now, keys.clone())),
        }
        Ok(keys)
    }

    fn open(&self, s: &SigningKey) -> Result<SamlKey, SamlKeyError> {
        let key_der = self
            .sealer
            .open(&s.private_key, s.kid.as_bytes())
            .map_err(|e| {
                SamlKeyError::Corrupt(format!(
                    "key {} does not open ({e}): is this the master key it was created with?",
                    s.kid
                ))
            })?;
        let cert_der = STANDARD
            .decode(&s.public_key)
            .map_err(|_| SamlKeyError::Corrupt(format!("key {}: unreadable certificate", s.kid)))?;
        Ok(SamlKey {
            kid: s.kid.clone(),
            key_der,
            cert_der,
            active_from: s.active_from,
            retired_at: s.retired_at,
        })
    }
}
