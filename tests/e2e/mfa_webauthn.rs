//! Security keys and passkeys over HTTP with a software authenticator
//! (webauthn-authenticator-rs): registration during sign-in when the policy requires a device,
//! sign-in with the key, single-use challenges, wrong origins, and adding keys from the portal.

use portcullis_testkit::{Browser, PASSWORD};
use serde_json::json;
use webauthn_authenticator_rs::prelude::{
    CreationChallengeResponse, RequestChallengeResponse, Url, WebauthnAuthenticator,
};
use webauthn_authenticator_rs::softpasskey::SoftPasskey;

use crate::helpers::TestApp;
use crate::on_both_backends;

on_both_backends!(
    security_keys_register_at_sign_in_then_sign_in,
    keys_added_from_the_portal_and_refused_answers
);

pub(crate) fn origin() -> Url {
    // The test server's public URL (the relying party) is the default http://localhost:8080.
    Url::parse("http://localhost:8080").expect("url")
}

async fn require_keys(app: &TestApp) {
    let s = app
        .put(
            "settings",
            Some(json!({"mfa": {"prompt": "EVERY_SIGN_IN", "allowedTypes": ["WEBAUTHN"], "noDeviceAction": "REQUIRE_REGISTRATION"}})),
        )
        .await;
    assert_eq!(s.status, 200, "{s:?}");
}

/// Registers `key` from a page that offers `#webauthn-register`, posting to `endpoint`.
pub(crate) async fn register(
    b: &Browser,
    page_path: &str,
    endpoint: &str,
    key: &mut SoftPasskey,
    name: &str,
) -> portcullis_testkit::Page {
    let page = b.get(page_path).await;
    assert_eq!(page.status, 200, "{page:?}");
    assert!(
        page.body.contains("id=\"webauthn-register\""),
        "{}",
        page.body
    );
    let csrf = page.meta_csrf();
    let (status, options) = b.post_json(&format!("{endpoint}/options"), &csrf).await;
    assert_eq!(status, 200, "{options}");
    let options: CreationChallengeResponse =
        serde_json::from_value(options).expect("creation options");
    let credential = key
        .do_registration(origin(), options)
        .expect("the authenticator registers");
    let credential = serde_json::to_string(&credential).expect("json");
    b.post(
        endpoint,
        &[("csrf", &csrf), ("credential", &credential), ("name", name)],
    )
    .await
}

/// Answers the sign-in challenge with `key`; `tamper` may rewrite the credential JSON before it
/// is sent. Returns the server's answer, the credential sent and the CSRF token.
async fn authenticate_with(
    b: &Browser,
    key: &mut SoftPasskey,
    tamper: impl Fn(String) -> String,
) -> (portcullis_testkit::Page, String, String) {
    let page = b.get("/signin/mfa").await;
    assert!(
        page.body.contains("id=\"webauthn-signin\""),
        "{}",
        page.body
    );
    let csrf = page.meta_csrf();
    let (status, options) = b.post_json("/signin/mfa/webauthn/options", &csrf).await;
    assert_eq!(status, 200, "{options}");
    let options: RequestChallengeResponse =
        serde_json::from_value(options).expect("request options");
    let credential = key
        .do_authentication(origin(), options)
        .expect("the authenticator signs");
    let credential = tamper(serde_json::to_string(&credential).expect("json"));
    let answer = b
        .post(
            "/signin/mfa/webauthn/verify",
            &[("csrf", &csrf), ("credential", &credential)],
        )
        .await;
    (answer, credential, csrf)
}

async fn authenticate(
    b: &Browser,
    key: &mut SoftPasskey,
) -> (portcullis_testkit::Page, String, String) {
    authenticate_with(b, key, |c| c).await
}

/// Rewrites the origin inside the signed client data, as a phishing site's page would produce.
fn other_origin(credential: String) -> String {
    use base64::Engine;
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let mut v: serde_json::Value = serde_json::from_str(&credential).expect("json");
    let client_data = v["response"]["clientDataJSON"]
        .as_str()
        .expect("clientDataJSON")
        .to_owned();
    let raw = URL_SAFE_NO_PAD
        .decode(client_data.trim_end_matches('='))
        .expect("base64url");
    let text = String::from_utf8(raw)
        .expect("utf8")
        .replace("http://localhost:8080", "https://evil.example");
    assert!(text.contains("evil.example"));
    v["response"]["clientDataJSON"] = serde_json::Value::String(URL_SAFE_NO_PAD.encode(text));
    v.to_string()
}

async fn security_keys_register_at_sign_in_then_sign_in(app: TestApp) {
    require_keys(&app).await;
    let id = app.user("mo").await;
    app.set_password(&id, PASSWORD).await;
    let mut key = SoftPasskey::new(true);

    let b = Browser::new(&app.base);
    let first = b.sign_in("mo", PASSWORD).await;
    assert_eq!(
        first.location.as_deref(),
        Some("/signin/mfa/register"),
        "{first:?}"
    );
    let done = register(
        &b,
        "/signin/mfa/register",
        "/signin/mfa/register/webauthn",
        &mut key,
        "Blue key",
    )
    .await;
    assert_eq!(done.location.as_deref(), Some("/portal"), "{done:?}");
    let devices = app.get(&format!("users/{id}/mfa-devices")).await;
    assert_eq!(devices.body["devices"][0]["kind"], "WEBAUTHN");
    assert_eq!(devices.body["devices"][0]["name"], "Blue key");

    // Next sign-in: the key is asked for, and works.
    let b = Browser::new(&app.base);
    assert_eq!(
        b.sign_in("mo", PASSWORD).await.location.as_deref(),
        Some("/signin/mfa")
    );
    let (answer, replay, csrf) = authenticate(&b, &mut key).await;
    assert_eq!(answer.location.as_deref(), Some("/portal"), "{answer:?}");
    let sessions = app.get(&format!("users/{id}/sessions")).await;
    let amrs: Vec<String> = sessions.body["sessions"]
        .as_array()
        .expect("sessions")
        .iter()
        .map(|s| s["amr"].to_string())
        .collect();
    assert!(
        amrs.contains(&r#"["pwd","hwk","mfa"]"#.to_owned()),
        "{amrs:?}"
    );
    let used = app.get(&format!("users/{id}/mfa-devices")).await;
    assert!(used.body["devices"][0]["lastUsedAt"].is_string());

    // The same signed answer cannot be used again: the challenge was single-use.
    let c = Browser::new(&app.base);
    assert_eq!(
        c.sign_in("mo", PASSWORD).await.location.as_deref(),
        Some("/signin/mfa")
    );
    let page = c.get("/signin/mfa").await;
    let (status, _) = c
        .post_json("/signin/mfa/webauthn/options", &page.meta_csrf())
        .await;
    assert_eq!(status, 200);
    let replayed = c
        .post(
            "/signin/mfa/webauthn/verify",
            &[("csrf", &page.csrf_or(&csrf)), ("credential", &replay)],
        )
        .await;
    assert_ne!(
        replayed.location.as_deref(),
        Some("/portal"),
        "{replayed:?}"
    );
    assert_eq!(c.get("/portal").await.status, 303, "no session");
}

async fn keys_added_from_the_portal_and_refused_answers(app: TestApp) {
    let s = app.put("settings", Some(json!({"mfa": {"prompt": "NEVER", "allowedTypes": ["WEBAUTHN", "AUTHENTICATOR_APP"]}}))).await;
    assert_eq!(s.status, 200);
    let id = app.user("nia").await;
    app.set_password(&id, PASSWORD).await;
    let b = Browser::new(&app.base);
    assert_eq!(
        b.sign_in("nia", PASSWORD).await.location.as_deref(),
        Some("/portal")
    );
    let mut key = SoftPasskey::new(true);
    let added = register(
        &b,
        "/portal/mfa-devices",
        "/portal/mfa-devices/webauthn",
        &mut key,
        "Laptop",
    )
    .await;
    assert_eq!(
        added.location.as_deref(),
        Some("/portal/mfa-devices?added=1"),
        "{added:?}"
    );
    let list = b.get("/portal/mfa-devices?added=1").await;
    assert!(list.body.contains("Laptop"));

    // A JSON request without the CSRF header is refused.
    let (status, body) = b
        .post_json("/portal/mfa-devices/webauthn/options", "forged")
        .await;
    assert_eq!(status, 403, "{body}");

    // Now require the key at every sign-in; an answer whose signed client data names another
    // origin is refused.
    let s = app
        .put(
            "settings",
            Some(json!({"mfa": {"prompt": "EVERY_SIGN_IN", "noDeviceAction": "BLOCK"}})),
        )
        .await;
    assert_eq!(s.status, 200);
    let c = Browser::new(&app.base);
    assert_eq!(
        c.sign_in("nia", PASSWORD).await.location.as_deref(),
        Some("/signin/mfa")
    );
    let (answer, _, _) = authenticate_with(&c, &mut key, other_origin).await;
    assert_ne!(answer.location.as_deref(), Some("/portal"), "{answer:?}");
    assert!(answer.body.contains("not accepted"), "{}", answer.body);
    // A different, unregistered key is refused too.
    let mut stranger = SoftPasskey::new(true);
    let d = Browser::new(&app.base);
    d.sign_in("nia", PASSWORD).await;
    let page = d.get("/signin/mfa").await;
    let (_, options) = d
        .post_json("/signin/mfa/webauthn/options", &page.meta_csrf())
        .await;
    let options: RequestChallengeResponse = serde_json::from_value(options).expect("options");
    assert!(
        stranger.do_authentication(origin(), options).is_err(),
        "the stranger holds none of the allowed credentials"
    );
    // And the right key still works.
    let e = Browser::new(&app.base);
    e.sign_in("nia", PASSWORD).await;
    let (ok, _, _) = authenticate(&e, &mut key).await;
    assert_eq!(ok.location.as_deref(), Some("/portal"), "{ok:?}");
}
