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
        oidc: None,
        saml: None,
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

pub(super) async fn oidc_settings_round_trip(d: &dyn Directory) {
    let full = OidcSettings {
        client_type: ClientType::Public,
        redirect_uris: vec![
            RedirectUri::parse("https://app.example.com/callback").unwrap(),
            RedirectUri::parse("http://127.0.0.1/cb").unwrap(),
            RedirectUri::parse("com.example.app:/oauth2redirect").unwrap(),
        ],
        post_logout_redirect_uris: vec![RedirectUri::parse("https://app.example.com/bye").unwrap()],
        grant_types: vec![
            GrantType::AuthorizationCode,
            GrantType::RefreshToken,
            GrantType::DeviceCode,
        ],
        allowed_scopes: vec![
            Scope::parse("api:read").unwrap(),
            Scope::parse("api:write").unwrap(),
        ],
        audience: Some("https://api.example.com".into()),
        signing_algorithm: SigningAlgorithm::EdDSA,
        access_token_lifetime: TokenLifetime::from_seconds(900).unwrap(),
        id_token_lifetime: TokenLifetime::from_seconds(7_200).unwrap(),
        refresh_token_lifetime: RefreshTokenLifetime::from_seconds(7 * 86_400).unwrap(),
        initiate_login_uri: Some("https://app.example.com/login".parse().unwrap()),
        require_consent: true,
    };
    let mut new = new_app("Dashboard", ApplicationKind::Oidc, true);
    new.oidc = Some(full.clone());
    let app = d.create_application(admin(), new.clone()).await.unwrap();
    assert_eq!(app.oidc.as_ref(), Some(&full));
    assert_eq!(app.client_id(), app.id.to_string());
    assert_eq!(d.get_application(app.id).await.unwrap(), app);
    assert_eq!(
        d.list_applications(all()).await.unwrap().items,
        vec![app.clone()]
    );

    // A SAML application carries none, and cannot be given any.
    let saml = d
        .create_application(admin(), new_app("Payroll", ApplicationKind::Saml, true))
        .await
        .unwrap();
    assert_eq!(d.get_application(saml.id).await.unwrap().oidc, None);
    // … but its SAML registration, which reads back as written.
    assert_eq!(
        d.get_application(saml.id).await.unwrap().saml,
        Some(saml_settings("Payroll"))
    );
    let mut oidc_with_saml = new.clone();
    oidc_with_saml.saml = Some(saml_settings("x"));
    assert_err!(
        d.create_application(admin(), oidc_with_saml).await,
        StoreError::Conflict { field: "saml", .. }
    );
    let mut saml_with_oidc = new_app("Payroll", ApplicationKind::Saml, true);
    saml_with_oidc.oidc = Some(oidc_settings());
    assert_err!(
        d.create_application(admin(), saml_with_oidc.clone()).await,
        StoreError::Conflict { field: "oidc", .. }
    );
    assert_err!(
        d.update_application(admin(), saml.id, saml_with_oidc).await,
        StoreError::Conflict { field: "oidc", .. }
    );
    assert_eq!(d.list_applications(all()).await.unwrap().items.len(), 2);

    // An update replaces the whole registration.
    let mut changed = new.clone();
    changed.oidc = Some(oidc_settings());
    let updated = d
        .update_application(admin(), app.id, changed)
        .await
        .unwrap();
    assert_eq!(updated.oidc, Some(oidc_settings()));
    assert_eq!(d.get_application(app.id).await.unwrap(), updated);

    // The portal's listing carries it too.
    let u = d.create_user(admin(), new_user("alice")).await.unwrap().id;
    d.assign_application(
        admin(),
        ApplicationAssignment {
            application_id: app.id,
            principal: Principal::User(u),
        },
    )
    .await
    .unwrap();
    assert_eq!(d.user_applications(u).await.unwrap(), vec![updated]);
}

pub(super) async fn client_secret_hashes(d: &dyn Directory) {
    let app = d
        .create_application(admin(), new_app("Wiki", ApplicationKind::Oidc, true))
        .await
        .unwrap();
    let saml = d
        .create_application(admin(), new_app("Payroll", ApplicationKind::Saml, true))
        .await
        .unwrap();
    let mut public = new_app("SPA", ApplicationKind::Oidc, true);
    if let Some(o) = public.oidc.as_mut() {
        o.client_type = ClientType::Public;
    }
    let spa = d.create_application(admin(), public.clone()).await.unwrap();
    assert_eq!(d.client_secret_hash(app.id).await.unwrap(), None);

    let mark = audit_mark(d).await;
    let first: Vec<u8> = (0u8..32).collect();
    let second = vec![0xAB; 32];
    d.set_client_secret(admin(), app.id, first.clone())
        .await
        .unwrap();
    assert_eq!(
        d.client_secret_hash(app.id).await.unwrap(),
        Some(first.clone())
    );
    // Replacing: the old hash is gone.
    d.set_client_secret(admin(), app.id, second.clone())
        .await
        .unwrap();
    assert_eq!(
        d.client_secret_hash(app.id).await.unwrap(),
        Some(second.clone())
    );
    // Setting a secret is not an update of the application's settings.
    assert_eq!(d.get_application(app.id).await.unwrap(), app);

    let nothing = portcullis_domain::ApplicationId::new();
    assert_err!(
        d.set_client_secret(admin(), nothing, first.clone()).await,
        StoreError::NotFound("application")
    );
    assert_err!(
        d.client_secret_hash(nothing).await,
        StoreError::NotFound("application")
    );
    // Only a confidential OIDC client holds a secret.
    assert_err!(
        d.set_client_secret(admin(), saml.id, first.clone()).await,
        StoreError::Conflict {
            field: "clientType",
            ..
        }
    );
    assert_err!(
        d.set_client_secret(admin(), spa.id, first.clone()).await,
        StoreError::Conflict {
            field: "clientType",
            ..
        }
    );
    assert_eq!(d.client_secret_hash(saml.id).await.unwrap(), None);
    assert_eq!(d.client_secret_hash(spa.id).await.unwrap(), None);

    // Audited without details: never the hash.
    expect_events(
        d,
        mark,
        &[
            events::client_secret(admin(), app.id),
            events::client_secret(admin(), app.id),
        ],
    )
    .await;
    assert_eq!(events::client_secret(admin(), app.id).details, None);

    // An update that keeps the client confidential keeps its secret…
    let mut renamed = new_app("Wiki 2", ApplicationKind::Oidc, true);
    renamed.description = app.description.clone();
    d.update_application(admin(), app.id, renamed.clone())
        .await
        .unwrap();
    assert_eq!(d.client_secret_hash(app.id).await.unwrap(), Some(second));
    // …one that makes it public removes it.
    d.update_application(admin(), app.id, public).await.unwrap();
    assert_eq!(d.client_secret_hash(app.id).await.unwrap(), None);
    d.update_application(admin(), app.id, renamed)
        .await
        .unwrap();
    assert_eq!(d.client_secret_hash(app.id).await.unwrap(), None);

    d.delete_application(admin(), app.id).await.unwrap();
    assert_err!(
        d.client_secret_hash(app.id).await,
        StoreError::NotFound("application")
    );
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

pub(super) async fn applications_icons(d: &dyn Directory) {
    let wiki = d
        .create_application(admin(), new_app("Wiki", ApplicationKind::Oidc, true))
        .await
        .unwrap();
    let payroll = d
        .create_application(admin(), new_app("Payroll", ApplicationKind::Saml, true))
        .await
        .unwrap();
    let nothing = portcullis_domain::ApplicationId::new();
    assert_eq!(d.get_application_icon(wiki.id).await.unwrap(), None);
    assert_eq!(
        d.application_icon_ids(&[wiki.id, payroll.id])
            .await
            .unwrap(),
        HashSet::new()
    );
    assert_eq!(d.application_icon_ids(&[]).await.unwrap(), HashSet::new());

    let mark = audit_mark(d).await;
    let png = b"\x89PNG\r\n\x1a\nfirst".to_vec();
    let jpeg = b"\xFF\xD8\xFF\xE0second".to_vec();
    d.set_application_icon(admin(), wiki.id, "image/png".into(), png.clone())
        .await
        .unwrap();
    assert_eq!(
        d.get_application_icon(wiki.id).await.unwrap(),
        Some(("image/png".to_owned(), png.clone()))
    );
    // Replacing: the old image and type are gone.
    d.set_application_icon(admin(), wiki.id, "image/jpeg".into(), jpeg.clone())
        .await
        .unwrap();
    assert_eq!(
        d.get_application_icon(wiki.id).await.unwrap(),
        Some(("image/jpeg".to_owned(), jpeg.clone()))
    );
    assert_eq!(
        d.application_icon_ids(&[wiki.id, payroll.id, nothing])
            .await
            .unwrap(),
        HashSet::from([wiki.id])
    );
    // An icon is not an update of the application's settings.
    assert_eq!(d.get_application(wiki.id).await.unwrap(), wiki);

    assert_err!(
        d.set_application_icon(admin(), nothing, "image/png".into(), png.clone())
            .await,
        StoreError::NotFound("application")
    );
    assert_eq!(d.get_application_icon(nothing).await.unwrap(), None);
    assert_err!(
        d.delete_application_icon(admin(), payroll.id).await,
        StoreError::NotFound("icon")
    );

    d.delete_application_icon(admin(), wiki.id).await.unwrap();
    assert_eq!(d.get_application_icon(wiki.id).await.unwrap(), None);
    assert_err!(
        d.delete_application_icon(admin(), wiki.id).await,
        StoreError::NotFound("icon")
    );

    // Audited with the type and size, never the bytes.
    let got = expect_events(
        d,
        mark,
        &[
            events::application_icon(admin(), "set", wiki.id, Some(("image/png", png.len()))),
            events::application_icon(admin(), "set", wiki.id, Some(("image/jpeg", jpeg.len()))),
            events::application_icon(admin(), "delete", wiki.id, None),
        ],
    )
    .await;
    assert_eq!(
        got[1].details.as_deref(),
        Some(r#"{"contentType":"image/jpeg","size":10}"#)
    );

    // Deleting the application removes its icon.
    d.set_application_icon(admin(), payroll.id, "image/png".into(), png)
        .await
        .unwrap();
    d.delete_application(admin(), payroll.id).await.unwrap();
    assert_eq!(d.get_application_icon(payroll.id).await.unwrap(), None);
    assert_eq!(
        d.application_icon_ids(&[payroll.id]).await.unwrap(),
        HashSet::new()
    );
}

pub(super) async fn saml_applications_are_found_by_entity_id(d: &dyn Directory) {
    let find = |entity_id: &'static str| async move {
        d.find_saml_application(entity_id)
            .await
            .unwrap()
            .map(|a| a.id)
    };
    let payroll = d
        .create_application(admin(), new_app("Payroll", ApplicationKind::Saml, true))
        .await
        .unwrap();
    d.create_application(admin(), new_app("Wiki", ApplicationKind::Oidc, true))
        .await
        .unwrap();
    assert_eq!(find("https://payroll.example/saml").await, Some(payroll.id));
    assert_eq!(find("https://wiki.example/saml").await, None);
    // Asked before it exists, found as soon as it does (a cached "none" is forgotten).
    assert_eq!(find("https://later.example/saml").await, None);
    let later = d
        .create_application(admin(), new_app("Later", ApplicationKind::Saml, true))
        .await
        .unwrap();
    assert_eq!(find("https://later.example/saml").await, Some(later.id));
    // A new entity id: the old one finds nothing at once.
    let mut changed = new_app("Payroll", ApplicationKind::Saml, true);
    if let Some(saml) = changed.saml.as_mut() {
        saml.entity_id = "https://payroll2.example/saml".into();
    }
    d.update_application(admin(), payroll.id, changed.clone())
        .await
        .unwrap();
    assert_eq!(find("https://payroll.example/saml").await, None);
    assert_eq!(
        find("https://payroll2.example/saml").await,
        Some(payroll.id)
    );
    // Disabled or deleted: not found.
    changed.enabled = false;
    d.update_application(admin(), payroll.id, changed)
        .await
        .unwrap();
    assert_eq!(find("https://payroll2.example/saml").await, None);
    d.delete_application(admin(), later.id).await.unwrap();
    assert_eq!(find("https://later.example/saml").await, None);
}
