//! Settings, signing keys, administrator tokens.

use super::*;

pub(super) async fn settings_round_trip(d: &dyn Directory) {
    assert_eq!(d.get_settings().await.unwrap(), Settings::default());
    let mark = audit_mark(d).await;
    let custom = Settings {
        session_lifetime: SessionLifetime::from_seconds(12 * 3600).unwrap(),
        mfa: MfaPolicy::new(
            MfaPrompt::EverySignIn,
            vec![MfaType::Webauthn],
            NoDeviceAction::Block,
        )
        .unwrap(),
        email_otp: true,
    };
    assert_eq!(
        d.put_settings(admin(), custom.clone()).await.unwrap(),
        custom
    );
    assert_eq!(d.get_settings().await.unwrap(), custom);
    let never = Settings {
        session_lifetime: SessionLifetime::from_seconds(SessionLifetime::MAX_SECONDS).unwrap(),
        mfa: MfaPolicy::new(MfaPrompt::Never, vec![], NoDeviceAction::Allow).unwrap(),
        email_otp: false,
    };
    assert_eq!(d.put_settings(admin(), never.clone()).await.unwrap(), never);
    assert_eq!(d.get_settings().await.unwrap(), never);
    expect_events(
        d,
        mark,
        &[events::settings(admin()), events::settings(admin())],
    )
    .await;
}

fn signing_key(kid: &str, purpose: &str, active_from: DateTime<Utc>) -> NewSigningKey {
    NewSigningKey {
        kid: kid.to_owned(),
        purpose: purpose.to_owned(),
        algorithm: "ES256".to_owned(),
        // Not UTF-8, with a NUL: the bytes must come back exactly.
        private_key: vec![0x00, 0xff, 0x80, 0x7f, 0x0a, kid.len() as u8],
        public_key: format!("-----BEGIN PUBLIC KEY-----\n{kid}\n-----END PUBLIC KEY-----\n"),
        active_from,
    }
}

pub(super) async fn signing_keys(d: &dyn Directory) {
    let mark = audit_mark(d).await;
    let now = ms(Utc::now());
    let k1_new = signing_key("k1", "oidc", now);
    let k1 = d.insert_signing_key(admin(), k1_new.clone()).await.unwrap();
    assert_eq!(
        (
            &k1.kid,
            &k1.purpose,
            &k1.algorithm,
            &k1.private_key,
            &k1.public_key
        ),
        (
            &k1_new.kid,
            &k1_new.purpose,
            &k1_new.algorithm,
            &k1_new.private_key,
            &k1_new.public_key
        )
    );
    assert_eq!((k1.active_from, k1.retired_at), (now, None));
    assert_recent(k1.created_at);
    tick().await;
    let k2 = d
        .insert_signing_key(admin(), signing_key("k2", "oidc", now + TimeDelta::days(1)))
        .await
        .unwrap();
    tick().await;
    let k3 = d
        .insert_signing_key(admin(), signing_key("k3", "saml", now))
        .await
        .unwrap();
    assert!(k2.created_at > k1.created_at);

    assert_err!(
        d.insert_signing_key(admin(), signing_key("k1", "saml", now))
            .await,
        StoreError::Conflict { field: "kid", .. }
    );

    assert_eq!(
        d.list_signing_keys("oidc").await.unwrap(),
        vec![k2.clone(), k1.clone()]
    );
    assert_eq!(d.list_signing_keys("saml").await.unwrap(), vec![k3.clone()]);
    assert_eq!(d.list_signing_keys("broker").await.unwrap(), vec![]);

    let retire_at = ms(Utc::now() + TimeDelta::hours(1));
    d.retire_signing_key(admin(), "k1", retire_at)
        .await
        .unwrap();
    let listed = d.list_signing_keys("oidc").await.unwrap();
    let mut k1_retired = k1.clone();
    k1_retired.retired_at = Some(retire_at);
    assert_eq!(listed, vec![k2.clone(), k1_retired]);

    assert_err!(
        d.retire_signing_key(admin(), "nope", retire_at).await,
        StoreError::NotFound("signing key")
    );
    d.delete_signing_key(admin(), "k1").await.unwrap();
    assert_err!(
        d.delete_signing_key(admin(), "k1").await,
        StoreError::NotFound("signing key")
    );
    assert_eq!(d.list_signing_keys("oidc").await.unwrap(), vec![k2.clone()]);
    assert_eq!(d.list_signing_keys("saml").await.unwrap(), vec![k3.clone()]);

    expect_events(
        d,
        mark,
        &[
            events::signing_key(admin(), "create", "k1"),
            events::signing_key(admin(), "create", "k2"),
            events::signing_key(admin(), "create", "k3"),
            events::signing_key(admin(), "retire", "k1"),
            events::signing_key(admin(), "delete", "k1"),
        ],
    )
    .await;
}

/// The first key of a purpose and algorithm is created once, however many callers race for it;
/// a retired key or one that signs only later does not count, another algorithm does not either.
pub(super) async fn first_signing_key_is_created_once(d: &dyn Directory) {
    let now = ms(Utc::now());
    let with_alg = |kid: &str, alg: &str, at| NewSigningKey {
        algorithm: alg.to_owned(),
        ..signing_key(kid, "first", at)
    };
    let tries = (0..8).map(|i| {
        d.insert_first_signing_key(admin(), with_alg(&format!("f{i}"), "ES256", now), now)
    });
    let won: Vec<_> = futures_util::future::join_all(tries)
        .await
        .into_iter()
        .map(|r| r.unwrap())
        .filter_map(|k| k.map(|k| k.kid))
        .collect();
    assert_eq!(won.len(), 1, "one winner: {won:?}");
    assert_eq!(
        d.list_signing_keys("first")
            .await
            .unwrap()
            .iter()
            .map(|k| &k.kid)
            .collect::<Vec<_>>(),
        vec![&won[0]]
    );
    // It signs now, so a later call creates nothing; another algorithm is separate.
    assert_eq!(
        d.insert_first_signing_key(admin(), with_alg("g1", "ES256", now), now)
            .await
            .unwrap(),
        None
    );
    let rs = d
        .insert_first_signing_key(admin(), with_alg("r1", "RS256", now), now)
        .await
        .unwrap();
    assert_eq!(rs.map(|k| k.kid).as_deref(), Some("r1"));
    // Retired, the key no longer counts; a key that signs only tomorrow does not count today.
    d.retire_signing_key(admin(), &won[0], now).await.unwrap();
    d.insert_signing_key(
        admin(),
        with_alg("later", "ES256", now + TimeDelta::days(1)),
    )
    .await
    .unwrap();
    let next = d
        .insert_first_signing_key(admin(), with_alg("g2", "ES256", now), now)
        .await
        .unwrap();
    assert_eq!(next.map(|k| k.kid).as_deref(), Some("g2"));
    // A kid that exists is still a conflict.
    d.retire_signing_key(admin(), "g2", now).await.unwrap();
    assert_err!(
        d.insert_first_signing_key(admin(), with_alg("g2", "ES256", now), now)
            .await,
        StoreError::Conflict { .. }
    );
}

pub(super) async fn admin_tokens(d: &dyn Directory) {
    let mark = audit_mark(d).await;
    let now = ms(Utc::now());
    let token = |name: &str, byte: u8, expires_at, bootstrap| NewAdminToken {
        name: dn(name),
        hash: [byte; 32],
        expires_at,
        bootstrap,
    };
    let boot = d
        .create_admin_token(admin(), token("bootstrap", 1, None, true))
        .await
        .unwrap();
    assert_eq!(
        (&boot.name, boot.expires_at, boot.bootstrap),
        (&dn("bootstrap"), None, true)
    );
    assert_recent(boot.created_at);
    tick().await;
    let expires = now + TimeDelta::hours(1);
    let ci = d
        .create_admin_token(admin(), token("ci", 2, Some(expires), false))
        .await
        .unwrap();
    assert_eq!((ci.expires_at, ci.bootstrap), (Some(expires), false));
    tick().await;
    let expired = d
        .create_admin_token(
            admin(),
            token("old", 3, Some(now - TimeDelta::hours(1)), false),
        )
        .await
        .unwrap();
    assert_ne!(boot.id, ci.id);

    assert_eq!(
        d.find_admin_token(&[1; 32], Utc::now()).await.unwrap(),
        Some(boot.clone())
    );
    assert_eq!(
        d.find_admin_token(&[2; 32], Utc::now()).await.unwrap(),
        Some(ci.clone())
    );
    assert_eq!(
        d.find_admin_token(&[2; 32], expires + TimeDelta::minutes(1))
            .await
            .unwrap(),
        None
    );
    assert_eq!(
        d.find_admin_token(&[3; 32], Utc::now()).await.unwrap(),
        None
    );
    assert_eq!(
        d.find_admin_token(&[4; 32], Utc::now()).await.unwrap(),
        None
    );
    // A token far in the future of a non-expiring one is still valid.
    assert_eq!(
        d.find_admin_token(&[1; 32], now + TimeDelta::days(3650))
            .await
            .unwrap(),
        Some(boot.clone())
    );

    assert_eq!(
        d.list_admin_tokens().await.unwrap(),
        vec![boot.clone(), ci.clone(), expired.clone()]
    );

    d.revoke_admin_token(admin(), ci.id).await.unwrap();
    assert_eq!(
        d.find_admin_token(&[2; 32], Utc::now()).await.unwrap(),
        None
    );
    assert_eq!(
        d.list_admin_tokens().await.unwrap(),
        vec![boot.clone(), expired.clone()]
    );
    assert_err!(
        d.revoke_admin_token(admin(), ci.id).await,
        StoreError::NotFound("admin token")
    );
    assert_err!(
        d.revoke_admin_token(admin(), AdminTokenId::new()).await,
        StoreError::NotFound("admin token")
    );
    // Only a revoked bootstrap token is remembered (so a configured one is not recreated).
    assert!(!d.bootstrap_token_revoked(&[2; 32]).await.unwrap());
    assert!(!d.bootstrap_token_revoked(&[1; 32]).await.unwrap());
    d.revoke_admin_token(admin(), boot.id).await.unwrap();
    assert!(d.bootstrap_token_revoked(&[1; 32]).await.unwrap());
    assert!(!d.bootstrap_token_revoked(&[3; 32]).await.unwrap());
    assert_eq!(
        d.find_admin_token(&[1; 32], Utc::now()).await.unwrap(),
        None
    );

    expect_events(
        d,
        mark,
        &[
            events::admin_token(admin(), "create", boot.id),
            events::admin_token(admin(), "create", ci.id),
            events::admin_token(admin(), "create", expired.id),
            events::admin_token(admin(), "revoke", ci.id),
            events::admin_token(admin(), "revoke", boot.id),
        ],
    )
    .await;
}
