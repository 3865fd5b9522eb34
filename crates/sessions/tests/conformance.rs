//! The conformance suite every session-store backend passes. Each test body runs against both
//! backends: `redis::name` (a fresh key prefix on the test Redis, deleted afterwards) and
//! `embedded::name` (a fresh temporary directory). Time is a [`ManualClock`], moved by hand.
#![allow(clippy::expect_used, clippy::unwrap_used)]

use std::any::Any;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use portcullis_domain::UserId;
use portcullis_sessions::{
    ClientInfo, Clock, FlowStore, ManualClock, NewSession, PortalSession, SessionId, SessionStore,
    SessionToken, Sessions, testing,
};

type Store = Arc<dyn Sessions>;

struct Fixture {
    store: Store,
    clock: Arc<ManualClock>,
    /// The temporary directory or the Redis cleanup guard.
    _keep: Box<dyn Any + Send>,
}

fn start_time() -> DateTime<Utc> {
    // Whole milliseconds, as the backends store them.
    DateTime::from_timestamp_millis(Utc::now().timestamp_millis()).unwrap()
}

async fn redis_fixture() -> Fixture {
    let clock = Arc::new(ManualClock::new(start_time()));
    let (store, guard) = testing::redis_scoped(clock.clone()).await;
    Fixture {
        store: Arc::new(store),
        clock,
        _keep: Box::new(guard),
    }
}

async fn embedded_fixture() -> Fixture {
    let clock = Arc::new(ManualClock::new(start_time()));
    let dir = tempfile::tempdir().unwrap();
    let store = testing::embedded_in(dir.path(), clock.clone()).await;
    Fixture {
        store: Arc::new(store),
        clock,
        _keep: Box::new(dir),
    }
}

/// Generates `redis::$name` and `embedded::$name` for each body `$name(&Store, &ManualClock)`.
macro_rules! conformance {
    ($($name:ident),* $(,)?) => {
        mod redis {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
                async fn $name() {
                    let f = super::redis_fixture().await;
                    super::$name(&f.store, &f.clock).await;
                }
            )*
        }
        mod embedded {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
                async fn $name() {
                    let f = super::embedded_fixture().await;
                    super::$name(&f.store, &f.clock).await;
                }
            )*
        }
    };
}

conformance!(
    create_then_get,
    unknown_token_finds_nothing,
    session_expires_by_the_clock,
    already_expired_session_is_not_kept,
    list_is_oldest_first_live_and_own,
    revoke_session_only_own,
    revoke_token_signs_out,
    revoke_user_sessions_ends_all,
    flow_put_get_delete,
    flow_entry_expires_by_the_clock,
    put_if_absent_once,
    put_if_absent_after_expiry,
    take_is_single_use,
    take_is_single_use_under_concurrency,
    increment_counts_within_window,
    increment_is_atomic_under_concurrency,
    decrement_gives_back_without_moving_the_window,
    decrement_is_atomic_under_concurrency,
    swap_takes_one_and_stores_the_rest_or_nothing,
    swap_has_one_winner_under_concurrency,
    ttl_follows_the_clock,
    namespaces_are_separate,
    values_are_binary_safe,
    ping_and_backend,
    count_sessions_counts_live_ones,
    get_by_id_finds_live_sessions_only,
    an_answered_write_is_read_at_once,
);

fn mins(n: i64) -> chrono::Duration {
    chrono::Duration::minutes(n)
}

fn secs(n: i64) -> chrono::Duration {
    chrono::Duration::seconds(n)
}

fn new_session(user: UserId, expires_at: DateTime<Utc>) -> NewSession {
    NewSession {
        user_id: user,
        expires_at,
        amr: vec!["pwd".into(), "otp".into()],
        client: ClientInfo {
            ip: Some("192.0.2.7".into()),
            user_agent: Some("Mozilla/5.0 (conformance)".into()),
        },
    }
}

async fn create(
    s: &Store,
    user: UserId,
    expires_at: DateTime<Utc>,
) -> (SessionToken, PortalSession) {
    s.create_session(new_session(user, expires_at))
        .await
        .unwrap()
}

fn ids(sessions: &[PortalSession]) -> Vec<SessionId> {
    sessions.iter().map(|s| s.id.clone()).collect()
}

// ---- sessions ----

async fn create_then_get(s: &Store, clock: &ManualClock) {
    let user = UserId::new();
    let expires_at = clock.now() + mins(60);
    let (token, session) = create(s, user, expires_at).await;
    assert_eq!(session.id, token.id());
    assert_eq!(session.id.as_str().len(), 64);
    assert_eq!(session.user_id, user);
    assert_eq!(session.created_at, clock.now());
    assert_eq!(session.expires_at, expires_at);
    assert_eq!(session.amr, vec!["pwd".to_owned(), "otp".to_owned()]);
    assert_eq!(session.client.ip.as_deref(), Some("192.0.2.7"));

    // The token as the browser presents it opens the same session.
    let presented = SessionToken::from_presented(token.expose().to_owned());
    assert_eq!(
        s.get_session(&presented).await.unwrap(),
        Some(session.clone())
    );
    assert_eq!(s.get_session(&token).await.unwrap(), Some(session.clone()));

    // Each session has its own token.
    let (other, other_session) = create(s, user, expires_at).await;
    assert_ne!(other.expose(), token.expose());
    assert_ne!(other_session.id, session.id);
    assert_eq!(s.get_session(&other).await.unwrap(), Some(other_session));
}

async fn get_by_id_finds_live_sessions_only(s: &Store, clock: &ManualClock) {
    let user = UserId::new();
    let (token, session) = create(s, user, clock.now() + mins(30)).await;
    let (other_token, other) = create(s, user, clock.now() + mins(90)).await;
    assert_eq!(
        s.get_session_by_id(&session.id).await.unwrap(),
        Some(session.clone())
    );
    assert_eq!(
        s.get_session_by_id(&other.id).await.unwrap(),
        Some(other.clone())
    );
    // An id nobody holds, and an id that is the hash of nothing stored.
    let unknown = SessionToken::generate().id();
    assert_eq!(s.get_session_by_id(&unknown).await.unwrap(), None);
    // Revoked and expired sessions are gone by id as well.
    s.revoke_token(&other_token).await.unwrap();
    assert_eq!(s.get_session_by_id(&other.id).await.unwrap(), None);
    clock.advance(mins(30));
    assert_eq!(s.get_session_by_id(&session.id).await.unwrap(), None);
    assert_eq!(s.get_session(&token).await.unwrap(), None);
}

async fn unknown_token_finds_nothing(s: &Store, clock: &ManualClock) {
    let (token, _) = create(s, UserId::new(), clock.now() + mins(5)).await;
    assert_eq!(
        s.get_session(&SessionToken::generate()).await.unwrap(),
        None
    );
    assert_eq!(
        s.get_session(&SessionToken::from_presented(""))
            .await
            .unwrap(),
        None
    );
    // The public id is not a token.
    let id_as_token = SessionToken::from_presented(token.id().as_str().to_owned());
    assert_eq!(s.get_session(&id_as_token).await.unwrap(), None);
    // Signing out with an unknown token is harmless.
    s.revoke_token(&SessionToken::generate()).await.unwrap();
    assert!(s.get_session(&token).await.unwrap().is_some());
}

async fn session_expires_by_the_clock(s: &Store, clock: &ManualClock) {
    let user = UserId::new();
    let (token, session) = create(s, user, clock.now() + mins(60)).await;
    clock.advance(mins(59));
    assert_eq!(s.get_session(&token).await.unwrap(), Some(session.clone()));
    assert_eq!(
        ids(&s.list_user_sessions(user).await.unwrap()),
        vec![session.id.clone()]
    );
    // At expires_at exactly the session is over.
    clock.advance(mins(1));
    assert_eq!(s.get_session(&token).await.unwrap(), None);
    assert!(s.list_user_sessions(user).await.unwrap().is_empty());
    assert!(!s.revoke_session(user, &session.id).await.unwrap());
}

async fn already_expired_session_is_not_kept(s: &Store, clock: &ManualClock) {
    let user = UserId::new();
    let expires_at = clock.now() - secs(1);
    let (token, session) = create(s, user, expires_at).await;
    assert_eq!(session.expires_at, expires_at);
    assert_eq!(s.get_session(&token).await.unwrap(), None);
    assert!(s.list_user_sessions(user).await.unwrap().is_empty());
    assert_eq!(s.revoke_user_sessions(user).await.unwrap(), 0);
}

async fn list_is_oldest_first_live_and_own(s: &Store, clock: &ManualClock) {
    let alice = UserId::new();
    let bob = UserId::new();
    let start = clock.now();
    // Expiry order differs from creation order on purpose.
    let (_, first) = create(s, alice, start + mins(300)).await;
    clock.advance(mins(1));
    let (_, short) = create(s, alice, start + mins(30)).await;
    clock.advance(mins(1));
    let (_, third) = create(s, alice, start + mins(100)).await;
    clock.advance(mins(1));
    let (_, bobs) = create(s, bob, start + mins(300)).await;

    let listed = s.list_user_sessions(alice).await.unwrap();
    assert_eq!(listed, vec![first.clone(), short.clone(), third.clone()]);
    assert!(listed.windows(2).all(|w| w[0].created_at < w[1].created_at));
    assert_eq!(s.list_user_sessions(bob).await.unwrap(), vec![bobs.clone()]);
    assert!(
        s.list_user_sessions(UserId::new())
            .await
            .unwrap()
            .is_empty()
    );

    clock.set(start + mins(30));
    assert_eq!(
        s.list_user_sessions(alice).await.unwrap(),
        vec![first.clone(), third.clone()]
    );
    clock.set(start + mins(100));
    assert_eq!(s.list_user_sessions(alice).await.unwrap(), vec![first]);
    assert_eq!(s.list_user_sessions(bob).await.unwrap(), vec![bobs]);
}

async fn revoke_session_only_own(s: &Store, clock: &ManualClock) {
    let alice = UserId::new();
    let mallory = UserId::new();
    let (alice_token, alice_session) = create(s, alice, clock.now() + mins(60)).await;
    let (keep_token, keep) = create(s, alice, clock.now() + mins(60)).await;
    let (mallory_token, _) = create(s, mallory, clock.now() + mins(60)).await;

    // Someone else's id: refused, and the session lives on.
    assert!(!s.revoke_session(mallory, &alice_session.id).await.unwrap());
    assert_eq!(
        s.get_session(&alice_token).await.unwrap(),
        Some(alice_session.clone())
    );
    assert_eq!(s.list_user_sessions(alice).await.unwrap().len(), 2);

    // An id that does not exist.
    let unknown = SessionToken::generate().id();
    assert!(!s.revoke_session(alice, &unknown).await.unwrap());

    // Her own: ended once.
    assert!(s.revoke_session(alice, &alice_session.id).await.unwrap());
    assert!(!s.revoke_session(alice, &alice_session.id).await.unwrap());
    assert_eq!(s.get_session(&alice_token).await.unwrap(), None);
    assert_eq!(
        s.list_user_sessions(alice).await.unwrap(),
        vec![keep.clone()]
    );
    assert_eq!(s.get_session(&keep_token).await.unwrap(), Some(keep));
    assert!(s.get_session(&mallory_token).await.unwrap().is_some());
}

async fn revoke_token_signs_out(s: &Store, clock: &ManualClock) {
    let user = UserId::new();
    let (token, _) = create(s, user, clock.now() + mins(60)).await;
    let (other_token, other) = create(s, user, clock.now() + mins(60)).await;
    s.revoke_token(&token).await.unwrap();
    assert_eq!(s.get_session(&token).await.unwrap(), None);
    assert_eq!(
        s.list_user_sessions(user).await.unwrap(),
        vec![other.clone()]
    );
    // Twice is harmless.
    s.revoke_token(&token).await.unwrap();
    assert_eq!(
        s.get_session(&other_token).await.unwrap(),
        Some(other.clone())
    );
    assert!(!s.revoke_session(user, &token.id()).await.unwrap());
    assert_eq!(s.revoke_user_sessions(user).await.unwrap(), 1);
}

async fn revoke_user_sessions_ends_all(s: &Store, clock: &ManualClock) {
    let user = UserId::new();
    let bystander = UserId::new();
    let start = clock.now();
    let mut tokens = Vec::new();
    for _ in 0..3 {
        tokens.push(create(s, user, start + mins(60)).await.0);
    }
    // One that will have expired by the clock: not counted as live.
    let (expired, _) = create(s, user, start + mins(10)).await;
    let (other_token, other) = create(s, bystander, start + mins(60)).await;
    clock.advance(mins(15));

    assert_eq!(s.revoke_user_sessions(user).await.unwrap(), 3);
    for token in tokens.iter().chain([&expired]) {
        assert_eq!(s.get_session(token).await.unwrap(), None);
    }
    assert!(s.list_user_sessions(user).await.unwrap().is_empty());
    assert_eq!(s.revoke_user_sessions(user).await.unwrap(), 0);
    // Going back in time does not bring anything back.
    clock.set(start);
    assert_eq!(s.get_session(&expired).await.unwrap(), None);
    assert!(s.list_user_sessions(user).await.unwrap().is_empty());
    // Other users are untouched.
    assert_eq!(s.get_session(&other_token).await.unwrap(), Some(other));

    // New sessions after a revoke-all work as usual.
    let (fresh, fresh_session) = create(s, user, start + mins(60)).await;
    assert_eq!(
        s.get_session(&fresh).await.unwrap(),
        Some(fresh_session.clone())
    );
    assert_eq!(
        s.list_user_sessions(user).await.unwrap(),
        vec![fresh_session]
    );
}

// ---- flow state ----

const MIN: Duration = Duration::from_secs(60);

async fn flow_put_get_delete(s: &Store, _clock: &ManualClock) {
    assert_eq!(s.get("signin", "k").await.unwrap(), None);
    s.put("signin", "k", b"one", MIN).await.unwrap();
    assert_eq!(s.get("signin", "k").await.unwrap(), Some(b"one".to_vec()));
    // Reading does not consume.
    assert_eq!(s.get("signin", "k").await.unwrap(), Some(b"one".to_vec()));
    s.put("signin", "k", b"two", MIN).await.unwrap();
    assert_eq!(s.get("signin", "k").await.unwrap(), Some(b"two".to_vec()));
    s.delete("signin", "k").await.unwrap();
    assert_eq!(s.get("signin", "k").await.unwrap(), None);
    assert_eq!(s.ttl("signin", "k").await.unwrap(), None);
    // Deleting what is not there is harmless.
    s.delete("signin", "k").await.unwrap();
    s.delete("signin", "never").await.unwrap();
}

async fn flow_entry_expires_by_the_clock(s: &Store, clock: &ManualClock) {
    s.put("otp", "k", b"123456", MIN).await.unwrap();
    clock.advance(secs(59));
    assert_eq!(s.get("otp", "k").await.unwrap(), Some(b"123456".to_vec()));
    clock.advance(secs(1));
    assert_eq!(s.get("otp", "k").await.unwrap(), None);
    assert_eq!(s.take("otp", "k").await.unwrap(), None);
    assert_eq!(s.ttl("otp", "k").await.unwrap(), None);
    // A new put after expiry is live again.
    s.put("otp", "k", b"654321", MIN).await.unwrap();
    assert_eq!(s.get("otp", "k").await.unwrap(), Some(b"654321".to_vec()));
}

async fn put_if_absent_once(s: &Store, _clock: &ManualClock) {
    assert!(
        s.put_if_absent("replay", "jti-1", b"first", MIN)
            .await
            .unwrap()
    );
    assert!(
        !s.put_if_absent("replay", "jti-1", b"second", MIN)
            .await
            .unwrap()
    );
    assert_eq!(
        s.get("replay", "jti-1").await.unwrap(),
        Some(b"first".to_vec())
    );
    // Another key is independent.
    assert!(s.put_if_absent("replay", "jti-2", b"x", MIN).await.unwrap());
    // After a delete the key is free again.
    s.delete("replay", "jti-1").await.unwrap();
    assert!(
        s.put_if_absent("replay", "jti-1", b"third", MIN)
            .await
            .unwrap()
    );
    assert_eq!(
        s.get("replay", "jti-1").await.unwrap(),
        Some(b"third".to_vec())
    );
}

async fn put_if_absent_after_expiry(s: &Store, clock: &ManualClock) {
    assert!(s.put_if_absent("replay", "k", b"first", MIN).await.unwrap());
    clock.advance(secs(30));
    assert!(!s.put_if_absent("replay", "k", b"early", MIN).await.unwrap());
    // The refused attempt did not extend the first entry.
    assert_eq!(
        s.ttl("replay", "k").await.unwrap(),
        Some(Duration::from_secs(30))
    );
    clock.advance(secs(30));
    assert!(
        s.put_if_absent("replay", "k", b"second", MIN)
            .await
            .unwrap()
    );
    assert_eq!(
        s.get("replay", "k").await.unwrap(),
        Some(b"second".to_vec())
    );
    assert_eq!(s.ttl("replay", "k").await.unwrap(), Some(MIN));
}

async fn take_is_single_use(s: &Store, _clock: &ManualClock) {
    s.put("code", "abc", b"grant", MIN).await.unwrap();
    assert_eq!(
        s.take("code", "abc").await.unwrap(),
        Some(b"grant".to_vec())
    );
    assert_eq!(s.take("code", "abc").await.unwrap(), None);
    assert_eq!(s.get("code", "abc").await.unwrap(), None);
    assert_eq!(s.take("code", "never").await.unwrap(), None);
}

async fn increment_counts_within_window(s: &Store, clock: &ManualClock) {
    assert_eq!(s.ttl("throttle", "ip").await.unwrap(), None);
    assert_eq!(s.increment("throttle", "ip", MIN).await.unwrap(), 1);
    assert_eq!(s.ttl("throttle", "ip").await.unwrap(), Some(MIN));
    clock.advance(secs(20));
    assert_eq!(s.increment("throttle", "ip", MIN).await.unwrap(), 2);
    clock.advance(secs(20));
    assert_eq!(s.increment("throttle", "ip", MIN).await.unwrap(), 3);
    // Later increments do not extend the window.
    assert_eq!(
        s.ttl("throttle", "ip").await.unwrap(),
        Some(Duration::from_secs(20))
    );
    // Another key counts on its own.
    assert_eq!(s.increment("throttle", "other", MIN).await.unwrap(), 1);
    clock.advance(secs(20));
    assert_eq!(s.ttl("throttle", "ip").await.unwrap(), None);
    // A new window.
    assert_eq!(s.increment("throttle", "ip", MIN).await.unwrap(), 1);
    assert_eq!(s.ttl("throttle", "ip").await.unwrap(), Some(MIN));
    assert_eq!(s.increment("throttle", "ip", MIN).await.unwrap(), 2);
    // A deleted counter starts over.
    s.delete("throttle", "ip").await.unwrap();
    assert_eq!(s.increment("throttle", "ip", MIN).await.unwrap(), 1);
}

async fn decrement_gives_back_without_moving_the_window(s: &Store, clock: &ManualClock) {
    // Nothing to take from: no entry appears.
    s.decrement("throttle", "ip").await.unwrap();
    assert_eq!(s.get("throttle", "ip").await.unwrap(), None);
    assert_eq!(s.increment("throttle", "ip", MIN).await.unwrap(), 1);
    assert_eq!(s.increment("throttle", "ip", MIN).await.unwrap(), 2);
    clock.advance(secs(20));
    s.decrement("throttle", "ip").await.unwrap();
    assert_eq!(
        s.ttl("throttle", "ip").await.unwrap(),
        Some(Duration::from_secs(40)),
        "the window stays as the first increment set it"
    );
    assert_eq!(s.increment("throttle", "ip", MIN).await.unwrap(), 2);
    // Never below zero.
    for _ in 0..4 {
        s.decrement("throttle", "ip").await.unwrap();
    }
    assert_eq!(s.increment("throttle", "ip", MIN).await.unwrap(), 1);
    // An expired counter is not revived.
    clock.advance(secs(41));
    s.decrement("throttle", "ip").await.unwrap();
    assert_eq!(s.ttl("throttle", "ip").await.unwrap(), None);
    // A value that is not a counter is refused, and left alone.
    s.put("throttle", "text", b"hello", MIN).await.unwrap();
    assert!(s.decrement("throttle", "text").await.is_err());
    assert_eq!(
        s.get("throttle", "text").await.unwrap().as_deref(),
        Some(&b"hello"[..])
    );
}

async fn swap_takes_one_and_stores_the_rest_or_nothing(s: &Store, clock: &ManualClock) {
    use portcullis_sessions::FlowPut;
    let next = [
        FlowPut {
            ns: "refresh",
            key: "new",
            value: b"grant",
            ttl: MIN,
        },
        FlowPut {
            ns: "refresh-used",
            key: "old",
            value: b"answer",
            ttl: Duration::from_secs(10),
        },
    ];
    // Nothing to take: nothing is stored.
    assert!(!s.swap("refresh", "old", &next).await.unwrap());
    assert_eq!(s.get("refresh", "new").await.unwrap(), None);
    assert_eq!(s.get("refresh-used", "old").await.unwrap(), None);

    s.put("refresh", "old", b"grant", MIN).await.unwrap();
    s.put("refresh", "new", b"stale", MIN).await.unwrap();
    assert!(s.swap("refresh", "old", &next).await.unwrap());
    assert_eq!(s.get("refresh", "old").await.unwrap(), None, "taken");
    assert_eq!(
        s.get("refresh", "new").await.unwrap().as_deref(),
        Some(&b"grant"[..]),
        "replaced"
    );
    assert_eq!(
        s.get("refresh-used", "old").await.unwrap().as_deref(),
        Some(&b"answer"[..])
    );
    assert_eq!(
        s.ttl("refresh-used", "old").await.unwrap(),
        Some(Duration::from_secs(10))
    );
    // A second swap of the taken key finds nothing.
    assert!(!s.swap("refresh", "old", &next).await.unwrap());
    // An entry expired by the clock is not there to take.
    s.put("refresh", "late", b"grant", Duration::from_secs(5))
        .await
        .unwrap();
    clock.advance(secs(6));
    let after = [FlowPut {
        ns: "refresh",
        key: "late-next",
        value: b"x",
        ttl: MIN,
    }];
    assert!(!s.swap("refresh", "late", &after).await.unwrap());
    assert_eq!(s.get("refresh", "late-next").await.unwrap(), None);
    // Entries stored by a swap expire by the clock like any other.
    clock.advance(secs(10));
    assert_eq!(s.get("refresh-used", "old").await.unwrap(), None);
    // A swap with nothing to store is a take that says whether it took.
    s.put("code", "c", b"1", MIN).await.unwrap();
    assert!(s.swap("code", "c", &[]).await.unwrap());
    assert_eq!(s.get("code", "c").await.unwrap(), None);
}

async fn ttl_follows_the_clock(s: &Store, clock: &ManualClock) {
    assert_eq!(s.ttl("signin", "absent").await.unwrap(), None);
    s.put("signin", "k", b"v", Duration::from_secs(90))
        .await
        .unwrap();
    assert_eq!(
        s.ttl("signin", "k").await.unwrap(),
        Some(Duration::from_secs(90))
    );
    clock.advance(secs(30));
    assert_eq!(s.ttl("signin", "k").await.unwrap(), Some(MIN));
    clock.advance(chrono::Duration::milliseconds(59_999));
    assert_eq!(
        s.ttl("signin", "k").await.unwrap(),
        Some(Duration::from_millis(1))
    );
    clock.advance(chrono::Duration::milliseconds(1));
    assert_eq!(s.ttl("signin", "k").await.unwrap(), None);
    // A put replaces the expiry too.
    s.put("signin", "k", b"v", MIN).await.unwrap();
    assert_eq!(s.ttl("signin", "k").await.unwrap(), Some(MIN));
}

async fn namespaces_are_separate(s: &Store, _clock: &ManualClock) {
    s.put("signin", "k", b"a", MIN).await.unwrap();
    s.put("otp", "k", b"b", MIN).await.unwrap();
    assert_eq!(s.get("signin", "k").await.unwrap(), Some(b"a".to_vec()));
    assert_eq!(s.get("otp", "k").await.unwrap(), Some(b"b".to_vec()));
    assert_eq!(s.take("otp", "k").await.unwrap(), Some(b"b".to_vec()));
    assert_eq!(s.get("signin", "k").await.unwrap(), Some(b"a".to_vec()));
    s.delete("signin", "k").await.unwrap();
    assert_eq!(s.get("signin", "k").await.unwrap(), None);

    // Separators in names do not make pairs collide.
    s.put("a:b", "c", b"1", MIN).await.unwrap();
    s.put("a", "b:c", b"2", MIN).await.unwrap();
    assert_eq!(s.get("a:b", "c").await.unwrap(), Some(b"1".to_vec()));
    assert_eq!(s.get("a", "b:c").await.unwrap(), Some(b"2".to_vec()));

    // Counters too.
    assert_eq!(s.increment("throttle-user", "x", MIN).await.unwrap(), 1);
    assert_eq!(s.increment("throttle-ip", "x", MIN).await.unwrap(), 1);
    assert_eq!(s.increment("throttle-user", "x", MIN).await.unwrap(), 2);
    assert!(s.put_if_absent("p1", "x", b"", MIN).await.unwrap());
    assert!(s.put_if_absent("p2", "x", b"", MIN).await.unwrap());
}

async fn values_are_binary_safe(s: &Store, _clock: &ManualClock) {
    let all_bytes: Vec<u8> = (0..=255u8).chain((0..=255u8).rev()).collect();
    s.put("bin", "all", &all_bytes, MIN).await.unwrap();
    assert_eq!(s.get("bin", "all").await.unwrap(), Some(all_bytes.clone()));
    assert_eq!(s.take("bin", "all").await.unwrap(), Some(all_bytes.clone()));

    let cases: [&[u8]; 4] = [
        b"",
        b"\0",
        b"\0\0\0\0\0\0\0\0\xff",
        b"\xff\xfe{\"json\":1}\r\n",
    ];
    for (i, value) in cases.iter().enumerate() {
        let key = format!("case-{i}");
        s.put("bin", &key, value, MIN).await.unwrap();
        assert_eq!(s.get("bin", &key).await.unwrap(), Some(value.to_vec()));
    }
    assert!(
        s.put_if_absent("bin", "pia", &all_bytes, MIN)
            .await
            .unwrap()
    );
    assert_eq!(s.get("bin", "pia").await.unwrap(), Some(all_bytes));

    // Keys are opaque strings.
    let odd_key = "Ünïcødé key with spaces * ? [x] \\ % :";
    s.put("bin", odd_key, b"odd", MIN).await.unwrap();
    assert_eq!(s.get("bin", odd_key).await.unwrap(), Some(b"odd".to_vec()));
    assert_eq!(s.get("bin", "Ünïcødé key").await.unwrap(), None);
}

async fn ping_and_backend(s: &Store, _clock: &ManualClock) {
    s.ping().await.unwrap();
    assert!(matches!(s.backend(), "redis" | "embedded"));
}

#[path = "conformance/redis_only.rs"]
mod redis_only;

#[path = "conformance/embedded_only.rs"]
mod embedded_only;

#[path = "conformance/concurrency.rs"]
mod concurrency;
use concurrency::{
    an_answered_write_is_read_at_once, decrement_is_atomic_under_concurrency,
    increment_is_atomic_under_concurrency, swap_has_one_winner_under_concurrency,
    take_is_single_use_under_concurrency,
};

#[path = "conformance/grants.rs"]
mod grants;

async fn count_sessions_counts_live_ones(s: &Store, clock: &ManualClock) {
    assert_eq!(s.count_sessions().await.unwrap(), 0);
    let start = clock.now();
    let (first, _) = create(s, UserId::new(), start + mins(60)).await;
    create(s, UserId::new(), start + mins(60)).await;
    create(s, UserId::new(), start + mins(60)).await;
    assert_eq!(s.count_sessions().await.unwrap(), 3);
    s.revoke_token(&first).await.unwrap();
    assert_eq!(s.count_sessions().await.unwrap(), 2);
    let user = UserId::new();
    let (_, one) = create(s, user, start + mins(30)).await;
    create(s, user, start + mins(30)).await;
    assert_eq!(s.count_sessions().await.unwrap(), 4);
    assert!(s.revoke_session(user, &one.id).await.unwrap());
    assert_eq!(s.count_sessions().await.unwrap(), 3);
    assert_eq!(s.revoke_user_sessions(user).await.unwrap(), 1);
    assert_eq!(s.count_sessions().await.unwrap(), 2);
    clock.advance(mins(61));
    assert_eq!(s.count_sessions().await.unwrap(), 0);
}
