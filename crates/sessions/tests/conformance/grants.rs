//! The grant store's contract ([`portcullis_sessions::grants`]) on every backend: single use of
//! codes and device codes, even under concurrency; reuse of a code or of a rotated refresh token
//! revokes the family; the grace window of a rotation; expiry by the injected clock.

use super::*;
use portcullis_sessions::grants::{
    CodeRecord, CodeState, DeviceKey, DeviceRecord, DeviceStatus, FamilyRecord, Grant, GrantError,
    GrantStore, Redemption, RefreshRecord, Spent, Write, key_of,
};

conformance!(
    code_is_redeemed_once,
    code_has_one_redemption_under_concurrency,
    code_reuse_revokes_the_family,
    code_expires_by_the_clock,
    refresh_rotates_once,
    refresh_has_one_rotation_under_concurrency,
    rotated_refresh_reuse_revokes_the_family,
    rotated_refresh_is_answered_again_within_the_grace_window,
    refresh_expires_by_the_clock,
    legacy_rotation_note_revokes_the_family,
    family_lives_until_revoked_or_expired,
    device_code_is_redeemed_once_after_approval,
    device_code_is_denied_and_forgotten,
    device_code_expires_by_the_clock,
    revoked_jti_is_remembered_until_expiry,
    undecodable_record_is_corrupt,
);

const CLIENT: &str = "client-a";
const MIN: Duration = Duration::from_secs(60);
const HOUR: Duration = Duration::from_secs(3_600);

fn grants<'a>(s: &'a Store, clock: &'a ManualClock) -> GrantStore<'a> {
    GrantStore::new(&**s, clock)
}

fn grant(user: UserId) -> Grant {
    Grant {
        user_id: user,
        session_id: SessionToken::generate().id(),
        client_id: CLIENT.into(),
        scopes: vec!["openid".into(), "profile".into()],
        auth_time: start_time(),
        amr: vec!["pwd".into()],
        nonce: Some("n-1".into()),
    }
}

fn code_record(grant: &Grant) -> CodeRecord {
    CodeRecord {
        grant: grant.clone(),
        redirect_uri: "https://app.example/cb".into(),
        redirect_uri_presented: true,
        code_challenge: None,
    }
}

fn family_of(grant: &Grant) -> FamilyRecord {
    FamilyRecord {
        user_id: grant.user_id,
        session_id: grant.session_id.clone(),
        client_id: grant.client_id.clone(),
    }
}

fn refresh_of(grant: &Grant, family: &str, clock: &ManualClock, ttl: Duration) -> RefreshRecord {
    RefreshRecord {
        grant: grant.clone(),
        family: family.to_owned(),
        expires_at: clock.now() + chrono::Duration::from_std(ttl).unwrap(),
    }
}

/// What a code's redemption writes: the family and a refresh token.
fn issued(grant: &Grant, family: &str, refresh: &str, clock: &ManualClock) -> Vec<Write> {
    vec![
        Write::family(family, &family_of(grant), HOUR).unwrap(),
        Write::refresh(refresh, &refresh_of(grant, family, clock, HOUR), HOUR).unwrap(),
    ]
}

/// A live family with one refresh token, as a redeemed code leaves them.
async fn redeemed(g: &GrantStore<'_>, clock: &ManualClock, family: &str, refresh: &str) -> Grant {
    let grant = grant(UserId::new());
    let code = format!("code-for-{family}");
    g.issue_code(&code, &code_record(&grant), MIN)
        .await
        .unwrap();
    let writes = issued(&grant, family, refresh, clock);
    assert_eq!(
        g.redeem_code(&code, family, &writes).await.unwrap(),
        Redemption::Redeemed
    );
    grant
}

// ---- authorization codes ----

async fn code_is_redeemed_once(s: &Store, clock: &ManualClock) {
    let g = grants(s, clock);
    let grant = grant(UserId::new());
    let record = code_record(&grant);
    g.issue_code("code-1", &record, MIN).await.unwrap();
    assert_eq!(
        g.code("code-1").await.unwrap(),
        CodeState::Waiting(Box::new(record.clone()))
    );
    // Looking does not spend it.
    assert_eq!(
        g.code("code-1").await.unwrap(),
        CodeState::Waiting(Box::new(record))
    );
    assert_eq!(g.code("code-2").await.unwrap(), CodeState::Unknown);
    // Only the hash of the code is a key.
    assert_eq!(s.get("oidc-code", "code-1").await.unwrap(), None);
    assert!(
        s.get("oidc-code", &key_of("code-1"))
            .await
            .unwrap()
            .is_some()
    );

    let writes = issued(&grant, "fam-1", "refresh-1", clock);
    assert_eq!(
        g.redeem_code("code-1", "fam-1", &writes).await.unwrap(),
        Redemption::Redeemed
    );
    assert_eq!(g.family("fam-1").await.unwrap(), Some(family_of(&grant)));
    let refresh = g.refresh("refresh-1").await.unwrap().unwrap();
    assert_eq!(refresh.family, "fam-1");
    assert_eq!(refresh.grant, grant);
}

async fn code_has_one_redemption_under_concurrency(s: &Store, clock: &ManualClock) {
    let g = grants(s, clock);
    let grant = grant(UserId::new());
    g.issue_code("code-c", &code_record(&grant), MIN)
        .await
        .unwrap();
    let w1 = issued(&grant, "fam-a", "refresh-a", clock);
    let w2 = issued(&grant, "fam-b", "refresh-b", clock);
    let (a, b) = tokio::join!(
        g.redeem_code("code-c", "fam-a", &w1),
        g.redeem_code("code-c", "fam-b", &w2)
    );
    let outcomes = [a.unwrap(), b.unwrap()];
    let won: Vec<_> = outcomes
        .iter()
        .filter(|o| **o == Redemption::Redeemed)
        .collect();
    assert_eq!(won.len(), 1, "exactly one redemption wins: {outcomes:?}");
    assert!(outcomes.contains(&Redemption::Replayed), "{outcomes:?}");
    // The loser wrote nothing; its second use of the code revoked the winner's family.
    let loser = if outcomes[0] == Redemption::Redeemed {
        "b"
    } else {
        "a"
    };
    assert_eq!(g.refresh(&format!("refresh-{loser}")).await.unwrap(), None);
    assert_eq!(g.family("fam-a").await.unwrap(), None);
    assert_eq!(g.family("fam-b").await.unwrap(), None);
}

async fn code_reuse_revokes_the_family(s: &Store, clock: &ManualClock) {
    let g = grants(s, clock);
    let grant = redeemed(&g, clock, "fam-r", "refresh-r").await;
    assert!(g.family("fam-r").await.unwrap().is_some());
    // Presented again: looked at, or redeemed — either revokes what the first redemption issued.
    assert_eq!(g.code("code-for-fam-r").await.unwrap(), CodeState::Replayed);
    assert_eq!(g.family("fam-r").await.unwrap(), None);

    let again = redeemed(&g, clock, "fam-s", "refresh-s").await;
    let writes = issued(&again, "fam-t", "refresh-t", clock);
    assert_eq!(
        g.redeem_code("code-for-fam-s", "fam-t", &writes)
            .await
            .unwrap(),
        Redemption::Replayed
    );
    assert_eq!(g.family("fam-s").await.unwrap(), None);
    assert_eq!(g.family("fam-t").await.unwrap(), None);
    assert_eq!(g.refresh("refresh-t").await.unwrap(), None);
    let _ = grant;
}

async fn code_expires_by_the_clock(s: &Store, clock: &ManualClock) {
    let g = grants(s, clock);
    let grant = grant(UserId::new());
    g.issue_code("code-e", &code_record(&grant), MIN)
        .await
        .unwrap();
    clock.advance(secs(59));
    assert!(matches!(
        g.code("code-e").await.unwrap(),
        CodeState::Waiting(_)
    ));
    clock.advance(secs(2));
    assert_eq!(g.code("code-e").await.unwrap(), CodeState::Unknown);
    let writes = issued(&grant, "fam-e", "refresh-e", clock);
    assert_eq!(
        g.redeem_code("code-e", "fam-e", &writes).await.unwrap(),
        Redemption::Unknown
    );
    assert_eq!(g.family("fam-e").await.unwrap(), None);
    assert_eq!(g.refresh("refresh-e").await.unwrap(), None);
}

// ---- refresh tokens ----

/// Rotates `old` into `new` (same family); the answer sealed is `answer`.
async fn rotate(
    g: &GrantStore<'_>,
    clock: &ManualClock,
    old: &str,
    new: &str,
    answer: &[u8],
) -> bool {
    let record = g.refresh(old).await.unwrap().expect("a live refresh token");
    let next = refresh_of(&record.grant, &record.family, clock, HOUR);
    let writes = vec![Write::refresh(new, &next, HOUR).unwrap()];
    g.rotate_refresh(old, &record, answer.to_vec(), &writes)
        .await
        .unwrap()
}

async fn refresh_rotates_once(s: &Store, clock: &ManualClock) {
    let g = grants(s, clock);
    redeemed(&g, clock, "fam-1", "r1").await;
    let stale = g.refresh("r1").await.unwrap().unwrap();
    assert!(rotate(&g, clock, "r1", "r2", b"answer-1").await);
    assert_eq!(g.refresh("r1").await.unwrap(), None);
    assert_eq!(g.refresh("r2").await.unwrap().unwrap().family, "fam-1");
    // The spent token cannot be rotated again, and that attempt writes nothing.
    let writes = vec![Write::refresh("r3", &stale, HOUR).unwrap()];
    assert!(
        !g.rotate_refresh("r1", &stale, b"x".to_vec(), &writes)
            .await
            .unwrap()
    );
    assert_eq!(g.refresh("r3").await.unwrap(), None);
    // The successor rotates in turn.
    assert!(rotate(&g, clock, "r2", "r3", b"answer-2").await);
    assert!(g.family("fam-1").await.unwrap().is_some());
    // Deleting a live token (revocation) leaves nothing to find.
    g.delete_refresh("r3").await.unwrap();
    assert_eq!(g.refresh("r3").await.unwrap(), None);
    assert_eq!(
        g.spent_refresh("r3", CLIENT, MIN).await.unwrap(),
        Spent::Unknown
    );
}

async fn refresh_has_one_rotation_under_concurrency(s: &Store, clock: &ManualClock) {
    let g = grants(s, clock);
    redeemed(&g, clock, "fam-c", "rc").await;
    let record = g.refresh("rc").await.unwrap().unwrap();
    let next = refresh_of(&record.grant, "fam-c", clock, HOUR);
    let wa = vec![Write::refresh("rc-a", &next, HOUR).unwrap()];
    let wb = vec![Write::refresh("rc-b", &next, HOUR).unwrap()];
    let (a, b) = tokio::join!(
        g.rotate_refresh("rc", &record, b"a".to_vec(), &wa),
        g.rotate_refresh("rc", &record, b"b".to_vec(), &wb)
    );
    let (a, b) = (a.unwrap(), b.unwrap());
    assert!(a ^ b, "exactly one rotation wins: {a} {b}");
    let (winner, loser) = if a {
        ("rc-a", "rc-b")
    } else {
        ("rc-b", "rc-a")
    };
    assert!(g.refresh(winner).await.unwrap().is_some());
    assert_eq!(g.refresh(loser).await.unwrap(), None);
    // The loser (perhaps the client's own retry) finds the winner's answer within the window.
    let Spent::Retry { answer, .. } = g.spent_refresh("rc", CLIENT, MIN).await.unwrap() else {
        panic!("a retry within the grace window");
    };
    assert_eq!(answer, if a { b"a".to_vec() } else { b"b".to_vec() });
}

async fn rotated_refresh_reuse_revokes_the_family(s: &Store, clock: &ManualClock) {
    let g = grants(s, clock);
    // Outside the grace window.
    redeemed(&g, clock, "fam-late", "late-1").await;
    assert!(rotate(&g, clock, "late-1", "late-2", b"ans").await);
    clock.advance(secs(31));
    assert_eq!(
        g.spent_refresh("late-1", CLIENT, Duration::from_secs(30))
            .await
            .unwrap(),
        Spent::Revoked
    );
    assert_eq!(g.family("fam-late").await.unwrap(), None);

    // Within the window, but from another client.
    redeemed(&g, clock, "fam-other", "other-1").await;
    assert!(rotate(&g, clock, "other-1", "other-2", b"ans").await);
    assert_eq!(
        g.spent_refresh("other-1", "client-b", MIN).await.unwrap(),
        Spent::Revoked
    );
    assert_eq!(g.family("fam-other").await.unwrap(), None);

    // With no grace window at all, any second presentation is reuse.
    redeemed(&g, clock, "fam-zero", "zero-1").await;
    assert!(rotate(&g, clock, "zero-1", "zero-2", b"ans").await);
    clock.advance(chrono::Duration::milliseconds(1));
    assert_eq!(
        g.spent_refresh("zero-1", CLIENT, Duration::ZERO)
            .await
            .unwrap(),
        Spent::Revoked
    );
    assert_eq!(g.family("fam-zero").await.unwrap(), None);
    // A token never issued is nobody's reuse.
    assert_eq!(
        g.spent_refresh("never", CLIENT, MIN).await.unwrap(),
        Spent::Unknown
    );
}

async fn rotated_refresh_is_answered_again_within_the_grace_window(s: &Store, clock: &ManualClock) {
    let g = grants(s, clock);
    redeemed(&g, clock, "fam-g", "g1").await;
    assert!(rotate(&g, clock, "g1", "g2", b"sealed answer").await);
    clock.advance(secs(30));
    let retry = Spent::Retry {
        family: "fam-g".into(),
        answer: b"sealed answer".to_vec(),
    };
    // As often as the client retries, up to the window's end, the family untouched.
    assert_eq!(
        g.spent_refresh("g1", CLIENT, Duration::from_secs(30))
            .await
            .unwrap(),
        retry
    );
    assert_eq!(
        g.spent_refresh("g1", CLIENT, Duration::from_secs(30))
            .await
            .unwrap(),
        retry
    );
    assert!(g.family("fam-g").await.unwrap().is_some());
    assert!(g.refresh("g2").await.unwrap().is_some());
    // A family that ended meanwhile gets no answer: the presentation is reuse.
    g.revoke_family("fam-g").await.unwrap();
    assert_eq!(
        g.spent_refresh("g1", CLIENT, Duration::from_secs(30))
            .await
            .unwrap(),
        Spent::Revoked
    );
}

async fn refresh_expires_by_the_clock(s: &Store, clock: &ManualClock) {
    let g = grants(s, clock);
    let grant = redeemed(&g, clock, "fam-x", "unused").await;
    let record = refresh_of(&grant, "fam-x", clock, MIN);
    let code = "code-x2";
    g.issue_code(code, &code_record(&grant), MIN).await.unwrap();
    let writes = vec![Write::refresh("short", &record, MIN).unwrap()];
    assert_eq!(
        g.redeem_code(code, "fam-x", &writes).await.unwrap(),
        Redemption::Redeemed
    );
    assert!(g.refresh("short").await.unwrap().is_some());
    clock.advance(secs(61));
    assert_eq!(g.refresh("short").await.unwrap(), None);
    assert_eq!(
        g.spent_refresh("short", CLIENT, MIN).await.unwrap(),
        Spent::Unknown
    );

    // A rotated token's note lasts as long as the token would have: then it is forgotten.
    redeemed(&g, clock, "fam-y", "y1").await;
    let y1 = g.refresh("y1").await.unwrap().unwrap();
    assert!(rotate(&g, clock, "y1", "y2", b"a").await);
    clock.advance(chrono::Duration::from_std(HOUR).unwrap() + secs(1));
    assert!(y1.expires_at < clock.now());
    assert_eq!(
        g.spent_refresh("y1", CLIENT, MIN).await.unwrap(),
        Spent::Unknown
    );
}

async fn legacy_rotation_note_revokes_the_family(s: &Store, clock: &ManualClock) {
    let g = grants(s, clock);
    redeemed(&g, clock, "fam-old", "old-1").await;
    // What rotations wrote before answers were kept: the family id itself.
    s.put("oidc-refresh-used", &key_of("old-0"), b"fam-old", HOUR)
        .await
        .unwrap();
    assert_eq!(
        g.spent_refresh("old-0", CLIENT, MIN).await.unwrap(),
        Spent::Revoked
    );
    assert_eq!(g.family("fam-old").await.unwrap(), None);
}

// ---- families ----

async fn family_lives_until_revoked_or_expired(s: &Store, clock: &ManualClock) {
    let g = grants(s, clock);
    let grant = grant(UserId::new());
    g.issue_code("code-f", &code_record(&grant), MIN)
        .await
        .unwrap();
    let writes = vec![
        Write::family("fam-short", &family_of(&grant), MIN).unwrap(),
        Write::family("fam-long", &family_of(&grant), HOUR).unwrap(),
    ];
    assert_eq!(
        g.redeem_code("code-f", "fam-long", &writes).await.unwrap(),
        Redemption::Redeemed
    );
    assert_eq!(
        g.family("fam-short").await.unwrap(),
        Some(family_of(&grant))
    );
    g.revoke_family("fam-long").await.unwrap();
    assert_eq!(g.family("fam-long").await.unwrap(), None);
    // Revoking what is gone is no error.
    g.revoke_family("fam-long").await.unwrap();
    g.revoke_family("fam-none").await.unwrap();
    clock.advance(secs(61));
    assert_eq!(g.family("fam-short").await.unwrap(), None);
}

// ---- device codes ----

fn device_record(clock: &ManualClock, user_code: &str) -> DeviceRecord {
    DeviceRecord {
        client_id: CLIENT.into(),
        scopes: vec!["openid".into()],
        user_code: user_code.into(),
        status: DeviceStatus::Pending,
        interval: 5,
        last_poll: None,
        expires_at: clock.now() + mins(10),
    }
}

async fn device_code_is_redeemed_once_after_approval(s: &Store, clock: &ManualClock) {
    let g = grants(s, clock);
    let record = device_record(clock, "BCDF-GHJK");
    g.start_device("device-1", &record, Duration::from_secs(600))
        .await
        .unwrap();
    let key = DeviceKey::of("device-1");
    assert_eq!(g.device(&key).await.unwrap(), Some(record.clone()));
    // The browser finds it by the user code, and records the person's approval.
    let (found, mut pending) = g.pending_device("BCDF-GHJK").await.unwrap().unwrap();
    assert_eq!(found, key);
    assert_eq!(g.pending_device("BCDF-GHJL").await.unwrap(), None);
    let grant = grant(UserId::new());
    pending.status = DeviceStatus::Approved {
        grant: grant.clone(),
    };
    g.update_device(&found, &pending).await.unwrap();
    // Decided: no longer offered for a decision.
    assert_eq!(g.pending_device("BCDF-GHJK").await.unwrap(), None);
    let approved = g.device(&key).await.unwrap().unwrap();
    assert_eq!(
        approved.status,
        DeviceStatus::Approved {
            grant: grant.clone()
        }
    );

    // Two polls redeem at once: exactly one gets the tokens.
    let wa = issued(&grant, "fam-da", "refresh-da", clock);
    let wb = issued(&grant, "fam-db", "refresh-db", clock);
    let (a, b) = tokio::join!(
        g.redeem_device(&key, &approved, &wa),
        g.redeem_device(&key, &approved, &wb)
    );
    let (a, b) = (a.unwrap(), b.unwrap());
    assert!(a ^ b, "exactly one redemption wins: {a} {b}");
    let (won, lost) = if a {
        ("fam-da", "fam-db")
    } else {
        ("fam-db", "fam-da")
    };
    assert!(g.family(won).await.unwrap().is_some());
    assert_eq!(g.family(lost).await.unwrap(), None);
    // Spent: gone by device code and by user code.
    assert_eq!(g.device(&key).await.unwrap(), None);
    assert_eq!(s.get("oidc-user-code", "BCDF-GHJK").await.unwrap(), None);
    assert!(!g.redeem_device(&key, &approved, &wa).await.unwrap());
}

async fn device_code_is_denied_and_forgotten(s: &Store, clock: &ManualClock) {
    let g = grants(s, clock);
    let record = device_record(clock, "MNPQ-RSTV");
    g.start_device("device-d", &record, Duration::from_secs(600))
        .await
        .unwrap();
    let (key, mut pending) = g.pending_device("MNPQ-RSTV").await.unwrap().unwrap();
    pending.status = DeviceStatus::Denied;
    g.update_device(&key, &pending).await.unwrap();
    assert_eq!(
        g.device(&key).await.unwrap().unwrap().status,
        DeviceStatus::Denied
    );
    assert_eq!(g.pending_device("MNPQ-RSTV").await.unwrap(), None);
    g.forget_device(&key).await.unwrap();
    assert_eq!(g.device(&key).await.unwrap(), None);
    let _ = s;
}

async fn device_code_expires_by_the_clock(s: &Store, clock: &ManualClock) {
    let g = grants(s, clock);
    let mut record = device_record(clock, "WXZB-CDFG");
    g.start_device("device-e", &record, Duration::from_secs(600))
        .await
        .unwrap();
    let key = DeviceKey::of("device-e");
    clock.advance(mins(5));
    // A poll noted keeps the expiry it had.
    record.last_poll = Some(clock.now());
    g.update_device(&key, &record).await.unwrap();
    assert_eq!(g.device(&key).await.unwrap(), Some(record.clone()));
    clock.advance(mins(5) + secs(1));
    assert_eq!(g.device(&key).await.unwrap(), None);
    assert_eq!(g.pending_device("WXZB-CDFG").await.unwrap(), None);
    assert!(!g.redeem_device(&key, &record, &[]).await.unwrap());
    let _ = s;
}

// ---- revoked access tokens ----

async fn revoked_jti_is_remembered_until_expiry(s: &Store, clock: &ManualClock) {
    let g = grants(s, clock);
    assert!(!g.is_jti_revoked("jti-1").await.unwrap());
    g.revoke_jti("jti-1", clock.now() + mins(1)).await.unwrap();
    assert!(g.is_jti_revoked("jti-1").await.unwrap());
    assert!(!g.is_jti_revoked("jti-2").await.unwrap());
    // A token that has expired already needs no note.
    g.revoke_jti("jti-2", clock.now() - mins(1)).await.unwrap();
    assert!(!g.is_jti_revoked("jti-2").await.unwrap());
    clock.advance(secs(61));
    assert!(!g.is_jti_revoked("jti-1").await.unwrap());
}

async fn undecodable_record_is_corrupt(s: &Store, clock: &ManualClock) {
    let g = grants(s, clock);
    s.put("oidc-code", &key_of("bad"), b"\xff not json", MIN)
        .await
        .unwrap();
    assert!(matches!(g.code("bad").await, Err(GrantError::Corrupt(_))));
    s.put("oidc-family", "fam-bad", b"{}", MIN).await.unwrap();
    assert!(matches!(
        g.family("fam-bad").await,
        Err(GrantError::Corrupt(_))
    ));
}
