//! Unit tests of the SQLite backend (the cross-backend suite is `tests/conformance.rs`).

#![allow(clippy::unwrap_used, clippy::expect_used)]

use portcullis_domain::{
    AccountAssignment, AccountId, Actor, ApplicationAssignment, ApplicationKind, AuditFilter,
    Description, DisplayName, Email, NewAccount, NewApplication, NewAuditEvent, NewGroup,
    NewPermissionSet, NewUser, PageRequest, PermissionSetDuration, Principal, RoleName, Settings,
    UserName, UserPatch,
};

use super::SqliteDirectory;
use crate::{
    AccountStore, ApplicationStore, AssignmentFilter, AssignmentStore, AuditLog, Directory,
    GroupStore, PermissionSetStore, SettingsStore, StoreError, UserStore,
};

async fn directory() -> (tempfile::TempDir, SqliteDirectory) {
    let dir = tempfile::tempdir().unwrap();
    let db = SqliteDirectory::open(&dir.path().join("directory.db")).unwrap();
    db.migrate().await.unwrap();
    (dir, db)
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

fn page(size: u32, after: Option<String>) -> PageRequest {
    let mut p = PageRequest::first(size).unwrap();
    p.after = after;
    p
}

#[tokio::test]
async fn migrates_twice_and_pings() {
    let (_dir, db) = directory().await;
    db.migrate().await.unwrap();
    db.ping().await.unwrap();
    assert_eq!(db.backend(), "sqlite");
    assert_eq!(db.get_settings().await.unwrap(), Settings::default());
    db.put_settings(Actor::System, Settings::default())
        .await
        .unwrap();
    assert_eq!(db.get_settings().await.unwrap(), Settings::default());
}

#[tokio::test]
async fn users_create_get_list_paginate() {
    let (_dir, db) = directory().await;
    let mut created = Vec::new();
    for name in ["carol", "Alice", "bob", "Dave", "eve"] {
        created.push(db.create_user(Actor::System, new_user(name)).await.unwrap());
    }
    let alice = db.get_user(created[1].id).await.unwrap();
    assert_eq!(alice, created[1]);
    let found = db
        .find_user_by_name(&UserName::parse("ALICE").unwrap())
        .await
        .unwrap();
    assert_eq!(found.as_ref(), Some(&alice));

    let mut names = Vec::new();
    let mut after = None;
    let mut pages = 0;
    loop {
        let p = db.list_users(page(2, after)).await.unwrap();
        names.extend(p.items.iter().map(|u| u.user_name.to_string()));
        pages += 1;
        match p.next {
            Some(next) => after = Some(next),
            None => break,
        }
    }
    assert_eq!(names, ["Alice", "bob", "carol", "Dave", "eve"]);
    assert_eq!(pages, 3);
    let p = db.list_users(page(2, Some("a/b/c".into()))).await.unwrap();
    assert_eq!(p.items.len(), 2);

    let updated = db
        .update_user(
            Actor::System,
            alice.id,
            UserPatch {
                display_name: Some(DisplayName::parse("Alice A.").unwrap()),
                ..UserPatch::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(db.get_user(alice.id).await.unwrap(), updated);

    let events = db
        .list_audit_events(&AuditFilter::default(), page(100, None))
        .await
        .unwrap();
    assert_eq!(events.items.len(), 6);
    assert_eq!(events.items[0].action, "user.update");
    let filter = AuditFilter {
        action: Some("user.*".into()),
        ..AuditFilter::default()
    };
    let p = db.list_audit_events(&filter, page(4, None)).await.unwrap();
    assert_eq!(p.items.len(), 4);
    let p2 = db
        .list_audit_events(&filter, page(4, p.next))
        .await
        .unwrap();
    assert_eq!(p2.items.len(), 2);
    assert!(p2.next.is_none());
    let bad = db
        .list_audit_events(&filter, page(4, Some("x".into())))
        .await
        .unwrap();
    assert!(bad.items.is_empty());
}

#[tokio::test]
async fn conflicts_and_not_found() {
    let (_dir, db) = directory().await;
    let a = db
        .create_user(Actor::System, new_user("alice"))
        .await
        .unwrap();
    let err = db
        .create_user(Actor::System, new_user("ALICE"))
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
    let mut other = new_user("bob");
    other.email = Email::parse("Alice@Example.com").unwrap();
    let err = db.create_user(Actor::System, other).await.unwrap_err();
    assert!(
        matches!(err, StoreError::Conflict { field: "email", .. }),
        "{err:?}"
    );
    let b = db
        .create_user(Actor::System, new_user("bob"))
        .await
        .unwrap();
    let patch = UserPatch {
        user_name: Some(UserName::parse("Alice").unwrap()),
        ..UserPatch::default()
    };
    let err = db
        .update_user(Actor::System, b.id, patch)
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
    // Renaming oneself to a different case is not a conflict.
    let patch = UserPatch {
        user_name: Some(UserName::parse("ALICE").unwrap()),
        ..UserPatch::default()
    };
    db.update_user(Actor::System, a.id, patch).await.unwrap();

    let account = NewAccount {
        id: AccountId::parse("123456789012").unwrap(),
        name: DisplayName::parse("Prod").unwrap(),
        email: Email::parse("aws@example.com").unwrap(),
        console_url: None,
    };
    db.create_account(Actor::System, account.clone())
        .await
        .unwrap();
    let err = db.create_account(Actor::System, account).await.unwrap_err();
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

    db.delete_user(Actor::System, b.id).await.unwrap();
    let err = db.delete_user(Actor::System, b.id).await.unwrap_err();
    assert!(matches!(err, StoreError::NotFound("user")), "{err:?}");
    let err = db.get_user(b.id).await.unwrap_err();
    assert!(matches!(err, StoreError::NotFound("user")), "{err:?}");

    // A failed change writes no audit event.
    let before = db
        .list_audit_events(&AuditFilter::default(), page(100, None))
        .await
        .unwrap();
    let _ = db
        .create_user(Actor::System, new_user("alice"))
        .await
        .unwrap_err();
    let after = db
        .list_audit_events(&AuditFilter::default(), page(100, None))
        .await
        .unwrap();
    assert_eq!(before.items.len(), after.items.len());
    db.record_event(NewAuditEvent::new(
        Actor::System,
        "sign-in.success",
        "user:x",
    ))
    .await
    .unwrap();
}

#[tokio::test]
async fn entitlements_through_groups_and_cascade() {
    let (_dir, db) = directory().await;
    let alice = db
        .create_user(Actor::System, new_user("alice"))
        .await
        .unwrap();
    let group = db
        .create_group(
            Actor::System,
            NewGroup {
                name: DisplayName::parse("Admins").unwrap(),
                description: Description::parse("").unwrap(),
            },
        )
        .await
        .unwrap();
    db.add_member(Actor::System, group.id, alice.id)
        .await
        .unwrap();
    db.add_member(Actor::System, group.id, alice.id)
        .await
        .unwrap();
    let members = db.list_members(group.id, page(10, None)).await.unwrap();
    assert_eq!(members.items, vec![alice.clone()]);

    let account_id = AccountId::parse("111122223333").unwrap();
    db.create_account(
        Actor::System,
        NewAccount {
            id: account_id.clone(),
            name: DisplayName::parse("Prod").unwrap(),
            email: Email::parse("aws@example.com").unwrap(),
            console_url: None,
        },
    )
    .await
    .unwrap();
    let ps = db
        .create_permission_set(
            Actor::System,
            NewPermissionSet {
                name: RoleName::parse("Admin").unwrap(),
                description: Description::parse("").unwrap(),
                session_duration: PermissionSetDuration::default(),
            },
        )
        .await
        .unwrap();
    let via_group = AccountAssignment {
        account_id: account_id.clone(),
        permission_set_id: ps.id,
        principal: Principal::Group(group.id),
    };
    let direct = AccountAssignment {
        principal: Principal::User(alice.id),
        ..via_group.clone()
    };
    db.create_assignment(Actor::System, via_group.clone())
        .await
        .unwrap();
    db.create_assignment(Actor::System, direct.clone())
        .await
        .unwrap();
    let err = db
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
    let bad = AccountAssignment {
        principal: Principal::User(portcullis_domain::UserId::new()),
        ..via_group.clone()
    };
    let err = db.create_assignment(Actor::System, bad).await.unwrap_err();
    assert!(
        matches!(
            err,
            StoreError::InvalidReference {
                field: "principalId",
                entity: "user"
            }
        ),
        "{err:?}"
    );

    let ents = db.user_entitlements(alice.id).await.unwrap();
    assert_eq!(ents.len(), 1);
    assert_eq!(ents[0].role_name.as_str(), "Admin");

    let listed = db
        .list_assignments(&AssignmentFilter::default(), page(1, None))
        .await
        .unwrap();
    assert_eq!(listed.items, vec![via_group.clone()]);
    let rest = db
        .list_assignments(&AssignmentFilter::default(), page(1, listed.next))
        .await
        .unwrap();
    assert_eq!(rest.items, vec![direct.clone()]);
    assert!(rest.next.is_none());

    let app = db
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
    let app_assignment = ApplicationAssignment {
        application_id: app.id,
        principal: Principal::Group(group.id),
    };
    db.assign_application(Actor::System, app_assignment)
        .await
        .unwrap();
    assert_eq!(
        db.user_applications(alice.id).await.unwrap(),
        vec![app.clone()]
    );

    // Deleting the group removes its memberships and assignments.
    db.delete_group(Actor::System, group.id).await.unwrap();
    assert!(db.list_user_groups(alice.id).await.unwrap().is_empty());
    assert!(db.user_applications(alice.id).await.unwrap().is_empty());
    assert!(
        db.list_application_assignments(app.id)
            .await
            .unwrap()
            .is_empty()
    );
    let ents = db.user_entitlements(alice.id).await.unwrap();
    assert_eq!(ents.len(), 1);
    db.delete_user(Actor::System, alice.id).await.unwrap();
    assert!(db.user_entitlements(alice.id).await.unwrap().is_empty());
    let all = db
        .list_assignments(&AssignmentFilter::default(), page(10, None))
        .await
        .unwrap();
    assert!(all.items.is_empty());
}
