//! The portal's Accounts tab in a browser-like client: the accounts and roles a person holds, the
//! Access keys page (credentials minted through the broker, verified with STS GetCallerIdentity
//! signed by the AWS SDK's SigV4 signer) and the Management console sign-in token (verified
//! against `/oauth2/jwks` with `jsonwebtoken`).

use std::time::SystemTime;

use portcullis_sessions::Clock as _;
use portcullis_testkit::sigv4;
use portcullis_testkit::{Browser, PASSWORD, Page};
use serde_json::{Value, json};

use crate::helpers::TestApp;
use crate::oidc_support::{mfa_off, person};
use crate::on_both_backends;

on_both_backends!(
    accounts_tab_lists_accounts_roles_and_actions,
    access_keys_page_mints_credentials_that_verify,
    roles_not_held_are_404_and_issue_nothing,
    console_redirect_carries_a_token_the_jwks_verifies,
);

/// The test server's public URL (the default).
const PUBLIC_URL: &str = "http://localhost:8080";
const CONSOLE: &str = "https://console.example.com/signin?from=portcullis";
/// With a console URL; Admin directly, ReadOnly through a group.
const WITH_CONSOLE: &str = "111111111111";
/// Without a console URL; Admin directly.
const NO_CONSOLE: &str = "222222222222";
/// Exists; not held.
const NOT_HELD: &str = "333333333333";

/// Ada, signed in, holding Admin in two accounts and ReadOnly (through a group) in one.
async fn signed_in(app: &TestApp) -> (String, Browser) {
    mfa_off(app).await;
    let user = person(app, "ada").await;
    let group = app.group("Readers").await;
    let m = app
        .put(&format!("groups/{group}/members/{user}"), None)
        .await;
    assert!(m.status < 300, "{m:?}");
    let a = app
        .post(
            "accounts",
            json!({"accountId": WITH_CONSOLE, "name": "Production", "email": "prod@example.com",
                   "consoleUrl": CONSOLE}),
        )
        .await;
    assert_eq!(a.status, 201, "{a:?}");
    app.account(NO_CONSOLE).await;
    app.account(NOT_HELD).await;
    let admin = app.permission_set("Admin").await;
    let read = app.permission_set("ReadOnly").await;
    for (account, ps, kind, principal) in [
        (WITH_CONSOLE, &admin, "USER", &user),
        (NO_CONSOLE, &admin, "USER", &user),
        (WITH_CONSOLE, &read, "GROUP", &group),
    ] {
        let a = app
            .post(
                "assignments",
                json!({"accountId": account, "permissionSetId": ps, "principalType": kind,
                       "principalId": principal}),
            )
            .await;
        assert_eq!(a.status, 201, "{a:?}");
    }
    let b = Browser::new(&app.base);
    let done = b.sign_in("ada", PASSWORD).await;
    assert_eq!(done.status, 303, "{done:?}");
    (user, b)
}

fn keys_path(account: &str, role: &str) -> String {
    format!("/portal/accounts/{account}/roles/{role}/credentials")
}

/// The text of the element with `id` (`<code id="…">…</code>`, `<pre id="…"><code>…</code>`).
fn by_id(page: &Page, id: &str) -> String {
    let open = format!("id=\"{id}\">");
    let start = page
        .body
        .find(&open)
        .unwrap_or_else(|| panic!("no #{id} in {}", page.body))
        + open.len();
    let end = page.body[start..].find("</").expect("closing tag") + start;
    page.body[start..end]
        .trim_start_matches("<code>")
        .to_owned()
}

async fn issuances(app: &TestApp) -> Vec<Value> {
    let audit = app
        .get("audit-events?action=broker.credentials.issue")
        .await;
    assert_eq!(audit.status, 200, "{audit:?}");
    audit.body["events"].as_array().expect("events").clone()
}

async fn accounts_tab_lists_accounts_roles_and_actions(app: TestApp) {
    let (_, b) = signed_in(&app).await;
    let tab = b.get("/portal?tab=accounts").await;
    assert_eq!(tab.status, 200, "{tab:?}");
    let body = &tab.body;
    assert!(body.contains("Production") && body.contains("prod@example.com"));
    assert!(body.contains(WITH_CONSOLE) && body.contains(NO_CONSOLE));
    assert!(
        !body.contains(NOT_HELD),
        "an account not held is not listed"
    );
    // The filter box comes from a script file (the CSP allows no inline script).
    assert!(body.contains("id=\"account-filter\""));
    assert!(body.contains("<script src=\"/static/portal-accounts.js\""));
    let script = b.get("/static/portal-accounts.js").await;
    assert_eq!(script.status, 200);
    assert!(script.body.contains("account-filter"));
    // Every role has Access keys; only the account with a console URL has the console.
    for (account, role) in [
        (WITH_CONSOLE, "Admin"),
        (WITH_CONSOLE, "ReadOnly"),
        (NO_CONSOLE, "Admin"),
    ] {
        let action = format!("action=\"{}\"", keys_path(account, role));
        assert!(body.contains(&action), "{action} in {body}");
    }
    let console = |a: &str| format!("href=\"/portal/accounts/{a}/console?role=");
    assert_eq!(body.matches(&console(WITH_CONSOLE)).count(), 2, "{body}");
    assert!(body.contains(&format!(
        "href=\"/portal/accounts/{WITH_CONSOLE}/console?role=ReadOnly\""
    )));
    assert!(!body.contains(&console(NO_CONSOLE)), "{body}");
    assert_eq!(body.matches(">Management console</a>").count(), 2);
    assert_eq!(body.matches(">Access keys</button>").count(), 3);
}

async fn access_keys_page_mints_credentials_that_verify(app: TestApp) {
    let (user, b) = signed_in(&app).await;
    let path = keys_path(WITH_CONSOLE, "Admin");

    // A plain GET asks first and issues nothing.
    let ask = b.get(&path).await;
    assert_eq!(ask.status, 200, "{ask:?}");
    assert!(ask.body.contains("Show access keys"), "{ask:?}");
    assert!(issuances(&app).await.is_empty());
    // The form needs the CSRF token.
    let forged = b.post(&path, &[("csrf", "forged")]).await;
    assert_eq!(forged.status, 403, "{forged:?}");
    assert!(issuances(&app).await.is_empty());

    let resp = b
        .client
        .post(format!("{}{path}", app.base))
        .form(&[("csrf", ask.csrf())])
        .send()
        .await
        .expect("POST");
    assert_eq!(resp.status().as_u16(), 200);
    assert_eq!(
        resp.headers()
            .get("cache-control")
            .and_then(|v| v.to_str().ok()),
        Some("no-store")
    );
    let page = Page {
        status: 200,
        location: None,
        body: resp.text().await.expect("body"),
    };
    let akid = by_id(&page, "access-key-id");
    let secret = by_id(&page, "secret-access-key");
    let token = by_id(&page, "session-token");
    assert!(
        akid.len() == 20
            && akid.starts_with("ASIA")
            && akid[4..]
                .chars()
                .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit()),
        "{akid}"
    );
    assert_eq!(secret.len(), 40, "{secret}");
    assert!(token.len() > 40, "{token}");
    let expiration = by_id(&page, "expiration");
    let expires = chrono::DateTime::parse_from_rfc3339(&expiration).expect("an RFC 3339 expiry");
    let lifetime = expires.timestamp() - app.clock.now().timestamp();
    assert!((3_500..=3_600).contains(&lifetime), "{expiration}");

    // The snippets carry the same values.
    let bash = by_id(&page, "snippet-bash");
    assert!(bash.contains(&format!("export AWS_ACCESS_KEY_ID=\"{akid}\"")));
    assert!(bash.contains(&format!("export AWS_SECRET_ACCESS_KEY=\"{secret}\"")));
    assert!(bash.contains(&format!("export AWS_SESSION_TOKEN=\"{token}\"")));
    let ps = by_id(&page, "snippet-powershell");
    assert!(ps.contains(&format!("$Env:AWS_ACCESS_KEY_ID=\"{akid}\"")));
    assert!(ps.contains(&format!("$Env:AWS_SESSION_TOKEN=\"{token}\"")));
    let cmd = by_id(&page, "snippet-cmd");
    assert!(cmd.contains(&format!("set AWS_ACCESS_KEY_ID={akid}")));
    assert!(cmd.contains(&format!("set AWS_SECRET_ACCESS_KEY={secret}")));
    let profile = by_id(&page, "snippet-profile");
    assert!(
        profile.starts_with(&format!("[{WITH_CONSOLE}_Admin]")),
        "{profile}"
    );
    assert!(profile.contains(&format!("aws_secret_access_key = {secret}")));
    assert_eq!(by_id(&page, "sso-start-url"), format!("{PUBLIC_URL}/start"));
    assert!(!by_id(&page, "sso-region").is_empty());
    let sso = by_id(&page, "snippet-sso");
    for var in ["SSO", "SSO_OIDC", "STS"] {
        assert!(
            sso.contains(&format!("export AWS_ENDPOINT_URL_{var}=\"{PUBLIC_URL}\"")),
            "{sso}"
        );
    }

    // They are real credentials: STS GetCallerIdentity names the role and the person.
    let sts = caller_identity(&app, &akid, &secret, &token).await;
    assert_eq!(sts.0, 200, "{}", sts.1);
    assert!(
        sts.1.contains(&format!(
            "<Arn>arn:aws:sts::{WITH_CONSOLE}:assumed-role/Admin/ada</Arn>"
        )),
        "{}",
        sts.1
    );

    // Audited, with the portal as the client and never the secret.
    let events = issuances(&app).await;
    assert_eq!(events.len(), 1, "{events:?}");
    let details = &events[0]["details"];
    assert_eq!(details["accessKeyId"], akid.as_str(), "{details}");
    assert_eq!(details["clientId"], "portal", "{details}");
    assert_eq!(details["userId"], user.as_str(), "{details}");
    let text = Value::Array(events).to_string();
    assert!(!text.contains(&secret) && !text.contains(&token));
}

async fn roles_not_held_are_404_and_issue_nothing(app: TestApp) {
    // Without a session: to sign-in, coming back here afterwards.
    let anonymous = Browser::new(&app.base);
    let away = anonymous.get(&keys_path(WITH_CONSOLE, "Admin")).await;
    assert_eq!(away.status, 303, "{away:?}");
    let to = away.location.expect("a location");
    assert!(
        to.starts_with("/start?return_to=%2Fportal%2Faccounts%2F111111111111"),
        "{to}"
    );

    let (_, b) = signed_in(&app).await;
    let csrf = b.get("/portal").await.meta_csrf();
    for (account, role) in [
        (WITH_CONSOLE, "Owner"),     // a role not held in an account held
        (NO_CONSOLE, "ReadOnly"),    // a role held elsewhere
        (NOT_HELD, "Admin"),         // an account not held
        ("999999999999", "Admin"),   // an account that does not exist
        ("not-an-account", "Admin"), // malformed
        (WITH_CONSOLE, "bad%20role"),
    ] {
        let path = keys_path(account, role);
        let minted = b.post(&path, &[("csrf", &csrf)]).await;
        assert_eq!(minted.status, 404, "{path}: {minted:?}");
        assert!(minted.body.contains("No access"), "{minted:?}");
        assert_eq!(b.get(&path).await.status, 404, "{path}");
        let console = b
            .get(&format!("/portal/accounts/{account}/console?role={role}"))
            .await;
        assert_eq!(console.status, 404, "{account}/{role}: {console:?}");
    }
    assert!(issuances(&app).await.is_empty(), "nothing was issued");
}

async fn console_redirect_carries_a_token_the_jwks_verifies(app: TestApp) {
    let (user, b) = signed_in(&app).await;
    let console = format!("/portal/accounts/{WITH_CONSOLE}/console?role=ReadOnly");

    // A navigation another site started is asked to confirm, with a link back here.
    let asked = b
        .client
        .get(format!("{}{console}", app.base))
        .header("sec-fetch-site", "cross-site")
        .send()
        .await
        .expect("GET");
    assert_eq!(asked.status().as_u16(), 200);
    let asked = asked.text().await.expect("body");
    assert!(
        asked.contains(&format!("href=\"{console}\"")) && !asked.contains("token="),
        "{asked}"
    );

    // A click in the portal (same origin) goes straight to the console.
    let sent = b
        .client
        .get(format!("{}{console}", app.base))
        .header("sec-fetch-site", "same-origin")
        .send()
        .await
        .expect("GET");
    assert_eq!(sent.status().as_u16(), 303);
    assert_eq!(
        sent.headers()
            .get("cache-control")
            .and_then(|v| v.to_str().ok()),
        Some("no-store")
    );
    let sent = Page {
        status: 303,
        location: sent
            .headers()
            .get("location")
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned),
        body: String::new(),
    };
    let location = url::Url::parse(&sent.location.expect("a location")).expect("a URL");
    assert_eq!(
        location.origin().ascii_serialization(),
        "https://console.example.com"
    );
    assert_eq!(location.path(), "/signin");
    let query: Vec<(String, String)> = location.query_pairs().into_owned().collect();
    assert_eq!(query[0], ("from".into(), "portcullis".into()), "{query:?}");
    let token = query
        .iter()
        .find(|(k, _)| k == "token")
        .map(|(_, v)| v.clone())
        .expect("a token parameter");

    // A console verifies it with our published keys.
    let header = jsonwebtoken::decode_header(&token).expect("a JWT");
    assert_eq!(header.alg, jsonwebtoken::Algorithm::ES256);
    let jwks: jsonwebtoken::jwk::JwkSet = app
        .client
        .get(format!("{}/oauth2/jwks", app.base))
        .send()
        .await
        .expect("GET jwks")
        .json()
        .await
        .expect("a JWKS");
    let jwk = jwks
        .find(header.kid.as_deref().expect("a kid"))
        .expect("published");
    let key = jsonwebtoken::DecodingKey::from_jwk(jwk).expect("a usable JWK");
    let mut validation = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::ES256);
    validation.set_issuer(&[PUBLIC_URL]);
    validation.set_audience(&["https://console.example.com"]);
    validation.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
    // The server runs on the test's clock: `exp` is compared with that below.
    validation.validate_exp = false;
    let claims = jsonwebtoken::decode::<Value>(&token, &key, &validation)
        .expect("the token verifies against the JWKS")
        .claims;
    let now = app.clock.now().timestamp();
    assert_eq!(claims["sub"], user.as_str(), "{claims}");
    assert_eq!(claims["account_id"], WITH_CONSOLE, "{claims}");
    assert_eq!(claims["role"], "ReadOnly", "{claims}");
    assert_eq!(claims["preferred_username"], "ada", "{claims}");
    assert_eq!(claims["iat"], now, "{claims}");
    assert_eq!(claims["exp"], now + 60, "{claims}");
    assert!(
        claims["jti"].as_str().is_some_and(|j| j.len() >= 16),
        "{claims}"
    );

    // A wrong audience does not verify (a token for one console is not for another).
    let mut other = validation.clone();
    other.set_audience(&["https://other.example.com"]);
    assert!(jsonwebtoken::decode::<Value>(&token, &key, &other).is_err());

    // No console URL, no console: neither a button (see the tab test) nor the route.
    let none = b
        .get(&format!("/portal/accounts/{NO_CONSOLE}/console?role=Admin"))
        .await;
    assert_eq!(none.status, 404, "{none:?}");
}

/// `sts.get_caller_identity()` signed now with these credentials: (status, body).
async fn caller_identity(app: &TestApp, akid: &str, secret: &str, token: &str) -> (u16, String) {
    let creds = sigv4::credentials(akid, secret, token);
    let at: SystemTime = app.clock.now().into();
    let req = sigv4::caller_identity(&app.client, &app.base, &creds, "us-east-1", at);
    let resp = req.expect("signed").send().await.expect("request");
    (resp.status().as_u16(), resp.text().await.expect("body"))
}
