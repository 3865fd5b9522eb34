//! Cascades: one delete removes memberships and assignments, and audits once.

use super::*;

pub(super) async fn deleting_a_user_cascades(d: &dyn Directory) {
    let w = world(d).await;
    let bob = d.create_user(admin(), new_user("bob")).await.unwrap();
    let app = d
        .create_application(admin(), new_app("Wiki", ApplicationKind::Oidc, true))
        .await
        .unwrap();
    d.add_member(admin(), w.g, w.u).await.unwrap();
    d.add_member(admin(), w.g, bob.id).await.unwrap();
    let keep = vec![
        aa(&w.a1, w.p1, Principal::User(bob.id)),
        aa(&w.a1, w.p1, Principal::Group(w.g)),
    ];
    for a in keep.iter().chain(&[
        aa(&w.a1, w.p1, Principal::User(w.u)),
        aa(&w.a2, w.p2, Principal::User(w.u)),
    ]) {
        d.create_assignment(admin(), a.clone()).await.unwrap();
    }
    for p in [Principal::User(w.u), Principal::User(bob.id)] {
        d.assign_application(
            admin(),
            ApplicationAssignment {
                application_id: app.id,
                principal: p,
            },
        )
        .await
        .unwrap();
    }

    let mark = audit_mark(d).await;
    d.delete_user(admin(), w.u).await.unwrap();
    expect_events(d, mark, &[events::user(admin(), "delete", w.u)]).await;

    assert_eq!(
        d.list_members(w.g, all()).await.unwrap().items,
        vec![bob.clone()]
    );
    assert_eq!(
        assignments(d, AssignmentFilter::default()).await,
        sorted_assignments(keep)
    );
    let of_u = AssignmentFilter {
        principal: Some(Principal::User(w.u)),
        ..AssignmentFilter::default()
    };
    assert_eq!(assignments(d, of_u).await, vec![]);
    assert_eq!(
        d.list_application_assignments(app.id).await.unwrap(),
        vec![Principal::User(bob.id)]
    );
    // A new user with the same name starts with nothing.
    let again = d.create_user(admin(), new_user("alice")).await.unwrap();
    assert_eq!(d.user_entitlements(again.id).await.unwrap(), vec![]);
    assert_eq!(d.list_user_groups(again.id).await.unwrap(), vec![]);
    assert_eq!(d.user_applications(again.id).await.unwrap(), vec![]);
}

pub(super) async fn deleting_a_group_cascades(d: &dyn Directory) {
    let w = world(d).await;
    let other = d.create_group(admin(), new_group("Others")).await.unwrap();
    let app = d
        .create_application(admin(), new_app("Wiki", ApplicationKind::Oidc, true))
        .await
        .unwrap();
    d.add_member(admin(), w.g, w.u).await.unwrap();
    d.add_member(admin(), other.id, w.u).await.unwrap();
    let keep = aa(&w.a2, w.p2, Principal::Group(other.id));
    d.create_assignment(admin(), keep.clone()).await.unwrap();
    d.create_assignment(admin(), aa(&w.a1, w.p1, Principal::Group(w.g)))
        .await
        .unwrap();
    d.assign_application(
        admin(),
        ApplicationAssignment {
            application_id: app.id,
            principal: Principal::Group(w.g),
        },
    )
    .await
    .unwrap();
    assert_eq!(d.user_applications(w.u).await.unwrap(), vec![app.clone()]);
    assert_eq!(d.user_entitlements(w.u).await.unwrap().len(), 2);

    let mark = audit_mark(d).await;
    d.delete_group(admin(), w.g).await.unwrap();
    expect_events(d, mark, &[events::group(admin(), "delete", w.g)]).await;

    assert_eq!(d.list_user_groups(w.u).await.unwrap(), vec![other.clone()]);
    assert_eq!(
        assignments(d, AssignmentFilter::default()).await,
        vec![keep]
    );
    let p2 = d.get_permission_set(w.p2).await.unwrap();
    assert_eq!(
        d.user_entitlements(w.u).await.unwrap(),
        vec![ent("222222222222", &p2)]
    );
    assert_eq!(
        d.list_application_assignments(app.id).await.unwrap(),
        vec![]
    );
    assert_eq!(d.user_applications(w.u).await.unwrap(), vec![]);
    // The member is untouched.
    d.get_user(w.u).await.unwrap();
}

pub(super) async fn deleting_an_account_cascades(d: &dyn Directory) {
    let w = world(d).await;
    let keep = vec![aa(&w.a2, w.p1, Principal::User(w.u))];
    for a in keep.iter().chain(&[
        aa(&w.a1, w.p1, Principal::User(w.u)),
        aa(&w.a1, w.p2, Principal::Group(w.g)),
    ]) {
        d.create_assignment(admin(), a.clone()).await.unwrap();
    }
    d.add_member(admin(), w.g, w.u).await.unwrap();
    let mark = audit_mark(d).await;
    d.delete_account(admin(), &w.a1).await.unwrap();
    expect_events(d, mark, &[events::account(admin(), "delete", &w.a1)]).await;

    assert_eq!(assignments(d, AssignmentFilter::default()).await, keep);
    let p1 = d.get_permission_set(w.p1).await.unwrap();
    assert_eq!(
        d.user_entitlements(w.u).await.unwrap(),
        vec![ent("222222222222", &p1)]
    );
    // Registering the id again does not bring the old assignments back.
    d.create_account(admin(), new_account("111111111111", "One again"))
        .await
        .unwrap();
    let of_a1 = AssignmentFilter {
        account_id: Some(w.a1.clone()),
        ..AssignmentFilter::default()
    };
    assert_eq!(assignments(d, of_a1).await, vec![]);
    // Membership is not an account's to remove.
    assert_eq!(d.list_user_groups(w.u).await.unwrap().len(), 1);
}

pub(super) async fn deleting_a_permission_set_cascades(d: &dyn Directory) {
    let w = world(d).await;
    let keep = vec![aa(&w.a1, w.p2, Principal::User(w.u))];
    for a in keep.iter().chain(&[
        aa(&w.a1, w.p1, Principal::User(w.u)),
        aa(&w.a2, w.p1, Principal::Group(w.g)),
    ]) {
        d.create_assignment(admin(), a.clone()).await.unwrap();
    }
    d.add_member(admin(), w.g, w.u).await.unwrap();
    let mark = audit_mark(d).await;
    d.delete_permission_set(admin(), w.p1).await.unwrap();
    expect_events(d, mark, &[events::permission_set(admin(), "delete", w.p1)]).await;

    assert_eq!(assignments(d, AssignmentFilter::default()).await, keep);
    let of_p1 = AssignmentFilter {
        permission_set_id: Some(w.p1),
        ..AssignmentFilter::default()
    };
    assert_eq!(assignments(d, of_p1).await, vec![]);
    let p2 = d.get_permission_set(w.p2).await.unwrap();
    assert_eq!(
        d.user_entitlements(w.u).await.unwrap(),
        vec![ent("111111111111", &p2)]
    );
    // A new set with the same name starts with nothing.
    let again = d
        .create_permission_set(admin(), new_ps("Admin", 1))
        .await
        .unwrap();
    let of_again = AssignmentFilter {
        permission_set_id: Some(again.id),
        ..AssignmentFilter::default()
    };
    assert_eq!(assignments(d, of_again).await, vec![]);
}
