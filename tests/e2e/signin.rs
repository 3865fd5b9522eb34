//! Sign-in, sessions and their policies over HTTP, as a browser drives them (both directory
//! backends; the embedded session store, and Redis in `sessions_on_redis`).

use portcullis_testkit::{Browser, PASSWORD};
use serde_json::json;

use crate::helpers::TestApp;
// A person with the test password, MFA off: only the first factor is tested.
use crate::oidc_support::{mfa_off, person};
use crate::on_both_backends;

on_both_backends!(
    password_sign_in_reaches_the_portal_and_sign_out_ends_it,
    unknown_user_and_wrong_password_look_the_same,
    failed_attempts_are_throttled,
    forms_without_the_csrf_token_are_refused,
    return_to_survives_and_never_leaves_our_origin,
    admin_one_time_password_forces_a_new_password,
    first_sign_in_by_emailed_one_time_password,
    first_sign_in_codes_cannot_flood_a_mailbox,
    a_name_without_a_password_looks_like_an_unknown_name,
    mfa_policy_without_devices,
    trusted_browser_skips_the_code_when_context_is_unchanged,
    revocation_by_admin_and_by_disabling,
    sessions_expire_by_the_clock_and_follow_the_setting,
);

async fn password_sign_in_reaches_the_portal_and_sign_out_ends_it(app: TestApp) {
    mfa_off(&app).await;
    person(&app, "ada").await;
    let b = Browser::new(&app.base);
    let done = b.sign_in("ada", PASSWORD).await;
    assert_eq!(
        (done.status, done.location.as_deref()),
        (303, Some("/portal")),
        "{done:?}"
    );
    let portal = b.get("/portal").await;
    assert_eq!(portal.status, 200);
    assert!(
        portal.body.contains("ada")
            && portal.body.contains("Accounts")
            && portal.body.contains("Applications")
    );
    // /start sends a signed-in person to the portal.
    assert_eq!(b.get("/start").await.location.as_deref(), Some("/portal"));

    let out = b.post("/signout", &[("csrf", &portal.csrf())]).await;
    assert_eq!(out.location.as_deref(), Some("/start?signed_out=1"));
    let after = b.get("/portal").await;
    assert_eq!(after.status, 303);
    assert!(
        after
            .location
            .as_deref()
            .is_some_and(|l| l.starts_with("/start?return_to="))
    );
    let audit = app.get("audit-events").await;
    let actions: Vec<&str> = audit.body["events"]
        .as_array()
        .expect("events")
        .iter()
        .filter_map(|e| e["action"].as_str())
        .filter(|a| a.starts_with("signin.") || *a == "signout")
        .collect();
    assert_eq!(actions, ["signout", "signin.success"]);
}

async fn unknown_user_and_wrong_password_look_the_same(app: TestApp) {
    mfa_off(&app).await;
    person(&app, "bea").await;
    let wrong = Browser::new(&app.base)
        .sign_in("bea", "not-her-password")
        .await;
    let unknown = Browser::new(&app.base)
        .sign_in("bea2", "not-her-password")
        .await;
    assert_eq!(wrong.status, 401);
    assert_eq!(unknown.status, 401);
    let strip = |p: &portcullis_testkit::Page| p.body.replace(&p.csrf(), "").replace("bea2", "bea");
    assert_eq!(
        strip(&wrong),
        strip(&unknown),
        "the two answers differ only by what was typed"
    );
    assert!(wrong.body.contains("Incorrect username or password."));
}

async fn failed_attempts_are_throttled(app: TestApp) {
    mfa_off(&app).await;
    person(&app, "cyd").await;
    let b = Browser::new(&app.base);
    for _ in 0..5 {
        assert_eq!(b.sign_in("cyd", "wrong-password").await.status, 401);
    }
    let locked = b.sign_in("cyd", PASSWORD).await;
    assert_eq!(
        locked.status, 429,
        "even the right password waits: {locked:?}"
    );
    assert!(
        locked
            .body
            .contains("Too many failed attempts. Try again in 15 minutes."),
        "{}",
        locked.body
    );
    // Another person is not affected.
    person(&app, "dee").await;
    assert_eq!(
        Browser::new(&app.base)
            .sign_in("dee", PASSWORD)
            .await
            .status,
        303
    );
}

async fn forms_without_the_csrf_token_are_refused(app: TestApp) {
    mfa_off(&app).await;
    person(&app, "eve").await;
    let b = Browser::new(&app.base);
    let start = b.get("/start").await;
    let forged = b
        .post(
            "/signin/username",
            &[("csrf", "forged"), ("username", "eve")],
        )
        .await;
    assert_eq!(forged.status, 403);
    // A form posted from another site carries no CSRF cookie at all.
    let stranger = Browser::new(&app.base);
    let cross = stranger
        .post(
            "/signin/username",
            &[("csrf", &start.csrf()), ("username", "eve")],
        )
        .await;
    assert_eq!(cross.status, 403);
    let done = b.sign_in("eve", PASSWORD).await;
    assert_eq!(done.status, 303);
    let signout = b.post("/signout", &[("csrf", "nope")]).await;
    assert_eq!(signout.status, 403);
    assert_eq!(
        b.get("/portal").await.status,
        200,
        "a refused sign-out changes nothing"
    );
}

async fn return_to_survives_and_never_leaves_our_origin(app: TestApp) {
    mfa_off(&app).await;
    person(&app, "fay").await;
    let b = Browser::new(&app.base);
    let bounce = b.get("/portal?tab=applications").await;
    assert_eq!(
        bounce.location.as_deref(),
        Some("/start?return_to=%2Fportal%3Ftab%3Dapplications")
    );
    let start = b.get(bounce.location.as_deref().expect("location")).await;
    assert_eq!(
        start.field("return_to").as_deref(),
        Some("/portal?tab=applications")
    );
    let name = b
        .post(
            "/signin/username",
            &[
                ("csrf", &start.csrf()),
                ("username", "fay"),
                ("return_to", "/portal?tab=applications"),
            ],
        )
        .await;
    assert_eq!(name.status, 303);
    let form = b.get("/signin/password").await;
    let done = b
        .post(
            "/signin/password",
            &[("csrf", &form.csrf()), ("password", PASSWORD)],
        )
        .await;
    assert_eq!(done.location.as_deref(), Some("/portal?tab=applications"));

    for evil in [
        "https://evil.example/",
        "//evil.example/x",
        "/\\evil.example",
    ] {
        let b = Browser::new(&app.base);
        let start = b.get("/start").await;
        assert!(start.field("return_to").is_none());
        b.post(
            "/signin/username",
            &[
                ("csrf", &start.csrf()),
                ("username", "fay"),
                ("return_to", evil),
            ],
        )
        .await;
        let form = b.get("/signin/password").await;
        let done = b
            .post(
                "/signin/password",
                &[("csrf", &form.csrf()), ("password", PASSWORD)],
            )
            .await;
        assert_eq!(done.location.as_deref(), Some("/portal"), "{evil}");
    }
}

async fn admin_one_time_password_forces_a_new_password(app: TestApp) {
    mfa_off(&app).await;
    let id = app.user("gus").await;
    let otp = app
        .post(
            &format!("users/{id}/one-time-password"),
            json!({"delivery": "RETURN"}),
        )
        .await;
    assert_eq!(otp.status, 200, "{otp:?}");
    let one_time = otp.body["oneTimePassword"]
        .as_str()
        .expect("password")
        .to_owned();
    let b = Browser::new(&app.base);
    let signed = b.sign_in("gus", &one_time).await;
    assert_eq!(signed.location.as_deref(), Some("/signin/new-password"));
    let form = b.get("/signin/new-password").await;
    assert!(form.body.contains("Choose a new password"));
    for (pw, confirm, why) in [
        ("short", "short", "at least 8"),
        ("password1", "password1", "too common"),
        ("gus@example.com", "gus@example.com", "user name or email"),
        ("Another-Good-One-9", "Different-One-9", "do not match"),
        (
            one_time.as_str(),
            one_time.as_str(),
            "different from the one-time password",
        ),
    ] {
        let f = b.get("/signin/new-password").await;
        let r = b
            .post(
                "/signin/new-password",
                &[
                    ("csrf", &f.csrf()),
                    ("new_password", pw),
                    ("confirm", confirm),
                ],
            )
            .await;
        assert_eq!(r.status, 400, "{why}");
        assert!(r.body.contains(why), "{why}: {}", r.body);
    }
    let f = b.get("/signin/new-password").await;
    let set = b
        .post(
            "/signin/new-password",
            &[
                ("csrf", &f.csrf()),
                ("new_password", PASSWORD),
                ("confirm", PASSWORD),
            ],
        )
        .await;
    assert_eq!(set.location.as_deref(), Some("/portal"), "{set:?}");
    // The one-time password no longer works; the new one does.
    assert_eq!(
        Browser::new(&app.base)
            .sign_in("gus", &one_time)
            .await
            .status,
        401
    );
    assert_eq!(
        Browser::new(&app.base)
            .sign_in("gus", PASSWORD)
            .await
            .location
            .as_deref(),
        Some("/portal")
    );
}

async fn first_sign_in_by_emailed_one_time_password(app: TestApp) {
    let a = app.put("settings", Some(json!({"emailOtp": true, "mfa": {"prompt": "EVERY_SIGN_IN", "noDeviceAction": "EMAIL_CODE"}}))).await;
    assert_eq!(a.status, 200);
    app.user("hal").await;
    let b = Browser::new(&app.base);
    // A person without a password types anything: the answer is that of any failed attempt,
    // and a one-time password goes to their mailbox.
    let first = b.sign_in("hal", "anything").await;
    assert_eq!(first.status, 401, "{first:?}");
    assert!(
        first.body.contains("enter it as your password"),
        "{}",
        first.body
    );
    let mail = app.mails_to("hal@example.com", 1).await.remove(0);
    assert!(mail.contains("one-time password"), "{mail}");
    let code = crate::helpers::six_digits(&mail);

    // A wrong code is a wrong password; the emailed one signs in, once.
    let wrong = b.sign_in("hal", "000000").await;
    assert_eq!(wrong.status, 401);
    let ok = b.sign_in("hal", &code).await;
    assert_eq!(
        ok.location.as_deref(),
        Some("/signin/new-password"),
        "{ok:?}"
    );
    let f = b.get("/signin/new-password").await;
    let set = b
        .post(
            "/signin/new-password",
            &[
                ("csrf", &f.csrf()),
                ("new_password", PASSWORD),
                ("confirm", PASSWORD),
            ],
        )
        .await;
    // The emailed password already proved the mailbox: no second code.
    assert_eq!(set.location.as_deref(), Some("/portal"), "{set:?}");
    // The one-time password is single-use and no longer a password at all.
    let again = Browser::new(&app.base);
    assert_eq!(again.sign_in("hal", &code).await.status, 401);
    let second = again.sign_in("hal", PASSWORD).await;
    assert_eq!(
        second.location.as_deref(),
        Some("/signin/code"),
        "MFA still asks for a fresh code"
    );
    let p = again.get("/signin/code").await;
    assert_eq!(
        again
            .post("/signin/code", &[("csrf", &p.csrf()), ("code", &code)])
            .await
            .status,
        401
    );
}

/// What a client sees after one failed attempt: status, message, and the shape of the page.
fn shape(page: &portcullis_testkit::Page) -> (u16, Option<String>, String) {
    let message = page
        .body
        .split("role=\"alert\">")
        .nth(1)
        .and_then(|rest| rest.split('<').next())
        .map(str::to_owned);
    (
        page.status,
        message,
        page.location.clone().unwrap_or_default(),
    )
}

async fn a_name_without_a_password_looks_like_an_unknown_name(app: TestApp) {
    assert_eq!(
        app.put("settings", Some(json!({"emailOtp": true})))
            .await
            .status,
        200
    );
    app.user("newbie").await;
    person(&app, "veteran").await;
    let base = app.base.clone();
    let attempt = |name: &'static str| {
        let base = base.clone();
        async move { shape(&Browser::new(&base).sign_in(name, "Wrong-guess-123").await) }
    };
    let passwordless = attempt("newbie").await;
    let unknown = attempt("nobody-here").await;
    let with_password = attempt("veteran").await;
    assert_eq!(passwordless.0, 401, "{passwordless:?}");
    assert_eq!(passwordless, unknown, "no password vs unknown name");
    assert_eq!(passwordless, with_password, "no password vs wrong password");
    // Only the real person's mailbox got a code.
    assert_eq!(app.mails_to("newbie@example.com", 1).await.len(), 1);
    let outbox = std::fs::read_dir(app.data_dir.join("outbox"))
        .unwrap()
        .count();
    assert_eq!(outbox, 1, "nothing was sent for the other names");
}

async fn first_sign_in_codes_cannot_flood_a_mailbox(app: TestApp) {
    assert_eq!(
        app.put("settings", Some(json!({"emailOtp": true})))
            .await
            .status,
        200
    );
    app.user("ned").await;
    for attempt in 1..=5 {
        let page = Browser::new(&app.base).sign_in("ned", "anything").await;
        assert_eq!(page.status, 401, "attempt {attempt}: {page:?}");
    }
    let refused = Browser::new(&app.base).sign_in("ned", "anything").await;
    assert_eq!(refused.status, 429, "{refused:?}");
    // One code is live at a time: five attempts sent one message.
    assert_eq!(app.mails_to("ned@example.com", 1).await.len(), 1);
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    assert_eq!(
        app.mails_to("ned@example.com", 1).await.len(),
        1,
        "no second message while the first code lives"
    );
    // After the code lapses (and the lock-out ends), the next attempt sends a new one.
    app.clock.advance(chrono::Duration::minutes(16));
    assert_eq!(
        Browser::new(&app.base)
            .sign_in("ned", "anything")
            .await
            .status,
        401
    );
    assert_eq!(app.mails_to("ned@example.com", 2).await.len(), 2);
}

async fn mfa_policy_without_devices(app: TestApp) {
    person(&app, "ivy").await;
    let set = |action: &'static str, prompt: &'static str| {
        app.put(
            "settings",
            Some(json!({"mfa": {"prompt": prompt, "noDeviceAction": action}})),
        )
    };
    assert_eq!(set("ALLOW", "EVERY_SIGN_IN").await.status, 200);
    assert_eq!(
        Browser::new(&app.base)
            .sign_in("ivy", PASSWORD)
            .await
            .location
            .as_deref(),
        Some("/portal")
    );

    assert_eq!(set("BLOCK", "EVERY_SIGN_IN").await.status, 200);
    let blocked = Browser::new(&app.base).sign_in("ivy", PASSWORD).await;
    assert_eq!(blocked.status, 403);
    assert!(blocked.body.contains("no MFA device is registered"));

    assert_eq!(set("EMAIL_CODE", "EVERY_SIGN_IN").await.status, 200);
    let b = Browser::new(&app.base);
    assert_eq!(
        b.sign_in("ivy", PASSWORD).await.location.as_deref(),
        Some("/signin/code")
    );
    let code = crate::helpers::six_digits(&app.last_mail_to("ivy@example.com"));
    let p = b.get("/signin/code").await;
    assert!(p.body.contains("verification code"));
    let done = b
        .post("/signin/code", &[("csrf", &p.csrf()), ("code", &code)])
        .await;
    assert_eq!(done.location.as_deref(), Some("/portal"));
    let sessions = app
        .get(&format!("users/{}/sessions", app.user_id("ivy").await))
        .await;
    let list = sessions.body["sessions"].as_array().expect("sessions");
    // The test clock stands still, so both sessions start at the same instant: compare as a set.
    let mut amrs: Vec<String> = list.iter().map(|s| s["amr"].to_string()).collect();
    amrs.sort();
    assert_eq!(
        amrs,
        [r#"["pwd","otp","mfa"]"#, r#"["pwd"]"#],
        "the ALLOW sign-in and this one"
    );

    // Five wrong codes start the sign-in over.
    let b = Browser::new(&app.base);
    b.sign_in("ivy", PASSWORD).await;
    let mut last = None;
    for _ in 0..5 {
        let p = b.get("/signin/code").await;
        if p.status != 200 {
            break;
        }
        last = Some(
            b.post("/signin/code", &[("csrf", &p.csrf()), ("code", "999999")])
                .await,
        );
    }
    assert_eq!(
        last.and_then(|l| l.location).as_deref(),
        Some("/start?restart=1")
    );

    assert_eq!(set("ALLOW", "NEVER").await.status, 200);
    assert_eq!(
        Browser::new(&app.base)
            .sign_in("ivy", PASSWORD)
            .await
            .location
            .as_deref(),
        Some("/portal")
    );
}

async fn trusted_browser_skips_the_code_when_context_is_unchanged(app: TestApp) {
    let s = app
        .put(
            "settings",
            Some(json!({"mfa": {"prompt": "CONTEXT_CHANGE", "noDeviceAction": "EMAIL_CODE"}})),
        )
        .await;
    assert_eq!(s.status, 200);
    person(&app, "jon").await;
    let b = Browser::new(&app.base);
    assert_eq!(
        b.sign_in("jon", PASSWORD).await.location.as_deref(),
        Some("/signin/code")
    );
    let code = crate::helpers::six_digits(&app.last_mail_to("jon@example.com"));
    let p = b.get("/signin/code").await;
    assert_eq!(
        b.post("/signin/code", &[("csrf", &p.csrf()), ("code", &code)])
            .await
            .location
            .as_deref(),
        Some("/portal")
    );
    let portal = b.get("/portal").await;
    b.post("/signout", &[("csrf", &portal.csrf())]).await;
    // Same browser: trusted. Another browser: a new context, a new code.
    assert_eq!(
        b.sign_in("jon", PASSWORD).await.location.as_deref(),
        Some("/portal")
    );
    assert_eq!(
        Browser::new(&app.base)
            .sign_in("jon", PASSWORD)
            .await
            .location
            .as_deref(),
        Some("/signin/code")
    );
}

async fn revocation_by_admin_and_by_disabling(app: TestApp) {
    mfa_off(&app).await;
    let id = person(&app, "kim").await;
    let (one, two) = (Browser::new(&app.base), Browser::new(&app.base));
    one.sign_in("kim", PASSWORD).await;
    two.sign_in("kim", PASSWORD).await;
    let list = app.get(&format!("users/{id}/sessions")).await;
    let sessions = list.body["sessions"].as_array().expect("sessions").clone();
    assert_eq!(sessions.len(), 2);
    let first = sessions[0]["sessionId"].as_str().expect("id").to_owned();
    assert_eq!(first.len(), 64);
    assert_eq!(
        app.delete(&format!("users/{id}/sessions/{first}"), None)
            .await
            .status,
        204
    );
    assert_eq!(
        app.delete(&format!("users/{id}/sessions/{first}"), None)
            .await
            .status,
        404
    );
    let (a, b) = (
        one.get("/portal").await.status,
        two.get("/portal").await.status,
    );
    assert_eq!(
        [a, b].iter().filter(|s| **s == 200).count(),
        1,
        "exactly one session is left"
    );

    let gone = app.delete(&format!("users/{id}/sessions"), None).await;
    assert_eq!(gone.body["revoked"], 1);
    assert_eq!(two.get("/portal").await.status, 303);

    let three = Browser::new(&app.base);
    three.sign_in("kim", PASSWORD).await;
    assert_eq!(three.get("/portal").await.status, 200);
    assert_eq!(
        app.patch(&format!("users/{id}"), json!({"enabled": false}))
            .await
            .status,
        200
    );
    let bounced = three.get("/portal").await;
    assert_eq!(bounced.status, 303);
    assert!(
        bounced
            .location
            .as_deref()
            .is_some_and(|l| l.contains("expired=1")),
        "{bounced:?}"
    );
    assert_eq!(
        app.get(&format!("users/{id}/sessions")).await.body["sessions"],
        json!([])
    );
    // A disabled person cannot sign in, with the usual message.
    assert_eq!(
        Browser::new(&app.base)
            .sign_in("kim", PASSWORD)
            .await
            .status,
        401
    );
    let bad = app
        .delete(&format!("users/{id}/sessions/not-hex"), None)
        .await;
    assert_eq!(bad.fields(), ["sessionId"]);
}

async fn sessions_expire_by_the_clock_and_follow_the_setting(app: TestApp) {
    mfa_off(&app).await;
    person(&app, "lou").await;
    let b = Browser::new(&app.base);
    b.sign_in("lou", PASSWORD).await;
    app.clock
        .advance(chrono::Duration::hours(8) - chrono::Duration::minutes(1));
    assert_eq!(b.get("/portal").await.status, 200, "8 hours by default");
    app.clock.advance(chrono::Duration::minutes(2));
    let expired = b.get("/portal").await;
    assert!(
        expired
            .location
            .as_deref()
            .is_some_and(|l| l.contains("expired=1")),
        "{expired:?}"
    );
    let start = b.get(expired.location.as_deref().expect("location")).await;
    assert!(start.body.contains("Your session has ended"));

    // A changed setting applies to sessions created afterwards.
    assert_eq!(
        app.put("settings", Some(json!({"sessionDuration": "PT15M"})))
            .await
            .status,
        200
    );
    let c = Browser::new(&app.base);
    c.sign_in("lou", PASSWORD).await;
    app.clock.advance(chrono::Duration::minutes(14));
    assert_eq!(c.get("/portal").await.status, 200);
    app.clock.advance(chrono::Duration::minutes(2));
    assert_eq!(c.get("/portal").await.status, 303);
}

fn behind_proxy(app: &TestApp, client: &str) -> Browser {
    let mut headers = reqwest::header::HeaderMap::new();
    headers.insert("x-forwarded-for", client.parse().expect("header"));
    Browser::with_headers(&app.base, headers)
}

async fn address_throttle(trusted: bool) -> (u16, u16) {
    let app = crate::helpers::spawn_app_configured(crate::helpers::Backend::Sqlite, |c| {
        c.signin.max_failures_per_address = 3;
        c.signin.max_failures_per_user = 100;
        if trusted {
            c.signin.trusted_proxies = vec!["127.0.0.1".parse().expect("ip")];
        }
    })
    .await;
    mfa_off(&app).await;
    person(&app, "pia").await;
    for name in ["x1", "x2", "x3"] {
        assert_eq!(
            behind_proxy(&app, "203.0.113.7")
                .sign_in(name, "wrong")
                .await
                .status,
            401
        );
    }
    let same_client = behind_proxy(&app, "203.0.113.7")
        .sign_in("pia", PASSWORD)
        .await
        .status;
    let other_client = behind_proxy(&app, "198.51.100.9")
        .sign_in("pia", PASSWORD)
        .await
        .status;
    (same_client, other_client)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_trusted_proxy_names_the_client_for_throttling() {
    // Behind a trusted proxy: the failing client is locked, everyone else signs in.
    assert_eq!(address_throttle(true).await, (429, 303));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forwarded_headers_from_anyone_else_are_ignored() {
    // Not a trusted proxy: the header is ignored, so all these requests are one address.
    assert_eq!(address_throttle(false).await, (429, 429));
}
