//! Quick tests of the PostgreSQL backend against a throwaway database (the full cross-backend
//! suite is `tests/conformance.rs`). Set `PORTCULLIS_TEST_POSTGRES_URL` to the admin URL.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::{Duration, Instant};

use portcullis_domain::{
    AccountAssignment, AccountId, Actor, ApplicationAssignment, ApplicationKind, AuditFilter,
    Description, DisplayName, Email, NewAccount, NewApplication, NewAuditEvent, NewGroup,
    NewPermissionSet, NewUser, PageRequest, PermissionSetDuration, Principal, RoleName, Settings,
    UserName, UserPatch,
};
use tokio_postgres::NoTls;

use super::PostgresDirectory;
use crate::{
    AccountStore, ApplicationStore, AssignmentFilter, AssignmentStore, AuditLog, Directory,
    GroupStore, PermissionSetStore, SettingsStore, StoreError, UserStore,
};

fn admin_url() -> String {
    std::env::var("PORTCULLIS_TEST_POSTGRES_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".to_owned())
}

/// `url` with its database replaced by `db`.
fn with_database(url: &str, db: &str) -> String {
    let (base, query) = match url.split_once('?') {
        Some((b, q)) => (b, format!("?{q}")),
        None => (url, String::new()),
    };
    let start = base.find("://").map_or(0, |i| i + 3);
    let end = base[start..].find('/').map_or(base.len(), |i| start + i);
    let base = &base[..end];
    format!("{base}/{db}{query}")
}

async fn admin_client() -> tokio_postgres::Client {
    let (client, conn) = tokio_postgres::connect(&admin_url(), NoTls)
        .await
        .expect("admin connection");
    tokio::spawn(async move {
        let _ = conn.await;
    });
    client
}

/// Drops the test database when the test ends, even when it panics.
struct DropGuard(String);

impl Drop for DropGuard {
    fn drop(&mut self) {
        let sql = format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", self.0);
        // A runtime of its own on a thread of its own: this may run inside the test's runtime.
        let done = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("runtime");
            rt.block_on(async move { admin_client().await.batch_execute(&sql).await })
        })
        .join();
        if !matches!(done, Ok(Ok(()))) {
            eprintln!("could not drop test database {}", self.0);
        }
    }
}

/// A fresh database, migrated twice; dropped with this value.
struct TestDb {
    url: String,
    dir: PostgresDirectory,
    _guard: DropGuard,
}

impl TestDb {
    async fn new() -> Self {
        let db = Self::empty().await;
        db.dir.migrate().await.expect("migrate");
        db.dir.migrate().await.expect("migrate again");
        db
    }

    /// A fresh database without the schema.
    async fn empty() -> Self {
        let name = format!("portcullis_t_{}", uuid::Uuid::new_v4().simple());
        admin_client()
            .await
            .batch_execute(&format!("CREATE DATABASE {name}"))
            .await
            .expect("create database");
        let guard = DropGuard(name.clone());
        let url = with_database(&admin_url(), &name);
        let dir = PostgresDirectory::connect(&url, 4).expect("connect");
        Self {
            url,
            dir,
            _guard: guard,
        }
    }

    async fn raw(&self) -> tokio_postgres::Client {
        let (client, conn) = tokio_postgres::connect(&self.url, NoTls)
            .await
            .expect("connect");
        tokio::spawn(async move {
            let _ = conn.await;
        });
        client
    }
}

fn new_user(name: &str) -> NewUser {
    NewUser {
        user_name: UserName::parse(name).unwrap(),
        email: Email::parse(format!("{}@example.com", name.to_lowercase())).unwrap(),
        display_name: DisplayName::parse(name).unwrap(),
        given_name: None,
        family_name: None,
        enabled: true,
    }
}

fn new_ps(name: &str) -> NewPermissionSet {
    NewPermissionSet {
        name: RoleName::parse(name).unwrap(),
        description: Description::parse("").unwrap(),
        session_duration: PermissionSetDuration::from_seconds(3600).unwrap(),
    }
}

fn new_account(id: &str) -> NewAccount {
    NewAccount {
        id: AccountId::parse(id).unwrap(),
        name: DisplayName::parse(format!("Account {id}")).unwrap(),
        email: Email::parse("aws@example.com").unwrap(),
        console_url: None,
    }
}

fn after(size: u32, key: Option<String>) -> PageRequest {
    PageRequest {
        after: key,
        ..PageRequest::first(size).unwrap()
    }
}

#[tokio::test]
async fn users_pages_and_conflicts() {
    let db = TestDb::new().await;
    let d = &db.dir;
    assert_eq!(d.backend(), "postgres");
    d.ping().await.unwrap();
    for n in ["bob", "Alice", "carol", "dave", "Eve"] {
        d.create_user(Actor::System, new_user(n)).await.unwrap();
    }
    let alice = d
        .find_user_by_name(&UserName::parse("ALICE").unwrap())
        .await
        .unwrap()
        .expect("alice");
    assert_eq!(d.get_user(alice.id).await.unwrap(), alice);

    let mut names = Vec::new();
    let mut key = None;
    let mut pages = 0;
    loop {
        let page = d.list_users(after(2, key)).await.unwrap();
        pages += 1;
        names.extend(page.items.iter().map(|u| u.user_name.to_string()));
        key = page.next;
        if key.is_none() {
            break;
        }
    }
    assert_eq!(names, ["Alice", "bob", "carol", "dave", "Eve"]);
    assert_eq!(pages, 3);

    let err = d
        .create_user(Actor::System, new_user("BOB"))
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            StoreError::Conflict {
                field: "userName",
                ..
            }
        ),
        "{err:?}"
    );
    let mut dup_email = new_user("bobby");
    dup_email.email = Email::parse("BOB@example.com").unwrap();
    let err = d.create_user(Actor::System, dup_email).await.unwrap_err();
    assert!(
        matches!(err, StoreError::Conflict { field: "email", .. }),
        "{err:?}"
    );

    let patch = UserPatch {
        display_name: Some(DisplayName::parse("Alice A.").unwrap()),
        ..UserPatch::default()
    };
    let updated = d.update_user(Actor::System, alice.id, patch).await.unwrap();
    assert_eq!(d.get_user(alice.id).await.unwrap(), updated);
    let rename = UserPatch {
        user_name: Some(UserName::parse("Bob").unwrap()),
        ..UserPatch::default()
    };
    let err = d
        .update_user(Actor::System, alice.id, rename)
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            StoreError::Conflict {
                field: "userName",
                ..
            }
        ),
        "{err:?}"
    );

    d.delete_user(Actor::System, alice.id).await.unwrap();
    assert!(matches!(
        d.get_user(alice.id).await,
        Err(StoreError::NotFound("user"))
    ));
    assert!(matches!(
        d.delete_user(Actor::System, alice.id).await,
        Err(StoreError::NotFound("user"))
    ));

    // Audit: 5 creates + 1 update + 1 delete (failed calls write nothing).
    let all = d
        .list_audit_events(&AuditFilter::default(), after(100, None))
        .await
        .unwrap();
    assert_eq!(all.items.len(), 7);
    assert!(all.items.windows(2).all(|w| w[0].id > w[1].id));
    let creates = AuditFilter {
        action: Some("user.*".into()),
        ..AuditFilter::default()
    };
    let page = d.list_audit_events(&creates, after(3, None)).await.unwrap();
    assert_eq!(page.items.len(), 3);
    let rest = d
        .list_audit_events(&creates, after(10, page.next))
        .await
        .unwrap();
    assert_eq!(rest.items.len(), 4);
    // Malformed keys give empty pages, never errors.
    let bad = d
        .list_audit_events(&AuditFilter::default(), after(10, Some("x".into())))
        .await
        .unwrap();
    assert!(bad.items.is_empty() && bad.next.is_none());
    let bad = d
        .list_applications(after(10, Some("nope".into())))
        .await
        .unwrap();
    assert!(bad.items.is_empty());
    let bad = d
        .list_assignments(
            &AssignmentFilter::default(),
            after(10, Some("a/b/c/d".into())),
        )
        .await
        .unwrap();
    assert!(bad.items.is_empty());

    d.put_settings(Actor::System, Settings::default())
        .await
        .unwrap();
    assert_eq!(d.get_settings().await.unwrap(), Settings::default());
    drop(db);
}

#[tokio::test]
async fn entitlements_through_groups_and_cascades() {
    let db = TestDb::new().await;
    let d = &db.dir;
    let user = d
        .create_user(Actor::System, new_user("alice"))
        .await
        .unwrap();
    let other = d.create_user(Actor::System, new_user("bob")).await.unwrap();
    let group = d
        .create_group(
            Actor::System,
            NewGroup {
                name: DisplayName::parse("Admins").unwrap(),
                description: Description::parse("").unwrap(),
            },
        )
        .await
        .unwrap();
    d.add_member(Actor::System, group.id, user.id)
        .await
        .unwrap();
    d.add_member(Actor::System, group.id, user.id)
        .await
        .unwrap();
    d.add_member(Actor::System, group.id, other.id)
        .await
        .unwrap();
    let members = d.list_members(group.id, after(10, None)).await.unwrap();
    assert_eq!(members.items.len(), 2);
    let err = d
        .add_member(Actor::System, group.id, portcullis_domain::UserId::new())
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            StoreError::InvalidReference {
                field: "userId",
                ..
            }
        ),
        "{err:?}"
    );

    let acct = d
        .create_account(Actor::System, new_account("111111111111"))
        .await
        .unwrap();
    let err = d
        .create_account(Actor::System, new_account("111111111111"))
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            StoreError::Conflict {
                field: "accountId",
                ..
            }
        ),
        "{err:?}"
    );
    let admin = d
        .create_permission_set(Actor::System, new_ps("Admin"))
        .await
        .unwrap();
    let read = d
        .create_permission_set(Actor::System, new_ps("ReadOnly"))
        .await
        .unwrap();

    let via_group = AccountAssignment {
        account_id: acct.id.clone(),
        permission_set_id: admin.id,
        principal: Principal::Group(group.id),
    };
    let direct = AccountAssignment {
        principal: Principal::User(user.id),
        ..via_group.clone()
    };
    let direct_read = AccountAssignment {
        permission_set_id: read.id,
        ..direct.clone()
    };
    for a in [&via_group, &direct, &direct_read] {
        d.create_assignment(Actor::System, a.clone()).await.unwrap();
    }
    let err = d
        .create_assignment(Actor::System, direct.clone())
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            StoreError::Conflict {
                field: "assignment",
                ..
            }
        ),
        "{err:?}"
    );
    let missing = AccountAssignment {
        account_id: AccountId::parse("999999999999").unwrap(),
        ..direct.clone()
    };
    let err = d
        .create_assignment(Actor::System, missing)
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            StoreError::InvalidReference {
                field: "accountId",
                ..
            }
        ),
        "{err:?}"
    );

    let ents = d.user_entitlements(user.id).await.unwrap();
    let roles: Vec<_> = ents.iter().map(|e| e.role_name.to_string()).collect();
    assert_eq!(roles, ["Admin", "ReadOnly"]);
    let ents = d.user_entitlements(other.id).await.unwrap();
    assert_eq!(ents.len(), 1);

    // Keyset pages over assignments.
    let first = d
        .list_assignments(&AssignmentFilter::default(), after(2, None))
        .await
        .unwrap();
    assert_eq!(first.items.len(), 2);
    let second = d
        .list_assignments(&AssignmentFilter::default(), after(2, first.next.clone()))
        .await
        .unwrap();
    assert_eq!(second.items.len(), 1);
    assert!(second.next.is_none());

    // Applications.
    let app = d
        .create_application(
            Actor::System,
            NewApplication {
                name: DisplayName::parse("Wiki").unwrap(),
                description: Description::parse("").unwrap(),
                kind: ApplicationKind::Oidc,
                enabled: true,
            },
        )
        .await
        .unwrap();
    let aa = ApplicationAssignment {
        application_id: app.id,
        principal: Principal::Group(group.id),
    };
    d.assign_application(Actor::System, aa).await.unwrap();
    assert_eq!(
        d.user_applications(other.id).await.unwrap(),
        vec![app.clone()]
    );
    let zulu = NewApplication {
        name: DisplayName::parse("Zulu/Tools").unwrap(),
        description: Description::parse("").unwrap(),
        kind: ApplicationKind::Saml,
        enabled: false,
    };
    let zulu = d.create_application(Actor::System, zulu).await.unwrap();
    let apps = d.list_applications(after(1, None)).await.unwrap();
    assert_eq!(apps.next, Some(format!("wiki/{}", app.id)));
    let apps = d.list_applications(after(1, apps.next)).await.unwrap();
    assert_eq!(apps.items, vec![zulu.clone()]);
    assert!(apps.next.is_none());
    let last = format!("zulu/tools/{}", zulu.id);
    assert!(
        d.list_applications(after(1, Some(last)))
            .await
            .unwrap()
            .items
            .is_empty()
    );
    let err = d
        .update_application(
            Actor::System,
            zulu.id,
            NewApplication {
                name: zulu.name.clone(),
                description: zulu.description.clone(),
                kind: ApplicationKind::Oidc,
                enabled: true,
            },
        )
        .await
        .unwrap_err();
    assert!(
        matches!(err, StoreError::Conflict { field: "kind", .. }),
        "{err:?}"
    );

    // Deleting the group removes its memberships and assignments.
    d.delete_group(Actor::System, group.id).await.unwrap();
    assert!(d.list_user_groups(user.id).await.unwrap().is_empty());
    assert_eq!(d.user_entitlements(other.id).await.unwrap(), vec![]);
    assert!(d.user_applications(other.id).await.unwrap().is_empty());
    assert_eq!(d.user_entitlements(user.id).await.unwrap().len(), 2);
    d.delete_permission_set(Actor::System, read.id)
        .await
        .unwrap();
    assert_eq!(d.user_entitlements(user.id).await.unwrap().len(), 1);
    d.delete_user(Actor::System, user.id).await.unwrap();
    let left = d
        .list_assignments(&AssignmentFilter::default(), after(10, None))
        .await
        .unwrap();
    assert!(left.items.is_empty());
    drop(db);
}

#[tokio::test]
async fn entitlements_query_uses_partial_indexes() {
    let db = TestDb::new().await;
    let raw = db.raw().await;
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
    let db = TestDb::empty().await;
    let mut tasks = Vec::new();
    for _ in 0..4 {
        let dir = PostgresDirectory::connect(&db.url, 2).unwrap();
        tasks.push(tokio::spawn(async move { dir.migrate().await }));
    }
    for t in tasks {
        t.await.unwrap().unwrap();
    }
    let event = NewAuditEvent::new(Actor::Bootstrap, "session.sign-in", "user:x");
    db.dir.record_event(event).await.unwrap();
    let filter = AuditFilter {
        actor: Some("bootstrap".into()),
        action: Some("session.*".into()),
        ..AuditFilter::default()
    };
    let page = db
        .dir
        .list_audit_events(&filter, after(10, None))
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
