//! The portal's launch link for OIDC applications (`initiate_login_uri` with `iss`, else the
//! origin of the first https redirect URI; a page for someone not assigned), and SAML `IsPassive`
//! (no session: a `NoPassive` status Response to the ACS; a session: a success Response), and a
//! launch that another site started (`Sec-Fetch-Site`) confirmed before any assertion is posted.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use portcullis_sessions::Clock;
use portcullis_testkit::Browser;
use serde_json::json;

use crate::helpers::TestApp;
use crate::oidc_support::{ISSUER, assign, create_app, mfa_off, person, registration, signed_in};
use crate::saml::{
    authn_request, posted, redirect_query, register, service_provider, status_of, through,
};

crate::on_both_backends!(
    oidc_launch_goes_to_initiate_login_uri_or_redirect_origin,
    is_passive_answers_without_asking,
    a_launch_another_site_started_is_confirmed_first,
);

async fn oidc_launch_goes_to_initiate_login_uri_or_redirect_origin(app: TestApp) {
    mfa_off(&app).await;
    let ada = person(&app, "ada").await;
    person(&app, "bob").await;
    let with = create_app(
        &app,
        "Wiki",
        registration(json!({"initiateLoginUri": "https://wiki.example.com/login?from=portal"})),
    )
    .await;
    let without = create_app(
        &app,
        "Tracker",
        registration(json!({"redirectUris": [
            "http://127.0.0.1:9000/callback",
            "https://tracker.example.com:8443/oidc/callback"
        ]})),
    )
    .await;
    assign(&app, &with, "USER", &ada).await;
    assign(&app, &without, "USER", &ada).await;

    let b = signed_in(&app, "ada").await;
    let portal = b.get("/portal?tab=applications").await;
    for id in [&with.id, &without.id] {
        assert!(
            portal.body.contains(&format!("/applications/{id}/launch")),
            "{}",
            portal.body
        );
    }

    // initiate_login_uri: 302 to it, its own query kept, with `iss` (OpenID Connect Core §4).
    let r = b.get(&format!("/applications/{}/launch", with.id)).await;
    assert_eq!(r.status, 302, "{r:?}");
    let loc = url::Url::parse(r.location.as_deref().unwrap()).unwrap();
    assert_eq!(
        (loc.origin().ascii_serialization(), loc.path()),
        ("https://wiki.example.com".to_owned(), "/login")
    );
    let query: Vec<(String, String)> = loc.query_pairs().into_owned().collect();
    assert_eq!(
        query,
        vec![
            ("from".to_owned(), "portal".to_owned()),
            ("iss".to_owned(), ISSUER.to_owned())
        ]
    );

    // No initiate_login_uri: the origin of the first https redirect URI.
    let r = b.get(&format!("/applications/{}/launch", without.id)).await;
    assert_eq!(r.status, 302, "{r:?}");
    assert_eq!(
        r.location.as_deref(),
        Some("https://tracker.example.com:8443/")
    );

    // Bob is assigned to neither: a clear page, and no redirect anywhere.
    let bob = signed_in(&app, "bob").await;
    for id in [&with.id, &without.id] {
        let r = bob.get(&format!("/applications/{id}/launch")).await;
        assert_eq!(r.status, 403, "{r:?}");
        assert!(r.location.is_none());
        assert!(r.body.contains("not assigned"), "{}", r.body);
        assert!(!r.body.contains("wiki.example.com"), "{}", r.body);
    }
    // Nor is a made-up application id anything but that page.
    let r = bob.get("/applications/not-an-id/launch").await;
    assert_eq!(r.status, 403, "{r:?}");

    // Signed out: the launch link sends the person to sign in first.
    let anonymous = Browser::new(&app.base);
    let r = anonymous
        .get(&format!("/applications/{}/launch", with.id))
        .await;
    assert!(matches!(r.status, 302 | 303), "{r:?}");
    assert!(
        !r.location
            .as_deref()
            .unwrap_or("")
            .contains("wiki.example.com"),
        "{r:?}"
    );
}

fn passive(id: &str, now: chrono::DateTime<chrono::Utc>) -> String {
    authn_request(id, now, None).replace(" Version=\"2.0\"", " Version=\"2.0\" IsPassive=\"true\"")
}

async fn is_passive_answers_without_asking(app: TestApp) {
    mfa_off(&app).await;
    let ada = person(&app, "ada").await;
    register(&app, json!({"nameIdFormat": "emailAddress"}), Some(&ada)).await;
    let sp = service_provider(&app).await;

    // No session: not asked to sign in; a NoPassive status Response to the ACS instead.
    let anonymous = Browser::new(&app.base);
    let xml = passive("_passive1", app.clock.now());
    let first = anonymous
        .get(&format!("/saml/sso?{}", redirect_query(&xml, "rs-p", None)))
        .await;
    // Answered at once: nobody is asked to sign in, nothing is parked.
    assert_eq!(first.status, 200, "{first:?}");
    let page = through(&anonymous, first).await;
    assert_eq!(page.field("RelayState").as_deref(), Some("rs-p"));
    let response = posted(&page, "SAMLResponse");
    assert_eq!(
        status_of(&response),
        "urn:oasis:names:tc:SAML:2.0:status:Responder urn:oasis:names:tc:SAML:2.0:status:NoPassive"
    );
    let decoded = String::from_utf8(STANDARD.decode(&response).unwrap()).unwrap();
    assert!(decoded.contains("InResponseTo=\"_passive1\""), "{decoded}");
    assert!(!decoded.contains("<saml:Assertion"), "{decoded}");
    // Nobody's assertion was sent.
    assert!(!decoded.contains("ada@example.com"));

    // With a session: a success Response, still without a sign-in page.
    let b = signed_in(&app, "ada").await;
    let xml = passive("_passive2", app.clock.now());
    let first = b
        .get(&format!("/saml/sso?{}", redirect_query(&xml, "rs-q", None)))
        .await;
    let page = through(&b, first).await;
    let assertion = sp
        .parse_base64_response(&posted(&page, "SAMLResponse"), Some(&["_passive2"]))
        .unwrap();
    assert_eq!(
        assertion.subject.unwrap().name_id.unwrap().value,
        "ada@example.com"
    );
}

/// `saml.entity_id` (the `[saml]` configuration section) names us in the metadata.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_configured_entity_id_is_in_the_metadata() {
    let app = crate::helpers::spawn_app_configured(crate::helpers::Backend::Sqlite, |c| {
        c.saml.entity_id = Some("urn:example:portcullis".into());
    })
    .await;
    let metadata = app
        .client
        .get(format!("{}/saml/metadata", app.base))
        .send()
        .await
        .expect("metadata")
        .text()
        .await
        .expect("body");
    assert!(
        metadata.contains(r#"entityID="urn:example:portcullis""#),
        "{metadata}"
    );
}

/// A launch link on another site must not make the browser post an assertion to the SP (login
/// CSRF into the SP): as the console link, a cross-site or same-site navigation asks first.
async fn a_launch_another_site_started_is_confirmed_first(app: TestApp) {
    mfa_off(&app).await;
    let ada = person(&app, "ada").await;
    let id = register(&app, json!({}), Some(&ada)).await;
    let b = signed_in(&app, "ada").await;
    let path = format!("/applications/{id}/launch");
    let launch = |site: &'static str| {
        let b = &b;
        let url = format!("{}{path}", app.base);
        async move {
            let r = b
                .client
                .get(url)
                .header("sec-fetch-site", site)
                .send()
                .await
                .unwrap();
            (r.status().as_u16(), r.text().await.unwrap())
        }
    };
    for site in ["cross-site", "same-site"] {
        let (status, body) = launch(site).await;
        assert_eq!(status, 200, "{site}: {body}");
        assert!(!body.contains("SAMLResponse"), "{site}: {body}");
        assert!(body.contains("Another site sent you here"), "{body}");
        assert!(body.contains(&format!("href=\"{path}\"")), "{body}");
    }
    // Followed from our page (same-origin), typed (none) or from a client without the header.
    for site in ["same-origin", "none"] {
        let (status, body) = launch(site).await;
        assert_eq!(status, 200, "{site}: {body}");
        assert!(body.contains("name=\"SAMLResponse\""), "{site}: {body}");
    }
    let page = b.get(&path).await;
    assert!(page.field("SAMLResponse").is_some(), "{page:?}");
}
