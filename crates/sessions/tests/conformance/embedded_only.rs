//! Embedded-specific checks: persistence, sweeping, what is stored.

use super::*;
use portcullis_sessions::embedded::EmbeddedSessions;

fn raw_count(dir: &std::path::Path, table: &str) -> i64 {
    let conn = rusqlite::Connection::open(dir.join("sessions.db")).unwrap();
    conn.query_row(&format!("SELECT count(*) FROM {table}"), [], |r| r.get(0))
        .unwrap()
}

#[tokio::test]
async fn survives_reopening_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let clock = Arc::new(ManualClock::new(start_time()));
    let user = UserId::new();
    let (token, session) = {
        let store = testing::embedded_in(dir.path(), clock.clone()).await;
        store.put("signin", "k", b"pending", MIN).await.unwrap();
        store.increment("throttle", "k", MIN).await.unwrap();
        store
            .create_session(new_session(user, clock.now() + mins(60)))
            .await
            .unwrap()
    };
    let store = testing::embedded_in(dir.path(), clock.clone()).await;
    assert_eq!(store.backend(), "embedded");
    assert_eq!(
        store.get_session(&token).await.unwrap(),
        Some(session.clone())
    );
    assert_eq!(store.list_user_sessions(user).await.unwrap(), vec![session]);
    assert_eq!(
        store.get("signin", "k").await.unwrap(),
        Some(b"pending".to_vec())
    );
    assert_eq!(store.increment("throttle", "k", MIN).await.unwrap(), 2);
    // Opening the same file twice at once also works (schema creation is idempotent).
    let again = testing::embedded_in(dir.path(), clock).await;
    assert_eq!(
        again.take("signin", "k").await.unwrap(),
        Some(b"pending".to_vec())
    );
    assert_eq!(store.get("signin", "k").await.unwrap(), None);
}

#[tokio::test]
async fn stores_only_the_token_hash() {
    let dir = tempfile::tempdir().unwrap();
    let clock = Arc::new(ManualClock::new(start_time()));
    let store = testing::embedded_in(dir.path(), clock.clone()).await;
    let (token, session) = store
        .create_session(new_session(UserId::new(), clock.now() + mins(60)))
        .await
        .unwrap();
    let conn = rusqlite::Connection::open(dir.path().join("sessions.db")).unwrap();
    let (id, body): (String, String) = conn
        .query_row("SELECT id, body FROM sessions", [], |r| {
            Ok((r.get(0)?, r.get(1)?))
        })
        .unwrap();
    assert_eq!(id, session.id.as_str());
    assert!(!body.contains(token.expose()));
}

#[tokio::test]
async fn sweep_removes_expired_rows() {
    let dir = tempfile::tempdir().unwrap();
    let clock = Arc::new(ManualClock::new(start_time()));
    let store = testing::embedded_in(dir.path(), clock.clone()).await;
    let user = UserId::new();
    let (_, _short) = store
        .create_session(new_session(user, clock.now() + mins(5)))
        .await
        .unwrap();
    let (long_token, long) = store
        .create_session(new_session(user, clock.now() + mins(60)))
        .await
        .unwrap();
    store
        .put("a", "short", b"1", Duration::from_secs(60))
        .await
        .unwrap();
    store
        .put("a", "long", b"2", Duration::from_secs(3600))
        .await
        .unwrap();
    store
        .increment("a", "counter", Duration::from_secs(60))
        .await
        .unwrap();

    assert_eq!(store.sweep().await.unwrap(), 0);
    clock.advance(mins(10));
    assert_eq!(raw_count(dir.path(), "sessions"), 2);
    assert_eq!(raw_count(dir.path(), "flow"), 3);
    assert_eq!(store.sweep().await.unwrap(), 3);
    assert_eq!(raw_count(dir.path(), "sessions"), 1);
    assert_eq!(raw_count(dir.path(), "flow"), 1);
    assert_eq!(store.sweep().await.unwrap(), 0);
    assert_eq!(store.get_session(&long_token).await.unwrap(), Some(long));
    assert_eq!(store.get("a", "long").await.unwrap(), Some(b"2".to_vec()));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_large_sweep_removes_everything_in_chunks() {
    let dir = tempfile::tempdir().unwrap();
    let clock = Arc::new(ManualClock::new(start_time()));
    let store = testing::embedded_in(dir.path(), clock.clone()).await;
    // More than two chunks of a thousand, written at once.
    let mut tasks = tokio::task::JoinSet::new();
    for i in 0..2_500 {
        let store = store.clone();
        tasks.spawn(async move {
            store
                .put("a", &format!("k{i}"), b"1", Duration::from_secs(60))
                .await
                .unwrap();
        });
    }
    while let Some(done) = tasks.join_next().await {
        done.unwrap();
    }
    store
        .put("a", "kept", b"2", Duration::from_secs(3600))
        .await
        .unwrap();
    assert_eq!(raw_count(dir.path(), "flow"), 2_501);
    clock.advance(mins(2));
    assert_eq!(store.sweep().await.unwrap(), 2_500);
    assert_eq!(raw_count(dir.path(), "flow"), 1);
    assert_eq!(store.get("a", "kept").await.unwrap(), Some(b"2".to_vec()));
}

#[tokio::test]
async fn sweeper_runs_periodically() {
    let dir = tempfile::tempdir().unwrap();
    let clock = Arc::new(ManualClock::new(start_time()));
    let store = testing::embedded_in(dir.path(), clock.clone()).await;
    store
        .put("a", "k", b"1", Duration::from_secs(60))
        .await
        .unwrap();
    let sweeper = store.spawn_sweeper(Duration::from_millis(20));
    tokio::time::sleep(Duration::from_millis(60)).await;
    assert_eq!(raw_count(dir.path(), "flow"), 1);
    clock.advance(mins(2));
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    while raw_count(dir.path(), "flow") != 0 {
        assert!(
            std::time::Instant::now() < deadline,
            "the sweeper did not run"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    sweeper.abort();
}

#[tokio::test]
async fn open_fails_cleanly_on_a_bad_path() {
    let dir = tempfile::tempdir().unwrap();
    let clock: Arc<dyn Clock> = Arc::new(ManualClock::new(start_time()));
    let missing = dir.path().join("no-such-dir").join("sessions.db");
    let err = EmbeddedSessions::open(&missing, clock).await.unwrap_err();
    assert!(
        matches!(err, portcullis_sessions::SessionError::Unavailable(_)),
        "{err:?}"
    );
}
