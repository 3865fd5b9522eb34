//! A per-node read cache in front of any [`Directory`], for the hot request paths (portal API,
//! OIDC, portal pages), without weakening revocation.
//!
//! What is cached: `get_user`, `user_entitlements`, `get_account`, `get_accounts` (per account),
//! `get_permission_set`, `user_applications`, `list_user_groups`, `get_settings`,
//! `get_application`, `find_saml_application` (per entity id), `client_secret_hash` and
//! `application_icon_ids` (per application). Everything else goes straight to the inner store.
//!
//! Freshness rests on one counter, the *epoch* ([`Invalidation`]):
//! - an entry remembers the epoch read *before* its inner read, and is served only while the
//!   epoch is unchanged and the entry is younger than the TTL — so a read that raced with an
//!   invalidation is never served after it;
//! - every write through this cache that can change a cached table bumps the epoch after the
//!   inner write, whatever its result (and even when the caller stops waiting: the write runs to
//!   its end as a task of its own) — the next read on this node sees the change;
//! - writes made by other nodes reach this node through a listener (for PostgreSQL,
//!   `LISTEN/NOTIFY`, see `postgres::spawn_change_listener`) that bumps the epoch; while the
//!   listener is down the cache is *not live* and every read goes to the inner store.
//!
//! The TTL is only a safety net (a notification lost in a way nobody noticed).

mod impls;
#[cfg(test)]
mod tests;

use std::future::Future;
use std::hash::Hash;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use portcullis_domain::{
    AccountId, Application, ApplicationId, Group, PermissionSet, PermissionSetId, Settings, User,
    UserId,
};
use quick_cache::sync::Cache;

use crate::{Account, Directory, Entitlement, Result, StoreError};

/// How the cache behaves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CacheOptions {
    /// The longest an entry is served; zero turns the cache off (every call passes through).
    pub ttl: Duration,
    /// The most entries kept of each kind (users, entitlements, accounts, …).
    pub capacity: usize,
}

impl CacheOptions {
    /// Entries of each kind kept by default.
    pub const DEFAULT_CAPACITY: usize = 50_000;

    /// A cache whose entries live at most `ttl`, with the default capacity.
    pub fn with_ttl(ttl: Duration) -> Self {
        Self {
            ttl,
            capacity: Self::DEFAULT_CAPACITY,
        }
    }
}

/// The epoch and the liveness flag of one cache, shared with whoever learns of changes made
/// elsewhere (the change listener).
#[derive(Debug)]
pub struct Invalidation {
    epoch: AtomicU64,
    live: AtomicBool,
}

impl Invalidation {
    fn new(live: bool) -> Self {
        Self {
            epoch: AtomicU64::new(0),
            live: AtomicBool::new(live),
        }
    }

    /// Makes every entry cached so far unservable.
    pub fn invalidate(&self) {
        self.epoch.fetch_add(1, Ordering::SeqCst);
    }

    /// Whether changes made elsewhere are being heard. While not, reads bypass the cache.
    /// Every change of state also invalidates, so nothing read before it is served after.
    pub fn set_live(&self, live: bool) {
        if self.live.swap(live, Ordering::SeqCst) != live {
            self.invalidate();
        }
    }

    pub fn is_live(&self) -> bool {
        self.live.load(Ordering::SeqCst)
    }

    fn epoch(&self) -> u64 {
        self.epoch.load(Ordering::SeqCst)
    }
}

/// Bumps the epoch when dropped: after the write it guards, or when that write panics.
struct InvalidateOnDrop(Arc<Invalidation>);

impl Drop for InvalidateOnDrop {
    fn drop(&mut self) {
        self.0.invalidate();
    }
}

/// Ends a background task (the change listener) when dropped, so that a dropped cache leaves no
/// task — and no database connection — behind.
#[derive(Debug)]
pub struct ListenerGuard(tokio::task::AbortHandle);

impl ListenerGuard {
    pub fn new(task: tokio::task::AbortHandle) -> Self {
        Self(task)
    }
}

impl Drop for ListenerGuard {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// One cached value, with the epoch read before the inner read that produced it, the time that
/// read started and how long after it the value may be served.
#[derive(Clone)]
struct Entry<V> {
    epoch: u64,
    read_at: Instant,
    lifetime: Duration,
    value: V,
}

/// The rule deciding whether an entry may be served, and the read path that applies it.
struct Freshness {
    ttl: Duration,
    invalidation: Arc<Invalidation>,
}

impl Freshness {
    fn enabled(&self) -> bool {
        !self.ttl.is_zero()
    }

    /// The cached value of `key` when it is still fresh; otherwise `load`s it (and keeps it,
    /// tagged with the epoch read before the load). Errors are never kept.
    async fn read<K, V, Fut>(&self, cache: &Cache<K, Entry<V>>, key: K, load: Fut) -> Result<V>
    where
        K: Eq + Hash,
        V: Clone,
        Fut: Future<Output = Result<V>>,
    {
        if !self.enabled() || !self.invalidation.is_live() {
            return load.await;
        }
        let epoch = self.invalidation.epoch();
        let read_at = Instant::now();
        if let Some(hit) = cache.get(&key)
            && self.fresh(&hit, epoch, read_at)
        {
            return Ok(hit.value);
        }
        let value = load.await?;
        if self.invalidation.epoch() == epoch && self.invalidation.is_live() {
            let lifetime = self.lifetime(&key);
            cache.insert(
                key,
                Entry {
                    epoch,
                    read_at,
                    lifetime,
                    value: value.clone(),
                },
            );
        }
        Ok(value)
    }

    /// The cached value of `key`, when there is a fresh one.
    fn cached<K, V>(&self, cache: &Cache<K, Entry<V>>, key: &K) -> Option<V>
    where
        K: Eq + Hash,
        V: Clone,
    {
        if !self.enabled() || !self.invalidation.is_live() {
            return None;
        }
        let epoch = self.invalidation.epoch();
        cache
            .get(key)
            .filter(|hit| self.fresh(hit, epoch, Instant::now()))
            .map(|hit| hit.value)
    }

    /// `load`s several values and keeps each under `key_of` it, as [`Freshness::read`] does.
    async fn read_many<K, V, Fut>(
        &self,
        cache: &Cache<K, Entry<V>>,
        load: Fut,
        key_of: impl Fn(&V) -> K,
    ) -> Result<Vec<V>>
    where
        K: Eq + Hash,
        V: Clone,
        Fut: Future<Output = Result<Vec<V>>>,
    {
        if !self.enabled() || !self.invalidation.is_live() {
            return load.await;
        }
        let epoch = self.invalidation.epoch();
        let read_at = Instant::now();
        let values = load.await?;
        if self.invalidation.epoch() == epoch && self.invalidation.is_live() {
            for value in &values {
                let key = key_of(value);
                let entry = Entry {
                    epoch,
                    read_at,
                    lifetime: self.lifetime(&key),
                    value: value.clone(),
                };
                cache.insert(key, entry);
            }
        }
        Ok(values)
    }

    fn fresh<V>(&self, entry: &Entry<V>, epoch: u64, now: Instant) -> bool {
        entry.epoch == epoch && now.saturating_duration_since(entry.read_at) < entry.lifetime
    }

    /// How long an entry for `key` is served: between half the TTL and the TTL, spread by the
    /// key's hash, so that entries read together (a node's first requests, a burst of sign-ins)
    /// do not all expire, and reload from the database, in the same instant.
    fn lifetime<K: Hash>(&self, key: &K) -> Duration {
        use std::hash::Hasher as _;
        let mut h = std::hash::DefaultHasher::new();
        key.hash(&mut h);
        let spread = (h.finish() % 1024) as u32;
        self.ttl - self.ttl / 2 * spread / 1024
    }
}

/// The caches, one per kind of read.
struct Caches {
    users: Cache<UserId, Entry<User>>,
    entitlements: Cache<UserId, Entry<Vec<Entitlement>>>,
    accounts: Cache<AccountId, Entry<Account>>,
    permission_sets: Cache<PermissionSetId, Entry<PermissionSet>>,
    user_applications: Cache<UserId, Entry<Vec<Application>>>,
    user_groups: Cache<UserId, Entry<Vec<Group>>>,
    settings: Cache<(), Entry<Settings>>,
    applications: Cache<ApplicationId, Entry<Application>>,
    /// SAML applications by SP entity id (`None` cached too: an unknown SP asks nothing twice).
    saml_applications: Cache<String, Entry<Option<Application>>>,
    /// Whether an application has an icon (the portal's Applications tab asks on every render).
    has_icon: Cache<ApplicationId, Entry<(ApplicationId, bool)>>,
    /// OIDC client secret hashes (every confidential client's token request reads one).
    secret_hashes: Cache<ApplicationId, Entry<Option<Vec<u8>>>>,
}

impl Caches {
    fn new(capacity: usize) -> Self {
        let capacity = capacity.max(1);
        Self {
            users: Cache::new(capacity),
            entitlements: Cache::new(capacity),
            accounts: Cache::new(capacity),
            permission_sets: Cache::new(capacity),
            user_applications: Cache::new(capacity),
            user_groups: Cache::new(capacity),
            settings: Cache::new(1),
            applications: Cache::new(capacity),
            saml_applications: Cache::new(capacity),
            has_icon: Cache::new(capacity),
            secret_hashes: Cache::new(capacity),
        }
    }
}

/// A [`Directory`] that caches the hot reads of another (see the module documentation).
pub struct CachedDirectory {
    inner: Arc<dyn Directory>,
    freshness: Freshness,
    caches: Caches,
    listener: Option<ListenerGuard>,
}

impl std::fmt::Debug for CachedDirectory {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CachedDirectory")
            .field("backend", &self.inner.backend())
            .field("ttl", &self.freshness.ttl)
            .field("live", &self.freshness.invalidation.is_live())
            .field("listener", &self.listener.is_some())
            .finish()
    }
}

impl CachedDirectory {
    /// Caches the reads of `inner`. The cache starts live: call
    /// `invalidation().set_live(false)` (or let a listener do it) when changes made elsewhere
    /// are not heard yet.
    pub fn new(inner: Arc<dyn Directory>, options: CacheOptions) -> Self {
        Self {
            inner,
            freshness: Freshness {
                ttl: options.ttl,
                invalidation: Arc::new(Invalidation::new(true)),
            },
            caches: Caches::new(options.capacity),
            listener: None,
        }
    }

    /// Keeps `guard` (a change listener's) for as long as this cache lives; dropping the cache
    /// ends the listener.
    pub fn with_listener(mut self, guard: ListenerGuard) -> Self {
        self.listener = Some(guard);
        self
    }

    /// The handle a change listener uses to invalidate this cache and report liveness.
    pub fn invalidation(&self) -> Arc<Invalidation> {
        self.freshness.invalidation.clone()
    }

    /// Whether reads may be served from the cache (enabled and live).
    pub fn is_caching(&self) -> bool {
        self.freshness.enabled() && self.freshness.invalidation.is_live()
    }

    /// Makes every cached entry unservable.
    pub fn invalidate_all(&self) {
        self.freshness.invalidation.invalidate();
    }

    /// Runs a write that can change cached tables, then invalidates, whatever its result. The
    /// write runs as a task of its own: a caller that stops waiting (a client gone away) cannot
    /// cut it between the commit and the invalidation.
    async fn write<T, F, Fut>(&self, op: F) -> Result<T>
    where
        F: FnOnce(Arc<dyn Directory>) -> Fut,
        Fut: Future<Output = Result<T>> + Send + 'static,
        T: Send + 'static,
    {
        let guard = InvalidateOnDrop(self.freshness.invalidation.clone());
        let work = op(self.inner.clone());
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            let result = work.await;
            drop(guard);
            return result;
        };
        let task = runtime.spawn(async move {
            let result = work.await;
            drop(guard);
            result
        });
        match task.await {
            Ok(result) => result,
            Err(e) => Err(StoreError::unavailable(e)),
        }
    }
}
