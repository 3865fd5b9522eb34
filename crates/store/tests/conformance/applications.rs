//! Applications.

use super::*;

pub(super) async fn application_crud(d: &dyn Directory) {
    let mark = audit_mark(d).await;
    let new = new_app("wiki", ApplicationKind::Oidc, true);
    let wiki = d.create_application(admin(), new.clone()).await.unwrap();
    assert_eq!(
        (&wiki.name, &wiki.description, wiki.kind, wiki.enabled),
        (&new.name, &new.description, ApplicationKind::Oidc, true)
    );
    assert_recent(wiki.created_at);
    assert_eq!(d.get_application(wiki.id).await.unwrap(), wiki);
    let payroll = d
        .create_application(admin(), new_app("Payroll", ApplicationKind::Saml, false))
        .await
        .unwrap();
    assert_eq!(
        (payroll.kind, payroll.enabled),
        (ApplicationKind::Saml, false)
    );
    assert_eq!(d.get_application(payroll.id).await.unwrap(), payroll);
    // Names need not be unique: the id breaks the tie.
    let wiki_twin = d
        .create_application(admin(), new_app("Wiki", ApplicationKind::Saml, true))
        .await
        .unwrap();

    tick().await;
    let replacement = NewApplication {
        name: dn("Payroll (EU)"),
        description: desc("Salaries"),
        kind: ApplicationKind::Saml,
        enabled: true,
    };
    let payroll2 = d
        .update_application(admin(), payroll.id, replacement.clone())
        .await
        .unwrap();
    assert_eq!(
        (
            &payroll2.name,
            &payroll2.description,
            payroll2.kind,
            payroll2.enabled
        ),
        (
            &replacement.name,
            &replacement.description,
            ApplicationKind::Saml,
            true
        )
    );
    assert_eq!(
        (payroll2.id, payroll2.created_at),
        (payroll.id, payroll.created_at)
    );
    assert!(payroll2.updated_at > payroll.updated_at);
    assert_eq!(d.get_application(payroll.id).await.unwrap(), payroll2);

    // The kind never changes.
    let mut other_kind = replacement.clone();
    other_kind.kind = ApplicationKind::Oidc;
    other_kind.name = dn("Renamed");
    assert_err!(
        d.update_application(admin(), payroll.id, other_kind).await,
        StoreError::Conflict { field: "kind", .. }
    );
    assert_eq!(d.get_application(payroll.id).await.unwrap(), payroll2);

    // By lower-cased name, then id.
    let mut wikis = [wiki.clone(), wiki_twin.clone()];
    wikis.sort_by_key(|a| a.id.as_uuid());
    let expected = vec![payroll2.clone(), wikis[0].clone(), wikis[1].clone()];
    let pages = read_pages(2, |p| d.list_applications(p)).await;
    assert_eq!(pages.len(), 2);
    assert_eq!(flatten(&pages), expected);
    let singles = read_pages(1, |p| d.list_applications(p)).await;
    assert_eq!(flatten(&singles), expected);

    let nothing = portcullis_domain::ApplicationId::new();
    assert_err!(
        d.get_application(nothing).await,
        StoreError::NotFound("application")
    );
    assert_err!(
        d.update_application(admin(), nothing, new.clone()).await,
        StoreError::NotFound("application")
    );
    assert_err!(
        d.delete_application(admin(), nothing).await,
        StoreError::NotFound("application")
    );
    d.delete_application(admin(), wiki_twin.id).await.unwrap();
    assert_err!(
        d.get_application(wiki_twin.id).await,
        StoreError::NotFound("application")
    );
    assert_err!(
        d.delete_application(admin(), wiki_twin.id).await,
        StoreError::NotFound("application")
    );

    expect_events(
        d,
        mark,
        &[
            events::application(admin(), "create", wiki.id),
            events::application(admin(), "create", payroll.id),
            events::application(admin(), "create", wiki_twin.id),
            events::application(admin(), "update", payroll.id),
            events::application(admin(), "delete", wiki_twin.id),
        ],
    )
    .await;
}

pub(super) async fn application_assignments(d: &dyn Directory) {
    let wiki = d
        .create_application(admin(), new_app("Wiki", ApplicationKind::Oidc, true))
        .await
        .unwrap();
    let payroll = d
        .create_application(admin(), new_app("Payroll", ApplicationKind::Saml, true))
        .await
        .unwrap();
    let crm = d
        .create_application(admin(), new_app("CRM", ApplicationKind::Oidc, true))
        .await
        .unwrap();
    let old = d
        .create_application(admin(), new_app("Legacy", ApplicationKind::Saml, false))
        .await
        .unwrap();
    let u = d.create_user(admin(), new_user("alice")).await.unwrap().id;
    let u2 = d.create_user(admin(), new_user("bob")).await.unwrap().id;
    let g = d
        .create_group(admin(), new_group("Staff"))
        .await
        .unwrap()
        .id;
    let g2 = d
        .create_group(admin(), new_group("Finance"))
        .await
        .unwrap()
        .id;
    d.add_member(admin(), g, u).await.unwrap();
    d.add_member(admin(), g2, u).await.unwrap();

    let assign = |app: &portcullis_domain::Application, principal| ApplicationAssignment {
        application_id: app.id,
        principal,
    };
    let mark = audit_mark(d).await;
    let made = vec![
        assign(&wiki, Principal::Group(g)),
        assign(&wiki, Principal::User(u2)),
        assign(&wiki, Principal::User(u)),
        assign(&wiki, Principal::Group(g2)),
        assign(&payroll, Principal::Group(g2)),
        assign(&crm, Principal::User(u2)),
        assign(&old, Principal::User(u)),
    ];
    for a in &made {
        d.assign_application(admin(), *a).await.unwrap();
    }
    assert_err!(
        d.assign_application(admin(), made[0]).await,
        StoreError::Conflict {
            field: "assignment",
            ..
        }
    );
    assert_err!(
        d.assign_application(
            admin(),
            ApplicationAssignment {
                application_id: portcullis_domain::ApplicationId::new(),
                principal: Principal::User(u),
            }
        )
        .await,
        StoreError::InvalidReference {
            field: "applicationId",
            ..
        }
    );
    assert_err!(
        d.assign_application(admin(), assign(&wiki, Principal::User(UserId::new())))
            .await,
        StoreError::InvalidReference {
            field: "principalId",
            ..
        }
    );
    assert_err!(
        d.assign_application(admin(), assign(&wiki, Principal::Group(GroupId::new())))
            .await,
        StoreError::InvalidReference {
            field: "principalId",
            ..
        }
    );

    // Users first, then groups, each by id.
    let mut expected = vec![
        Principal::User(u),
        Principal::User(u2),
        Principal::Group(g),
        Principal::Group(g2),
    ];
    expected.sort();
    assert_eq!(
        d.list_application_assignments(wiki.id).await.unwrap(),
        expected
    );
    assert_eq!(
        d.list_application_assignments(crm.id).await.unwrap(),
        vec![Principal::User(u2)]
    );

    // Enabled applications, directly or through a group, each once, by name.
    assert_eq!(
        d.user_applications(u).await.unwrap(),
        vec![payroll.clone(), wiki.clone()]
    );
    assert_eq!(
        d.user_applications(u2).await.unwrap(),
        vec![crm.clone(), wiki.clone()]
    );
    // Enabling the legacy application makes it appear.
    let old2 = d
        .update_application(
            admin(),
            old.id,
            new_app("Legacy", ApplicationKind::Saml, true),
        )
        .await
        .unwrap();
    assert_eq!(
        d.user_applications(u).await.unwrap(),
        vec![old2.clone(), payroll.clone(), wiki.clone()]
    );

    // Unassign.
    d.unassign_application(admin(), made[4]).await.unwrap();
    assert_err!(
        d.unassign_application(admin(), made[4]).await,
        StoreError::NotFound("assignment")
    );
    assert_eq!(
        d.user_applications(u).await.unwrap(),
        vec![old2.clone(), wiki.clone()]
    );
    // Wiki stays while any path to it remains.
    d.unassign_application(admin(), made[2]).await.unwrap();
    d.unassign_application(admin(), made[0]).await.unwrap();
    assert_eq!(
        d.user_applications(u).await.unwrap(),
        vec![old2.clone(), wiki.clone()]
    );
    d.remove_member(admin(), g2, u).await.unwrap();
    assert_eq!(d.user_applications(u).await.unwrap(), vec![old2.clone()]);
    assert_eq!(
        d.list_application_assignments(wiki.id).await.unwrap(),
        vec![Principal::User(u2), Principal::Group(g2)]
    );

    let mut expected_events: Vec<NewAuditEvent> = made
        .iter()
        .map(|a| events::application_assignment(admin(), "create", a))
        .collect();
    expected_events.push(events::application(admin(), "update", old.id));
    for a in [made[4], made[2], made[0]] {
        expected_events.push(events::application_assignment(admin(), "delete", &a));
    }
    expected_events.push(events::membership(admin(), "remove", g2, u));
    let got = expect_events(d, mark, &expected_events).await;
    assert_ne!(
        got[0].action, got[8].action,
        "assign and unassign need different actions"
    );
}

pub(super) async fn deleting_an_application_cascades(d: &dyn Directory) {
    let wiki = d
        .create_application(admin(), new_app("Wiki", ApplicationKind::Oidc, true))
        .await
        .unwrap();
    let crm = d
        .create_application(admin(), new_app("CRM", ApplicationKind::Oidc, true))
        .await
        .unwrap();
    let u = d.create_user(admin(), new_user("alice")).await.unwrap().id;
    let g = d
        .create_group(admin(), new_group("Staff"))
        .await
        .unwrap()
        .id;
    d.add_member(admin(), g, u).await.unwrap();
    for (app, p) in [
        (wiki.id, Principal::User(u)),
        (wiki.id, Principal::Group(g)),
        (crm.id, Principal::Group(g)),
    ] {
        d.assign_application(
            admin(),
            ApplicationAssignment {
                application_id: app,
                principal: p,
            },
        )
        .await
        .unwrap();
    }
    assert_eq!(
        d.user_applications(u).await.unwrap(),
        vec![crm.clone(), wiki.clone()]
    );
    let mark = audit_mark(d).await;
    d.delete_application(admin(), wiki.id).await.unwrap();
    expect_events(d, mark, &[events::application(admin(), "delete", wiki.id)]).await;
    assert_eq!(d.user_applications(u).await.unwrap(), vec![crm.clone()]);
    assert_eq!(
        d.list_application_assignments(crm.id).await.unwrap(),
        vec![Principal::Group(g)]
    );
    assert_eq!(d.list_applications(all()).await.unwrap().items, vec![crm]);
    // The principals stay.
    d.get_user(u).await.unwrap();
    d.get_group(g).await.unwrap();
}
