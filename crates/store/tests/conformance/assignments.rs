//! Assignments.

use super::*;

pub(super) async fn assignments_create_and_references(d: &dyn Directory) {
    let w = world(d).await;
    let mark = audit_mark(d).await;
    let first = aa(&w.a1, w.p1, Principal::User(w.u));
    d.create_assignment(admin(), first.clone()).await.unwrap();
    assert_err!(
        d.create_assignment(admin(), first.clone()).await,
        StoreError::Conflict {
            field: "assignment",
            ..
        }
    );
    // The same pair for a group is another assignment.
    let for_group = aa(&w.a1, w.p1, Principal::Group(w.g));
    d.create_assignment(admin(), for_group.clone())
        .await
        .unwrap();

    assert_err!(
        d.create_assignment(
            admin(),
            aa(&acct("999999999999"), w.p1, Principal::User(w.u))
        )
        .await,
        StoreError::InvalidReference {
            field: "accountId",
            ..
        }
    );
    assert_err!(
        d.create_assignment(
            admin(),
            aa(&w.a1, PermissionSetId::new(), Principal::User(w.u))
        )
        .await,
        StoreError::InvalidReference {
            field: "permissionSetId",
            ..
        }
    );
    assert_err!(
        d.create_assignment(admin(), aa(&w.a1, w.p2, Principal::User(UserId::new())))
            .await,
        StoreError::InvalidReference {
            field: "principalId",
            ..
        }
    );
    assert_err!(
        d.create_assignment(admin(), aa(&w.a1, w.p2, Principal::Group(GroupId::new())))
            .await,
        StoreError::InvalidReference {
            field: "principalId",
            ..
        }
    );
    // A user's id is not a group's.
    assert_err!(
        d.create_assignment(
            admin(),
            aa(
                &w.a1,
                w.p2,
                Principal::Group(GroupId::from_uuid(w.u.as_uuid()))
            )
        )
        .await,
        StoreError::InvalidReference {
            field: "principalId",
            ..
        }
    );

    assert_eq!(
        assignments(d, AssignmentFilter::default()).await,
        sorted_assignments(vec![first.clone(), for_group.clone()])
    );
    expect_events(
        d,
        mark,
        &[
            events::assignment(admin(), "create", &first),
            events::assignment(admin(), "create", &for_group),
        ],
    )
    .await;
}

pub(super) async fn assignments_list_filters_and_pages(d: &dyn Directory) {
    let w = world(d).await;
    let u2 = d.create_user(admin(), new_user("bob")).await.unwrap().id;
    let all_of_them = vec![
        aa(&w.a2, w.p2, Principal::User(w.u)),
        aa(&w.a1, w.p1, Principal::User(w.u)),
        aa(&w.a1, w.p1, Principal::Group(w.g)),
        aa(&w.a1, w.p1, Principal::User(u2)),
        aa(&w.a1, w.p2, Principal::User(w.u)),
        aa(&w.a2, w.p1, Principal::Group(w.g)),
    ];
    for a in &all_of_them {
        d.create_assignment(admin(), a.clone()).await.unwrap();
    }
    let expected = sorted_assignments(all_of_them.clone());
    assert_eq!(assignments(d, AssignmentFilter::default()).await, expected);

    let matching = |f: &dyn Fn(&AccountAssignment) -> bool| -> Vec<AccountAssignment> {
        expected.iter().filter(|a| f(a)).cloned().collect()
    };
    let by_account = AssignmentFilter {
        account_id: Some(w.a1.clone()),
        ..AssignmentFilter::default()
    };
    assert_eq!(
        assignments(d, by_account.clone()).await,
        matching(&|a| a.account_id == w.a1)
    );
    let by_ps = AssignmentFilter {
        permission_set_id: Some(w.p2),
        ..AssignmentFilter::default()
    };
    assert_eq!(
        assignments(d, by_ps).await,
        matching(&|a| a.permission_set_id == w.p2)
    );
    let by_user = AssignmentFilter {
        principal: Some(Principal::User(w.u)),
        ..AssignmentFilter::default()
    };
    assert_eq!(
        assignments(d, by_user).await,
        matching(&|a| a.principal == Principal::User(w.u))
    );
    let by_group = AssignmentFilter {
        principal: Some(Principal::Group(w.g)),
        ..AssignmentFilter::default()
    };
    assert_eq!(
        assignments(d, by_group).await,
        matching(&|a| a.principal == Principal::Group(w.g))
    );
    let combined = AssignmentFilter {
        account_id: Some(w.a1.clone()),
        permission_set_id: Some(w.p1),
        principal: Some(Principal::User(u2)),
    };
    assert_eq!(
        assignments(d, combined).await,
        vec![aa(&w.a1, w.p1, Principal::User(u2))]
    );
    let none = AssignmentFilter {
        account_id: Some(w.a2.clone()),
        principal: Some(Principal::User(u2)),
        ..AssignmentFilter::default()
    };
    assert_eq!(assignments(d, none).await, vec![]);

    // Pages of 2 over 6, with the documented key.
    let no_filter = AssignmentFilter::default();
    let pages = read_pages(2, |p| d.list_assignments(&no_filter, p)).await;
    assert_eq!(pages.len(), 3);
    assert_eq!(flatten(&pages), expected);
    for p in &pages[..2] {
        assert_eq!(
            p.next.as_deref(),
            p.items.last().map(assignment_key).as_deref()
        );
    }
    // Pagination within a filter.
    let pages = read_pages(2, |p| d.list_assignments(&by_account, p)).await;
    assert_eq!(pages.len(), 2);
    assert_eq!(flatten(&pages), matching(&|a| a.account_id == w.a1));
}

pub(super) async fn assignments_delete(d: &dyn Directory) {
    let w = world(d).await;
    let keep = aa(&w.a1, w.p1, Principal::Group(w.g));
    let gone = aa(&w.a1, w.p1, Principal::User(w.u));
    d.create_assignment(admin(), keep.clone()).await.unwrap();
    d.create_assignment(admin(), gone.clone()).await.unwrap();
    let mark = audit_mark(d).await;
    d.delete_assignment(admin(), &gone).await.unwrap();
    assert_eq!(
        assignments(d, AssignmentFilter::default()).await,
        vec![keep.clone()]
    );
    assert_err!(
        d.delete_assignment(admin(), &gone).await,
        StoreError::NotFound("assignment")
    );
    assert_err!(
        d.delete_assignment(admin(), &aa(&w.a2, w.p2, Principal::User(w.u)))
            .await,
        StoreError::NotFound("assignment")
    );
    // The referenced things stay.
    d.get_user(w.u).await.unwrap();
    d.get_account(&w.a1).await.unwrap();
    d.get_permission_set(w.p1).await.unwrap();
    // It can be created again.
    d.create_assignment(admin(), gone.clone()).await.unwrap();
    expect_events(
        d,
        mark,
        &[
            events::assignment(admin(), "delete", &gone),
            events::assignment(admin(), "create", &gone),
        ],
    )
    .await;
}

pub(super) async fn user_entitlements_direct_and_through_groups(d: &dyn Directory) {
    let a1 = acct("111111111111");
    let a2 = acct("222222222222");
    let a3 = acct("333333333333");
    for a in [&a3, &a1, &a2] {
        d.create_account(admin(), new_account(a.as_str(), "Account"))
            .await
            .unwrap();
    }
    let read_only = d
        .create_permission_set(admin(), new_ps("ReadOnly", 1))
        .await
        .unwrap();
    let adm = d
        .create_permission_set(admin(), new_ps("Admin", 1))
        .await
        .unwrap();
    let billing = d
        .create_permission_set(admin(), new_ps("Billing", 1))
        .await
        .unwrap();
    let u = d.create_user(admin(), new_user("alice")).await.unwrap().id;
    let other = d.create_user(admin(), new_user("bob")).await.unwrap().id;
    let g1 = d.create_group(admin(), new_group("One")).await.unwrap().id;
    let g2 = d.create_group(admin(), new_group("Two")).await.unwrap().id;
    let g3 = d
        .create_group(admin(), new_group("Three"))
        .await
        .unwrap()
        .id;
    d.add_member(admin(), g1, u).await.unwrap();
    d.add_member(admin(), g2, u).await.unwrap();
    d.add_member(admin(), g3, other).await.unwrap();

    for a in [
        // Direct.
        aa(&a2, read_only.id, Principal::User(u)),
        aa(&a1, adm.id, Principal::User(u)),
        // Both groups hold (a1, ReadOnly); g2 also holds (a1, Admin) which u has directly.
        aa(&a1, read_only.id, Principal::Group(g1)),
        aa(&a1, read_only.id, Principal::Group(g2)),
        aa(&a1, adm.id, Principal::Group(g2)),
        // Only through g1.
        aa(&a2, adm.id, Principal::Group(g1)),
        // Not u's: a group u is not in, another user.
        aa(&a3, billing.id, Principal::Group(g3)),
        aa(&a2, billing.id, Principal::User(other)),
    ] {
        d.create_assignment(admin(), a).await.unwrap();
    }

    let expected = vec![
        ent("111111111111", &adm),
        ent("111111111111", &read_only),
        ent("222222222222", &adm),
        ent("222222222222", &read_only),
    ];
    assert_eq!(d.user_entitlements(u).await.unwrap(), expected);
    assert_eq!(
        d.user_entitlements(other).await.unwrap(),
        vec![ent("222222222222", &billing), ent("333333333333", &billing)]
    );

    // Leaving g1 loses what only g1 gave; (a1, ReadOnly) stays through g2.
    d.remove_member(admin(), g1, u).await.unwrap();
    assert_eq!(
        d.user_entitlements(u).await.unwrap(),
        vec![
            ent("111111111111", &adm),
            ent("111111111111", &read_only),
            ent("222222222222", &read_only),
        ]
    );
    d.remove_member(admin(), g2, u).await.unwrap();
    assert_eq!(
        d.user_entitlements(u).await.unwrap(),
        vec![ent("111111111111", &adm), ent("222222222222", &read_only)]
    );

    // A user with nothing.
    let nobody = d.create_user(admin(), new_user("carol")).await.unwrap().id;
    assert_eq!(d.user_entitlements(nobody).await.unwrap(), vec![]);
}
