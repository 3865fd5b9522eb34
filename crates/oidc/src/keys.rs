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

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, RwLock};
use std::time::Duration;

use chrono::{DateTime, Utc};
use portcullis_domain::{Actor, SigningAlgorithm};
use portcullis_sessions::Clock;
use portcullis_store::{Directory, NewSigningKey, SigningKey, StoreError};
use serde::Serialize;

pub(crate) use material::{KeyMaterial, token_header};
pub use portcullis_auth::keys::KeyConfig;
use portcullis_auth::keys::{FIRST_KEY_BACKDATE, delta, signs_at, state_at};
use portcullis_auth::seal::SecretBox;

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
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct KeyInfo {
    pub kid: String,
    pub algorithm: SigningAlgorithm,
    pub created_at: chrono::DateTime<chrono::Utc>,
    pub active_from: chrono::DateTime<chrono::Utc>,
    pub retired_at: Option<chrono::DateTime<chrono::Utc>>,
    /// `pending` (published, not yet signing), `active`, or `retired` (published, not signing).
    pub state: &'static str,
}

// ---------------------------------------------------------------------------------------------
// The key ring: the key set from the store, cached per node.

/// A stored key, opened.
struct LoadedKey {
    material: KeyMaterial,
    active_from: DateTime<Utc>,
    retired_at: Option<DateTime<Utc>>,
}

/// The key set as one node last read it.
struct Cache {
    /// Which reload produced it (see [`KeyRing::reloads`]).
    seq: u64,
    loaded_at: DateTime<Utc>,
    /// Newest first, as the store lists them.
    keys: Vec<Arc<LoadedKey>>,
}

impl Cache {
    fn find(&self, kid: &str) -> Option<&Arc<LoadedKey>> {
        self.keys.iter().find(|k| k.material.kid == kid)
    }

    /// The newest key of `alg` that signs at `now`.
    fn signing_key(&self, alg: SigningAlgorithm, now: DateTime<Utc>) -> Option<&Arc<LoadedKey>> {
        self.keys
            .iter()
            .filter(|k| k.material.alg == alg && signs_at(k.active_from, k.retired_at, now))
            .max_by_key(|k| k.active_from)
    }
}

/// The key set, cached per node.
pub struct KeyRing {
    directory: Arc<dyn Directory>,
    clock: Arc<dyn Clock>,
    issuer: String,
    config: KeyConfig,
    sealer: SecretBox,
    cache: RwLock<Option<Arc<Cache>>>,
    /// One reload at a time; tasks that waited take a reload that started after they asked.
    reload: tokio::sync::Mutex<()>,
    /// Reloads started so far.
    reloads: AtomicU64,
    /// Set after this node changed the key set: the next use rereads it.
    dirty: AtomicBool,
    /// When a token with an unknown `kid` last made this node reread the store: such rereads
    /// are at most one per [`UNKNOWN_KID_REREAD`], so tokens with made-up `kid`s cannot turn
    /// every request into a store read.
    last_unknown_reread: std::sync::Mutex<Option<std::time::Instant>>,
}

/// The least time between two rereads caused by unknown `kid`s. A real new key is known to every
/// node long before it signs (published `publish_ahead` early, rereads every `cache_ttl`); this
/// only covers a key made and used at once (first start, a manual rotation without notice).
const UNKNOWN_KID_REREAD: std::time::Duration = std::time::Duration::from_secs(1);

impl std::fmt::Debug for KeyRing {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KeyRing")
            .field("issuer", &self.issuer)
            .finish_non_exhaustive()
    }
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
            directory,
            clock,
            issuer,
            config,
            sealer: SecretBox::new(&sealing_key),
            cache: RwLock::new(None),
            reload: tokio::sync::Mutex::new(()),
            reloads: AtomicU64::new(0),
            dirty: AtomicBool::new(false),
            last_unknown_reread: std::sync::Mutex::new(None),
        }
    }

    /// Whether an unknown `kid` may make this node reread the store now (and notes it).
    fn may_reread_for_unknown_kid(&self) -> bool {
        let now = std::time::Instant::now();
        let mut last = match self.last_unknown_reread.lock() {
            Ok(l) => l,
            Err(poisoned) => poisoned.into_inner(),
        };
        if last.is_some_and(|t| now.duration_since(t) < UNKNOWN_KID_REREAD) {
            return false;
        }
        *last = Some(now);
        true
    }

    /// At start: makes sure one active key exists per algorithm (creating what is missing, for
    /// immediate use — nothing can have cached an empty set).
    pub async fn ensure_keys(&self) -> Result<(), KeyError> {
        let now = self.clock.now();
        let stored = self.stored().await?;
        for alg in SigningAlgorithm::ALL {
            let of_alg = || stored.iter().filter(|k| k.algorithm == alg.as_str());
            if of_alg().any(|k| signs_at(k.active_from, k.retired_at, now)) {
                continue;
            }
            let Some(kid) = self.create_first(alg, now).await? else {
                tracing::info!(%alg, "another node created the token-signing key; using it");
                continue;
            };
            // A key waiting to sign (a rotation left half-done) takes over when it is due.
            if let Some(next) = of_alg()
                .filter(|k| k.active_from > now && k.retired_at.is_none())
                .map(|k| k.active_from)
                .min()
            {
                self.retire(Actor::System, &kid, next).await?;
            }
            tracing::info!(%alg, %kid, "created a token-signing key");
        }
        // Opens every key now, so a wrong master key stops start-up rather than the first sign-in.
        self.load(true).await.map(|_| ())
    }

    /// Signs `claims` with the newest active key of `alg`; the header carries `kid` and `typ`.
    pub async fn sign(
        &self,
        alg: SigningAlgorithm,
        typ: &str,
        claims: &serde_json::Value,
    ) -> Result<String, KeyError> {
        let now = self.clock.now();
        let mut cache = self.load(false).await?;
        if cache.signing_key(alg, now).is_none() {
            cache = self.load(true).await?;
        }
        let key =
            cache
                .signing_key(alg, now)
                .ok_or(KeyError::Unavailable(StoreError::NotFound(
                    "active signing key",
                )))?;
        key.material.sign(typ, claims)
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
        let mut cache = self.load(false).await?;
        if cache.find(&kid).is_none() && self.may_reread_for_unknown_kid() {
            // Perhaps rotated on another node since this one last read the store.
            cache = self.load(true).await?;
        }
        let key = cache
            .find(&kid)
            .filter(|k| self.published(k.retired_at, now))
            .ok_or(KeyError::Rejected("unknown key"))?;
        let expiry_time = if check_expiry {
            now
        } else {
            DateTime::<Utc>::MIN_UTC
        };
        key.material.verify(token, &self.issuer, expiry_time)
    }

    /// The JWKS document: every published key (pending, active, retired but retained).
    pub async fn jwks(&self) -> Result<serde_json::Value, KeyError> {
        let now = self.clock.now();
        let cache = self.load(false).await?;
        let keys: Vec<serde_json::Value> = cache
            .keys
            .iter()
            .filter(|k| self.published(k.retired_at, now))
            .map(|k| k.material.jwk.clone())
            .collect();
        Ok(serde_json::json!({ "keys": keys }))
    }

    /// The published keys (as [`KeyRing::jwks`] has them), newest first, read from the store.
    pub async fn list(&self) -> Result<Vec<KeyInfo>, KeyError> {
        let now = self.clock.now();
        Ok(self
            .stored()
            .await?
            .into_iter()
            .filter(|k| self.published(k.retired_at, now))
            .filter_map(|k| {
                let algorithm = k.algorithm.parse::<SigningAlgorithm>().ok()?;
                let state = state_at(k.active_from, k.retired_at, now);
                Some(KeyInfo {
                    kid: k.kid,
                    algorithm,
                    created_at: k.created_at,
                    active_from: k.active_from,
                    retired_at: k.retired_at,
                    state,
                })
            })
            .collect())
    }

    /// Creates a new key per algorithm, published now and signing after `publish_ahead`; the
    /// current keys retire when the new ones start signing. Returns the key set afterwards.
    pub async fn rotate(&self, actor: Actor) -> Result<Vec<KeyInfo>, KeyError> {
        let active_from = self.clock.now() + delta(self.config.publish_ahead);
        let stored = self.stored().await?;
        for alg in SigningAlgorithm::ALL {
            let kid = self.create(actor, alg, active_from).await?;
            for old in stored
                .iter()
                .filter(|k| k.algorithm == alg.as_str() && k.retired_at.is_none())
            {
                self.retire(actor, &old.kid, active_from).await?;
            }
            tracing::info!(%alg, %kid, %active_from, %actor, "rotated the token-signing key");
        }
        self.invalidate();
        self.list().await
    }

    /// Rotates when the newest key is older than `rotation_interval` (one node wins when several
    /// try at once) and deletes retired keys past `retain_after_retirement`. `true` when it rotated.
    ///
    /// "Older" is measured so that each key signs for `rotation_interval`: its successor is
    /// published `publish_ahead` before that time is up.
    pub async fn rotate_if_due(&self) -> Result<bool, KeyError> {
        let now = self.clock.now();
        let stored = self.stored().await?;
        let mut changed = false;
        for key in stored.iter().filter(|k| !self.published(k.retired_at, now)) {
            match self
                .directory
                .delete_signing_key(Actor::System, &key.kid)
                .await
            {
                // Another node deleted it first.
                Ok(()) | Err(StoreError::NotFound(_)) => {}
                Err(e) => return Err(KeyError::Unavailable(e)),
            }
            tracing::info!(kid = %key.kid, "deleted a retired token-signing key");
            changed = true;
        }
        // Ages are read from `active_from`, which the injected clock stamped (`created_at` is the
        // store's own time): a key is due for a successor when the successor, published
        // `publish_ahead` early, would start signing `rotation_interval` after it did.
        let newest = stored.iter().map(|k| k.active_from).max();
        let due = newest.is_some_and(|n| {
            n + delta(self.config.rotation_interval) <= now + delta(self.config.publish_ahead)
        });
        if !due {
            if changed {
                self.invalidate();
            }
            if newest.is_none() {
                self.ensure_keys().await?;
            }
            return Ok(false);
        }
        // Nodes run this schedule at about the same time after a rollout: wait a random moment,
        // then rotate only if no other node has rotated meanwhile.
        let pause = rand::random_range(0..2_000u64);
        tokio::time::sleep(Duration::from_millis(pause)).await;
        let again = self.stored().await?;
        if again.iter().map(|k| k.active_from).max() != newest {
            self.invalidate();
            return Ok(false);
        }
        self.rotate(Actor::System).await?;
        Ok(true)
    }

    /// For readiness: the key set can be read and every algorithm has a key that signs now.
    pub async fn ready(&self) -> Result<(), KeyError> {
        let now = self.clock.now();
        let cache = self.load(false).await?;
        if SigningAlgorithm::ALL
            .into_iter()
            .all(|alg| cache.signing_key(alg, now).is_some())
        {
            Ok(())
        } else {
            Err(KeyError::Unavailable(StoreError::NotFound(
                "active signing key",
            )))
        }
    }

    // -- internals ------------------------------------------------------------------------

    /// Published at `now`: not retired, or retired less than `retain_after_retirement` ago.
    fn published(&self, retired_at: Option<DateTime<Utc>>, now: DateTime<Utc>) -> bool {
        retired_at.is_none_or(|r| r + delta(self.config.retain_after_retirement) > now)
    }

    async fn stored(&self) -> Result<Vec<SigningKey>, KeyError> {
        self.directory
            .list_signing_keys(PURPOSE)
            .await
            .map_err(KeyError::Unavailable)
    }

    /// Generates, seals and stores a key of `alg` that signs from `active_from`; its `kid`.
    async fn create(
        &self,
        actor: Actor,
        alg: SigningAlgorithm,
        active_from: DateTime<Utc>,
    ) -> Result<String, KeyError> {
        let key = self.generate(alg, active_from).await?;
        let kid = key.kid.clone();
        self.directory
            .insert_signing_key(actor, key)
            .await
            .map_err(KeyError::Unavailable)?;
        Ok(kid)
    }

    /// Creates a key of `alg` unless one signs `now` already — perhaps created a moment ago by
    /// another node starting at the same time. `None` when one did. The new key signs from a
    /// little before `now` ([`FIRST_KEY_BACKDATE`]), so that nodes whose clocks are a little
    /// behind this one's agree that it signs.
    async fn create_first(
        &self,
        alg: SigningAlgorithm,
        now: DateTime<Utc>,
    ) -> Result<Option<String>, KeyError> {
        let key = self.generate(alg, now - FIRST_KEY_BACKDATE).await?;
        let created = self
            .directory
            .insert_first_signing_key(Actor::System, key, now)
            .await
            .map_err(KeyError::Unavailable)?;
        Ok(created.map(|k| k.kid))
    }

    /// A new key of `alg`, its private half sealed, ready to store.
    async fn generate(
        &self,
        alg: SigningAlgorithm,
        active_from: DateTime<Utc>,
    ) -> Result<NewSigningKey, KeyError> {
        // RSA generation takes a noticeable moment: keep it off the async workers.
        let (material, der) = tokio::task::spawn_blocking(move || KeyMaterial::generate(alg))
            .await
            .map_err(|e| KeyError::Corrupt(format!("key generation stopped: {e}")))??;
        Ok(NewSigningKey {
            kid: material.kid.clone(),
            purpose: PURPOSE.to_owned(),
            algorithm: alg.as_str().to_owned(),
            private_key: self.sealer.seal(&der, material.kid.as_bytes()),
            public_key: material.jwk.to_string(),
            active_from,
        })
    }

    async fn retire(&self, actor: Actor, kid: &str, at: DateTime<Utc>) -> Result<(), KeyError> {
        self.directory
            .retire_signing_key(actor, kid, at)
            .await
            .map_err(KeyError::Unavailable)
    }

    fn current(&self) -> Option<Arc<Cache>> {
        match self.cache.read() {
            Ok(c) => c.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        }
    }

    fn invalidate(&self) {
        self.dirty.store(true, Ordering::SeqCst);
    }

    /// The key set: the cached one while younger than `cache_ttl`, else reread. `force`: reread
    /// unless a reread that started after this call asked has finished meanwhile.
    async fn load(&self, force: bool) -> Result<Arc<Cache>, KeyError> {
        let now = self.clock.now();
        let fresh = |c: &Cache| {
            !self.dirty.load(Ordering::SeqCst)
                && now >= c.loaded_at
                && now - c.loaded_at < delta(self.config.cache_ttl)
        };
        let ticket = self.reloads.load(Ordering::SeqCst);
        if !force
            && let Some(c) = self.current()
            && fresh(&c)
        {
            return Ok(c);
        }
        let _one_at_a_time = self.reload.lock().await;
        let current = self.current();
        if let Some(c) = &current
            && (if force { c.seq > ticket } else { fresh(c) })
        {
            return Ok(c.clone());
        }
        let seq = self.reloads.fetch_add(1, Ordering::SeqCst) + 1;
        // Cleared before reading, so a change made during the read marks it stale again.
        let was_dirty = self.dirty.swap(false, Ordering::SeqCst);
        let previous: HashMap<&str, &KeyMaterial> = current
            .iter()
            .flat_map(|c| c.keys.iter())
            .map(|k| (k.material.kid.as_str(), &k.material))
            .collect();
        let stored = match self.stored().await {
            Ok(stored) => stored,
            Err(e) => {
                if was_dirty {
                    self.dirty.store(true, Ordering::SeqCst);
                }
                return Err(e);
            }
        };
        let mut keys = Vec::new();
        for stored in stored {
            let Ok(alg) = stored.algorithm.parse::<SigningAlgorithm>() else {
                tracing::warn!(kid = %stored.kid, algorithm = %stored.algorithm, "skipping a signing key of an unknown algorithm");
                continue;
            };
            // Key material never changes under a kid: reuse what is already open.
            let material = match previous.get(stored.kid.as_str()) {
                Some(m) if m.alg == alg => (*m).clone(),
                _ => self.open(&stored, alg)?,
            };
            keys.push(Arc::new(LoadedKey {
                material,
                active_from: stored.active_from,
                retired_at: stored.retired_at,
            }));
        }
        let cache = Arc::new(Cache {
            seq,
            loaded_at: now,
            keys,
        });
        match self.cache.write() {
            Ok(mut c) => *c = Some(cache.clone()),
            Err(poisoned) => *poisoned.into_inner() = Some(cache.clone()),
        }
        Ok(cache)
    }

    fn open(&self, stored: &SigningKey, alg: SigningAlgorithm) -> Result<KeyMaterial, KeyError> {
        let der = self
            .sealer
            .open(&stored.private_key, stored.kid.as_bytes())
            .map_err(|e| {
                KeyError::Corrupt(format!(
                    "key {} does not open ({e}): is this the master key the keys were created with?",
                    stored.kid
                ))
            })?;
        KeyMaterial::from_pkcs8(alg, Some(&stored.kid), &der)
            .map_err(|e| KeyError::Corrupt(format!("key {}: {e}", stored.kid)))
    }
}

mod material;
mod signer;
#[cfg(test)]
mod tests;
