//! Users (and case-insensitive uniqueness and ordering of non-ASCII names).

use super::*;

/// A person's custom attributes are stored with them, read back by every lookup, replaced as a
/// whole by a patch that carries them and kept by one that does not.
pub(super) async fn user_attributes_are_kept_and_replaced(d: &dyn Directory) {
    use portcullis_domain::UserAttributes;
    let attrs = |pairs: &[(&str, &str)]| {
        UserAttributes::parse(
            pairs
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect(),
        )
        .unwrap()
    };
    let mut new = new_user("Tagged");
    new.attributes = attrs(&[("department", "Engineering"), ("costCenter", "4711")]);
    let created = d.create_user(admin(), new.clone()).await.unwrap();
    assert_eq!(created.attributes, new.attributes);
    assert_eq!(d.get_user(created.id).await.unwrap(), created);
    assert_eq!(
        d.find_user_by_name(&created.user_name).await.unwrap(),
        Some(created.clone())
    );
    let renamed = d
        .update_user(
            admin(),
            created.id,
            UserPatch {
                display_name: Some(dn("Tagged Person")),
                ..UserPatch::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(renamed.attributes, created.attributes, "kept");
    let replaced = d
        .update_user(
            admin(),
            created.id,
            UserPatch {
                attributes: Some(attrs(&[("team", "Platform")])),
                ..UserPatch::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(replaced.attributes, attrs(&[("team", "Platform")]));
    assert_eq!(d.get_user(created.id).await.unwrap(), replaced);
    let listed: Vec<_> = read_pages(100, |p| d.list_users(p))
        .await
        .into_iter()
        .flat_map(|p| p.items)
        .collect();
    assert!(listed.contains(&replaced));
}

pub(super) async fn user_crud(d: &dyn Directory) {
    let mark = audit_mark(d).await;
    let new = NewUser {
        user_name: un("Alice.Smith"),
        email: email("Alice.Smith@Example.com"),
        display_name: dn("Alice Smith"),
        given_name: Some(pn("Alice")),
        family_name: Some(pn("Smith")),
        enabled: true,
        attributes: Default::default(),
    };
    let u = d.create_user(admin(), new.clone()).await.unwrap();
    assert_eq!(
        (
            &u.user_name,
            &u.email,
            &u.display_name,
            &u.given_name,
            &u.family_name,
            u.enabled
        ),
        (
            &new.user_name,
            &new.email,
            &new.display_name,
            &new.given_name,
            &new.family_name,
            true
        )
    );
    assert_recent(u.created_at);
    assert!(u.updated_at >= u.created_at);
    assert_eq!(d.get_user(u.id).await.unwrap(), u);

    // Case-insensitive, exact (no pattern matching: `_` is not a wildcard).
    assert_eq!(
        d.find_user_by_name(&un("Alice.Smith")).await.unwrap(),
        Some(u.clone())
    );
    assert_eq!(
        d.find_user_by_name(&un("alice.smith")).await.unwrap(),
        Some(u.clone())
    );
    assert_eq!(
        d.find_user_by_name(&un("ALICE.SMITH")).await.unwrap(),
        Some(u.clone())
    );
    assert_eq!(d.find_user_by_name(&un("alice_smith")).await.unwrap(), None);
    assert_eq!(d.find_user_by_name(&un("alice")).await.unwrap(), None);

    // Patch: change one field, clear an optional one, disable; the rest stays.
    tick().await;
    let patch = UserPatch {
        display_name: Some(dn("Alice S.")),
        given_name: Some(None),
        enabled: Some(false),
        ..UserPatch::default()
    };
    let updated = d.update_user(admin(), u.id, patch.clone()).await.unwrap();
    assert_eq!(
        updated,
        User {
            updated_at: updated.updated_at,
            ..patch.apply(&u)
        }
    );
    assert_eq!(updated.given_name, None);
    assert_eq!(updated.family_name, Some(pn("Smith")));
    assert!(!updated.enabled);
    assert_eq!(updated.created_at, u.created_at);
    assert!(updated.updated_at > u.updated_at, "updated_at must move on");
    assert_eq!(d.get_user(u.id).await.unwrap(), updated);

    // Rename, re-address, set the given name again, clear the family name, enable.
    let patch2 = UserPatch {
        user_name: Some(un("asmith")),
        email: Some(email("asmith@example.com")),
        given_name: Some(Some(pn("Alicia"))),
        family_name: Some(None),
        enabled: Some(true),
        ..UserPatch::default()
    };
    let updated2 = d.update_user(admin(), u.id, patch2.clone()).await.unwrap();
    assert_eq!(
        updated2,
        User {
            updated_at: updated2.updated_at,
            ..patch2.apply(&updated)
        }
    );
    assert_eq!(updated2.display_name, dn("Alice S."));
    assert_eq!(d.get_user(u.id).await.unwrap(), updated2);
    assert_eq!(d.find_user_by_name(&un("alice.smith")).await.unwrap(), None);
    assert_eq!(
        d.find_user_by_name(&un("ASmith")).await.unwrap(),
        Some(updated2.clone())
    );
    assert_eq!(
        d.list_users(all()).await.unwrap().items,
        vec![updated2.clone()]
    );

    // Unknown users.
    let nobody = UserId::new();
    assert_err!(d.get_user(nobody).await, StoreError::NotFound("user"));
    assert_err!(
        d.update_user(admin(), nobody, patch).await,
        StoreError::NotFound("user")
    );
    assert_err!(
        d.delete_user(admin(), nobody).await,
        StoreError::NotFound("user")
    );

    d.delete_user(admin(), u.id).await.unwrap();
    assert_err!(d.get_user(u.id).await, StoreError::NotFound("user"));
    assert_eq!(d.find_user_by_name(&un("asmith")).await.unwrap(), None);
    assert_err!(
        d.delete_user(admin(), u.id).await,
        StoreError::NotFound("user")
    );
    assert_eq!(
        d.list_users(all()).await.unwrap(),
        Page {
            items: vec![],
            next: None
        }
    );

    expect_events(
        d,
        mark,
        &[
            events::user(admin(), "create", u.id),
            events::user(admin(), "update", u.id),
            events::user(admin(), "update", u.id),
            events::user(admin(), "delete", u.id),
        ],
    )
    .await;
}

pub(super) async fn user_uniqueness_is_case_insensitive(d: &dyn Directory) {
    let alice = d.create_user(admin(), new_user("alice")).await.unwrap();
    let bob = d.create_user(admin(), new_user("bob")).await.unwrap();
    let mark = audit_mark(d).await;

    let mut same_name = new_user("ALICE");
    same_name.email = email("other@example.com");
    assert_err!(
        d.create_user(admin(), same_name).await,
        StoreError::Conflict {
            field: "userName",
            ..
        }
    );
    let mut same_email = new_user("carol");
    same_email.email = email("ALICE@EXAMPLE.COM");
    assert_err!(
        d.create_user(admin(), same_email).await,
        StoreError::Conflict { field: "email", .. }
    );

    // Also on update, and the user is left as it was.
    let rename = UserPatch {
        user_name: Some(un("Alice")),
        ..UserPatch::default()
    };
    assert_err!(
        d.update_user(admin(), bob.id, rename).await,
        StoreError::Conflict {
            field: "userName",
            ..
        }
    );
    let readdress = UserPatch {
        email: Some(email("Alice@Example.Com")),
        display_name: Some(dn("Not Bob")),
        ..UserPatch::default()
    };
    assert_err!(
        d.update_user(admin(), bob.id, readdress).await,
        StoreError::Conflict { field: "email", .. }
    );
    assert_eq!(d.get_user(bob.id).await.unwrap(), bob);
    assert_eq!(d.get_user(alice.id).await.unwrap(), alice);
    assert_eq!(
        d.list_users(all()).await.unwrap().items,
        vec![alice.clone(), bob.clone()]
    );
    expect_events(d, mark, &[]).await;

    // A user may change the case of their own name and email: no conflict with themselves.
    let recase = UserPatch {
        user_name: Some(un("ALICE")),
        email: Some(email("ALICE@example.com")),
        ..UserPatch::default()
    };
    let recased = d.update_user(admin(), alice.id, recase).await.unwrap();
    assert_eq!(recased.user_name, un("ALICE"));
    assert_eq!(recased.email, email("ALICE@example.com"));
    assert_eq!(d.get_user(alice.id).await.unwrap(), recased);
    assert_eq!(
        d.find_user_by_name(&un("alice")).await.unwrap(),
        Some(recased)
    );

    // Once a name is freed it can be taken again.
    d.delete_user(admin(), bob.id).await.unwrap();
    let bob2 = d.create_user(admin(), new_user("BOB")).await.unwrap();
    assert_ne!(bob2.id, bob.id);
    expect_events(
        d,
        mark,
        &[
            events::user(admin(), "update", alice.id),
            events::user(admin(), "delete", bob.id),
            events::user(admin(), "create", bob2.id),
        ],
    )
    .await;
}

pub(super) async fn users_paginate_by_lower_cased_name(d: &dyn Directory) {
    let mut created = Vec::new();
    for name in ["delta", "Alpha", "charlie", "Echo", "bravo", "foxtrot"] {
        created.push(d.create_user(admin(), new_user(name)).await.unwrap());
    }
    let pages = read_pages(2, |p| d.list_users(p)).await;
    assert_eq!(pages.len(), 3, "{pages:?}");
    let names: Vec<Vec<&str>> = pages
        .iter()
        .map(|p| p.items.iter().map(|u| u.user_name.as_str()).collect())
        .collect();
    assert_eq!(
        names,
        vec![
            vec!["Alpha", "bravo"],
            vec!["charlie", "delta"],
            vec!["Echo", "foxtrot"]
        ]
    );
    assert!(pages[0].next.is_some() && pages[1].next.is_some());
    assert_eq!(pages[2].next, None);

    // No duplicates, no gaps, and the listed values are the stored ones.
    let listed = flatten(&pages);
    let ids: HashSet<UserId> = listed.iter().map(|u| u.id).collect();
    assert_eq!(ids.len(), 6);
    for u in &created {
        assert!(listed.contains(u), "{u:?} missing from the listing");
    }

    // A page exactly as large as what is left says nothing more follows.
    let exact = d.list_users(page(6)).await.unwrap();
    assert_eq!((exact.items.len(), exact.next), (6, None));
    let five = d.list_users(page(5)).await.unwrap();
    assert_eq!(five.items.len(), 5);
    let rest = d
        .list_users(PageRequest {
            size: PageSize::new(5).unwrap(),
            after: five.next.clone(),
        })
        .await
        .unwrap();
    assert!(five.next.is_some());
    assert_eq!(
        rest.items
            .iter()
            .map(|u| u.user_name.as_str())
            .collect::<Vec<_>>(),
        ["foxtrot"]
    );
    assert_eq!(rest.next, None);
}

pub(super) async fn users_order_is_bytewise_on_lower_cased_name(d: &dyn Directory) {
    for name in ["b", "a_b", "A.b", "a-b", "a0", "AB", "a"] {
        d.create_user(admin(), new_user(name)).await.unwrap();
    }
    let expected = ["a", "a-b", "A.b", "a0", "a_b", "AB", "b"];
    let listed = d.list_users(all()).await.unwrap().items;
    assert_eq!(
        listed
            .iter()
            .map(|u| u.user_name.as_str())
            .collect::<Vec<_>>(),
        expected
    );
    let paged = flatten(&read_pages(3, |p| d.list_users(p)).await);
    assert_eq!(paged, listed);
}

/// Group names may be non-ASCII; "case-insensitively" covers their letters too.
pub(super) async fn non_ascii_group_names_are_unique_case_insensitively(d: &dyn Directory) {
    let equipe = d.create_group(admin(), new_group("Équipe")).await.unwrap();
    assert_err!(
        d.create_group(admin(), new_group("équipe")).await,
        StoreError::Conflict { field: "name", .. }
    );
    assert_eq!(d.list_groups(all()).await.unwrap().items, vec![equipe]);
}

/// Emails may be non-ASCII; "case-insensitively" covers their letters too.
pub(super) async fn non_ascii_emails_are_unique_case_insensitively(d: &dyn Directory) {
    let mut jose = new_user("jose");
    jose.email = email("José@example.com");
    d.create_user(admin(), jose).await.unwrap();
    let mut other = new_user("jose2");
    other.email = email("JOSÉ@EXAMPLE.COM");
    assert_err!(
        d.create_user(admin(), other).await,
        StoreError::Conflict { field: "email", .. }
    );
}

/// Listing order is the lower-cased name, also for non-ASCII letters.
pub(super) async fn non_ascii_application_names_order_lower_cased(d: &dyn Directory) {
    let eb = d
        .create_application(admin(), new_app("Éb", ApplicationKind::Oidc, true))
        .await
        .unwrap();
    let ea = d
        .create_application(admin(), new_app("éa", ApplicationKind::Oidc, true))
        .await
        .unwrap();
    let z = d
        .create_application(admin(), new_app("Zeta", ApplicationKind::Oidc, true))
        .await
        .unwrap();
    // "zeta" < "éa" < "éb" bytewise once lower-cased.
    let expected = vec![z, ea, eb];
    assert_eq!(d.list_applications(all()).await.unwrap().items, expected);
    assert_eq!(
        flatten(&read_pages(1, |p| d.list_applications(p)).await),
        expected
    );
}

/// Listing order is the lower-cased name, also for non-ASCII letters.
pub(super) async fn non_ascii_group_names_order_lower_cased(d: &dyn Directory) {
    let eb = d.create_group(admin(), new_group("Éb")).await.unwrap();
    let ea = d.create_group(admin(), new_group("éa")).await.unwrap();
    let z = d.create_group(admin(), new_group("Zeta")).await.unwrap();
    // "zeta" < "éa" < "éb" bytewise once lower-cased.
    assert_eq!(
        d.list_groups(all()).await.unwrap().items,
        vec![z.clone(), ea.clone(), eb.clone()]
    );
    assert_eq!(
        flatten(&read_pages(1, |p| d.list_groups(p)).await),
        vec![z, ea, eb]
    );
}
