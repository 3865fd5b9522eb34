//! Atomicity and concurrency.

use super::*;

pub(super) async fn failed_writes_change_nothing(d: &dyn Directory) {
    let w = world(d).await;
    let bob = d.create_user(admin(), new_user("bob")).await.unwrap();
    let app = d
        .create_application(admin(), new_app("Wiki", ApplicationKind::Oidc, true))
        .await
        .unwrap();
    let mark = audit_mark(d).await;
    let users_before = d.list_users(all()).await.unwrap();
    let alice_before = d.get_user(w.u).await.unwrap();

    assert_err!(
        d.create_user(admin(), new_user("ALICE")).await,
        StoreError::Conflict { .. }
    );
    // A patch that fails on its second field changes neither.
    let patch = UserPatch {
        display_name: Some(dn("Changed")),
        email: Some(email("bob@example.com")),
        ..UserPatch::default()
    };
    assert_err!(
        d.update_user(admin(), w.u, patch).await,
        StoreError::Conflict { field: "email", .. }
    );
    assert_err!(
        d.create_group(admin(), new_group("developers")).await,
        StoreError::Conflict { .. }
    );
    assert_err!(
        d.create_account(admin(), new_account("111111111111", "Dup"))
            .await,
        StoreError::Conflict { .. }
    );
    assert_err!(
        d.create_permission_set(admin(), new_ps("Admin", 2)).await,
        StoreError::Conflict { .. }
    );
    assert_err!(
        d.add_member(admin(), w.g, UserId::new()).await,
        StoreError::InvalidReference { .. }
    );
    assert_err!(
        d.create_assignment(admin(), aa(&w.a1, w.p1, Principal::User(UserId::new())))
            .await,
        StoreError::InvalidReference { .. }
    );
    assert_err!(
        d.update_application(
            admin(),
            app.id,
            new_app("Renamed", ApplicationKind::Saml, false)
        )
        .await,
        StoreError::Conflict { field: "kind", .. }
    );
    assert_err!(
        d.delete_user(admin(), UserId::new()).await,
        StoreError::NotFound(_)
    );
    assert_err!(
        d.remove_member(admin(), w.g, bob.id).await,
        StoreError::NotFound("membership")
    );
    assert_err!(
        d.delete_assignment(admin(), &aa(&w.a1, w.p1, Principal::User(w.u)))
            .await,
        StoreError::NotFound("assignment")
    );

    expect_events(d, mark, &[]).await;
    assert_eq!(d.list_users(all()).await.unwrap(), users_before);
    assert_eq!(d.get_user(w.u).await.unwrap(), alice_before);
    assert_eq!(d.list_groups(all()).await.unwrap().items.len(), 1);
    assert_eq!(d.list_accounts(all()).await.unwrap().items.len(), 2);
    assert_eq!(d.list_permission_sets(all()).await.unwrap().items.len(), 2);
    assert_eq!(d.list_members(w.g, all()).await.unwrap().items, vec![]);
    assert_eq!(assignments(d, AssignmentFilter::default()).await, vec![]);
    assert_eq!(d.get_application(app.id).await.unwrap(), app);
}

pub(super) async fn concurrent_writes(d: &dyn Directory) {
    // Distinct writes at once all succeed (no "database is locked", no deadlock).
    let (r1, r2, r3, r4, r5, r6) = tokio::join!(
        d.create_user(admin(), new_user("u1")),
        d.create_user(admin(), new_user("u2")),
        d.create_group(admin(), new_group("g1")),
        d.create_account(admin(), new_account("123456789012", "Acc")),
        d.create_user(admin(), new_user("u3")),
        d.put_settings(admin(), Settings::default()),
    );
    let (u1, u2, g1, _, u3, _) = (
        r1.unwrap(),
        r2.unwrap(),
        r3.unwrap(),
        r4.unwrap(),
        r5.unwrap(),
        r6.unwrap(),
    );
    let (m1, m2, m3) = tokio::join!(
        d.add_member(admin(), g1.id, u1.id),
        d.add_member(admin(), g1.id, u2.id),
        d.add_member(admin(), g1.id, u3.id),
    );
    m1.unwrap();
    m2.unwrap();
    m3.unwrap();
    assert_eq!(d.list_members(g1.id, all()).await.unwrap().items.len(), 3);

    // The same name at once: one wins, the others are told why.
    let racer = |n: u32| {
        let mut u = new_user("racer");
        u.email = email(&format!("racer{n}@example.com"));
        u
    };
    let (a, b, c, e) = tokio::join!(
        d.create_user(admin(), racer(1)),
        d.create_user(admin(), racer(2)),
        d.create_user(admin(), racer(3)),
        d.create_user(admin(), racer(4)),
    );
    let results = [a, b, c, e];
    let winners = results.iter().filter(|r| r.is_ok()).count();
    assert_eq!(winners, 1, "{results:?}");
    for r in &results {
        if let Err(err) = r {
            assert!(
                matches!(
                    err,
                    StoreError::Conflict {
                        field: "userName",
                        ..
                    }
                ),
                "expected Conflict(userName), got {err:?}"
            );
        }
    }
    assert_eq!(d.list_users(all()).await.unwrap().items.len(), 4);
    // 6 + 3 + 1 changes, each audited once.
    assert_eq!(audit_all(d).await.len(), 10);
}
