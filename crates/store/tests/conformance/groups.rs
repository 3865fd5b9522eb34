//! Groups and membership.

use super::*;

pub(super) async fn group_crud_and_uniqueness(d: &dyn Directory) {
    let mark = audit_mark(d).await;
    let eng = d
        .create_group(admin(), new_group("Engineering"))
        .await
        .unwrap();
    assert_eq!(
        (&eng.name, &eng.description),
        (&dn("Engineering"), &desc("The Engineering group"))
    );
    assert_recent(eng.created_at);
    assert_eq!(d.get_group(eng.id).await.unwrap(), eng);
    let admins = d
        .create_group(
            admin(),
            NewGroup {
                name: dn("admins"),
                description: desc(""),
            },
        )
        .await
        .unwrap();
    assert_eq!(admins.description, desc(""));
    assert_eq!(d.get_group(admins.id).await.unwrap(), admins);
    let beta = d.create_group(admin(), new_group("Beta")).await.unwrap();

    assert_err!(
        d.create_group(admin(), new_group("ENGINEERING")).await,
        StoreError::Conflict { field: "name", .. }
    );
    assert_err!(
        d.update_group(admin(), beta.id, new_group("engineering"))
            .await,
        StoreError::Conflict { field: "name", .. }
    );
    assert_eq!(d.get_group(beta.id).await.unwrap(), beta);

    // Renaming to another case of its own name, with a multi-line description.
    tick().await;
    let replacement = NewGroup {
        name: dn("Admins"),
        description: desc("People who administer\nthe directory"),
    };
    let admins2 = d
        .update_group(admin(), admins.id, replacement.clone())
        .await
        .unwrap();
    assert_eq!(
        (&admins2.name, &admins2.description),
        (&replacement.name, &replacement.description)
    );
    assert_eq!(
        (admins2.id, admins2.created_at),
        (admins.id, admins.created_at)
    );
    assert!(admins2.updated_at > admins.updated_at);
    assert_eq!(d.get_group(admins.id).await.unwrap(), admins2);

    let pages = read_pages(2, |p| d.list_groups(p)).await;
    assert_eq!(pages.len(), 2);
    assert_eq!(pages[0].items, vec![admins2.clone(), beta.clone()]);
    assert_eq!(pages[1].items, vec![eng.clone()]);
    assert_eq!(pages[1].next, None);

    let nobody = GroupId::new();
    assert_err!(d.get_group(nobody).await, StoreError::NotFound("group"));
    assert_err!(
        d.update_group(admin(), nobody, new_group("Ghosts")).await,
        StoreError::NotFound("group")
    );
    assert_err!(
        d.delete_group(admin(), nobody).await,
        StoreError::NotFound("group")
    );

    d.delete_group(admin(), beta.id).await.unwrap();
    assert_err!(d.get_group(beta.id).await, StoreError::NotFound("group"));
    assert_err!(
        d.delete_group(admin(), beta.id).await,
        StoreError::NotFound("group")
    );
    assert_eq!(
        d.list_groups(all()).await.unwrap().items,
        vec![admins2.clone(), eng.clone()]
    );
    // The name is free again.
    let beta2 = d.create_group(admin(), new_group("BETA")).await.unwrap();

    expect_events(
        d,
        mark,
        &[
            events::group(admin(), "create", eng.id),
            events::group(admin(), "create", admins.id),
            events::group(admin(), "create", beta.id),
            events::group(admin(), "update", admins.id),
            events::group(admin(), "delete", beta.id),
            events::group(admin(), "create", beta2.id),
        ],
    )
    .await;
}

pub(super) async fn membership(d: &dyn Directory) {
    let zed = d.create_user(admin(), new_user("zed")).await.unwrap();
    let amy = d.create_user(admin(), new_user("Amy")).await.unwrap();
    let bob = d.create_user(admin(), new_user("bob")).await.unwrap();
    let outsider = d.create_user(admin(), new_user("outsider")).await.unwrap();
    let devs = d
        .create_group(admin(), new_group("Developers"))
        .await
        .unwrap();
    let admins = d.create_group(admin(), new_group("Admins")).await.unwrap();
    let mark = audit_mark(d).await;

    // Idempotent add.
    d.add_member(admin(), devs.id, zed.id).await.unwrap();
    d.add_member(admin(), devs.id, zed.id).await.unwrap();
    assert_eq!(
        d.list_members(devs.id, all()).await.unwrap().items,
        vec![zed.clone()]
    );

    d.add_member(admin(), devs.id, amy.id).await.unwrap();
    d.add_member(admin(), devs.id, bob.id).await.unwrap();
    d.add_member(admin(), admins.id, zed.id).await.unwrap();

    // Members by lower-cased user name, paginated.
    let pages = read_pages(2, |p| d.list_members(devs.id, p)).await;
    assert_eq!(pages.len(), 2);
    assert_eq!(pages[0].items, vec![amy.clone(), bob.clone()]);
    assert_eq!(pages[1].items, vec![zed.clone()]);
    assert_eq!(pages[1].next, None);
    assert_eq!(
        d.list_members(admins.id, all()).await.unwrap().items,
        vec![zed.clone()]
    );

    // A user's groups, by name.
    assert_eq!(
        d.list_user_groups(zed.id).await.unwrap(),
        vec![admins.clone(), devs.clone()]
    );
    assert_eq!(
        d.list_user_groups(amy.id).await.unwrap(),
        vec![devs.clone()]
    );
    assert_eq!(d.list_user_groups(outsider.id).await.unwrap(), vec![]);

    // Remove, then removing again is NotFound("membership").
    d.remove_member(admin(), devs.id, zed.id).await.unwrap();
    assert_err!(
        d.remove_member(admin(), devs.id, zed.id).await,
        StoreError::NotFound("membership")
    );
    assert_err!(
        d.remove_member(admin(), admins.id, outsider.id).await,
        StoreError::NotFound("membership")
    );
    assert_eq!(
        d.list_members(devs.id, all()).await.unwrap().items,
        vec![amy.clone(), bob.clone()]
    );
    assert_eq!(
        d.list_user_groups(zed.id).await.unwrap(),
        vec![admins.clone()]
    );
    // The users and groups themselves are untouched.
    assert_eq!(d.get_user(zed.id).await.unwrap(), zed);
    assert_eq!(d.get_group(devs.id).await.unwrap(), devs);

    expect_events(
        d,
        mark,
        &[
            events::membership(admin(), "add", devs.id, zed.id),
            events::membership(admin(), "add", devs.id, zed.id),
            events::membership(admin(), "add", devs.id, amy.id),
            events::membership(admin(), "add", devs.id, bob.id),
            events::membership(admin(), "add", admins.id, zed.id),
            events::membership(admin(), "remove", devs.id, zed.id),
        ],
    )
    .await;
}

pub(super) async fn membership_unknown_references(d: &dyn Directory) {
    let u = d.create_user(admin(), new_user("alice")).await.unwrap();
    let g = d
        .create_group(admin(), new_group("Developers"))
        .await
        .unwrap();
    let mark = audit_mark(d).await;
    assert_err!(
        d.add_member(admin(), g.id, UserId::new()).await,
        StoreError::InvalidReference {
            field: "userId",
            ..
        }
    );
    assert_err!(
        d.add_member(admin(), GroupId::new(), u.id).await,
        StoreError::NotFound("group")
    );
    assert_err!(
        d.remove_member(admin(), GroupId::new(), u.id).await,
        StoreError::NotFound("group" | "membership")
    );
    assert_eq!(d.list_members(g.id, all()).await.unwrap().items, vec![]);
    assert_eq!(d.list_user_groups(u.id).await.unwrap(), vec![]);
    expect_events(d, mark, &[]).await;
}
