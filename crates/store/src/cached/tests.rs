//! The freshness rule of the cache on its own (the cached directory against real backends is
//! tested in `tests/conformance/cache.rs`).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use portcullis_domain::{Actor, DisplayName, Email, NewUser, UserName, UserPatch};
use quick_cache::sync::Cache;

use super::{CacheOptions, CachedDirectory, Entry, Freshness, Invalidation};
use crate::{StoreError, UserStore};

fn freshness(ttl: Duration) -> Freshness {
    Freshness {
        ttl,
        invalidation: Arc::new(Invalidation::new(true)),
    }
}

/// Reads key 1, answering `value` when the inner store is asked; counts the asks.
async fn read(
    f: &Freshness,
    cache: &Cache<u32, Entry<u32>>,
    calls: &AtomicUsize,
    value: u32,
) -> u32 {
    let load = async {
        calls.fetch_add(1, Ordering::SeqCst);
        Ok(value)
    };
    f.read(cache, 1, load).await.unwrap()
}

#[tokio::test]
async fn a_fresh_entry_is_served_without_asking_the_store() {
    let f = freshness(Duration::from_secs(60));
    let cache = Cache::new(10);
    let calls = AtomicUsize::new(0);
    assert_eq!(read(&f, &cache, &calls, 1).await, 1);
    assert_eq!(
        read(&f, &cache, &calls, 2).await,
        1,
        "served from the cache"
    );
    assert_eq!(calls.load(Ordering::SeqCst), 1);
    f.invalidation.invalidate();
    assert_eq!(
        read(&f, &cache, &calls, 3).await,
        3,
        "invalidated: read again"
    );
    assert_eq!(calls.load(Ordering::SeqCst), 2);
}

#[tokio::test]
async fn an_entry_read_before_an_invalidation_is_not_served_after_it() {
    let f = freshness(Duration::from_secs(60));
    let cache = Cache::new(10);
    // The inner read starts, a change is invalidated while it runs, the read ends (with what
    // may be the old value).
    let racing = async {
        f.invalidation.invalidate();
        Ok(1)
    };
    assert_eq!(f.read(&cache, 1, racing).await.unwrap(), 1);
    let calls = AtomicUsize::new(0);
    assert_eq!(
        read(&f, &cache, &calls, 2).await,
        2,
        "the raced read is not served"
    );
    assert_eq!(calls.load(Ordering::SeqCst), 1);
    // An entry kept before the invalidation, whatever its age, is not served after it.
    f.invalidation.invalidate();
    assert_eq!(read(&f, &cache, &calls, 3).await, 3);
    assert_eq!(calls.load(Ordering::SeqCst), 2);
}

#[tokio::test]
async fn a_zero_ttl_passes_every_read_through() {
    let f = freshness(Duration::ZERO);
    let cache = Cache::new(10);
    let calls = AtomicUsize::new(0);
    for v in 1..=3 {
        assert_eq!(read(&f, &cache, &calls, v).await, v);
    }
    assert_eq!(calls.load(Ordering::SeqCst), 3);
    assert_eq!(cache.len(), 0, "nothing is kept");
}

#[tokio::test]
async fn entries_expire_after_the_ttl() {
    let f = freshness(Duration::from_millis(50));
    let cache = Cache::new(10);
    let calls = AtomicUsize::new(0);
    assert_eq!(read(&f, &cache, &calls, 1).await, 1);
    assert_eq!(read(&f, &cache, &calls, 2).await, 1);
    tokio::time::sleep(Duration::from_millis(80)).await;
    assert_eq!(read(&f, &cache, &calls, 3).await, 3, "expired");
    assert_eq!(calls.load(Ordering::SeqCst), 2);
}

#[tokio::test]
async fn reads_bypass_the_cache_while_not_live() {
    let f = freshness(Duration::from_secs(60));
    let cache = Cache::new(10);
    let calls = AtomicUsize::new(0);
    assert_eq!(read(&f, &cache, &calls, 1).await, 1);
    f.invalidation.set_live(false);
    assert_eq!(read(&f, &cache, &calls, 2).await, 2);
    assert_eq!(read(&f, &cache, &calls, 3).await, 3);
    assert_eq!(calls.load(Ordering::SeqCst), 3);
    // Back to live: what was cached before going down is not served.
    f.invalidation.set_live(true);
    assert_eq!(read(&f, &cache, &calls, 4).await, 4);
    assert_eq!(read(&f, &cache, &calls, 5).await, 4);
    assert_eq!(calls.load(Ordering::SeqCst), 4);
}

#[tokio::test]
async fn errors_are_not_kept() {
    let f = freshness(Duration::from_secs(60));
    let cache: Cache<u32, Entry<u32>> = Cache::new(10);
    let missing = async { Err(StoreError::NotFound("user")) };
    assert!(matches!(
        f.read(&cache, 1, missing).await,
        Err(StoreError::NotFound("user"))
    ));
    let calls = AtomicUsize::new(0);
    assert_eq!(read(&f, &cache, &calls, 7).await, 7);
    assert_eq!(calls.load(Ordering::SeqCst), 1);
}

/// A write whose caller stops waiting still invalidates once it is done: the next read sees it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_abandoned_write_still_invalidates() {
    let tmp = tempfile::tempdir().unwrap();
    let inner = Arc::new(crate::testing::sqlite_in(tmp.path()).await);
    let cached = CachedDirectory::new(inner, CacheOptions::with_ttl(Duration::from_secs(3600)));
    let user = cached
        .create_user(
            Actor::Bootstrap,
            NewUser {
                user_name: UserName::parse("ada").unwrap(),
                email: Email::parse("ada@example.com").unwrap(),
                display_name: DisplayName::parse("Ada").unwrap(),
                given_name: None,
                family_name: None,
                enabled: true,
                attributes: Default::default(),
            },
        )
        .await
        .unwrap();
    assert!(cached.get_user(user.id).await.unwrap().enabled);
    let disable = UserPatch {
        enabled: Some(false),
        ..UserPatch::default()
    };
    // Polled once (the write starts), then dropped.
    let abandoned = tokio::time::timeout(
        Duration::from_nanos(1),
        cached.update_user(Actor::Bootstrap, user.id, disable),
    )
    .await;
    drop(abandoned);
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    while cached.get_user(user.id).await.unwrap().enabled {
        assert!(
            std::time::Instant::now() < deadline,
            "the abandoned write was never seen"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

/// Entries read together do not all expire together: each lives between half the TTL and the
/// TTL, spread by its key.
#[tokio::test]
async fn lifetimes_are_spread_between_half_the_ttl_and_the_ttl() {
    let ttl = Duration::from_secs(10);
    let f = freshness(ttl);
    let cache: Cache<u32, Entry<u32>> = Cache::new(1_000);
    for key in 0..500u32 {
        f.read(&cache, key, async move { Ok(key) }).await.unwrap();
    }
    let lifetimes: Vec<Duration> = (0..500u32)
        .map(|key| cache.get(&key).expect("kept").lifetime)
        .collect();
    assert!(
        lifetimes.iter().all(|l| *l > ttl / 2 && *l <= ttl),
        "{lifetimes:?}"
    );
    let early = lifetimes.iter().filter(|l| **l < ttl * 3 / 4).count();
    assert!(
        (150..=350).contains(&early),
        "about half expire in the first half of the window: {early} of 500"
    );
    // An entry is served only within its own lifetime.
    let entry = cache.get(&0).unwrap();
    let epoch = f.invalidation.epoch();
    assert!(f.fresh(&entry, epoch, entry.read_at + entry.lifetime / 2));
    assert!(!f.fresh(&entry, epoch, entry.read_at + entry.lifetime));
}
