//! The review's sign-in findings, driven as an attacker would: bursts of parallel guesses at
//! passwords, emailed codes, authenticator codes and device user codes; guesses spread over an
//! IPv6 /64; a security key used where the MFA policy allows only authenticator apps; MFA devices
//! changed with an old session. Each test failed before its fix.

use portcullis_testkit::{Browser, Page};
use serde_json::json;
use tokio::task::JoinSet;
use webauthn_authenticator_rs::prelude::{RequestChallengeResponse, WebauthnAuthenticator};
use webauthn_authenticator_rs::softpasskey::SoftPasskey;

use crate::helpers::{Backend, TestApp, spawn_app_configured};
use crate::mfa_totp;
use crate::oidc_support::mfa_off;
use crate::on_both_backends;

on_both_backends!(
    a_burst_of_password_guesses_checks_at_most_the_limit,
    a_burst_across_names_checks_at_most_the_address_limit,
    a_burst_of_emailed_code_guesses_checks_at_most_the_tries,
    a_burst_of_authenticator_codes_checks_at_most_the_tries,
    device_user_codes_are_limited_on_post_too,
    security_keys_follow_the_mfa_policy,
    mfa_devices_change_only_after_a_recent_sign_in,
);

const PASSWORD: &str = mfa_totp::PASSWORD;

/// A browser at the password step for `name`.
async fn at_password(app: &TestApp, name: &str) -> (Browser, String) {
    let b = Browser::new(&app.base);
    let start = b.get("/start").await;
    let sent = b
        .post(
            "/signin/username",
            &[("csrf", &start.csrf()), ("username", name)],
        )
        .await;
    assert_eq!(sent.location.as_deref(), Some("/signin/password"));
    let page = b.get("/signin/password").await;
    (b.clone(), page.csrf())
}

/// Posts each `(path, form)` at once from clones of `b`; the answers in any order.
async fn burst(
    b: &Browser,
    requests: Vec<(&'static str, Vec<(&'static str, String)>)>,
) -> Vec<Page> {
    let mut tasks = JoinSet::new();
    for (path, form) in requests {
        let b = b.clone();
        tasks.spawn(async move {
            let form: Vec<(&str, &str)> = form.iter().map(|(k, v)| (*k, v.as_str())).collect();
            b.post(path, &form).await
        });
    }
    let mut out = Vec::new();
    while let Some(page) = tasks.join_next().await {
        out.push(page.expect("request task"));
    }
    out
}

async fn a_burst_of_password_guesses_checks_at_most_the_limit(app: TestApp) {
    mfa_off(&app).await;
    mfa_totp::person(&app, "zed").await;
    let (b, csrf) = at_password(&app, "zed").await;
    // 60 guesses at once; the right password is among them.
    let guesses = (0..60)
        .map(|i| {
            let password = if i == 30 {
                PASSWORD.to_owned()
            } else {
                format!("wrong guess {i}")
            };
            (
                "/signin/password",
                vec![("csrf", csrf.clone()), ("password", password)],
            )
        })
        .collect();
    let answers = burst(&b, guesses).await;
    // At most the limit of wrong guesses is checked; the right one, when it is checked, gives its
    // place back (a success is not a failure), so at most one more.
    let failed = answers.iter().filter(|p| p.status == 401).count();
    let succeeded = answers
        .iter()
        .filter(|p| p.location.as_deref() == Some("/portal"))
        .count();
    let locked = answers.iter().filter(|p| p.status == 429).count();
    assert!(failed <= 5, "{failed} wrong guesses were checked (limit 5)");
    assert!(succeeded <= 1, "{succeeded}");
    assert_eq!(failed + succeeded + locked, 60, "every guess was answered");
    assert!(locked >= 54, "{locked} were refused unchecked");
    // The window stays locked, even for the right password.
    let (b, csrf) = at_password(&app, "zed").await;
    let after = b
        .post(
            "/signin/password",
            &[("csrf", &csrf), ("password", PASSWORD)],
        )
        .await;
    if answers
        .iter()
        .all(|p| p.location.as_deref() != Some("/portal"))
    {
        assert_eq!(after.status, 429, "{after:?}");
    }
}

async fn a_burst_across_names_checks_at_most_the_address_limit(app: TestApp) {
    mfa_off(&app).await;
    let mut browsers = Vec::new();
    for i in 0..60 {
        browsers.push(at_password(&app, &format!("nobody{i}")).await);
    }
    let mut tasks = JoinSet::new();
    for (b, csrf) in browsers {
        tasks.spawn(async move {
            b.post(
                "/signin/password",
                &[("csrf", &csrf), ("password", "guess")],
            )
            .await
            .status
        });
    }
    let mut statuses = Vec::new();
    while let Some(s) = tasks.join_next().await {
        statuses.push(s.unwrap());
    }
    let checked = statuses.iter().filter(|s| **s == 401).count();
    assert!(
        checked <= 50,
        "{checked} checked from one address (limit 50)"
    );
    assert_eq!(statuses.iter().filter(|s| **s == 429).count(), 60 - checked);
}

async fn a_burst_of_emailed_code_guesses_checks_at_most_the_tries(app: TestApp) {
    let s = app
        .put(
            "settings",
            Some(json!({"mfa": {"prompt": "EVERY_SIGN_IN", "noDeviceAction": "EMAIL_CODE"}})),
        )
        .await;
    assert_eq!(s.status, 200);
    mfa_totp::person(&app, "yan").await;
    let b = Browser::new(&app.base);
    let to = b.sign_in("yan", PASSWORD).await;
    assert_eq!(to.location.as_deref(), Some("/signin/code"), "{to:?}");
    let csrf = b.get("/signin/code").await.csrf();
    let guesses = (0..20)
        .map(|i| {
            (
                "/signin/code",
                vec![
                    ("csrf", csrf.clone()),
                    ("code", format!("{:06}", 100_000 + i)),
                ],
            )
        })
        .collect();
    let answers = burst(&b, guesses).await;
    let checked = answers.iter().filter(|p| p.status == 401).count();
    assert!(
        checked <= 4,
        "{checked} wrong codes checked and answered (5 tries)"
    );
    assert!(
        answers
            .iter()
            .any(|p| p.location.as_deref() == Some("/start?restart=1")),
        "the sign-in started over"
    );
    // The code is gone with the sign-in.
    let code = crate::helpers::six_digits(&app.last_mail_to("yan@example.com"));
    let late = b
        .post("/signin/code", &[("csrf", &csrf), ("code", &code)])
        .await;
    assert_ne!(late.location.as_deref(), Some("/portal"), "{late:?}");
}

async fn a_burst_of_authenticator_codes_checks_at_most_the_tries(app: TestApp) {
    mfa_totp::require_registration(&app).await;
    mfa_totp::person(&app, "xia").await;
    let (b, secret) = mfa_totp::register(&app, "xia", "Phone").await;
    let portal = b.get("/portal").await;
    b.post("/signout", &[("csrf", &portal.csrf())]).await;
    let to = b.sign_in("xia", PASSWORD).await;
    assert_eq!(to.location.as_deref(), Some("/signin/mfa"));
    let csrf = b.get("/signin/mfa").await.csrf();
    let right = mfa_totp::code_at(&secret, mfa_totp::step_now(&app) + 1);
    let guesses = (0..20)
        .map(|i| {
            let code = if i == 10 {
                right.clone()
            } else {
                format!("{:06}", 200_000 + i)
            };
            (
                "/signin/mfa/totp",
                vec![("csrf", csrf.clone()), ("code", code)],
            )
        })
        .collect();
    let answers = burst(&b, guesses).await;
    let checked = answers
        .iter()
        .filter(|p| p.status == 401 || p.location.as_deref() == Some("/portal"))
        .count();
    assert!(checked <= 5, "{checked} codes were checked (limit 5)");
}

async fn device_user_codes_are_limited_on_post_too(app: TestApp) {
    mfa_off(&app).await;
    mfa_totp::person(&app, "wu").await;
    let b = Browser::new(&app.base);
    assert_eq!(
        b.sign_in("wu", PASSWORD).await.location.as_deref(),
        Some("/portal")
    );
    // The approval form echoes the CSRF cookie (any of our forms shows it).
    let csrf = b.get("/portal").await.csrf();
    // Guessing straight at the approval form, 25 at once.
    let guesses = (0..25)
        .map(|i| {
            const ALPHABET: &[u8] = b"BCDFGHJKLMNPQRSTVWXZ";
            let code = format!(
                "BCDF-GH{}{}",
                ALPHABET[i / 20] as char,
                ALPHABET[i % 20] as char
            );
            (
                "/device",
                vec![
                    ("csrf", csrf.clone()),
                    ("user_code", code),
                    ("action", "approve".to_owned()),
                ],
            )
        })
        .collect();
    let answers = burst(&b, guesses).await;
    let refused = answers.iter().filter(|p| p.status == 429).count();
    let looked_up = answers.iter().filter(|p| p.status == 400).count();
    assert!(looked_up <= 20, "{looked_up} codes looked up (limit 20)");
    assert_eq!(refused, 25 - looked_up, "{answers:?}");
    // The page (GET) shares the same count.
    let page = b.get("/device?user_code=BCDF-GHJK").await;
    assert_eq!(page.status, 429, "{page:?}");
}

async fn security_keys_follow_the_mfa_policy(app: TestApp) {
    // Allowed at first: the person registers an authenticator app and a security key.
    mfa_totp::require_registration(&app).await;
    mfa_totp::person(&app, "vera").await;
    let (b, _) = mfa_totp::register(&app, "vera", "Phone").await;
    let mut key = SoftPasskey::new(true);
    let added = crate::mfa_webauthn::register(
        &b,
        "/portal/mfa-devices",
        "/portal/mfa-devices/webauthn",
        &mut key,
        "Key",
    )
    .await;
    assert_eq!(added.status, 303, "{added:?}");
    // Then the administrator allows authenticator apps only.
    let s = app
        .put(
            "settings",
            Some(
                json!({"mfa": {"prompt": "EVERY_SIGN_IN", "allowedTypes": ["AUTHENTICATOR_APP"],
                                "noDeviceAction": "BLOCK"}}),
            ),
        )
        .await;
    assert_eq!(s.status, 200, "{s:?}");
    let portal = b.get("/portal").await;
    b.post("/signout", &[("csrf", &portal.csrf())]).await;
    let to = b.sign_in("vera", PASSWORD).await;
    assert_eq!(to.location.as_deref(), Some("/signin/mfa"));
    let page = b.get("/signin/mfa").await;
    assert!(!page.body.contains("id=\"webauthn-signin\""), "not offered");
    // Asking for a security-key challenge anyway is refused…
    let csrf = page.meta_csrf();
    let (status, body) = b.post_json("/signin/mfa/webauthn/options", &csrf).await;
    assert_eq!(status, 403, "{body}");
    // …and so is an answer from the key (a challenge obtained while keys were allowed).
    let s = app
        .put(
            "settings",
            Some(json!({"mfa": {"prompt": "EVERY_SIGN_IN", "allowedTypes": ["AUTHENTICATOR_APP", "WEBAUTHN"],
                                "noDeviceAction": "BLOCK"}})),
        )
        .await;
    assert_eq!(s.status, 200);
    let (status, options) = b.post_json("/signin/mfa/webauthn/options", &csrf).await;
    assert_eq!(status, 200, "{options}");
    let options: RequestChallengeResponse = serde_json::from_value(options).unwrap();
    let credential = key
        .do_authentication(crate::mfa_webauthn::origin(), options)
        .unwrap();
    let s = app
        .put(
            "settings",
            Some(
                json!({"mfa": {"prompt": "EVERY_SIGN_IN", "allowedTypes": ["AUTHENTICATOR_APP"],
                                "noDeviceAction": "BLOCK"}}),
            ),
        )
        .await;
    assert_eq!(s.status, 200);
    let answer = b
        .post(
            "/signin/mfa/webauthn/verify",
            &[
                ("csrf", &csrf),
                ("credential", &serde_json::to_string(&credential).unwrap()),
            ],
        )
        .await;
    assert_eq!(answer.status, 401, "{answer:?}");
    assert_ne!(b.get("/portal").await.status, 200, "not signed in");
}

async fn mfa_devices_change_only_after_a_recent_sign_in(app: TestApp) {
    mfa_totp::require_registration(&app).await;
    mfa_totp::person(&app, "uma").await;
    let (b, _) = mfa_totp::register(&app, "uma", "Phone").await;
    let devices = app
        .get(&format!("users/{}/mfa-devices", app.user_id("uma").await))
        .await;
    let device = devices.body["devices"][0]["deviceId"]
        .as_str()
        .expect("deviceId")
        .to_owned();
    // Six minutes later (a cookie left on a shared computer, or stolen): no changes.
    app.clock.advance(chrono::Duration::minutes(6));
    let page = b.get("/portal/mfa-devices").await;
    assert_eq!(page.status, 200, "the list is still shown");
    let removed = b
        .post(
            &format!("/portal/mfa-devices/{device}/remove"),
            &[("csrf", &page.csrf())],
        )
        .await;
    let step_up = removed.location.clone().unwrap_or_default();
    assert!(step_up.starts_with("/start?reauth=1"), "{removed:?}");
    assert_eq!(
        b.get("/portal/mfa-devices/totp/new").await.location,
        Some(step_up.clone())
    );
    let (status, body) = b
        .post_json("/portal/mfa-devices/webauthn/options", &page.meta_csrf())
        .await;
    assert_eq!(status, 401, "{body}");
    assert!(
        body["signIn"].as_str().is_some_and(|s| s == step_up),
        "{body}"
    );
    let still = app
        .get(&format!("users/{}/mfa-devices", app.user_id("uma").await))
        .await;
    assert_eq!(still.body["devices"].as_array().unwrap().len(), 1);
    let shown = b.get(&step_up).await;
    assert!(
        shown
            .body
            .contains("sign in again before changing your MFA devices")
    );
}

// ---- the client address of a guess: IPv6 by its /64, through a trusted proxy ----

async fn behind_a_proxy(backend: Backend) -> TestApp {
    spawn_app_configured(backend, |c| {
        c.signin.trusted_proxies = vec!["127.0.0.1".parse().unwrap()];
        c.signin.max_failures_per_address = 3;
    })
    .await
}

async fn guess_from(app: &TestApp, address: &str, name: &str) -> u16 {
    let mut headers = reqwest::header::HeaderMap::new();
    headers.insert("x-forwarded-for", address.parse().unwrap());
    let b = Browser::with_headers(&app.base, headers);
    b.sign_in(name, "guess").await.status
}

async fn ipv6_hosts_of_one_64_count_as_one_address(app: TestApp) {
    mfa_off(&app).await;
    for (i, host) in ["2001:db8:0:1::a", "2001:db8:0:1::b", "2001:db8:0:1:ffff::c"]
        .iter()
        .enumerate()
    {
        assert_eq!(guess_from(&app, host, &format!("n{i}")).await, 401);
    }
    assert_eq!(
        guess_from(&app, "2001:db8:0:1::d", "n9").await,
        429,
        "same /64"
    );
    assert_eq!(
        guess_from(&app, "2001:db8:0:2::1", "n9").await,
        401,
        "another /64"
    );
    assert_eq!(guess_from(&app, "192.0.2.1", "n9").await, 401);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ipv6_hosts_of_one_64_count_as_one_address_sqlite() {
    ipv6_hosts_of_one_64_count_as_one_address(behind_a_proxy(Backend::Sqlite).await).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ipv6_hosts_of_one_64_count_as_one_address_postgres() {
    ipv6_hosts_of_one_64_count_as_one_address(behind_a_proxy(Backend::Postgres).await).await
}
