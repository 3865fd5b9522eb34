//! Consents of people to OIDC clients.

use super::*;
use portcullis_domain::Consent;

fn consent(user: UserId, client: &str, scopes: &[&str], expires: Option<DateTime<Utc>>) -> Consent {
    Consent {
        user_id: user,
        client_id: client.into(),
        client_name: format!("{client} app"),
        scopes: scopes.iter().map(|s| (*s).to_owned()).collect(),
        granted_at: Utc::now(),
        expires_at: expires,
    }
}

pub(super) async fn consents_grant_replace_list_and_revoke(d: &dyn Directory) {
    let alice = d.create_user(admin(), new_user("alice")).await.unwrap();
    let bob = d.create_user(admin(), new_user("bob")).await.unwrap();
    let now = Utc::now();
    assert_eq!(
        d.get_consent(alice.id, "pcrc_cli", now).await.unwrap(),
        None
    );

    let given = d
        .grant_consent(
            Actor::User(alice.id),
            consent(
                alice.id,
                "pcrc_cli",
                &["sso:account:access", "openid", "openid"],
                None,
            ),
        )
        .await
        .unwrap();
    assert_eq!(
        given.scopes,
        ["openid", "sso:account:access"],
        "sorted, once each"
    );
    let read = d
        .get_consent(alice.id, "pcrc_cli", now)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(read, given);
    assert_eq!(d.get_consent(bob.id, "pcrc_cli", now).await.unwrap(), None);

    // A second grant replaces the scopes rather than adding to them.
    tick().await;
    let replaced = d
        .grant_consent(
            Actor::User(alice.id),
            consent(alice.id, "pcrc_cli", &["openid"], None),
        )
        .await
        .unwrap();
    let read = d
        .get_consent(alice.id, "pcrc_cli", now)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(read.scopes, ["openid"]);
    assert_eq!(read, replaced);

    tick().await;
    d.grant_consent(
        Actor::User(alice.id),
        consent(
            alice.id,
            "app-2",
            &["email"],
            Some(now + TimeDelta::hours(1)),
        ),
    )
    .await
    .unwrap();
    let list = d.list_consents(alice.id, now).await.unwrap();
    assert_eq!(
        list.iter()
            .map(|c| c.client_id.as_str())
            .collect::<Vec<_>>(),
        ["app-2", "pcrc_cli"],
        "newest first"
    );
    assert!(d.list_consents(bob.id, now).await.unwrap().is_empty());

    // A consent lapses by the caller's clock.
    let later = now + TimeDelta::hours(2);
    assert_eq!(d.get_consent(alice.id, "app-2", later).await.unwrap(), None);
    assert_eq!(d.list_consents(alice.id, later).await.unwrap().len(), 1);

    d.revoke_consent(Actor::User(alice.id), alice.id, "pcrc_cli")
        .await
        .unwrap();
    assert_eq!(
        d.get_consent(alice.id, "pcrc_cli", now).await.unwrap(),
        None
    );
    assert_err!(
        d.revoke_consent(Actor::User(alice.id), alice.id, "pcrc_cli")
            .await,
        StoreError::NotFound("consent")
    );
    // Another person's consent cannot be revoked through one's own id.
    assert_err!(
        d.revoke_consent(Actor::User(bob.id), bob.id, "app-2").await,
        StoreError::NotFound("consent")
    );
    assert!(
        d.get_consent(alice.id, "app-2", now)
            .await
            .unwrap()
            .is_some()
    );

    let actions: Vec<String> = d
        .list_audit_events(
            &AuditFilter {
                actor: Some(format!("user:{}", alice.id)),
                ..AuditFilter::default()
            },
            all(),
        )
        .await
        .unwrap()
        .items
        .into_iter()
        .map(|e| e.action)
        .collect();
    assert_eq!(
        actions,
        [
            "user.consent.revoke",
            "user.consent.grant",
            "user.consent.grant",
            "user.consent.grant"
        ]
    );
}

pub(super) async fn consents_need_a_user_and_go_with_user_and_application(d: &dyn Directory) {
    assert_err!(
        d.grant_consent(
            admin(),
            consent(UserId::new(), "pcrc_cli", &["openid"], None)
        )
        .await,
        StoreError::NotFound("user")
    );
    let alice = d.create_user(admin(), new_user("alice")).await.unwrap();
    let app = d
        .create_application(admin(), new_app("Wiki", ApplicationKind::Oidc, true))
        .await
        .unwrap();
    let now = Utc::now();
    for client in [app.client_id(), "pcrc_cli".to_owned()] {
        d.grant_consent(admin(), consent(alice.id, &client, &["openid"], None))
            .await
            .unwrap();
    }
    d.delete_application(admin(), app.id).await.unwrap();
    let left: Vec<String> = d
        .list_consents(alice.id, now)
        .await
        .unwrap()
        .into_iter()
        .map(|c| c.client_id)
        .collect();
    assert_eq!(
        left,
        ["pcrc_cli"],
        "the application's consents went with it"
    );
    d.delete_user(admin(), alice.id).await.unwrap();
    assert!(d.list_consents(alice.id, now).await.unwrap().is_empty());
}
