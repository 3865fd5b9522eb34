//! Credentials: passwords and MFA devices.

use super::*;

// ---------------------------------------------------------------------------------------------
// Passwords.
// ---------------------------------------------------------------------------------------------

const HASH_1: &str = "$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHQ$aGFzaG9uZWhhc2hvbmU";
const HASH_2: &str = "$argon2id$v=19$m=19456,t=2,p=1$c2FsdDI$aGFzaHR3b2hhc2h0d28";
const HASH_3: &str = "$argon2id$v=19$m=65536,t=3,p=4$c2FsdDM$aGFzaHRocmVlaGFzaA";

pub(super) async fn password_absent_set_and_replace(d: &dyn Directory) {
    let alice = d.create_user(admin(), new_user("alice")).await.unwrap();
    let bob = d.create_user(admin(), new_user("bob")).await.unwrap();
    assert_eq!(d.get_password(alice.id).await.unwrap(), None);
    assert_eq!(d.get_password(UserId::new()).await.unwrap(), None);

    d.set_password(admin(), alice.id, HASH_1.into(), true)
        .await
        .unwrap();
    let first = d.get_password(alice.id).await.unwrap().unwrap();
    assert_eq!(first.hash, HASH_1);
    assert!(first.must_change);
    assert_recent(first.updated_at);
    assert_eq!(first.updated_at, ms(first.updated_at));
    assert_eq!(d.get_password(bob.id).await.unwrap(), None);

    tick().await;
    d.set_password(admin(), alice.id, HASH_2.into(), false)
        .await
        .unwrap();
    let second = d.get_password(alice.id).await.unwrap().unwrap();
    assert_eq!(second.hash, HASH_2);
    assert!(!second.must_change);
    assert!(second.updated_at > first.updated_at, "{second:?} {first:?}");
    assert_eq!(d.get_password(bob.id).await.unwrap(), None);

    let mark = audit_mark(d).await;
    assert_err!(
        d.set_password(admin(), UserId::new(), HASH_1.into(), false)
            .await,
        StoreError::NotFound("user")
    );
    expect_events(d, mark, &[]).await;
}

pub(super) async fn password_rehash_keeps_flag_and_time_unaudited(d: &dyn Directory) {
    let alice = d.create_user(admin(), new_user("alice")).await.unwrap();
    d.set_password(admin(), alice.id, HASH_1.into(), true)
        .await
        .unwrap();
    let before = d.get_password(alice.id).await.unwrap().unwrap();
    let mark = audit_mark(d).await;
    tick().await;
    d.rehash_password(alice.id, HASH_3.into()).await.unwrap();
    let after = d.get_password(alice.id).await.unwrap().unwrap();
    assert_eq!(after.hash, HASH_3);
    assert_eq!(after.must_change, before.must_change);
    assert_eq!(after.updated_at, before.updated_at);
    expect_events(d, mark, &[]).await;

    // Nothing to re-hash: no password, or no user.
    let bob = d.create_user(admin(), new_user("bob")).await.unwrap();
    let mark = audit_mark(d).await;
    assert_err!(
        d.rehash_password(bob.id, HASH_3.into()).await,
        StoreError::NotFound(_)
    );
    assert_err!(
        d.rehash_password(UserId::new(), HASH_3.into()).await,
        StoreError::NotFound(_)
    );
    assert_eq!(d.get_password(bob.id).await.unwrap(), None);
    expect_events(d, mark, &[]).await;
}

pub(super) async fn password_audit_never_holds_the_hash(d: &dyn Directory) {
    let alice = d.create_user(admin(), new_user("alice")).await.unwrap();
    let mark = audit_mark(d).await;
    d.set_password(admin(), alice.id, HASH_1.into(), true)
        .await
        .unwrap();
    d.set_password(admin(), alice.id, HASH_2.into(), false)
        .await
        .unwrap();
    d.rehash_password(alice.id, HASH_3.into()).await.unwrap();
    let got = expect_events(
        d,
        mark,
        &[
            events::password(admin(), alice.id, true),
            events::password(admin(), alice.id, false),
        ],
    )
    .await;
    assert_eq!(got[0].action, "user.password.set");
    assert_eq!(got[0].target, format!("user:{}", alice.id));
    assert_eq!(got[0].details.as_deref(), Some(r#"{"mustChange":true}"#));
    assert_eq!(got[1].details.as_deref(), Some(r#"{"mustChange":false}"#));
    for e in audit_all(d).await {
        let text = format!("{} {} {} {:?}", e.actor, e.action, e.target, e.details);
        for secret in [HASH_1, HASH_2, HASH_3, "argon2"] {
            assert!(!text.contains(secret), "audit event holds a hash: {text}");
        }
    }
}

pub(super) async fn deleting_a_user_removes_credentials(d: &dyn Directory) {
    let alice = d.create_user(admin(), new_user("alice")).await.unwrap();
    let bob = d.create_user(admin(), new_user("bob")).await.unwrap();
    for u in [alice.id, bob.id] {
        d.set_password(admin(), u, HASH_1.into(), false)
            .await
            .unwrap();
    }
    let a_totp = d
        .add_mfa_device(admin(), totp(alice.id, "Phone"))
        .await
        .unwrap();
    let a_key = d
        .add_mfa_device(admin(), webauthn(alice.id, "Key", "cred-alice"))
        .await
        .unwrap();
    let b_key = d
        .add_mfa_device(admin(), webauthn(bob.id, "Key", "cred-bob"))
        .await
        .unwrap();

    let mark = audit_mark(d).await;
    d.delete_user(admin(), alice.id).await.unwrap();
    expect_events(d, mark, &[events::user(admin(), "delete", alice.id)]).await;

    assert_eq!(d.get_password(alice.id).await.unwrap(), None);
    assert_eq!(d.list_mfa_devices(alice.id).await.unwrap(), vec![]);
    assert_eq!(
        d.find_mfa_device_by_credential("cred-alice").await.unwrap(),
        None
    );
    assert!(
        !d.record_mfa_use(alice.id, a_totp.id, Utc::now(), Some(1), None)
            .await
            .unwrap()
    );
    assert_err!(
        d.delete_mfa_device(admin(), alice.id, a_key.id).await,
        StoreError::NotFound("mfa device")
    );
    // Bob keeps his.
    assert!(d.get_password(bob.id).await.unwrap().is_some());
    assert_eq!(d.list_mfa_devices(bob.id).await.unwrap(), vec![b_key]);
    // The credential id is free again.
    let again = d.create_user(admin(), new_user("alice")).await.unwrap();
    assert_eq!(d.get_password(again.id).await.unwrap(), None);
    assert_eq!(d.list_mfa_devices(again.id).await.unwrap(), vec![]);
    d.add_mfa_device(admin(), webauthn(again.id, "Key", "cred-alice"))
        .await
        .unwrap();
}

// ---------------------------------------------------------------------------------------------
// MFA devices.
// ---------------------------------------------------------------------------------------------

fn totp(user: UserId, name: &str) -> NewMfaDevice {
    NewMfaDevice {
        user_id: user,
        kind: MfaDeviceKind::AuthenticatorApp,
        name: dn(name),
        secret: format!("totp-secret-{name}").into_bytes(),
        credential_id: None,
    }
}

fn webauthn(user: UserId, name: &str, credential_id: &str) -> NewMfaDevice {
    NewMfaDevice {
        user_id: user,
        kind: MfaDeviceKind::Webauthn,
        name: dn(name),
        secret: vec![0, 1, 2, 255, 254, 0],
        credential_id: Some(credential_id.to_owned()),
    }
}

fn device_event(actor: Actor, verb: &str, device: &MfaDevice) -> NewAuditEvent {
    events::mfa_device(actor, verb, device.user_id, device.id, device.kind)
}

pub(super) async fn mfa_device_crud(d: &dyn Directory) {
    let alice = d.create_user(admin(), new_user("alice")).await.unwrap();
    let bob = d.create_user(admin(), new_user("bob")).await.unwrap();
    assert_eq!(d.list_mfa_devices(alice.id).await.unwrap(), vec![]);

    let mark = audit_mark(d).await;
    let phone = d
        .add_mfa_device(admin(), totp(alice.id, "Phone"))
        .await
        .unwrap();
    assert_eq!(phone.user_id, alice.id);
    assert_eq!(phone.kind, MfaDeviceKind::AuthenticatorApp);
    assert_eq!(phone.name, dn("Phone"));
    assert_eq!(phone.secret, b"totp-secret-Phone".to_vec());
    assert_eq!(phone.credential_id, None);
    assert_eq!(phone.last_used_at, None);
    assert_recent(phone.created_at);
    assert_eq!(phone.created_at, ms(phone.created_at));
    tick().await;
    let key = d
        .add_mfa_device(admin(), webauthn(alice.id, "YubiKey", "cred-1"))
        .await
        .unwrap();
    tick().await;
    let tablet = d
        .add_mfa_device(admin(), totp(alice.id, "Tablet"))
        .await
        .unwrap();
    let bobs = d
        .add_mfa_device(admin(), totp(bob.id, "Phone"))
        .await
        .unwrap();

    // Oldest first, each user only their own.
    assert_eq!(
        d.list_mfa_devices(alice.id).await.unwrap(),
        vec![phone.clone(), key.clone(), tablet.clone()]
    );
    assert_eq!(
        d.list_mfa_devices(bob.id).await.unwrap(),
        vec![bobs.clone()]
    );

    let renamed = d
        .rename_mfa_device(admin(), alice.id, key.id, dn("Blue key"))
        .await
        .unwrap();
    assert_eq!(
        renamed,
        MfaDevice {
            name: dn("Blue key"),
            ..key.clone()
        }
    );
    d.delete_mfa_device(admin(), alice.id, phone.id)
        .await
        .unwrap();
    assert_eq!(
        d.list_mfa_devices(alice.id).await.unwrap(),
        vec![renamed.clone(), tablet.clone()]
    );
    let got = expect_events(
        d,
        mark,
        &[
            device_event(admin(), "create", &phone),
            device_event(admin(), "create", &key),
            device_event(admin(), "create", &tablet),
            device_event(admin(), "create", &bobs),
            device_event(admin(), "update", &key),
            device_event(admin(), "delete", &phone),
        ],
    )
    .await;
    assert_eq!(got[0].action, "user.mfa-device.create");
    assert_eq!(got[0].target, format!("user:{}", alice.id));
    assert_eq!(
        got[0].details.as_deref(),
        Some(
            format!(
                r#"{{"deviceId":"{}","kind":"AUTHENTICATOR_APP"}}"#,
                phone.id
            )
            .as_str()
        )
    );
    assert_eq!(
        got[4].details.as_deref(),
        Some(format!(r#"{{"deviceId":"{}","kind":"WEBAUTHN"}}"#, key.id).as_str())
    );
    assert_eq!(got[4].action, "user.mfa-device.update");
    assert_eq!(got[5].action, "user.mfa-device.delete");
    for e in &got {
        let details = e.details.clone().unwrap_or_default();
        assert!(
            !details.contains("secret") && !details.contains("cred-1"),
            "{e:?}"
        );
    }

    // Unknown devices, and other users' devices, are not found; nothing is audited.
    let mark = audit_mark(d).await;
    let unknown = uuid::Uuid::new_v4();
    assert_err!(
        d.rename_mfa_device(admin(), alice.id, unknown, dn("X"))
            .await,
        StoreError::NotFound("mfa device")
    );
    assert_err!(
        d.delete_mfa_device(admin(), alice.id, unknown).await,
        StoreError::NotFound("mfa device")
    );
    assert_err!(
        d.rename_mfa_device(admin(), alice.id, bobs.id, dn("Mine"))
            .await,
        StoreError::NotFound("mfa device")
    );
    assert_err!(
        d.delete_mfa_device(admin(), alice.id, bobs.id).await,
        StoreError::NotFound("mfa device")
    );
    assert_err!(
        d.delete_mfa_device(admin(), alice.id, phone.id).await,
        StoreError::NotFound("mfa device")
    );
    assert_err!(
        d.add_mfa_device(admin(), totp(UserId::new(), "Ghost"))
            .await,
        StoreError::NotFound("user")
    );
    assert!(
        !d.record_mfa_use(alice.id, unknown, Utc::now(), None, None)
            .await
            .unwrap()
    );
    assert!(
        !d.record_mfa_use(alice.id, bobs.id, Utc::now(), Some(5), None)
            .await
            .unwrap()
    );
    expect_events(d, mark, &[]).await;
    assert_eq!(d.list_mfa_devices(bob.id).await.unwrap(), vec![bobs]);
}

pub(super) async fn mfa_device_limits_per_kind(d: &dyn Directory) {
    let alice = d.create_user(admin(), new_user("alice")).await.unwrap();
    let bob = d.create_user(admin(), new_user("bob")).await.unwrap();
    for i in 0..MfaDeviceKind::AuthenticatorApp.limit() {
        d.add_mfa_device(admin(), totp(alice.id, &format!("App {i}")))
            .await
            .unwrap();
    }
    for i in 0..MfaDeviceKind::Webauthn.limit() {
        d.add_mfa_device(
            admin(),
            webauthn(alice.id, &format!("Key {i}"), &format!("a-{i}")),
        )
        .await
        .unwrap();
    }
    let mark = audit_mark(d).await;
    match d.add_mfa_device(admin(), totp(alice.id, "App 3")).await {
        Err(StoreError::Conflict {
            field: "kind",
            message,
        }) => assert_eq!(message, "at most 2 authenticator apps per user"),
        other => panic!("expected Conflict(kind), got {other:?}"),
    }
    match d
        .add_mfa_device(admin(), webauthn(alice.id, "Key 7", "a-7"))
        .await
    {
        Err(StoreError::Conflict {
            field: "kind",
            message,
        }) => assert_eq!(message, "at most 6 security keys or passkeys per user"),
        other => panic!("expected Conflict(kind), got {other:?}"),
    }
    expect_events(d, mark, &[]).await;
    assert_eq!(d.list_mfa_devices(alice.id).await.unwrap().len(), 8);
    assert_eq!(d.find_mfa_device_by_credential("a-7").await.unwrap(), None);

    // Other users are unaffected.
    d.add_mfa_device(admin(), totp(bob.id, "App"))
        .await
        .unwrap();
    d.add_mfa_device(admin(), totp(bob.id, "App 2"))
        .await
        .unwrap();
    d.add_mfa_device(admin(), webauthn(bob.id, "Key", "b-1"))
        .await
        .unwrap();

    // Removing one makes room for one.
    let first = d.list_mfa_devices(alice.id).await.unwrap()[0].clone();
    assert_eq!(first.kind, MfaDeviceKind::AuthenticatorApp);
    d.delete_mfa_device(admin(), alice.id, first.id)
        .await
        .unwrap();
    d.add_mfa_device(admin(), totp(alice.id, "App 3"))
        .await
        .unwrap();
    assert_err!(
        d.add_mfa_device(admin(), totp(alice.id, "App 4")).await,
        StoreError::Conflict { field: "kind", .. }
    );
}

pub(super) async fn mfa_concurrent_adds_respect_the_limit(d: &dyn Directory) {
    let alice = d.create_user(admin(), new_user("alice")).await.unwrap();
    let (a, b, c, e) = tokio::join!(
        d.add_mfa_device(admin(), totp(alice.id, "A")),
        d.add_mfa_device(admin(), totp(alice.id, "B")),
        d.add_mfa_device(admin(), totp(alice.id, "C")),
        d.add_mfa_device(admin(), totp(alice.id, "D")),
    );
    let results = [a, b, c, e];
    assert_eq!(
        results.iter().filter(|r| r.is_ok()).count(),
        2,
        "{results:?}"
    );
    for r in &results {
        if let Err(err) = r {
            assert!(
                matches!(err, StoreError::Conflict { field: "kind", .. }),
                "expected Conflict(kind), got {err:?}"
            );
        }
    }
    assert_eq!(d.list_mfa_devices(alice.id).await.unwrap().len(), 2);
}

pub(super) async fn mfa_find_by_credential_and_duplicates(d: &dyn Directory) {
    let alice = d.create_user(admin(), new_user("alice")).await.unwrap();
    let bob = d.create_user(admin(), new_user("bob")).await.unwrap();
    let key = d
        .add_mfa_device(admin(), webauthn(alice.id, "Key", "Y3JlZC0x"))
        .await
        .unwrap();
    d.add_mfa_device(admin(), totp(alice.id, "Phone"))
        .await
        .unwrap();
    assert_eq!(
        d.find_mfa_device_by_credential("Y3JlZC0x").await.unwrap(),
        Some(key.clone())
    );
    assert_eq!(
        d.find_mfa_device_by_credential("y3jlzc0x").await.unwrap(),
        None
    );
    assert_eq!(d.find_mfa_device_by_credential("").await.unwrap(), None);

    let mark = audit_mark(d).await;
    for owner in [alice.id, bob.id] {
        assert_err!(
            d.add_mfa_device(admin(), webauthn(owner, "Copy", "Y3JlZC0x"))
                .await,
            StoreError::Conflict {
                field: "credentialId",
                ..
            }
        );
    }
    expect_events(d, mark, &[]).await;
    assert_eq!(d.list_mfa_devices(bob.id).await.unwrap(), vec![]);
    // Several TOTP devices have no credential id, and that is no conflict.
    d.add_mfa_device(admin(), totp(alice.id, "Tablet"))
        .await
        .unwrap();
    d.add_mfa_device(admin(), totp(bob.id, "Phone"))
        .await
        .unwrap();
    assert_eq!(d.list_mfa_devices(alice.id).await.unwrap().len(), 3);
}

pub(super) async fn mfa_use_updates_last_used_and_secret(d: &dyn Directory) {
    let alice = d.create_user(admin(), new_user("alice")).await.unwrap();
    let key = d
        .add_mfa_device(admin(), webauthn(alice.id, "Key", "cred"))
        .await
        .unwrap();
    let mark = audit_mark(d).await;
    let at = Utc::now();
    assert!(
        d.record_mfa_use(alice.id, key.id, at, None, Some(vec![9, 9, 9]))
            .await
            .unwrap()
    );
    let used = d
        .find_mfa_device_by_credential("cred")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(used.last_used_at, Some(ms(at)));
    assert_eq!(used.secret, vec![9, 9, 9]);
    let later = at + TimeDelta::seconds(30);
    assert!(
        d.record_mfa_use(alice.id, key.id, later, None, None)
            .await
            .unwrap()
    );
    let used = d.list_mfa_devices(alice.id).await.unwrap().remove(0);
    assert_eq!(used.last_used_at, Some(ms(later)));
    assert_eq!(used.secret, vec![9, 9, 9]);
    assert_eq!(
        used,
        MfaDevice {
            secret: vec![9, 9, 9],
            last_used_at: Some(ms(later)),
            ..key
        }
    );
    // Not audited.
    expect_events(d, mark, &[]).await;
}

pub(super) async fn totp_steps_are_never_replayed(d: &dyn Directory) {
    let alice = d.create_user(admin(), new_user("alice")).await.unwrap();
    let phone = d
        .add_mfa_device(admin(), totp(alice.id, "Phone"))
        .await
        .unwrap();
    let tablet = d
        .add_mfa_device(admin(), totp(alice.id, "Tablet"))
        .await
        .unwrap();
    let mark = audit_mark(d).await;
    let t0 = Utc::now();
    let use_at = |secs: i64, step: i64| {
        d.record_mfa_use(
            alice.id,
            phone.id,
            t0 + TimeDelta::seconds(secs),
            Some(step),
            None,
        )
    };
    assert!(use_at(0, 100).await.unwrap());
    assert!(!use_at(1, 100).await.unwrap(), "the same step again");
    assert!(!use_at(2, 99).await.unwrap(), "an earlier step");
    // A refused use changes nothing.
    let stored = d.list_mfa_devices(alice.id).await.unwrap().remove(0);
    assert_eq!(stored.last_used_at, Some(ms(t0)));
    assert!(use_at(3, 101).await.unwrap());
    assert!(!use_at(4, 101).await.unwrap());
    assert!(!use_at(5, 100).await.unwrap());
    let stored = d.list_mfa_devices(alice.id).await.unwrap().remove(0);
    assert_eq!(stored.last_used_at, Some(ms(t0 + TimeDelta::seconds(3))));
    assert_eq!(stored.secret, phone.secret);
    // Each device keeps its own last step.
    assert!(
        d.record_mfa_use(alice.id, tablet.id, t0, Some(100), None)
            .await
            .unwrap()
    );
    // Another user cannot use the device.
    let bob = d.create_user(admin(), new_user("bob")).await.unwrap();
    assert!(
        !d.record_mfa_use(bob.id, phone.id, t0, Some(500), None)
            .await
            .unwrap()
    );
    assert!(use_at(6, 102).await.unwrap());
    // Not audited (only bob's creation is).
    expect_events(d, mark, &[events::user(admin(), "create", bob.id)]).await;
}

pub(super) async fn concurrent_totp_use_succeeds_once(d: &dyn Directory) {
    let alice = d.create_user(admin(), new_user("alice")).await.unwrap();
    let phone = d
        .add_mfa_device(admin(), totp(alice.id, "Phone"))
        .await
        .unwrap();
    for step in [1000_i64, 1001] {
        let use_step = || d.record_mfa_use(alice.id, phone.id, Utc::now(), Some(step), None);
        let results = tokio::join!(
            use_step(),
            use_step(),
            use_step(),
            use_step(),
            use_step(),
            use_step(),
            use_step(),
            use_step(),
            use_step(),
            use_step(),
        );
        let results = [
            results.0, results.1, results.2, results.3, results.4, results.5, results.6, results.7,
            results.8, results.9,
        ];
        let accepted = results.iter().filter(|r| matches!(r, Ok(true))).count();
        assert_eq!(accepted, 1, "step {step}: {results:?}");
        assert!(results.iter().all(Result::is_ok), "{results:?}");
    }
}
