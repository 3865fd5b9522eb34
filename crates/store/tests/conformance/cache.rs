//! The per-node read cache (`CachedDirectory`) beyond the shared contract (which every
//! `cached_*` module of the suite checks): it does serve from memory, a write through it is seen
//! by the next read at once, a write through another node's cache is seen within moments (via
//! PostgreSQL `LISTEN/NOTIFY`), and nothing unheard is served while the listener is down.

use std::sync::Arc;
use std::time::{Duration, Instant};

use portcullis_domain::Group;
use portcullis_store::testing::{self, TestDatabase, wait_until_caching};
use portcullis_store::{
    AccountStore, ApplicationStore, AssignmentStore, CacheOptions, CachedDirectory, GroupStore,
    PermissionSetStore, SettingsStore, UserStore,
};
use tokio_postgres::NoTls;

use super::*;

/// The slowest a change may take to reach another node in these tests (normally milliseconds).
const ACROSS_NODES: Duration = Duration::from_secs(5);

/// Polls `check` until it holds, for at most [`ACROSS_NODES`]; returns how long it took.
async fn eventually<F, Fut>(what: &str, mut check: F) -> Duration
where
    F: FnMut() -> Fut,
    Fut: Future<Output = bool>,
{
    let start = Instant::now();
    while !check().await {
        assert!(
            start.elapsed() < ACROSS_NODES,
            "{what}: not within {ACROSS_NODES:?}"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    start.elapsed()
}

/// A plain connection to the test database, as an operator's `psql` would be.
async fn psql(db: &TestDatabase) -> tokio_postgres::Client {
    let (client, connection) = tokio_postgres::connect(&db.url, NoTls).await.unwrap();
    tokio::spawn(async move {
        let _ = connection.await;
    });
    client
}

/// Renames a user straight in PostgreSQL with the change trigger off: no node hears of it.
async fn rename_unannounced(client: &tokio_postgres::Client, user: UserId, name: &str) {
    client
        .batch_execute(&format!(
            "BEGIN; ALTER TABLE users DISABLE TRIGGER users_changed; \
             UPDATE users SET display_name = '{name}' WHERE id = '{user}'; \
             ALTER TABLE users ENABLE TRIGGER users_changed; COMMIT"
        ))
        .await
        .unwrap();
}

/// Every cached read answers the change made through the same cache by the very next call.
async fn writes_are_seen_by_the_next_read(d: &CachedDirectory) {
    let w = world(d).await;
    let direct = aa(&w.a1, w.p1, Principal::User(w.u));
    d.create_assignment(admin(), direct.clone()).await.unwrap();
    d.create_assignment(admin(), aa(&w.a2, w.p2, Principal::Group(w.g)))
        .await
        .unwrap();
    d.add_member(admin(), w.g, w.u).await.unwrap();
    let app = d
        .create_application(admin(), new_app("Wiki", ApplicationKind::Oidc, true))
        .await
        .unwrap();
    let app_assignment = ApplicationAssignment {
        application_id: app.id,
        principal: Principal::User(w.u),
    };
    d.assign_application(admin(), app_assignment).await.unwrap();

    // Read everything twice: the second answers come from the cache.
    for _ in 0..2 {
        assert!(d.get_user(w.u).await.unwrap().enabled);
        assert_eq!(d.user_entitlements(w.u).await.unwrap().len(), 2);
        assert_eq!(d.list_user_groups(w.u).await.unwrap().len(), 1);
        assert_eq!(d.user_applications(w.u).await.unwrap().len(), 1);
        assert!(d.get_application(app.id).await.unwrap().enabled);
        assert_eq!(
            d.get_accounts(&[w.a2.clone(), w.a1.clone()])
                .await
                .unwrap()
                .len(),
            2
        );
        assert_eq!(d.get_account(&w.a1).await.unwrap().name, dn("One"));
        assert_eq!(
            d.get_permission_set(w.p1).await.unwrap().name,
            role("Admin")
        );
        assert!(!d.get_settings().await.unwrap().email_otp);
    }

    // Disabled: refused by the next read.
    let disable = UserPatch {
        enabled: Some(false),
        ..UserPatch::default()
    };
    d.update_user(admin(), w.u, disable).await.unwrap();
    assert!(!d.get_user(w.u).await.unwrap().enabled);

    // Out of the group: the group's entitlement is gone at once.
    d.remove_member(admin(), w.g, w.u).await.unwrap();
    assert_eq!(d.list_user_groups(w.u).await.unwrap(), Vec::<Group>::new());
    let only_direct = vec![ent(
        "111111111111",
        &d.get_permission_set(w.p1).await.unwrap(),
    )];
    assert_eq!(d.user_entitlements(w.u).await.unwrap(), only_direct);

    // The direct assignment deleted: nothing left.
    d.delete_assignment(admin(), &direct).await.unwrap();
    assert_eq!(d.user_entitlements(w.u).await.unwrap(), Vec::new());

    // Applications, accounts, permission sets and settings likewise.
    d.unassign_application(admin(), app_assignment)
        .await
        .unwrap();
    assert_eq!(d.user_applications(w.u).await.unwrap(), Vec::new());
    d.update_application(
        admin(),
        app.id,
        new_app("Wiki", ApplicationKind::Oidc, false),
    )
    .await
    .unwrap();
    assert!(!d.get_application(app.id).await.unwrap().enabled);
    d.update_account(admin(), new_account("111111111111", "Renamed"))
        .await
        .unwrap();
    assert_eq!(d.get_account(&w.a1).await.unwrap().name, dn("Renamed"));
    d.delete_account(admin(), &w.a2).await.unwrap();
    let left = d.get_accounts(&[w.a2.clone(), w.a1.clone()]).await.unwrap();
    assert_eq!(left.iter().map(|a| &a.id).collect::<Vec<_>>(), vec![&w.a1]);
    d.update_permission_set(admin(), w.p1, new_ps("Admin", 4))
        .await
        .unwrap();
    assert_eq!(
        d.get_permission_set(w.p1).await.unwrap().session_duration,
        PermissionSetDuration::from_seconds(4 * 3600).unwrap()
    );
    let settings = Settings {
        email_otp: true,
        ..Settings::default()
    };
    d.put_settings(admin(), settings).await.unwrap();
    assert!(d.get_settings().await.unwrap().email_otp);
    d.delete_user(admin(), w.u).await.unwrap();
    assert_err!(d.get_user(w.u).await, StoreError::NotFound(_));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_writes_are_seen_by_the_next_read() {
    let tmp = tempfile::tempdir().unwrap();
    let d = testing::cached(testing::sqlite_in(tmp.path()).await);
    writes_are_seen_by_the_next_read(&d).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_writes_are_seen_by_the_next_read() {
    let db = testing::fresh_postgres().await;
    let d = testing::cached_postgres(&db).await;
    wait_until_caching(&d).await;
    writes_are_seen_by_the_next_read(&d).await;
    drop(d);
    drop(db);
}

/// A change made behind the cache's back (straight in the SQLite file) is not seen until the
/// cache is invalidated — the cache does answer from memory — while a cache with TTL 0 passes
/// every read through.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_cache_serves_from_memory_until_invalidated() {
    let tmp = tempfile::tempdir().unwrap();
    let inner = Arc::new(testing::sqlite_in(tmp.path()).await);
    let d = CachedDirectory::new(inner.clone(), CacheOptions::with_ttl(testing::CACHE_TTL));
    let off = CachedDirectory::new(inner, CacheOptions::with_ttl(Duration::ZERO));
    let w = world(&d).await;
    assert_eq!(
        d.get_user(w.u).await.unwrap().display_name,
        dn("User alice")
    );
    assert_eq!(
        d.get_accounts(std::slice::from_ref(&w.a1))
            .await
            .unwrap()
            .len(),
        1
    );

    let file = tmp.path().join("portcullis.sqlite3");
    let raw = rusqlite::Connection::open(&file).unwrap();
    raw.execute(
        "UPDATE users SET display_name = 'Sneaky' WHERE id = ?1",
        [w.u.to_string()],
    )
    .unwrap();
    raw.execute(
        "UPDATE accounts SET name = 'Sneaky' WHERE id IN ('111111111111', '222222222222')",
        [],
    )
    .unwrap();

    assert_eq!(
        d.get_user(w.u).await.unwrap().display_name,
        dn("User alice"),
        "cached"
    );
    assert_eq!(
        off.get_user(w.u).await.unwrap().display_name,
        dn("Sneaky"),
        "TTL 0"
    );
    // One account from the cache, the other read now: merged in id order.
    let names: Vec<_> = d
        .get_accounts(&[w.a2.clone(), w.a1.clone(), w.a1.clone()])
        .await
        .unwrap()
        .into_iter()
        .map(|a| (a.id, a.name))
        .collect();
    assert_eq!(
        names,
        vec![(w.a1.clone(), dn("One")), (w.a2.clone(), dn("Sneaky"))]
    );

    d.invalidate_all();
    assert_eq!(d.get_user(w.u).await.unwrap().display_name, dn("Sneaky"));
    assert_eq!(d.get_account(&w.a1).await.unwrap().name, dn("Sneaky"));
}

/// Two nodes on one database, each with its own cache and listener: node B answers from its
/// cache, yet sees a change made through node A within moments.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_changes_reach_the_other_node() {
    let db = testing::fresh_postgres().await;
    let (node_a, node_b) = (
        testing::cached_postgres(&db).await,
        testing::cached_postgres(&db).await,
    );
    let (a, b) = (&node_a, &node_b);
    wait_until_caching(a).await;
    wait_until_caching(b).await;
    let w = world(a).await;
    let u = w.u;
    // The set-up's own notifications reach B asynchronously; let them land before B caches
    // what it reads next, or one arriving late would (rightly) invalidate it.
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    assert!(b.get_user(w.u).await.unwrap().enabled);
    assert_eq!(b.user_entitlements(w.u).await.unwrap(), Vec::new());

    // B answers from memory: a change nobody announces is not seen.
    let psql = psql(&db).await;
    rename_unannounced(&psql, w.u, "Sneaky").await;
    assert_eq!(
        b.get_user(w.u).await.unwrap().display_name,
        dn("User alice")
    );

    // Disabled through A: B refuses within moments.
    let disable = UserPatch {
        enabled: Some(false),
        ..UserPatch::default()
    };
    a.update_user(admin(), w.u, disable).await.unwrap();
    let took = eventually("B sees the user disabled through A", move || async move {
        !b.get_user(u).await.unwrap().enabled
    })
    .await;
    eprintln!("a user disabled on node A was refused on node B after {took:?}");

    // An assignment made through A, then deleted: B follows both.
    b.user_entitlements(w.u).await.unwrap();
    let assignment = aa(&w.a1, w.p1, Principal::User(w.u));
    a.create_assignment(admin(), assignment.clone())
        .await
        .unwrap();
    eventually("B sees the new assignment", move || async move {
        b.user_entitlements(u).await.unwrap().len() == 1
    })
    .await;
    a.delete_assignment(admin(), &assignment).await.unwrap();
    eventually("B sees the assignment deleted", move || async move {
        b.user_entitlements(u).await.unwrap().is_empty()
    })
    .await;

    // A change made with plain SQL (the trigger on) reaches both caches too.
    psql.batch_execute(&format!(
        "DELETE FROM group_members WHERE user_id = '{}'",
        w.u
    ))
    .await
    .unwrap();
    psql.batch_execute(&format!(
        "UPDATE users SET display_name = 'Plain' WHERE id = '{}'",
        w.u
    ))
    .await
    .unwrap();
    for node in [a, b] {
        eventually("a plain SQL change is heard", move || async move {
            node.get_user(u).await.unwrap().display_name == dn("Plain")
        })
        .await;
    }
    drop((node_a, node_b, psql));
    drop(db);
}

/// While the listener is down nothing is served from memory, and once it listens again
/// whatever changed unheard meanwhile is read afresh.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lost_listener_connection_serves_nothing_unheard() {
    let db = testing::fresh_postgres().await;
    let d = testing::cached_postgres(&db).await;
    wait_until_caching(&d).await;
    let w = world(&d).await;
    assert_eq!(
        d.get_user(w.u).await.unwrap().display_name,
        dn("User alice")
    );

    let psql = psql(&db).await;
    let killed = psql
        .query(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity \
             WHERE datname = current_database() AND application_name = 'portcullis-listener'",
            &[],
        )
        .await
        .unwrap();
    assert_eq!(killed.len(), 1, "one listener connection");
    rename_unannounced(&psql, w.u, "Unheard").await;
    let (dref, u) = (&d, w.u);
    eventually(
        "the unheard change is read once the listener is lost",
        move || async move { dref.get_user(u).await.unwrap().display_name == dn("Unheard") },
    )
    .await;
    // And the cache serves from memory again once the listener is back.
    wait_until_caching(&d).await;
    assert_eq!(d.get_user(u).await.unwrap().display_name, dn("Unheard"));
    rename_unannounced(&psql, u, "Later").await;
    assert_eq!(d.get_user(u).await.unwrap().display_name, dn("Unheard"));
    drop((d, psql));
    drop(db);
}
