//! The audit log.

use super::*;

pub(super) async fn audit_log_listing(d: &dyn Directory) {
    let alice = UserId::new();
    let recorded = [
        NewAuditEvent::new(Actor::User(alice), "auth.sign-in", format!("user:{alice}")),
        NewAuditEvent::new(Actor::System, "key.rotate", "signing-key:k1"),
        NewAuditEvent::new(Actor::User(alice), "auth.sign-out", format!("user:{alice}"))
            .with_details(r#"{"reason":"idle"}"#),
        NewAuditEvent::new(Actor::Bootstrap, "auth.sign-in", "admin")
            .with_details(r#"{"ip":"127.0.0.1"}"#),
        NewAuditEvent::new(Actor::User(alice), "auth.sign-in", format!("user:{alice}")),
    ];
    for e in &recorded {
        d.record_event(e.clone()).await.unwrap();
        tick().await;
    }
    // A directory change lands in the same log.
    let bob = d.create_user(admin(), new_user("bob")).await.unwrap();

    let everything = d
        .list_audit_events(&AuditFilter::default(), all())
        .await
        .unwrap();
    assert_eq!(everything.next, None);
    let items = everything.items;
    assert_eq!(items.len(), 6);
    // Newest first.
    for pair in items.windows(2) {
        assert!(
            pair[0].id > pair[1].id && pair[0].time >= pair[1].time,
            "{pair:?}"
        );
    }
    let oldest_first: Vec<AuditEvent> = items.iter().rev().cloned().collect();
    assert_recorded_as(oldest_first.iter(), &recorded);
    assert_eq!(
        (&items[0].actor, items[0].action.as_str(), &items[0].target),
        (
            &admin().to_string(),
            "user.create",
            &format!("user:{}", bob.id)
        )
    );

    let list = |filter: AuditFilter| async move {
        let p = d.list_audit_events(&filter, all()).await.unwrap();
        assert_eq!(p.next, None);
        p.items
    };
    let ids = |events: &[AuditEvent]| events.iter().map(|e| e.id).collect::<Vec<_>>();
    let e = &oldest_first;

    let by_actor = list(AuditFilter {
        actor: Some(format!("user:{alice}")),
        ..AuditFilter::default()
    })
    .await;
    assert_eq!(ids(&by_actor), vec![e[4].id, e[2].id, e[0].id]);
    let by_action = list(AuditFilter {
        action: Some("auth.sign-in".into()),
        ..AuditFilter::default()
    })
    .await;
    assert_eq!(ids(&by_action), vec![e[4].id, e[3].id, e[0].id]);
    let both = list(AuditFilter {
        actor: Some(format!("user:{alice}")),
        action: Some("auth.sign-in".into()),
        ..AuditFilter::default()
    })
    .await;
    assert_eq!(ids(&both), vec![e[4].id, e[0].id]);
    let no_match = list(AuditFilter {
        action: Some("auth".into()),
        ..AuditFilter::default()
    })
    .await;
    assert_eq!(ids(&no_match), Vec::<i64>::new());

    // Time windows, with bounds strictly between events (inclusiveness is not specified).
    let between = |a: &AuditEvent, b: &AuditEvent| a.time + (b.time - a.time) / 2;
    assert!(
        e[1].time < e[2].time && e[2].time < e[3].time,
        "events need distinct times"
    );
    let since = list(AuditFilter {
        since: Some(between(&e[1], &e[2])),
        ..AuditFilter::default()
    })
    .await;
    assert_eq!(ids(&since), vec![e[5].id, e[4].id, e[3].id, e[2].id]);
    let until = list(AuditFilter {
        until: Some(between(&e[1], &e[2])),
        ..AuditFilter::default()
    })
    .await;
    assert_eq!(ids(&until), vec![e[1].id, e[0].id]);
    let window = list(AuditFilter {
        since: Some(between(&e[1], &e[2])),
        until: Some(between(&e[3], &e[4])),
        actor: Some(format!("user:{alice}")),
        ..AuditFilter::default()
    })
    .await;
    assert_eq!(ids(&window), vec![e[2].id]);

    // Pages by id.
    let no_filter = AuditFilter::default();
    let pages = read_pages(4, |p| d.list_audit_events(&no_filter, p)).await;
    assert_eq!(pages.len(), 2);
    assert_eq!(pages[0].next, Some(pages[0].items[3].id.to_string()));
    assert_eq!(flatten(&pages), items);
    let sign_ins = AuditFilter {
        action: Some("auth.sign-in".into()),
        ..AuditFilter::default()
    };
    let pages = read_pages(2, |p| d.list_audit_events(&sign_ins, p)).await;
    assert_eq!(pages.len(), 2);
    assert_eq!(ids(&flatten(&pages)), ids(&by_action));
}

pub(super) async fn audit_batches_land_together_in_order(d: &dyn Directory) {
    d.record_events(Vec::new()).await.unwrap();
    let none = d
        .list_audit_events(&AuditFilter::default(), all())
        .await
        .unwrap();
    assert_eq!(
        none.items,
        Vec::<AuditEvent>::new(),
        "an empty batch writes nothing"
    );

    let alice = UserId::new();
    let batch = vec![
        NewAuditEvent::new(Actor::User(alice), "broker.credentials.issue", "account:1")
            .with_details(r#"{"n":1}"#),
        NewAuditEvent::new(Actor::System, "key.rotate", "signing-key:k2"),
        NewAuditEvent::new(Actor::User(alice), "broker.credentials.issue", "account:2")
            .with_details(r#"{"n":3}"#),
    ];
    d.record_events(batch.clone()).await.unwrap();

    let items = d
        .list_audit_events(&AuditFilter::default(), all())
        .await
        .unwrap()
        .items;
    assert_eq!(items.len(), 3, "{items:?}");
    // Newest first, so the batch reads back reversed: ids follow the order given.
    let oldest_first: Vec<&AuditEvent> = items.iter().rev().collect();
    for pair in oldest_first.windows(2) {
        assert!(pair[0].id < pair[1].id, "{pair:?}");
    }
    assert_recorded_as(oldest_first.iter().copied(), &batch);
}

/// Each stored event carries what was recorded (in the same order), at a recent time.
fn assert_recorded_as<'a>(got: impl Iterator<Item = &'a AuditEvent>, wanted: &[NewAuditEvent]) {
    for (got, want) in got.zip(wanted) {
        assert_eq!(
            (&got.actor, &got.action, &got.target, &got.details),
            (
                &want.actor.to_string(),
                &want.action,
                &want.target,
                &want.details
            )
        );
        assert_recent(got.time);
    }
}
