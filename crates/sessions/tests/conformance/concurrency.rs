//! Conformance under concurrency: of racing requests exactly the right ones win, and every
//! answered write is there for the next read.

use super::*;

pub(super) async fn take_is_single_use_under_concurrency(s: &Store, _clock: &ManualClock) {
    for round in 0..3 {
        let key = format!("code-{round}");
        let value = format!("grant-{round}").into_bytes();
        s.put("code", &key, &value, MIN).await.unwrap();
        let mut tasks = tokio::task::JoinSet::new();
        for _ in 0..20 {
            let s = s.clone();
            let key = key.clone();
            tasks.spawn(async move { s.take("code", &key).await.unwrap() });
        }
        let mut winners = Vec::new();
        while let Some(result) = tasks.join_next().await {
            if let Some(v) = result.unwrap() {
                winners.push(v);
            }
        }
        assert_eq!(winners, vec![value], "round {round}: exactly one take wins");
        assert_eq!(s.get("code", &key).await.unwrap(), None);
    }
}

pub(super) async fn increment_is_atomic_under_concurrency(s: &Store, _clock: &ManualClock) {
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..20 {
        let s = s.clone();
        tasks.spawn(async move { s.increment("throttle", "burst", MIN).await.unwrap() });
    }
    let mut counts = Vec::new();
    while let Some(result) = tasks.join_next().await {
        counts.push(result.unwrap());
    }
    counts.sort_unstable();
    assert_eq!(counts, (1..=20).collect::<Vec<u64>>());
    assert_eq!(s.increment("throttle", "burst", MIN).await.unwrap(), 21);
}

pub(super) async fn decrement_is_atomic_under_concurrency(s: &Store, _clock: &ManualClock) {
    for _ in 0..30 {
        s.increment("throttle", "burst", MIN).await.unwrap();
    }
    let mut tasks = tokio::task::JoinSet::new();
    for i in 0..20 {
        let s = s.clone();
        tasks.spawn(async move {
            if i % 2 == 0 {
                s.decrement("throttle", "burst").await.unwrap();
            } else {
                s.increment("throttle", "burst", MIN).await.unwrap();
            }
        });
    }
    while let Some(result) = tasks.join_next().await {
        result.unwrap();
    }
    // 30 + 10 - 10, then this one.
    assert_eq!(s.increment("throttle", "burst", MIN).await.unwrap(), 31);
}

pub(super) async fn swap_has_one_winner_under_concurrency(s: &Store, _clock: &ManualClock) {
    s.put("refresh", "contested", b"grant", MIN).await.unwrap();
    let mut tasks = tokio::task::JoinSet::new();
    for i in 0..20 {
        let s = s.clone();
        tasks.spawn(async move {
            let key = format!("successor-{i}");
            let puts = [portcullis_sessions::FlowPut {
                ns: "refresh",
                key: &key,
                value: b"grant",
                ttl: MIN,
            }];
            (i, s.swap("refresh", "contested", &puts).await.unwrap())
        });
    }
    let mut winners = Vec::new();
    while let Some(result) = tasks.join_next().await {
        let (i, won) = result.unwrap();
        if won {
            winners.push(i);
        }
    }
    assert_eq!(winners.len(), 1, "{winners:?}");
    for i in 0..20 {
        let stored = s.get("refresh", &format!("successor-{i}")).await.unwrap();
        assert_eq!(stored.is_some(), winners.contains(&i), "successor {i}");
    }
}

/// Many requests writing at once (the embedded backend commits them together): each one, once
/// answered, reads back what it wrote, and a session created is found at once.
pub(super) async fn an_answered_write_is_read_at_once(s: &Store, clock: &ManualClock) {
    let mut tasks = tokio::task::JoinSet::new();
    for i in 0..64 {
        let s = s.clone();
        let expires = clock.now() + mins(10);
        tasks.spawn(async move {
            let key = format!("k{i}");
            s.put("burst", &key, key.as_bytes(), MIN).await.unwrap();
            assert_eq!(
                s.get("burst", &key).await.unwrap(),
                Some(key.as_bytes().to_vec())
            );
            let (token, session) = s
                .create_session(new_session(UserId::new(), expires))
                .await
                .unwrap();
            assert_eq!(s.get_session(&token).await.unwrap(), Some(session));
            assert!(
                s.put_if_absent("burst-seen", &key, b"1", MIN)
                    .await
                    .unwrap()
            );
            assert!(
                !s.put_if_absent("burst-seen", &key, b"1", MIN)
                    .await
                    .unwrap()
            );
        });
    }
    while let Some(done) = tasks.join_next().await {
        done.unwrap();
    }
    assert_eq!(s.count_sessions().await.unwrap(), 64);
}
