//! The review's OpenID Connect findings, driven as an attacker would: a client that registers
//! itself through the SSO-OIDC API and sends a person a crafted link; registrations in bulk;
//! `prompt=login` with a forged `login_after`; logout with someone else's ID token; introspection
//! of another client's tokens. Each test failed before its fix.

use portcullis_testkit::{Browser, Page, html_unescape};
use serde_json::{Value, json};

use crate::helpers::TestApp;
use crate::oidc_support::*;
use crate::on_both_backends;

on_both_backends!(
    self_registered_clients_may_only_redirect_to_loopback,
    a_crafted_link_gets_a_consent_page_not_a_code,
    consent_is_remembered_per_client_and_scopes_and_revocable,
    prompt_none_without_consent_is_consent_required,
    device_approval_shows_what_the_client_gets_and_counts_as_consent,
    admin_applications_can_ask_for_consent,
    registrations_are_bounded,
    unused_registrations_expire_early,
    device_authorizations_per_client_are_bounded,
    a_forged_login_after_does_not_skip_prompt_login,
    logout_with_another_persons_id_token_asks_first,
    clients_introspect_only_their_own_tokens,
);

const CALLBACK: &str = "http://127.0.0.1:43117/oauth/callback";

/// `POST /client/register` with `body`: status, `x-amzn-ErrorType`, body.
async fn register(app: &TestApp, body: Value) -> (u16, Option<String>, Value) {
    let resp = app
        .client
        .post(format!("{}/client/register", app.base))
        .json(&body)
        .send()
        .await
        .expect("register");
    let status = resp.status().as_u16();
    let kind = resp
        .headers()
        .get("x-amzn-ErrorType")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    (status, kind, resp.json().await.expect("JSON"))
}

/// What an attacker registers: the CLI's shape, its own name, the accounts scope.
async fn attacker_client(app: &TestApp) -> Value {
    let (status, _, reg) = register(
        app,
        json!({"clientName": "Totally the AWS CLI", "clientType": "public",
               "scopes": ["sso:account:access"],
               "grantTypes": ["authorization_code", "refresh_token"],
               "redirectUris": ["http://127.0.0.1/oauth/callback"]}),
    )
    .await;
    assert_eq!(status, 200, "{reg}");
    reg
}

/// The link the attacker sends: the CLI's authorization request for its client.
fn crafted_link(reg: &Value, pkce: &Pkce) -> String {
    let query = url::form_urlencoded::Serializer::new(String::new())
        .extend_pairs([
            ("response_type", "code"),
            ("client_id", reg["clientId"].as_str().expect("clientId")),
            ("redirect_uri", CALLBACK),
            ("state", STATE),
            ("code_challenge_method", "S256"),
            ("scopes", "sso:account:access"),
            ("code_challenge", &pkce.challenge),
        ])
        .finish();
    format!("/authorize?{query}")
}

/// Answers the consent page with `decision` (`allow` or `deny`).
async fn decide(b: &Browser, consent: &Page, decision: &str) -> Page {
    let request = consent.field("request").expect("the parked request");
    b.post(
        "/oauth2/consent",
        &[
            ("csrf", &consent.csrf()),
            ("request", &request),
            ("decision", decision),
        ],
    )
    .await
}

/// `POST /token` (SSO-OIDC `CreateToken`) for the registered client.
async fn create_token(app: &TestApp, reg: &Value, fields: Value) -> (u16, Value) {
    let mut body = json!({"clientId": reg["clientId"], "clientSecret": reg["clientSecret"]});
    if let (Some(b), Some(f)) = (body.as_object_mut(), fields.as_object()) {
        b.extend(f.clone());
    }
    let resp = app
        .client
        .post(format!("{}/token", app.base))
        .json(&body)
        .send()
        .await
        .expect("token");
    let status = resp.status().as_u16();
    (status, resp.json().await.expect("JSON"))
}

async fn redeem_sso(app: &TestApp, reg: &Value, code: &str, pkce: &Pkce) -> (u16, Value) {
    create_token(
        app,
        reg,
        json!({"grantType": "authorization_code", "code": code, "redirectUri": CALLBACK,
               "codeVerifier": pkce.verifier}),
    )
    .await
}

/// The portal API as the CLI calls it: 200 when the access token still works.
async fn accounts_status(app: &TestApp, access_token: &str) -> u16 {
    app.client
        .get(format!("{}/assignment/accounts?max_result=10", app.base))
        .header("x-amz-sso_bearer_token", access_token)
        .send()
        .await
        .expect("portal API")
        .status()
        .as_u16()
}

async fn victim(app: &TestApp) -> Browser {
    mfa_off(app).await;
    person(app, "vic").await;
    signed_in(app, "vic").await
}

async fn self_registered_clients_may_only_redirect_to_loopback(app: TestApp) {
    for uri in [
        "https://evil.example/callback",
        "http://localhost:8080/callback",
        "com.evil.app:/callback",
        "http://127.0.0.1.evil.example/cb",
    ] {
        let (status, kind, body) = register(
            &app,
            json!({"clientName": "x", "clientType": "public",
                   "grantTypes": ["authorization_code"], "redirectUris": [uri]}),
        )
        .await;
        assert_eq!(
            (status, kind.as_deref()),
            (400, Some("InvalidRedirectUriException")),
            "{uri}: {body}"
        );
    }
    for uri in ["http://127.0.0.1/oauth/callback", "http://[::1]:9000/cb"] {
        let (status, _, body) = register(
            &app,
            json!({"clientName": "x", "clientType": "public",
                   "grantTypes": ["authorization_code"], "redirectUris": [uri]}),
        )
        .await;
        assert_eq!(status, 200, "{uri}: {body}");
    }
}

async fn a_crafted_link_gets_a_consent_page_not_a_code(app: TestApp) {
    let b = victim(&app).await;
    let reg = attacker_client(&app).await;
    let pkce = Pkce::new();
    let page = follow(&b, &crafted_link(&reg, &pkce)).await;
    assert_eq!(
        page.status, 200,
        "a page, not a redirect with a code: {page:?}"
    );
    assert!(page.location.is_none(), "{page:?}");
    let text = html_unescape(&page.body);
    assert!(text.contains("Totally the AWS CLI"), "names the client");
    assert!(
        text.contains(reg["clientId"].as_str().unwrap()),
        "and its id"
    );
    assert!(
        text.contains("will be able to access your AWS accounts"),
        "{text}"
    );
    assert!(text.contains("sso:account:access"), "names the scope");
    assert!(text.contains("registered itself"), "says nobody vetted it");
    assert!(
        text.contains("http://127.0.0.1:43117"),
        "where the answer goes"
    );

    // The consent answer needs the form's CSRF token and this session.
    let request = page.field("request").unwrap();
    let forged = Browser::new(&app.base)
        .post(
            "/oauth2/consent",
            &[("csrf", "x"), ("request", &request), ("decision", "allow")],
        )
        .await;
    assert_eq!(forged.status, 403, "{forged:?}");

    // Deny: the client hears access_denied, and the parked request is spent.
    let denied = decide(&b, &page, "deny").await;
    let p = callback(&denied, CALLBACK);
    assert_eq!(
        p.get("error").map(String::as_str),
        Some("access_denied"),
        "{p:?}"
    );
    assert!(!p.contains_key("code"));
    let again = decide(&b, &page, "allow").await;
    assert_eq!(again.status, 400, "one answer per question: {again:?}");
    let consents = app
        .get(&format!("users/{}/consents", app.user_id("vic").await))
        .await;
    assert_eq!(consents.body["consents"], json!([]), "nothing remembered");
}

async fn consent_is_remembered_per_client_and_scopes_and_revocable(app: TestApp) {
    let b = victim(&app).await;
    let reg = attacker_client(&app).await;
    let pkce = Pkce::new();
    let page = follow(&b, &crafted_link(&reg, &pkce)).await;
    let allowed = decide(&b, &page, "allow").await;
    let p = callback(&allowed, CALLBACK);
    assert_eq!(p.get("state").map(String::as_str), Some(STATE));
    let (status, tokens) = redeem_sso(&app, &reg, &p["code"], &pkce).await;
    assert_eq!(status, 200, "{tokens}");
    let access = tokens["accessToken"].as_str().unwrap().to_owned();
    let refresh = tokens["refreshToken"].as_str().unwrap().to_owned();
    assert_eq!(accounts_status(&app, &access).await, 200);

    // The same client and scopes again: no question.
    let pkce2 = Pkce::new();
    let second = follow(&b, &crafted_link(&reg, &pkce2)).await;
    assert!(
        callback(&second, CALLBACK).contains_key("code"),
        "{second:?}"
    );
    // Another client that registered itself is asked about on its own.
    let other = attacker_client(&app).await;
    let asked = follow(&b, &crafted_link(&other, &Pkce::new())).await;
    assert_eq!(asked.status, 200, "{asked:?}");
    assert!(asked.field("request").is_some());

    // The person sees it under Connected apps, and withdraws it there.
    let listed = b.get("/portal/connected").await;
    assert_eq!(listed.status, 200);
    assert!(html_unescape(&listed.body).contains("Totally the AWS CLI"));
    let withdrawn = b
        .post(
            "/portal/connected/revoke",
            &[
                ("csrf", &listed.csrf()),
                ("client_id", reg["clientId"].as_str().unwrap()),
            ],
        )
        .await;
    assert_eq!(withdrawn.status, 303, "{withdrawn:?}");
    // What the client held for the person is gone with it.
    assert_eq!(
        accounts_status(&app, &access).await,
        401,
        "access token ended"
    );
    let (status, body) = create_token(
        &app,
        &reg,
        json!({"grantType": "refresh_token", "refreshToken": refresh}),
    )
    .await;
    assert_eq!(status, 400, "refresh token ended: {body}");
    // And the next request asks again.
    let asked_again = follow(&b, &crafted_link(&reg, &Pkce::new())).await;
    assert!(asked_again.field("request").is_some(), "{asked_again:?}");

    // An administrator can see and withdraw consents too.
    let vic = app.user_id("vic").await;
    let page = follow(&b, &crafted_link(&other, &Pkce::new())).await;
    decide(&b, &page, "allow").await;
    let listed = app.get(&format!("users/{vic}/consents")).await;
    assert_eq!(listed.status, 200);
    let consents = listed.body["consents"].as_array().unwrap();
    assert_eq!(consents.len(), 1, "{listed:?}");
    assert_eq!(consents[0]["clientId"], other["clientId"]);
    assert_eq!(consents[0]["scopes"], json!(["sso:account:access"]));
    let path = format!(
        "users/{vic}/consents/{}",
        other["clientId"].as_str().unwrap()
    );
    assert_eq!(app.delete(&path, None).await.status, 204);
    assert_eq!(app.delete(&path, None).await.status, 404);
}

async fn prompt_none_without_consent_is_consent_required(app: TestApp) {
    let b = victim(&app).await;
    let reg = attacker_client(&app).await;
    let link = format!("{}&prompt=none", crafted_link(&reg, &Pkce::new()));
    let page = follow(&b, &link).await;
    let p = callback(&page, CALLBACK);
    assert_eq!(
        p.get("error").map(String::as_str),
        Some("consent_required"),
        "{p:?}"
    );
    assert!(!p.contains_key("code"));
}

async fn device_approval_shows_what_the_client_gets_and_counts_as_consent(app: TestApp) {
    let b = victim(&app).await;
    let (_, _, reg) = register(
        &app,
        json!({"clientName": "Sneaky TV", "clientType": "public"}),
    )
    .await;
    let resp = app
        .client
        .post(format!("{}/device_authorization", app.base))
        .json(
            &json!({"clientId": reg["clientId"], "clientSecret": reg["clientSecret"],
                      "startUrl": format!("{ISSUER}/start")}),
        )
        .send()
        .await
        .unwrap();
    let device: Value = resp.json().await.unwrap();
    let code = device["userCode"].as_str().unwrap();
    let page = b.get(&format!("/device?user_code={code}")).await;
    let text = html_unescape(&page.body);
    assert!(text.contains("Sneaky TV"), "{text}");
    assert!(text.contains("registered itself"), "{text}");
    assert!(
        text.contains("will be able to access your AWS accounts"),
        "{text}"
    );
    device_decision(&b, "Sneaky TV", code, "approve").await;
    let consents = app
        .get(&format!("users/{}/consents", app.user_id("vic").await))
        .await;
    assert_eq!(
        consents.body["consents"][0]["clientId"], reg["clientId"],
        "{consents:?}"
    );
}

async fn admin_applications_can_ask_for_consent(app: TestApp) {
    let w = wiki(&app, json!({"requireConsent": true})).await;
    let pkce = Pkce::new();
    let page = follow(
        &w.browser,
        &authorize_path(&code_params(&w.client.client_id, &pkce)),
    )
    .await;
    assert_eq!(page.status, 200, "{page:?}");
    let text = html_unescape(&page.body);
    assert!(text.contains("Wiki"), "{text}");
    assert!(
        !text.contains("registered itself"),
        "an administrator's application"
    );
    let allowed = decide(&w.browser, &page, "allow").await;
    let p = callback(&allowed, REDIRECT);
    assert_tokens(&redeem(&app, &w.client, &p["code"], &pkce.verifier).await);
    // Remembered: the next sign-in to the application is silent again.
    raw_code(&w.browser, &w.client.client_id, &Pkce::new()).await;
    // A request for more than was allowed asks again.
    let pkce = Pkce::new();
    let wider = with(
        code_params(&w.client.client_id, &pkce),
        "scope",
        "openid profile email groups",
    );
    let page = follow(&w.browser, &authorize_path(&wider)).await;
    assert!(page.field("request").is_some(), "{page:?}");
    // prompt=consent asks even when remembered.
    let pkce = Pkce::new();
    let forced = with(code_params(&w.client.client_id, &pkce), "prompt", "consent");
    let page = follow(&w.browser, &authorize_path(&forced)).await;
    assert!(page.field("request").is_some(), "{page:?}");
}

async fn registrations_are_bounded(app: TestApp) {
    let too_long = "n".repeat(65);
    let uris: Vec<String> = (0..6).map(|i| format!("http://127.0.0.1/cb{i}")).collect();
    let scopes: Vec<String> = (0..11).map(|i| format!("scope:{i}")).collect();
    for (body, kind) in [
        (
            json!({"clientName": too_long, "clientType": "public"}),
            "InvalidRequestException",
        ),
        (
            json!({"clientName": "a\u{7}b", "clientType": "public"}),
            "InvalidRequestException",
        ),
        (
            json!({"clientName": "x", "clientType": "public", "scopes": scopes}),
            "InvalidScopeException",
        ),
        (
            json!({"clientName": "x", "clientType": "public", "scopes": ["s".repeat(65)]}),
            "InvalidScopeException",
        ),
        (
            json!({"clientName": "x", "clientType": "public", "grantTypes": ["authorization_code"],
                   "redirectUris": uris}),
            "InvalidRedirectUriException",
        ),
        (
            json!({"clientName": "x", "clientType": "public",
                   "grantTypes": ["client_credentials"]}),
            "InvalidClientMetadataException",
        ),
    ] {
        let (status, got, answer) = register(&app, body.clone()).await;
        assert_eq!(
            (status, got.as_deref()),
            (400, Some(kind)),
            "{body}: {answer}"
        );
    }
    // Refused registrations cost nothing; 20 good ones an hour from one address, then 429.
    for n in 0..20 {
        let (status, _, body) = register(
            &app,
            json!({"clientName": format!("cli {n}"), "clientType": "public"}),
        )
        .await;
        assert_eq!(status, 200, "registration {n}: {body}");
    }
    let (status, kind, _) = register(
        &app,
        json!({"clientName": "one too many", "clientType": "public"}),
    )
    .await;
    assert_eq!(
        (status, kind.as_deref()),
        (429, Some("ThrottlingException"))
    );
    app.clock.advance(chrono::Duration::minutes(61));
    let (status, _, _) = register(
        &app,
        json!({"clientName": "next hour", "clientType": "public"}),
    )
    .await;
    assert_eq!(status, 200);
}

async fn unused_registrations_expire_early(app: TestApp) {
    let b = victim(&app).await;
    let cli = json!({"clientName": "cli", "clientType": "public",
                     "grantTypes": ["authorization_code", "refresh_token",
                                    "urn:ietf:params:oauth:grant-type:device_code"],
                     "redirectUris": ["http://127.0.0.1/oauth/callback"]});
    let unused = register(&app, cli.clone()).await.2;
    let used = register(&app, cli).await.2;
    let pkce = Pkce::new();
    let page = follow(&b, &crafted_link(&used, &pkce)).await;
    let p = callback(&decide(&b, &page, "allow").await, CALLBACK);
    assert_eq!(redeem_sso(&app, &used, &p["code"], &pkce).await.0, 200);
    // A day later the registration nobody used is gone; the used one lives on.
    app.clock.advance(chrono::Duration::hours(25));
    let device = |reg: Value| {
        let app = &app;
        async move {
            app.client
                .post(format!("{}/device_authorization", app.base))
                .json(
                    &json!({"clientId": reg["clientId"], "clientSecret": reg["clientSecret"],
                              "startUrl": format!("{ISSUER}/start")}),
                )
                .send()
                .await
                .unwrap()
                .status()
                .as_u16()
        }
    };
    assert_eq!(device(unused).await, 401, "InvalidClientException");
    assert_eq!(device(used).await, 200);
}

async fn device_authorizations_per_client_are_bounded(app: TestApp) {
    let (_, _, reg) = register(&app, json!({"clientName": "tv", "clientType": "public"})).await;
    let start = || async {
        let resp = app
            .client
            .post(format!("{}/device_authorization", app.base))
            .json(
                &json!({"clientId": reg["clientId"], "clientSecret": reg["clientSecret"],
                          "startUrl": format!("{ISSUER}/start")}),
            )
            .send()
            .await
            .unwrap();
        let kind = resp
            .headers()
            .get("x-amzn-ErrorType")
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        (resp.status().as_u16(), kind)
    };
    for n in 0..100 {
        assert_eq!(start().await.0, 200, "device authorization {n}");
    }
    assert_eq!(start().await, (400, Some("SlowDownException".to_owned())));
    // Once the earlier ones have expired, the client may start again.
    app.clock.advance(chrono::Duration::minutes(11));
    assert_eq!(start().await.0, 200);
}

async fn a_forged_login_after_does_not_skip_prompt_login(app: TestApp) {
    let w = wiki(&app, json!({})).await;
    let pkce = Pkce::new();
    // The old way back from a re-authentication carried `login_after` in the URL; a client (or
    // attacker) adding it to a `prompt=login` request skipped the sign-in.
    let forged = with(
        with(code_params(&w.client.client_id, &pkce), "prompt", "login"),
        "login_after",
        "0",
    );
    let first = w.browser.get(&authorize_path(&forged)).await;
    let to = first.location.clone().unwrap_or_default();
    assert!(
        to.starts_with("/start?"),
        "sent to sign in again: {first:?}"
    );
    assert!(to.contains("reauth=1"), "{to}");
    assert!(
        !to.contains("login_after"),
        "the state stays on the server: {to}"
    );
    // The person signs in again and the request continues from where it was parked.
    let start = w.browser.get(&to).await;
    let done = sign_in_on_the_way(&w.browser, &start, "ada").await;
    let back = follow(&w.browser, done.location.as_deref().unwrap()).await;
    let p = callback(&back, REDIRECT);
    assert_tokens(&redeem(&app, &w.client, &p["code"], &pkce.verifier).await);
    // A made-up parked request is refused.
    let made_up = w
        .browser
        .get("/oauth2/authorize?resume=not-a-request")
        .await;
    assert_eq!(made_up.status, 400, "{made_up:?}");
}

async fn logout_with_another_persons_id_token_asks_first(app: TestApp) {
    let w = wiki(&app, json!({})).await;
    // Mallory signs in to the same application and keeps her ID token.
    person(&app, "mallory").await;
    let m = signed_in(&app, "mallory").await;
    let user = app.user_id("mallory").await;
    assign(&app, &w.client, "USER", &user).await;
    let pkce = Pkce::new();
    let code = raw_code(&m, &w.client.client_id, &pkce).await;
    let tokens = redeem(&app, &w.client, &code, &pkce.verifier).await;
    let theirs = tokens.str("id_token");
    // Ada's own token, from her session.
    let pkce = Pkce::new();
    let code = raw_code(&w.browser, &w.client.client_id, &pkce).await;
    let own = redeem(&app, &w.client, &code, &pkce.verifier)
        .await
        .str("id_token");

    let hint = |t: &str| {
        format!(
            "/oauth2/logout?{}",
            url::form_urlencoded::Serializer::new(String::new())
                .append_pair("id_token_hint", t)
                .append_pair("post_logout_redirect_uri", POST_LOGOUT)
                .finish()
        )
    };
    let asked = w.browser.get(&hint(&theirs)).await;
    assert_eq!(
        asked.status, 200,
        "a confirmation, not a sign-out: {asked:?}"
    );
    assert!(asked.body.contains("Sign out?"), "{}", asked.body);
    let portal = w.browser.get("/portal").await;
    assert_eq!(portal.status, 200, "Ada is still signed in");
    // Mallory's session is untouched too.
    assert_eq!(m.get("/portal").await.status, 200);
    // Ada's own hint signs her out at once, back to the application.
    let out = w.browser.get(&hint(&own)).await;
    assert_eq!(out.status, 302, "{out:?}");
    assert!(out.location.as_deref().unwrap().starts_with(POST_LOGOUT));
    assert_ne!(w.browser.get("/portal").await.status, 200);
    // An old hint of hers, from a session that ended, asks again in her new session.
    let again = signed_in(&app, "ada").await;
    let asked = again.get(&hint(&own)).await;
    assert_eq!(asked.status, 200, "{asked:?}");
    assert!(asked.body.contains("Sign out?"));
    assert_eq!(again.get("/portal").await.status, 200);
}

async fn clients_introspect_only_their_own_tokens(app: TestApp) {
    let w = wiki(&app, json!({})).await;
    let other = create_app(&app, "Other", registration(json!({}))).await;
    let pkce = Pkce::new();
    let code = raw_code(&w.browser, &w.client.client_id, &pkce).await;
    let tokens = redeem(&app, &w.client, &code, &pkce.verifier).await;
    let access = tokens.str("access_token");
    let mine = introspect(&app, &w.client, &access).await;
    assert_eq!(mine.body["active"], true, "{mine:?}");
    let theirs = introspect(&app, &other, &access).await;
    assert_eq!(theirs.body, json!({"active": false}), "{theirs:?}");
    // A resource server named in the token's audience may introspect it.
    let api = create_app(&app, "API", registration(json!({}))).await;
    let aimed = create_app(
        &app,
        "Aimed",
        registration(
            json!({"audience": api.client_id, "grantTypes": ["client_credentials"],
                            "redirectUris": []}),
        ),
    )
    .await;
    let cc = token(&app, &aimed, &[("grant_type", "client_credentials")]).await;
    let at = cc.str("access_token");
    assert_eq!(introspect(&app, &api, &at).await.body["active"], true);
    assert_eq!(introspect(&app, &other, &at).await.body["active"], false);
}
