//! The SAML identity provider, with samael as the service provider that validates our Responses
//! (Response signed, Assertion signed), IdP-initiated launch, single logout, and the refusals:
//! unknown SP, unregistered ACS, unsigned or tampered requests where signing is required, replayed
//! IDs, expired IssueInstant, oversized messages, DTDs, unassigned people, SHA-1.

use std::io::Write;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use portcullis_sessions::Clock;
use portcullis_testkit::{Browser, Page};
use samael::crypto::{AllowedSignatureAlgorithm, CryptoProvider};
use samael::metadata::EntityDescriptor;
use samael::service_provider::ServiceProvider;
use serde_json::{Value, json};

use crate::helpers::TestApp;
use crate::oidc_support::{mfa_off, person, signed_in};

crate::on_both_backends!(
    sp_initiated_redirect_with_a_signed_response,
    sp_initiated_post_with_a_signed_assertion,
    idp_initiated_launch_and_single_logout,
    refusals,
);

pub(crate) const SP: &str = "https://sp.example/saml";
pub(crate) const ACS: &str = "https://sp.example/acs";
const PUBLIC: &str = "http://localhost:8080";

/// An SP key (PKCS#1 DER) and its certificate (DER).
pub(crate) fn sp_key() -> (Vec<u8>, Vec<u8>) {
    use samael::idp::{CertificateParams, IdentityProvider, KeyType, Rsa};
    let idp = IdentityProvider::generate_new(KeyType::Rsa(Rsa::Rsa2048)).unwrap();
    let cert = idp
        .create_certificate(&CertificateParams {
            common_name: "sp",
            issuer_name: "sp",
            days_until_expiration: 30,
        })
        .unwrap();
    (
        idp.export_private_key_der().unwrap(),
        cert.der_data().to_vec(),
    )
}

/// Registers the SAML application with `saml` over the defaults and assigns `user` to it.
pub(crate) async fn register(app: &TestApp, saml: Value, user: Option<&str>) -> String {
    let mut body = json!({"entityId": SP, "acs": [{"url": ACS, "index": 0, "isDefault": true}],
    "sloUrl": "https://sp.example/slo",
    "attributes": [
        {"name": "mail", "value": "${user:email}"},
        {"name": "who", "value": "${user:name} (${user:subject})"},
        {"name": "dept", "value": "engineering"}
    ]});
    for (k, v) in saml.as_object().unwrap() {
        body[k] = v.clone();
    }
    let a = app
        .post(
            "applications",
            json!({"name": "Payroll", "kind": "SAML", "saml": body}),
        )
        .await;
    assert_eq!(a.status, 201, "{a:?}");
    let id = a.body["applicationId"].as_str().unwrap().to_owned();
    if let Some(user) = user {
        let r = app
            .post(
                &format!("applications/{id}/assignments"),
                json!({"principalType": "USER", "principalId": user}),
            )
            .await;
        assert_eq!(r.status, 201, "{r:?}");
    }
    id
}

/// Our published IdP metadata, as samael reads it.
pub(crate) async fn idp_metadata(app: &TestApp) -> EntityDescriptor {
    let md = app
        .client
        .get(format!("{}/saml/metadata", app.base))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    md.parse().unwrap()
}

/// samael as the SP, trusting our published metadata.
pub(crate) async fn service_provider(app: &TestApp) -> ServiceProvider {
    let idp_metadata = idp_metadata(app).await;
    ServiceProvider {
        entity_id: Some(SP.into()),
        acs_url: Some(ACS.into()),
        idp_metadata,
        allow_idp_initiated: true,
        allowed_signature_algorithms: Some(vec![AllowedSignatureAlgorithm::RsaSha256]),
        ..Default::default()
    }
}

pub(crate) fn authn_request(
    id: &str,
    instant: chrono::DateTime<chrono::Utc>,
    acs: Option<&str>,
) -> String {
    let acs = acs
        .map(|a| format!(" AssertionConsumerServiceURL=\"{a}\""))
        .unwrap_or_default();
    format!(
        "<samlp:AuthnRequest xmlns:samlp=\"urn:oasis:names:tc:SAML:2.0:protocol\" \
         xmlns:saml=\"urn:oasis:names:tc:SAML:2.0:assertion\" ID=\"{id}\" Version=\"2.0\" \
         IssueInstant=\"{}\" Destination=\"{PUBLIC}/saml/sso\"{acs}><saml:Issuer>{SP}</saml:Issuer>\
         </samlp:AuthnRequest>",
        instant.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
    )
}

pub(crate) fn deflate(xml: &str) -> String {
    let mut enc = flate2::write::DeflateEncoder::new(Vec::new(), flate2::Compression::default());
    enc.write_all(xml.as_bytes()).unwrap();
    STANDARD.encode(enc.finish().unwrap())
}

pub(crate) fn enc(v: &str) -> String {
    url::form_urlencoded::byte_serialize(v.as_bytes()).collect()
}

/// The HTTP-Redirect query for `xml`, signed with `key` (PKCS#1) when given.
pub(crate) fn redirect_query(xml: &str, relay: &str, key: Option<(&[u8], bool)>) -> String {
    let mut q = format!(
        "SAMLRequest={}&RelayState={}",
        enc(&deflate(xml)),
        enc(relay)
    );
    if let Some((key, sha1)) = key {
        let (alg, md) = if sha1 {
            (
                "http://www.w3.org/2000/09/xmldsig#rsa-sha1",
                openssl::hash::MessageDigest::sha1(),
            )
        } else {
            (
                "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256",
                openssl::hash::MessageDigest::sha256(),
            )
        };
        q.push_str(&format!("&SigAlg={}", enc(alg)));
        let pkey =
            openssl::pkey::PKey::from_rsa(openssl::rsa::Rsa::private_key_from_der(key).unwrap())
                .unwrap();
        let mut signer = openssl::sign::Signer::new(md, &pkey).unwrap();
        signer.update(q.as_bytes()).unwrap();
        q.push_str(&format!(
            "&Signature={}",
            enc(&STANDARD.encode(signer.sign_to_vec().unwrap()))
        ));
    }
    q
}

/// The auto-post page `/saml/sso` answered with: at once (a signed-in or passive request), or
/// after following its redirect to `/saml/continue`.
pub(crate) async fn through(b: &Browser, first: Page) -> Page {
    if first.status == 200 {
        return first;
    }
    assert_eq!(first.status, 302, "{first:?}");
    let next = first.location.clone().unwrap();
    assert!(next.starts_with("/saml/continue?r="), "{next}");
    b.get(&next).await
}

pub(crate) fn posted(page: &Page, field: &str) -> String {
    assert_eq!(page.status, 200, "{page:?}");
    assert!(
        page.body.contains(&format!("action=\"{ACS}\"")),
        "{}",
        page.body
    );
    page.field(field).expect("a SAMLResponse field")
}

pub(crate) fn status_of(b64: &str) -> String {
    let xml = String::from_utf8(STANDARD.decode(b64).unwrap()).unwrap();
    let start = xml.find("StatusCode Value=\"").unwrap() + 18;
    let inner = &xml[start..];
    let first = &inner[..inner.find('"').unwrap()];
    match inner.find("StatusCode Value=\"") {
        Some(i) => {
            let s = &inner[i + 18..];
            format!("{first} {}", &s[..s.find('"').unwrap()])
        }
        None => first.to_owned(),
    }
}

async fn sp_initiated_redirect_with_a_signed_response(app: TestApp) {
    mfa_off(&app).await;
    let ada = person(&app, "ada").await;
    register(&app, json!({"nameIdFormat": "emailAddress"}), Some(&ada)).await;
    let sp = service_provider(&app).await;
    let md: String = app
        .client
        .get(format!("{}/saml/metadata", app.base))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(md.contains("urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect"));
    assert!(md.contains("SingleLogoutService"));
    let b = signed_in(&app, "ada").await;
    let xml = authn_request("_req1", app.clock.now(), Some(ACS));
    // Signed in: the Response comes in the answer to the request itself.
    let page = b
        .get(&format!("/saml/sso?{}", redirect_query(&xml, "rs-1", None)))
        .await;
    assert_eq!(page.status, 200, "{page:?}");
    assert!(page.body.contains("/static/saml-post.js") && page.body.contains("<button"));
    assert_eq!(page.field("RelayState").as_deref(), Some("rs-1"));
    let assertion = sp
        .parse_base64_response(&posted(&page, "SAMLResponse"), Some(&["_req1"]))
        .unwrap();
    let name_id = assertion.subject.unwrap().name_id.unwrap();
    assert_eq!(name_id.value, "ada@example.com");
    let attrs = &assertion.attribute_statements.unwrap()[0].attributes;
    let value = |n: &str| {
        attrs
            .iter()
            .find(|a| a.name.as_deref() == Some(n))
            .unwrap()
            .values[0]
            .value
            .clone()
            .unwrap()
    };
    assert_eq!(value("mail"), "ada@example.com");
    assert_eq!(value("dept"), "engineering");
    assert!(value("who").contains(&ada), "{}", value("who"));
}

async fn sp_initiated_post_with_a_signed_assertion(app: TestApp) {
    mfa_off(&app).await;
    let ada = person(&app, "ada").await;
    let (key, cert) = sp_key();
    register(
        &app,
        json!({"signedPart": "assertion", "requireSignedRequests": true,
               "certificate": STANDARD.encode(&cert)}),
        Some(&ada),
    )
    .await;
    let sp = service_provider(&app).await;
    let b = signed_in(&app, "ada").await;
    // A signed POST request (enveloped signature, SHA-256).
    let id = "_post1";
    let signed = signed_authn_request(id, app.clock.now(), (&key, &cert));
    let first = b
        .post("/saml/sso", &[("SAMLRequest", &STANDARD.encode(&signed))])
        .await;
    let page = through(&b, first).await;
    let assertion = sp
        .parse_base64_response(&posted(&page, "SAMLResponse"), Some(&[id]))
        .unwrap();
    // Persistent by default: opaque, stable.
    let nid = assertion.subject.unwrap().name_id.unwrap().value;
    // Hex only, so neither the user name nor the email can show through.
    assert_eq!(nid.len(), 64);
    assert!(nid.bytes().all(|b| b.is_ascii_hexdigit()), "{nid}");
    // The same request, unsigned, is refused (the SP must sign).
    let unsigned = authn_request("_post2", app.clock.now(), None);
    let r = b
        .post("/saml/sso", &[("SAMLRequest", &STANDARD.encode(&unsigned))])
        .await;
    assert_eq!(r.status, 400, "{r:?}");
    // Tampered after signing (its ID changed): refused.
    let r = b
        .post(
            "/saml/sso",
            &[(
                "SAMLRequest",
                &STANDARD.encode(signed.replace("_post1", "_post3")),
            )],
        )
        .await;
    assert_eq!(r.status, 400, "{r:?}");
    // A signed Redirect request verifies; the same with SHA-1 is refused.
    let xml = authn_request("_redir1", app.clock.now(), None);
    let ok = b
        .get(&format!(
            "/saml/sso?{}",
            redirect_query(&xml, "x", Some((&key, false)))
        ))
        .await;
    // Signed in: answered at once, the Response in the page.
    assert_eq!(ok.status, 200, "{ok:?}");
    assert!(ok.field("SAMLResponse").is_some(), "{ok:?}");
    let xml = authn_request("_redir2", app.clock.now(), None);
    let sha1 = b
        .get(&format!(
            "/saml/sso?{}",
            redirect_query(&xml, "x", Some((&key, true)))
        ))
        .await;
    assert_eq!(sha1.status, 400, "{sha1:?}");
    assert!(sha1.body.contains("SHA-1"), "{}", sha1.body);
    // Tampered Redirect: a different RelayState than was signed.
    let xml = authn_request("_redir3", app.clock.now(), None);
    let q = redirect_query(&xml, "x", Some((&key, false))).replace("RelayState=x", "RelayState=y");
    assert_eq!(b.get(&format!("/saml/sso?{q}")).await.status, 400);
}

/// An AuthnRequest with `id`, signed in the XML by the SP (samael, on xmlsec) with `key`.
pub(crate) fn signed_authn_request(
    id: &str,
    instant: chrono::DateTime<chrono::Utc>,
    (key, cert): (&[u8], &[u8]),
) -> String {
    let xml = authn_request(id, instant, None).replace(
        "</saml:Issuer>",
        &format!("</saml:Issuer>{}", signature_template(id, cert)),
    );
    samael::crypto::Crypto::sign_xml(&xml, key).unwrap()
}

/// A SAML application that must sign its requests (its key and certificate returned), assigned
/// to `ada`, and a browser in which she is signed in.
pub(crate) async fn signing_sp(app: &TestApp) -> (Browser, Vec<u8>, Vec<u8>) {
    mfa_off(app).await;
    let ada = person(app, "ada").await;
    let (key, cert) = sp_key();
    register(
        app,
        json!({"requireSignedRequests": true, "certificate": STANDARD.encode(&cert)}),
        Some(&ada),
    )
    .await;
    (signed_in(app, "ada").await, key, cert)
}

pub(crate) fn signature_template(id: &str, cert: &[u8]) -> String {
    format!(
        "<ds:Signature xmlns:ds=\"http://www.w3.org/2000/09/xmldsig#\"><ds:SignedInfo>\
         <ds:CanonicalizationMethod Algorithm=\"http://www.w3.org/2001/10/xml-exc-c14n#\"/>\
         <ds:SignatureMethod Algorithm=\"http://www.w3.org/2001/04/xmldsig-more#rsa-sha256\"/>\
         <ds:Reference URI=\"#{id}\"><ds:Transforms>\
         <ds:Transform Algorithm=\"http://www.w3.org/2000/09/xmldsig#enveloped-signature\"/>\
         <ds:Transform Algorithm=\"http://www.w3.org/2001/10/xml-exc-c14n#\"/></ds:Transforms>\
         <ds:DigestMethod Algorithm=\"http://www.w3.org/2001/04/xmlenc#sha256\"/>\
         <ds:DigestValue></ds:DigestValue></ds:Reference></ds:SignedInfo>\
         <ds:SignatureValue></ds:SignatureValue><ds:KeyInfo><ds:X509Data><ds:X509Certificate>{}\
         </ds:X509Certificate></ds:X509Data></ds:KeyInfo></ds:Signature>",
        STANDARD.encode(cert)
    )
}

async fn idp_initiated_launch_and_single_logout(app: TestApp) {
    mfa_off(&app).await;
    let ada = person(&app, "ada").await;
    person(&app, "bob").await;
    let id = register(
        &app,
        json!({"startUrl": "https://sp.example/home"}),
        Some(&ada),
    )
    .await;
    let sp = service_provider(&app).await;
    let b = signed_in(&app, "ada").await;
    let portal = b.get("/portal?tab=applications").await;
    assert!(
        portal.body.contains(&format!("/applications/{id}/launch")),
        "{}",
        portal.body
    );
    let page = b.get(&format!("/applications/{id}/launch")).await;
    assert_eq!(
        page.field("RelayState").as_deref(),
        Some("https://sp.example/home")
    );
    let assertion = sp
        .parse_base64_response(&posted(&page, "SAMLResponse"), None)
        .unwrap();
    let name_id = assertion.subject.unwrap().name_id.unwrap().value;
    // Bob is not assigned: a clear page.
    let bob = signed_in(&app, "bob").await;
    let refused = bob.get(&format!("/applications/{id}/launch")).await;
    assert_eq!(refused.status, 403);
    assert!(refused.body.contains("not assigned"));
    // Single logout: Ada's session ends; the answer goes to the SP's SLO URL, signed.
    let logout = format!(
        "<samlp:LogoutRequest xmlns:samlp=\"urn:oasis:names:tc:SAML:2.0:protocol\" \
         xmlns:saml=\"urn:oasis:names:tc:SAML:2.0:assertion\" ID=\"_lo1\" Version=\"2.0\" \
         IssueInstant=\"{}\"><saml:Issuer>{SP}</saml:Issuer><saml:NameID>{name_id}</saml:NameID>\
         </samlp:LogoutRequest>",
        app.clock
            .now()
            .to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
    );
    let r = b
        .get(&format!(
            "/saml/slo?{}",
            redirect_query(&logout, "bye", None)
        ))
        .await;
    assert_eq!(r.status, 302, "{r:?}");
    let loc = r.location.unwrap();
    assert!(
        loc.starts_with("https://sp.example/slo?SAMLResponse="),
        "{loc}"
    );
    assert!(loc.contains("&Signature=") && loc.contains("RelayState=bye"));
    assert_eq!(b.get("/portal").await.status, 303);
}

async fn refusals(app: TestApp) {
    mfa_off(&app).await;
    person(&app, "bob").await;
    register(&app, json!({}), None).await;
    let b = signed_in(&app, "bob").await;
    let now = app.clock.now();
    let get = |xml: String| {
        let b = &b;
        async move {
            b.get(&format!("/saml/sso?{}", redirect_query(&xml, "r", None)))
                .await
        }
    };
    // Unknown SP.
    let r = get(authn_request("_u1", now, None).replace(SP, "https://other.example")).await;
    assert_eq!(r.status, 400);
    assert!(r.body.contains("not known"));
    // Unregistered ACS: never posted there.
    let r = get(authn_request("_u2", now, Some("https://evil.example/acs"))).await;
    assert_eq!(r.status, 400);
    assert!(!r.body.contains("evil.example"));
    // DTD.
    let dtd = format!(
        "<!DOCTYPE x [<!ENTITY e \"e\">]>{}",
        authn_request("_u3", now, None)
    );
    assert_eq!(get(dtd).await.status, 400);
    // Oversized.
    let big = authn_request("_u4", now, None).replace(
        "</samlp:AuthnRequest>",
        &format!("<!--{}--></samlp:AuthnRequest>", "a".repeat(70_000)),
    );
    assert_eq!(get(big).await.status, 400);
    let big = authn_request("_u4b", now, None).replace(
        "</samlp:AuthnRequest>",
        &format!("<!--{}--></samlp:AuthnRequest>", "a".repeat(70_000)),
    );
    let r = b
        .post("/saml/sso", &[("SAMLRequest", &STANDARD.encode(big))])
        .await;
    assert!(matches!(r.status, 400 | 413), "{r:?}");
    // Expired IssueInstant: a Requester status to the (trusted) ACS.
    let old = get(authn_request(
        "_u5",
        now - chrono::Duration::minutes(10),
        None,
    ))
    .await;
    assert!(status_of(&posted(&old, "SAMLResponse")).contains("Requester"));
    // Unassigned person: RequestDenied.
    let first = get(authn_request("_u6", now, None)).await;
    let page = through(&b, first).await;
    assert!(status_of(&posted(&page, "SAMLResponse")).ends_with("RequestDenied"));
    // Replayed ID.
    let again = get(authn_request("_u6", now, None)).await;
    assert_eq!(again.status, 200, "{again:?}");
    assert!(status_of(&posted(&again, "SAMLResponse")).contains("Requester"));
    // Admin API: SHA-1-free by default, bad settings named.
    let bad = app
        .post(
            "applications",
            json!({"name": "X", "kind": "SAML", "saml": {"entityId": "x", "acs": [{"url": "http://sp.example/acs"}],
                   "attributes": [{"name": "a", "value": "${user:password}"}]}}),
        )
        .await;
    assert_eq!(bad.status, 400, "{bad:?}");
}
