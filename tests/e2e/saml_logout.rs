//! Single logout ends only the session a LogoutRequest names, and only once: a validly signed
//! request for another person or another session, an old one, or a replayed one signs nobody
//! out and is answered with a non-success LogoutResponse. The LogoutResponse goes by a binding
//! the SP declared for its SingleLogoutService.

use std::io::Read;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use portcullis_sessions::Clock;
use portcullis_testkit::Browser;
use serde_json::json;

use crate::helpers::TestApp;
use crate::oidc_support::{mfa_off, person, signed_in};
use crate::saml::{posted, register, service_provider, sp_key};
use crate::saml_redirect::{logout_request, signed_query};
use crate::saml_signing::{register_from_metadata, sp_metadata};

crate::on_both_backends!(
    logout_ends_only_the_named_fresh_session_once,
    transient_name_ids_are_matched_too,
    the_logout_response_goes_by_a_binding_the_sp_declared,
);

const SLO: &str = "https://sp.example/slo";
const REQUESTER: &str = "urn:oasis:names:tc:SAML:2.0:status:Requester";
pub(crate) const SUCCESS: &str = "urn:oasis:names:tc:SAML:2.0:status:Success";

/// The XML of the LogoutResponse in a Redirect `location` to the SP's SLO URL.
pub(crate) fn redirected_response(location: &str) -> String {
    let url = url::Url::parse(location).unwrap();
    let b64 = url
        .query_pairs()
        .find(|(k, _)| k == "SAMLResponse")
        .map(|(_, v)| v.into_owned())
        .expect("a SAMLResponse");
    let mut xml = String::new();
    flate2::read::DeflateDecoder::new(STANDARD.decode(b64).unwrap().as_slice())
        .read_to_string(&mut xml)
        .unwrap();
    xml
}

/// The top-level status code of a LogoutResponse.
pub(crate) fn top_status(xml: &str) -> String {
    let start = xml.find("StatusCode Value=\"").unwrap() + 18;
    xml[start..start + xml[start..].find('"').unwrap()].to_owned()
}

/// Sends a signed LogoutRequest by Redirect from `b`; returns the LogoutResponse XML.
async fn logout(b: &Browser, query: &str) -> String {
    let r = b.get(&format!("/saml/slo?{query}")).await;
    assert_eq!(r.status, 302, "{r:?}");
    let loc = r.location.unwrap();
    assert!(loc.starts_with(&format!("{SLO}?SAMLResponse=")), "{loc}");
    redirected_response(&loc)
}

/// The NameID and SessionIndex of an assertion from a portal launch of `id` by `b`.
async fn launched(app: &TestApp, b: &Browser, id: &str) -> (String, String) {
    let sp = service_provider(app).await;
    let page = b.get(&format!("/applications/{id}/launch")).await;
    let assertion = sp
        .parse_base64_response(&posted(&page, "SAMLResponse"), None)
        .unwrap();
    let name_id = assertion.subject.unwrap().name_id.unwrap().value;
    let index = assertion.authn_statements.unwrap()[0]
        .session_index
        .clone()
        .unwrap();
    (name_id, index)
}

async fn signed_in_still(b: &Browser) -> bool {
    b.get("/portal").await.status == 200
}

async fn logout_ends_only_the_named_fresh_session_once(app: TestApp) {
    mfa_off(&app).await;
    let ada = person(&app, "ada").await;
    let bob = person(&app, "bob").await;
    let (key, cert) = sp_key();
    let id = register(
        &app,
        json!({"requireSignedRequests": true, "certificate": STANDARD.encode(&cert)}),
        None,
    )
    .await;
    for user in [&ada, &bob] {
        let r = app
            .post(
                &format!("applications/{id}/assignments"),
                json!({"principalType": "USER", "principalId": user}),
            )
            .await;
        assert_eq!(r.status, 201, "{r:?}");
    }
    let b = signed_in(&app, "ada").await;
    let (name_id, index) = launched(&app, &b, &id).await;
    let bob_b = signed_in(&app, "bob").await;
    launched(&app, &bob_b, &id).await;
    let now = app.clock.now();

    // Ada's (validly signed) LogoutRequest brought by Bob's browser: Bob stays signed in.
    let q = signed_query(
        &logout_request("_lo-a1", now, &name_id, Some(&index)),
        None,
        &key,
    );
    let xml = logout(&bob_b, &q).await;
    assert_eq!(top_status(&xml), REQUESTER, "{xml}");
    assert!(xml.contains("UnknownPrincipal"), "{xml}");
    assert!(
        signed_in_still(&bob_b).await,
        "Bob was signed out by Ada's request"
    );

    // Ada's NameID with another session's index: Ada stays signed in.
    let q = signed_query(
        &logout_request("_lo-a2", now, &name_id, Some("_0123456789abcdef")),
        None,
        &key,
    );
    let xml = logout(&b, &q).await;
    assert_eq!(top_status(&xml), REQUESTER, "{xml}");
    assert!(signed_in_still(&b).await);

    // An old request (10 minutes) and one from the future: refused.
    for (n, at) in [
        ("_lo-a3", now - chrono::Duration::minutes(10)),
        ("_lo-a4", now + chrono::Duration::minutes(10)),
    ] {
        let q = signed_query(&logout_request(n, at, &name_id, Some(&index)), None, &key);
        let xml = logout(&b, &q).await;
        assert_eq!(top_status(&xml), REQUESTER, "{xml}");
        assert!(xml.contains("RequestDenied"), "{xml}");
        assert!(signed_in_still(&b).await);
    }

    // Fresh, but past its own NotOnOrAfter: refused.
    let expired = logout_request("_lo-a5", now, &name_id, Some(&index)).replacen(
        " Version=",
        &format!(
            " NotOnOrAfter=\"{}\" Version=",
            (now - chrono::Duration::minutes(5)).to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
        ),
        1,
    );
    let xml = logout(&b, &signed_query(&expired, None, &key)).await;
    assert_eq!(top_status(&xml), REQUESTER, "{xml}");
    assert!(signed_in_still(&b).await);

    // The right one (NameID only, no SessionIndex): Ada's session ends, with Success.
    let q = signed_query(
        &logout_request("_lo-ok", now, &name_id, None),
        Some("bye"),
        &key,
    );
    let xml = logout(&b, &q).await;
    assert_eq!(top_status(&xml), SUCCESS, "{xml}");
    assert!(xml.contains("InResponseTo=\"_lo-ok\""), "{xml}");
    assert!(!signed_in_still(&b).await, "Ada's session ended");
    assert!(signed_in_still(&bob_b).await, "Bob's did not");

    // Replayed after Ada signs in again: refused, she stays signed in.
    let b = signed_in(&app, "ada").await;
    let xml = logout(&b, &q).await;
    assert_eq!(top_status(&xml), REQUESTER, "{xml}");
    assert!(
        signed_in_still(&b).await,
        "a replayed LogoutRequest signed Ada out"
    );
}

async fn transient_name_ids_are_matched_too(app: TestApp) {
    mfa_off(&app).await;
    let ada = person(&app, "ada").await;
    let id = register(&app, json!({"nameIdFormat": "transient"}), Some(&ada)).await;
    let b = signed_in(&app, "ada").await;
    let (name_id, index) = launched(&app, &b, &id).await;
    let now = app.clock.now();
    let unsigned = |id: &str, name: &str| {
        crate::saml::redirect_query(&logout_request(id, now, name, Some(&index)), "r", None)
    };
    let xml = logout(&b, &unsigned("_lt1", "_not-what-we-issued")).await;
    assert_eq!(top_status(&xml), REQUESTER, "{xml}");
    assert!(signed_in_still(&b).await);
    let xml = logout(&b, &unsigned("_lt2", &name_id)).await;
    assert_eq!(top_status(&xml), SUCCESS, "{xml}");
    assert!(!signed_in_still(&b).await);
}

async fn the_logout_response_goes_by_a_binding_the_sp_declared(app: TestApp) {
    mfa_off(&app).await;
    let ada = person(&app, "ada").await;
    // The SP's metadata declares HTTP-POST only for its SingleLogoutService.
    let a = register_from_metadata(&app, sp_metadata(None, &["HTTP-POST"]), json!({}), &ada).await;
    assert_eq!(a.status, 201, "{a:?}");
    assert_eq!(a.body["saml"]["sloBindings"], json!(["HTTP-POST"]), "{a:?}");
    let id = a.body["applicationId"].as_str().unwrap().to_owned();
    let b = signed_in(&app, "ada").await;
    let (name_id, _) = launched(&app, &b, &id).await;
    // A LogoutRequest by Redirect is answered by POST, with an enveloped signature.
    let q = crate::saml::redirect_query(
        &logout_request("_lb1", app.clock.now(), &name_id, None),
        "rs-post",
        None,
    );
    let r = b.get(&format!("/saml/slo?{q}")).await;
    assert_eq!(r.status, 200, "{r:?}");
    assert!(r.body.contains(&format!("action=\"{SLO}\"")), "{}", r.body);
    assert_eq!(r.field("RelayState").as_deref(), Some("rs-post"));
    let xml =
        String::from_utf8(STANDARD.decode(r.field("SAMLResponse").unwrap()).unwrap()).unwrap();
    assert!(xml.contains("<samlp:LogoutResponse"), "{xml}");
    assert!(xml.contains("<ds:Signature"), "{xml}");
    assert_eq!(top_status(&xml), SUCCESS, "{xml}");
    assert!(!signed_in_still(&b).await);

    // Declared HTTP-Redirect only: a LogoutRequest by POST is answered by Redirect.
    let p = app
        .patch(
            &format!("applications/{id}"),
            json!({"saml": {"metadataXml": sp_metadata(None, &["HTTP-Redirect"])}}),
        )
        .await;
    assert_eq!(p.status, 200, "{p:?}");
    let b = signed_in(&app, "ada").await;
    let (name_id, _) = launched(&app, &b, &id).await;
    let lo = logout_request("_lb2", app.clock.now(), &name_id, None);
    let r = b
        .post("/saml/slo", &[("SAMLRequest", &STANDARD.encode(lo))])
        .await;
    assert_eq!(r.status, 302, "{r:?}");
    let loc = r.location.unwrap();
    assert!(loc.starts_with(&format!("{SLO}?SAMLResponse=")), "{loc}");
    assert_eq!(top_status(&redirected_response(&loc)), SUCCESS);

    // Both declared: the request's own binding.
    let p = app
        .patch(
            &format!("applications/{id}"),
            json!({"saml": {"metadataXml": sp_metadata(None, &["HTTP-Redirect", "HTTP-POST"])}}),
        )
        .await;
    assert_eq!(p.status, 200, "{p:?}");
    let b = signed_in(&app, "ada").await;
    let (name_id, _) = launched(&app, &b, &id).await;
    let lo = logout_request("_lb3", app.clock.now(), &name_id, None);
    let r = b
        .post("/saml/slo", &[("SAMLRequest", &STANDARD.encode(lo))])
        .await;
    assert_eq!(r.status, 200, "{r:?}");
    assert!(r.body.contains(&format!("action=\"{SLO}\"")), "{}", r.body);
    // A binding by hand is checked.
    let bad = app
        .patch(
            &format!("applications/{id}"),
            json!({"saml": {"metadataXml": sp_metadata(None, &[]), "sloUrl": SLO, "sloBindings": ["SOAP"]}}),
        )
        .await;
    assert_eq!(bad.status, 400, "{bad:?}");
}
