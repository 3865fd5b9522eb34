//! Redis-specific checks: what is stored, TTLs, connection failures.

use super::*;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use portcullis_sessions::SessionError;
use portcullis_sessions::redis::RedisSessions;

#[tokio::test]
async fn stores_only_the_token_hash() {
    let clock = Arc::new(ManualClock::new(start_time()));
    let (store, _guard) = testing::redis_scoped(clock.clone()).await;
    assert_eq!(store.backend(), "redis");
    let (token, session) = store
        .create_session(new_session(UserId::new(), clock.now() + mins(60)))
        .await
        .unwrap();
    let entries = testing::redis_dump(store.prefix()).unwrap();
    assert_eq!(
        entries.len(),
        3,
        "a session key, the user's index and the live-sessions counters: {entries:?}"
    );
    let secret = token.expose().as_bytes();
    for entry in &entries {
        assert!(!entry.key.contains(token.expose()), "{}", entry.key);
        for value in &entry.contents {
            assert!(
                !value.windows(secret.len()).any(|w| w == secret),
                "token in {}",
                entry.key
            );
        }
    }
    // Keys and index members carry the session id's 32 bytes in unpadded base64url.
    let member = URL_SAFE_NO_PAD.encode(hex::decode(session.id.as_str()).unwrap());
    let session_key = format!("{}s:{member}", store.prefix());
    assert!(
        entries
            .iter()
            .any(|e| e.key == session_key && e.kind == "string")
    );
    let index_key = format!("{}user-sessions:{}", store.prefix(), session.user_id);
    let index = entries.iter().find(|e| e.key == index_key).unwrap();
    assert_eq!(index.kind, "zset");
    assert_eq!(index.contents, vec![member.as_bytes().to_vec()]);
    // The gauge: one session ends in the minute after the one its expiry falls in.
    let live = entries
        .iter()
        .find(|e| e.key == format!("{}live-sessions", store.prefix()))
        .unwrap();
    assert_eq!(live.kind, "hash");
    let minute = session.expires_at.timestamp().div_euclid(60) + 1;
    assert_eq!(
        live.contents,
        vec![minute.to_string().into_bytes(), b"1".to_vec()]
    );
}

/// The active-sessions gauge keeps one counter per minute in which sessions end: revocations
/// take from it, and counting drops the minutes gone by.
#[tokio::test]
async fn the_gauge_counts_by_minute_of_expiry_and_forgets_past_minutes() {
    let clock = Arc::new(ManualClock::new(start_time()));
    let (store, _guard) = testing::redis_scoped(clock.clone()).await;
    let user = UserId::new();
    let soon = clock.now() + mins(5);
    let later = clock.now() + mins(90);
    let (a, _) = store.create_session(new_session(user, soon)).await.unwrap();
    store.create_session(new_session(user, soon)).await.unwrap();
    let (_, c) = store
        .create_session(new_session(user, later))
        .await
        .unwrap();
    store
        .create_session(new_session(UserId::new(), later))
        .await
        .unwrap();
    assert_eq!(store.count_sessions().await.unwrap(), 4);
    let fields = || {
        let key = format!("{}live-sessions", store.prefix());
        let entries = testing::redis_dump(store.prefix()).unwrap();
        let live = entries.into_iter().find(|e| e.key == key).unwrap();
        live.contents
            .chunks(2)
            .map(|p| {
                let text = |b: &[u8]| String::from_utf8(b.to_vec()).unwrap();
                (text(&p[0]), text(&p[1]))
            })
            .collect::<std::collections::BTreeMap<_, _>>()
    };
    assert_eq!(fields().len(), 2, "{:?}", fields());

    // Revoking twice takes one away once.
    store.revoke_token(&a).await.unwrap();
    store.revoke_token(&a).await.unwrap();
    assert!(store.revoke_session(user, &c.id).await.unwrap());
    assert!(!store.revoke_session(user, &c.id).await.unwrap());
    assert_eq!(store.count_sessions().await.unwrap(), 2);

    // The earlier minute passes: its sessions are no longer counted and its field goes.
    clock.advance(mins(6));
    assert_eq!(store.count_sessions().await.unwrap(), 1);
    assert_eq!(fields().len(), 1, "{:?}", fields());
    assert_eq!(store.revoke_user_sessions(user).await.unwrap(), 0);
    assert_eq!(store.count_sessions().await.unwrap(), 1);
}

#[tokio::test]
async fn every_key_has_a_real_ttl() {
    let clock = Arc::new(ManualClock::new(start_time()));
    let (store, _guard) = testing::redis_scoped(clock.clone()).await;
    let user = UserId::new();
    store
        .create_session(new_session(user, clock.now() + mins(10)))
        .await
        .unwrap();
    store
        .create_session(new_session(user, clock.now() + mins(60)))
        .await
        .unwrap();
    store.put("ns", "a", b"v", MIN).await.unwrap();
    assert!(store.put_if_absent("ns", "b", b"v", MIN).await.unwrap());
    store.increment("ns", "c", MIN).await.unwrap();
    store.increment("ns", "c", MIN).await.unwrap();
    let entries = testing::redis_dump(store.prefix()).unwrap();
    assert_eq!(entries.len(), 7, "{entries:?}");
    for entry in &entries {
        assert!(entry.pttl_ms > 0, "{} has no TTL", entry.key);
        if entry.key.contains(":flow:") {
            assert!(entry.pttl_ms <= 60_000, "{}: {}", entry.key, entry.pttl_ms);
        }
    }
    // The index lives as long as the longest session.
    let index_key = format!("{}user-sessions:{user}", store.prefix());
    let index = entries.iter().find(|e| e.key == index_key).unwrap();
    assert!(index.pttl_ms > 50 * 60_000, "{}", index.pttl_ms);
    // So do the live-sessions counters.
    let live_key = format!("{}live-sessions", store.prefix());
    let live = entries.iter().find(|e| e.key == live_key).unwrap();
    assert!(live.pttl_ms > 50 * 60_000, "{}", live.pttl_ms);
}

#[tokio::test]
async fn unreachable_server_is_unavailable_quickly() {
    let clock: Arc<dyn Clock> = Arc::new(ManualClock::new(start_time()));
    let started = std::time::Instant::now();
    let err = RedisSessions::connect("redis://127.0.0.1:1", "pctest:x:", clock.clone())
        .await
        .unwrap_err();
    assert!(matches!(err, SessionError::Unavailable(_)), "{err:?}");
    assert!(
        started.elapsed() < Duration::from_secs(8),
        "{:?}",
        started.elapsed()
    );

    let err = RedisSessions::connect("not a url", "pctest:x:", clock)
        .await
        .unwrap_err();
    assert!(matches!(err, SessionError::Unavailable(_)), "{err:?}");
}

#[tokio::test]
async fn silent_server_does_not_hang() {
    // A non-routable address: the connection attempt times out instead of hanging.
    let clock: Arc<dyn Clock> = Arc::new(ManualClock::new(start_time()));
    let started = std::time::Instant::now();
    let err = RedisSessions::connect("redis://10.255.255.1:6379", "pctest:x:", clock)
        .await
        .unwrap_err();
    assert!(matches!(err, SessionError::Unavailable(_)), "{err:?}");
    assert!(
        started.elapsed() < Duration::from_secs(8),
        "{:?}",
        started.elapsed()
    );
}

#[tokio::test]
async fn debug_shows_no_secrets() {
    let clock = Arc::new(ManualClock::new(start_time()));
    let (store, _guard) = testing::redis_scoped(clock).await;
    let debug = format!("{store:?}");
    assert!(debug.contains("RedisSessions"));
    assert!(!debug.contains("redis://"), "{debug}");
}
