//! PostgreSQL-specific behaviour (the cross-backend contract is `tests/conformance/`): the
//! entitlements query's plan, migrations racing from several nodes, failing fast when the
//! server is unreachable, and an audit batch failing as a whole.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::{Duration, Instant};

use portcullis_domain::{Actor, AuditFilter, NewAuditEvent, PageRequest};
use tokio_postgres::NoTls;

use super::PostgresDirectory;
use crate::testing::{TestDatabase, fresh_postgres};
use crate::{AuditLog, Directory, StoreError};

async fn raw(db: &TestDatabase) -> tokio_postgres::Client {
    let (client, conn) = tokio_postgres::connect(&db.url, NoTls)
        .await
        .expect("connect");
    tokio::spawn(async move {
        let _ = conn.await;
    });
    client
}

#[tokio::test]
async fn entitlements_query_uses_partial_indexes() {
    let db = fresh_postgres().await;
    PostgresDirectory::connect(&db.url, 2)
        .unwrap()
        .migrate()
        .await
        .unwrap();
    let raw = raw(&db).await;
    raw.batch_execute("SET enable_seqscan = off").await.unwrap();
    let plan: Vec<String> = raw
        .query(
            "EXPLAIN SELECT DISTINCT a.account_id, a.permission_set_id, p.name \
             FROM account_assignments a JOIN permission_sets p ON p.id = a.permission_set_id \
             WHERE a.user_id = $1 \
                OR a.group_id = ANY (ARRAY( \
                    SELECT m.group_id FROM group_members m WHERE m.user_id = $1)) \
             ORDER BY a.account_id, p.name",
            &[&uuid::Uuid::new_v4()],
        )
        .await
        .unwrap()
        .iter()
        .map(|r| r.get::<_, String>(0))
        .collect();
    let plan = plan.join("\n");
    assert!(plan.contains("account_assignments_user_key"), "{plan}");
    assert!(plan.contains("account_assignments_group_key"), "{plan}");
    drop(raw);
    drop(db);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_migrations_take_turns() {
    let db = fresh_postgres().await;
    let mut tasks = Vec::new();
    for _ in 0..4 {
        let dir = PostgresDirectory::connect(&db.url, 2).unwrap();
        tasks.push(tokio::spawn(async move { dir.migrate().await }));
    }
    for t in tasks {
        t.await.unwrap().unwrap();
    }
    let event = NewAuditEvent::new(Actor::Bootstrap, "session.sign-in", "user:x");
    let dir = PostgresDirectory::connect(&db.url, 2).unwrap();
    dir.record_event(event).await.unwrap();
    let filter = AuditFilter {
        actor: Some("bootstrap".into()),
        action: Some("session.*".into()),
        ..AuditFilter::default()
    };
    let page = dir
        .list_audit_events(&filter, PageRequest::first(10).unwrap())
        .await
        .unwrap();
    assert_eq!(page.items.len(), 1);
    drop(db);
}

#[tokio::test]
async fn unreachable_database_fails_fast() {
    let err = PostgresDirectory::connect("postgres://%zz@[", 2).unwrap_err();
    assert!(matches!(err, StoreError::Unavailable(_)));
    let d = PostgresDirectory::connect("postgres://postgres@127.0.0.1:1/none", 2).unwrap();
    let start = Instant::now();
    assert!(matches!(d.ping().await, Err(StoreError::Unavailable(_))));
    assert!(matches!(d.migrate().await, Err(StoreError::Unavailable(_))));
    assert!(start.elapsed() < Duration::from_secs(15));
}

#[tokio::test]
async fn a_batch_of_audit_events_is_all_or_nothing() {
    let db = fresh_postgres().await;
    let dir = PostgresDirectory::connect(&db.url, 2).unwrap();
    dir.migrate().await.unwrap();
    // PostgreSQL text cannot hold NUL, so the last event fails the whole statement.
    let batch = vec![
        NewAuditEvent::new(Actor::System, "key.rotate", "signing-key:k1"),
        NewAuditEvent::new(Actor::System, "key.rotate", "signing-key:k2"),
        NewAuditEvent::new(Actor::System, "key.rotate", "signing-key:\0"),
    ];
    assert!(dir.record_events(batch).await.is_err());
    let page = dir
        .list_audit_events(&AuditFilter::default(), PageRequest::first(10).unwrap())
        .await
        .unwrap();
    assert_eq!(page.items.len(), 0, "{:?}", page.items);
    drop(dir);
    drop(db);
}
