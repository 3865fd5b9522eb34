//! One lifecycle for every kind of signing key the directory keeps: the OIDC JWKs and the SAML
//! certificates differ in their material (a [`KeyKind`]), not in how a key lives.
//!
//! A key is created sealed (AES-256-GCM under a key derived from the master key, the `kid` as
//! associated data, so a sealed key copied to another row does not open), published before it
//! signs, retired when its successor starts signing, kept published for
//! `retain_after_retirement`, then deleted. Every node reads the set from the store and caches it
//! for `cache_ttl`; a `kid` it does not know makes it reread at once (at most once a second).

use std::ops::Deref;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use portcullis_domain::Actor;
use portcullis_sessions::Clock;
use portcullis_store::{Directory, NewSigningKey, SigningKey, StoreError};
use serde::Serialize;

use super::{FIRST_KEY_BACKDATE, KeyConfig, delta, signs_at, state_at};
use crate::seal::SecretBox;

/// What differs between kinds of signing key; implemented by the opened key material.
pub trait KeyKind: Sized + Send + Sync + 'static {
    /// The `purpose` of these keys in the signing-key store.
    const PURPOSE: &'static str;
    /// What the logs call one key ("token-signing key").
    const NAME: &'static str;
    /// An algorithm keys are made for; each has its own signing key.
    type Algorithm: Copy + Eq + Send + Sync + 'static;
    /// Every algorithm: [`KeyLifecycle::ensure_keys`] and [`KeyLifecycle::rotate`] make one key
    /// of each.
    const ALGORITHMS: &'static [Self::Algorithm];

    /// The store's `algorithm` column for `alg`.
    fn algorithm_name(alg: Self::Algorithm) -> &'static str;

    /// A new key of `alg` (called on a blocking thread: RSA generation takes a moment).
    fn generate(alg: Self::Algorithm) -> Result<NewKey, String>;

    /// Opens a stored key: `private` is the unsealed private half, `public` the stored public
    /// half (as [`NewKey::public`] had it).
    fn open(alg: Self::Algorithm, kid: &str, private: &[u8], public: &str) -> Result<Self, String>;
}

/// A generated key, before sealing.
pub struct NewKey {
    pub kid: String,
    /// The private half, sealed before it is stored.
    pub private: Vec<u8>,
    /// The public half as stored (a JWK, a certificate).
    pub public: String,
}

impl std::fmt::Debug for NewKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NewKey")
            .field("kid", &self.kid)
            .finish_non_exhaustive()
    }
}

/// Why the key set is unusable.
#[derive(Debug, thiserror::Error)]
pub enum KeyStoreError {
    /// The directory could not be reached.
    #[error("signing keys are unavailable")]
    Unavailable(#[source] StoreError),
    /// A stored key could not be opened or parsed (wrong master key, manual edit), or a new one
    /// could not be generated.
    #[error("a stored signing key is unusable: {0}")]
    Corrupt(String),
}

/// An opened key with its times; derefs to its material.
pub struct Key<M: KeyKind> {
    pub kid: String,
    pub algorithm: M::Algorithm,
    pub active_from: DateTime<Utc>,
    pub retired_at: Option<DateTime<Utc>>,
    /// Key material never changes under a kid: rereads share it.
    material: Arc<M>,
}

impl<M: KeyKind> Deref for Key<M> {
    type Target = M;
    fn deref(&self) -> &M {
        &self.material
    }
}

impl<M: KeyKind> std::fmt::Debug for Key<M> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Key")
            .field("kid", &self.kid)
            .field("active_from", &self.active_from)
            .field("retired_at", &self.retired_at)
            .finish_non_exhaustive()
    }
}

/// A key as the admin API lists it (never the private half).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct KeyInfo<A> {
    pub kid: String,
    pub algorithm: A,
    pub created_at: DateTime<Utc>,
    pub active_from: DateTime<Utc>,
    pub retired_at: Option<DateTime<Utc>>,
    /// `pending` (published, not yet signing), `active`, or `retired` (published, not signing).
    pub state: &'static str,
}

impl<A> KeyInfo<A> {
    /// The same facts with the algorithm told another way.
    pub fn map_algorithm<B>(self, f: impl FnOnce(A) -> B) -> KeyInfo<B> {
        KeyInfo {
            kid: self.kid,
            algorithm: f(self.algorithm),
            created_at: self.created_at,
            active_from: self.active_from,
            retired_at: self.retired_at,
            state: self.state,
        }
    }
}

/// The key set as one node last read it.
struct Cache<M: KeyKind> {
    /// Which reload produced it (see [`KeyLifecycle::reloads`]).
    seq: u64,
    loaded_at: DateTime<Utc>,
    /// Newest first, as the store lists them.
    keys: Vec<Arc<Key<M>>>,
}

impl<M: KeyKind> Cache<M> {
    fn find(&self, kid: &str) -> Option<&Arc<Key<M>>> {
        self.keys.iter().find(|k| k.kid == kid)
    }

    /// The newest key of `alg` that signs at `now`.
    fn signing_key(&self, alg: M::Algorithm, now: DateTime<Utc>) -> Option<&Arc<Key<M>>> {
        self.keys
            .iter()
            .filter(|k| k.algorithm == alg && signs_at(k.active_from, k.retired_at, now))
            .max_by_key(|k| k.active_from)
    }
}

/// The least time between two rereads caused by unknown `kid`s. A real new key is known to every
/// node long before it signs (published `publish_ahead` early, rereads every `cache_ttl`); this
/// only covers a key made and used at once (first start, a manual rotation without notice).
const UNKNOWN_KID_REREAD: Duration = Duration::from_secs(1);

/// The keys of one kind: stored in the directory, shared by every node, cached per node.
pub struct KeyLifecycle<M: KeyKind> {
    directory: Arc<dyn Directory>,
    clock: Arc<dyn Clock>,
    config: KeyConfig,
    sealer: SecretBox,
    cache: RwLock<Option<Arc<Cache<M>>>>,
    /// One reload at a time; tasks that waited take a reload that started after they asked.
    reload: tokio::sync::Mutex<()>,
    /// Reloads started so far.
    reloads: AtomicU64,
    /// Set after this node changed the key set: the next use rereads it.
    dirty: AtomicBool,
    /// When an unknown `kid` last made this node reread the store: such rereads are at most one
    /// per [`UNKNOWN_KID_REREAD`], so made-up `kid`s cannot turn every request into a store read.
    last_unknown_reread: std::sync::Mutex<Option<Instant>>,
}

impl<M: KeyKind> std::fmt::Debug for KeyLifecycle<M> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KeyLifecycle")
            .field("purpose", &M::PURPOSE)
            .finish_non_exhaustive()
    }
}

impl<M: KeyKind> KeyLifecycle<M> {
    /// `sealing_key` seals private keys at rest.
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
            reload: tokio::sync::Mutex::new(()),
            reloads: AtomicU64::new(0),
            dirty: AtomicBool::new(false),
            last_unknown_reread: std::sync::Mutex::new(None),
        }
    }

    /// Reloads started so far (each one a read of the store).
    pub fn reloads(&self) -> u64 {
        self.reloads.load(Ordering::SeqCst)
    }

    /// At start: makes sure a key signs now per algorithm, creating what is missing for
    /// immediate use (nothing can have cached an empty set), and opens every key, so that a
    /// wrong master key stops start-up rather than the first sign-in.
    pub async fn ensure_keys(&self) -> Result<(), KeyStoreError> {
        let now = self.clock.now();
        let stored = self.stored().await?;
        for &alg in M::ALGORITHMS {
            let name = M::algorithm_name(alg);
            let of_alg = || stored.iter().filter(|k| k.algorithm == name);
            if of_alg().any(|k| signs_at(k.active_from, k.retired_at, now)) {
                continue;
            }
            let Some(kid) = self.create_first(alg, now).await? else {
                tracing::info!(alg = name, "another node created the {}; using it", M::NAME);
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
            tracing::info!(alg = name, %kid, "created a {}", M::NAME);
        }
        self.load(true).await.map(|_| ())
    }

    /// The newest key of `alg` that signs now (rereading the store once when none does).
    pub async fn signing_key(
        &self,
        alg: M::Algorithm,
    ) -> Result<Option<Arc<Key<M>>>, KeyStoreError> {
        let now = self.clock.now();
        let cache = self.load(false).await?;
        if let Some(key) = cache.signing_key(alg, now) {
            return Ok(Some(key.clone()));
        }
        Ok(self.load(true).await?.signing_key(alg, now).cloned())
    }

    /// The published key `kid`: one this node does not know makes it reread the store first
    /// (at most once a second), as it may have been created on another node meanwhile.
    pub async fn find(&self, kid: &str) -> Result<Option<Arc<Key<M>>>, KeyStoreError> {
        let now = self.clock.now();
        let mut cache = self.load(false).await?;
        if cache.find(kid).is_none() && self.may_reread_for_unknown_kid() {
            cache = self.load(true).await?;
        }
        Ok(cache
            .find(kid)
            .filter(|k| self.is_published(k.retired_at, now))
            .cloned())
    }

    /// Every published key (pending, active, retired but retained), newest first.
    pub async fn published(&self) -> Result<Vec<Arc<Key<M>>>, KeyStoreError> {
        let now = self.clock.now();
        Ok(self
            .load(false)
            .await?
            .keys
            .iter()
            .filter(|k| self.is_published(k.retired_at, now))
            .cloned()
            .collect())
    }

    /// Whether every algorithm has a key that signs now, by this node's copy of the set.
    pub async fn ready(&self) -> Result<bool, KeyStoreError> {
        let now = self.clock.now();
        let cache = self.load(false).await?;
        Ok(M::ALGORITHMS
            .iter()
            .all(|&alg| cache.signing_key(alg, now).is_some()))
    }

    /// The published keys' public facts, newest first, read from the store (the admin API).
    pub async fn list(&self) -> Result<Vec<KeyInfo<M::Algorithm>>, KeyStoreError> {
        let now = self.clock.now();
        Ok(self
            .stored()
            .await?
            .into_iter()
            .filter(|k| self.is_published(k.retired_at, now))
            .filter_map(|k| {
                let algorithm = algorithm_of::<M>(&k.algorithm)?;
                Some(KeyInfo {
                    state: state_at(k.active_from, k.retired_at, now),
                    kid: k.kid,
                    algorithm,
                    created_at: k.created_at,
                    active_from: k.active_from,
                    retired_at: k.retired_at,
                })
            })
            .collect())
    }

    /// Creates a new key per algorithm, published now and signing after `publish_ahead`; the
    /// current keys retire when the new ones start signing. Returns the new keys' ids.
    pub async fn rotate(&self, actor: Actor) -> Result<Vec<String>, KeyStoreError> {
        let active_from = self.clock.now() + delta(self.config.publish_ahead);
        let stored = self.stored().await?;
        let mut kids = Vec::new();
        for &alg in M::ALGORITHMS {
            let name = M::algorithm_name(alg);
            let kid = self.create(actor, alg, active_from).await?;
            for old in stored
                .iter()
                .filter(|k| k.algorithm == name && k.retired_at.is_none())
            {
                self.retire(actor, &old.kid, active_from).await?;
            }
            tracing::info!(alg = name, %kid, %active_from, %actor, "rotated the {}", M::NAME);
            kids.push(kid);
        }
        self.invalidate();
        Ok(kids)
    }

    /// Rotates when the newest key is older than `rotation_interval` (one node wins when several
    /// try at once) and deletes retired keys past `retain_after_retirement`. `true` when it
    /// rotated.
    ///
    /// "Older" is measured so that each key signs for `rotation_interval`: its successor is
    /// published `publish_ahead` before that time is up.
    pub async fn rotate_if_due(&self) -> Result<bool, KeyStoreError> {
        let now = self.clock.now();
        let stored = self.stored().await?;
        let mut changed = false;
        for key in stored
            .iter()
            .filter(|k| !self.is_published(k.retired_at, now))
        {
            match self
                .directory
                .delete_signing_key(Actor::System, &key.kid)
                .await
            {
                // Another node deleted it first.
                Ok(()) | Err(StoreError::NotFound(_)) => {}
                Err(e) => return Err(KeyStoreError::Unavailable(e)),
            }
            tracing::info!(kid = %key.kid, "deleted a retired {}", M::NAME);
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

    // -- internals ------------------------------------------------------------------------

    /// Published at `now`: not retired, or retired less than `retain_after_retirement` ago.
    fn is_published(&self, retired_at: Option<DateTime<Utc>>, now: DateTime<Utc>) -> bool {
        retired_at.is_none_or(|r| r + delta(self.config.retain_after_retirement) > now)
    }

    /// Whether an unknown `kid` may make this node reread the store now (and notes it).
    fn may_reread_for_unknown_kid(&self) -> bool {
        let now = Instant::now();
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

    async fn stored(&self) -> Result<Vec<SigningKey>, KeyStoreError> {
        self.directory
            .list_signing_keys(M::PURPOSE)
            .await
            .map_err(KeyStoreError::Unavailable)
    }

    /// Generates, seals and stores a key of `alg` that signs from `active_from`; its `kid`.
    async fn create(
        &self,
        actor: Actor,
        alg: M::Algorithm,
        active_from: DateTime<Utc>,
    ) -> Result<String, KeyStoreError> {
        let key = self.generate(alg, active_from).await?;
        let kid = key.kid.clone();
        self.directory
            .insert_signing_key(actor, key)
            .await
            .map_err(KeyStoreError::Unavailable)?;
        Ok(kid)
    }

    /// Creates a key of `alg` unless one signs `now` already — perhaps created a moment ago by
    /// another node starting at the same time. `None` when one did. The new key signs from a
    /// little before `now` ([`FIRST_KEY_BACKDATE`]), so that nodes whose clocks are a little
    /// behind this one's agree that it signs.
    async fn create_first(
        &self,
        alg: M::Algorithm,
        now: DateTime<Utc>,
    ) -> Result<Option<String>, KeyStoreError> {
        let key = self.generate(alg, now - FIRST_KEY_BACKDATE).await?;
        let created = self
            .directory
            .insert_first_signing_key(Actor::System, key, now)
            .await
            .map_err(KeyStoreError::Unavailable)?;
        Ok(created.map(|k| k.kid))
    }

    /// A new key of `alg`, its private half sealed, ready to store.
    async fn generate(
        &self,
        alg: M::Algorithm,
        active_from: DateTime<Utc>,
    ) -> Result<NewSigningKey, KeyStoreError> {
        let key = tokio::task::spawn_blocking(move || M::generate(alg))
            .await
            .map_err(|e| KeyStoreError::Corrupt(format!("key generation stopped: {e}")))?
            .map_err(KeyStoreError::Corrupt)?;
        Ok(NewSigningKey {
            private_key: self.sealer.seal(&key.private, key.kid.as_bytes()),
            kid: key.kid,
            purpose: M::PURPOSE.to_owned(),
            algorithm: M::algorithm_name(alg).to_owned(),
            public_key: key.public,
            active_from,
        })
    }

    async fn retire(
        &self,
        actor: Actor,
        kid: &str,
        at: DateTime<Utc>,
    ) -> Result<(), KeyStoreError> {
        self.directory
            .retire_signing_key(actor, kid, at)
            .await
            .map_err(KeyStoreError::Unavailable)
    }

    fn current(&self) -> Option<Arc<Cache<M>>> {
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
    async fn load(&self, force: bool) -> Result<Arc<Cache<M>>, KeyStoreError> {
        let now = self.clock.now();
        let fresh = |c: &Cache<M>| {
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
            let Some(alg) = algorithm_of::<M>(&stored.algorithm) else {
                tracing::warn!(kid = %stored.kid, algorithm = %stored.algorithm, "skipping a {} of an unknown algorithm", M::NAME);
                continue;
            };
            // Key material never changes under a kid: reuse what is already open.
            let previous = current.as_ref().and_then(|c| {
                c.keys
                    .iter()
                    .find(|k| k.kid == stored.kid && k.algorithm == alg)
            });
            let material = match previous {
                Some(k) => k.material.clone(),
                None => Arc::new(self.open(&stored, alg)?),
            };
            keys.push(Arc::new(Key {
                kid: stored.kid,
                algorithm: alg,
                active_from: stored.active_from,
                retired_at: stored.retired_at,
                material,
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

    fn open(&self, stored: &SigningKey, alg: M::Algorithm) -> Result<M, KeyStoreError> {
        let private = self
            .sealer
            .open(&stored.private_key, stored.kid.as_bytes())
            .map_err(|e| {
                KeyStoreError::Corrupt(format!(
                    "key {} does not open ({e}): is this the master key the keys were created with?",
                    stored.kid
                ))
            })?;
        M::open(alg, &stored.kid, &private, &stored.public_key)
            .map_err(|e| KeyStoreError::Corrupt(format!("key {}: {e}", stored.kid)))
    }
}

/// The algorithm the store's `algorithm` column names, if it is one of `M`'s.
fn algorithm_of<M: KeyKind>(name: &str) -> Option<M::Algorithm> {
    M::ALGORITHMS
        .iter()
        .copied()
        .find(|&a| M::algorithm_name(a) == name)
}
