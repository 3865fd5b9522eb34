//! Signing choices: `signedPart: "both"` signs the Assertion and the Response around it, each
//! signature verifying on its own terms (xmlsec through samael, with the certificate from our
//! metadata); SP metadata's `WantAssertionsSigned` honoured; and our metadata per SP, saying
//! `WantAuthnRequestsSigned="true"` to an SP that must sign.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use samael::crypto::{CertificateDer, Crypto, CryptoProvider, ReduceMode};
use serde_json::json;

use crate::helpers::TestApp;
use crate::oidc_support::{mfa_off, person, signed_in};
use crate::saml::{ACS, SP, posted, register, service_provider};

crate::on_both_backends!(
    both_the_response_and_the_assertion_are_signed,
    metadata_wanting_signed_assertions_gets_them,
    per_sp_metadata_says_when_requests_must_be_signed,
);

/// SP metadata for the test SP: HTTP-POST ACS, an SLO service per binding in `slo_bindings`, and
/// `WantAssertionsSigned` when `want` is given.
pub(crate) fn sp_metadata(want: Option<bool>, slo_bindings: &[&str]) -> String {
    let want = want
        .map(|w| format!(" WantAssertionsSigned=\"{w}\""))
        .unwrap_or_default();
    let slo: String = slo_bindings
        .iter()
        .map(|b| {
            format!(
                "<md:SingleLogoutService Binding=\"urn:oasis:names:tc:SAML:2.0:bindings:{b}\" \
                 Location=\"https://sp.example/slo\"/>"
            )
        })
        .collect();
    format!(
        "<md:EntityDescriptor xmlns:md=\"urn:oasis:names:tc:SAML:2.0:metadata\" \
         entityID=\"{SP}\"><md:SPSSODescriptor{want} \
         protocolSupportEnumeration=\"urn:oasis:names:tc:SAML:2.0:protocol\">{slo}\
         <md:AssertionConsumerService Binding=\"urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST\" \
         Location=\"{ACS}\" index=\"0\" isDefault=\"true\"/></md:SPSSODescriptor></md:EntityDescriptor>"
    )
}

/// Registers the test SP from `metadata` (plus `extra` fields) and assigns `user`.
pub(crate) async fn register_from_metadata(
    app: &TestApp,
    metadata: String,
    extra: serde_json::Value,
    user: &str,
) -> crate::helpers::Answer {
    let mut saml = json!({"metadataXml": metadata});
    for (k, v) in extra.as_object().unwrap() {
        saml[k] = v.clone();
    }
    let a = app
        .post(
            "applications",
            json!({"name": "From metadata", "kind": "SAML", "saml": saml}),
        )
        .await;
    if a.status == 201 {
        let id = a.body["applicationId"].as_str().unwrap();
        let r = app
            .post(
                &format!("applications/{id}/assignments"),
                json!({"principalType": "USER", "principalId": user}),
            )
            .await;
        assert_eq!(r.status, 201, "{r:?}");
    }
    a
}

/// Our signing certificate, from the published metadata.
async fn idp_certificate(app: &TestApp) -> CertificateDer {
    let md = app
        .client
        .get(format!("{}/saml/metadata", app.base))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let start = md.find("<ds:X509Certificate>").unwrap() + "<ds:X509Certificate>".len();
    let end = start + md[start..].find("</ds:X509Certificate>").unwrap();
    CertificateDer::from(STANDARD.decode(md[start..end].trim()).unwrap())
}

/// Whether every signature in `xml` verifies with `cert`.
fn verifies(xml: &str, cert: &CertificateDer) -> bool {
    Crypto::reduce_xml_to_signed(
        xml,
        std::slice::from_ref(cert),
        ReduceMode::ValidateAndMarkNoAncestors,
    )
    .is_ok()
}

/// The `saml:Assertion` element of a Response, as a document of its own.
fn assertion_alone(xml: &str) -> String {
    let start = xml.find("<saml:Assertion").unwrap();
    let end = xml.find("</saml:Assertion>").unwrap() + "</saml:Assertion>".len();
    xml[start..end].replacen(
        "<saml:Assertion",
        "<saml:Assertion xmlns:saml=\"urn:oasis:names:tc:SAML:2.0:assertion\"",
        1,
    )
}

/// The `ID` attribute following `element` in `xml`.
fn id_of(xml: &str, element: &str) -> String {
    let at = xml.find(element).unwrap();
    let start = at + xml[at..].find(" ID=\"").unwrap() + 5;
    xml[start..start + xml[start..].find('"').unwrap()].to_owned()
}

/// The Response a portal launch of `id` posts, decoded.
async fn launch_response(app: &TestApp, user: &str, id: &str) -> String {
    let b = signed_in(app, user).await;
    let page = b.get(&format!("/applications/{id}/launch")).await;
    String::from_utf8(STANDARD.decode(posted(&page, "SAMLResponse")).unwrap()).unwrap()
}

async fn both_the_response_and_the_assertion_are_signed(app: TestApp) {
    mfa_off(&app).await;
    let ada = person(&app, "ada").await;
    let id = register(&app, json!({"signedPart": "both"}), Some(&ada)).await;
    let shown = app.get(&format!("applications/{id}")).await;
    assert_eq!(shown.body["saml"]["signedPart"], "both", "{shown:?}");
    let xml = launch_response(&app, "ada", &id).await;
    let cert = idp_certificate(&app).await;

    let response_id = id_of(&xml, "<samlp:Response");
    let assertion_id = id_of(&xml, "<saml:Assertion");
    assert_eq!(xml.matches("<ds:Signature ").count(), 2, "{xml}");
    assert!(xml.contains(&format!("URI=\"#{response_id}\"")), "{xml}");
    assert!(xml.contains(&format!("URI=\"#{assertion_id}\"")), "{xml}");
    // The Response's signature directly follows its Issuer, before Status.
    let issuer_end = xml.find("</saml:Issuer>").unwrap();
    assert!(
        xml[issuer_end..].starts_with("</saml:Issuer><ds:Signature"),
        "{xml}"
    );
    // Both signatures verify together, and the Assertion's on its own.
    assert!(verifies(&xml, &cert), "{xml}");
    let alone = assertion_alone(&xml);
    assert!(alone.contains("<ds:Signature "), "{alone}");
    assert!(verifies(&alone, &cert), "{alone}");
    // The Response's signature covers what lies outside the Assertion.
    let tampered = xml.replacen("Destination=\"", "Destination=\"x", 1);
    assert!(!verifies(&tampered, &cert));
    assert!(verifies(&assertion_alone(&tampered), &cert));
    // And samael, as the SP, accepts it.
    let sp = service_provider(&app).await;
    sp.parse_base64_response(&STANDARD.encode(&xml), None)
        .unwrap();

    // Unknown choices are named.
    let bad = app
        .post(
            "applications",
            json!({"name": "X", "kind": "SAML", "saml": {"entityId": "urn:x", "acs": [{"url": "https://x.example/acs"}], "signedPart": "everything"}}),
        )
        .await;
    assert_eq!(bad.status, 400, "{bad:?}");
    assert!(bad.body.to_string().contains("both"), "{bad:?}");
}

/// `WantAssertionsSigned="true"` in SP metadata is honoured: the Assertion carries its own
/// signature (and the Response one too, by default), and `response` alone is refused.
async fn metadata_wanting_signed_assertions_gets_them(app: TestApp) {
    mfa_off(&app).await;
    let ada = person(&app, "ada").await;
    let refused = register_from_metadata(
        &app,
        sp_metadata(Some(true), &[]),
        json!({"signedPart": "response"}),
        &ada,
    )
    .await;
    assert_eq!(refused.status, 400, "{refused:?}");
    assert!(
        refused.body.to_string().contains("WantAssertionsSigned"),
        "{refused:?}"
    );
    let a = register_from_metadata(&app, sp_metadata(Some(true), &[]), json!({}), &ada).await;
    assert_eq!(a.status, 201, "{a:?}");
    assert_eq!(a.body["saml"]["signedPart"], "both", "{a:?}");
    let id = a.body["applicationId"].as_str().unwrap();
    let xml = launch_response(&app, "ada", id).await;
    let cert = idp_certificate(&app).await;
    let alone = assertion_alone(&xml);
    assert!(
        alone.contains("<ds:Signature "),
        "the Assertion is signed: {xml}"
    );
    assert!(verifies(&alone, &cert));
    assert!(verifies(&xml, &cert));
    // `assertion` as asked; metadata without the flag keeps the default.
    let patched = app
        .patch(
            &format!("applications/{id}"),
            json!({"saml": {"metadataXml": sp_metadata(Some(true), &[]), "signedPart": "assertion"}}),
        )
        .await;
    assert_eq!(patched.status, 200, "{patched:?}");
    assert_eq!(patched.body["saml"]["signedPart"], "assertion");
    let patched = app
        .patch(
            &format!("applications/{id}"),
            json!({"saml": {"metadataXml": sp_metadata(Some(false), &[])}}),
        )
        .await;
    assert_eq!(patched.status, 200, "{patched:?}");
    assert_eq!(patched.body["saml"]["signedPart"], "response");
}

async fn metadata_text(app: &TestApp, query: &str) -> (u16, String) {
    let r = app
        .client
        .get(format!("{}/saml/metadata{query}", app.base))
        .send()
        .await
        .unwrap();
    (r.status().as_u16(), r.text().await.unwrap())
}

/// samlify (and others) sign only when the IdP's metadata wants signed requests: an SP that must
/// sign gets metadata saying so, by its entity id or application id.
async fn per_sp_metadata_says_when_requests_must_be_signed(app: TestApp) {
    let (_, cert) = crate::saml::sp_key();
    let id = register(
        &app,
        json!({"requireSignedRequests": true, "certificate": STANDARD.encode(&cert)}),
        None,
    )
    .await;
    register(
        &app,
        json!({"entityId": "https://relaxed.example/saml"}),
        None,
    )
    .await;
    let want = "WantAuthnRequestsSigned=\"true\"";
    let (status, generic) = metadata_text(&app, "").await;
    assert_eq!(status, 200);
    assert!(
        generic.contains("WantAuthnRequestsSigned=\"false\""),
        "{generic}"
    );
    let sp = url::form_urlencoded::byte_serialize(SP.as_bytes()).collect::<String>();
    let (status, strict) = metadata_text(&app, &format!("?sp={sp}")).await;
    assert_eq!(status, 200);
    assert!(strict.contains(want), "{strict}");
    let entity = |md: &str| {
        md[md.find("entityID=").unwrap()..]
            .split('"')
            .nth(1)
            .map(str::to_owned)
    };
    assert_eq!(entity(&strict), entity(&generic), "the same IdP");
    strict
        .parse::<samael::metadata::EntityDescriptor>()
        .expect("valid metadata");
    let (_, by_id) = metadata_text(&app, &format!("?applicationId={id}")).await;
    assert!(by_id.contains(want), "{by_id}");
    let (_, relaxed) = metadata_text(&app, "?sp=https%3A%2F%2Frelaxed.example%2Fsaml").await;
    assert!(
        relaxed.contains("WantAuthnRequestsSigned=\"false\""),
        "{relaxed}"
    );
    for unknown in [
        "?sp=urn%3Anobody",
        "?applicationId=not-an-id",
        &format!("?applicationId={}", uuid::Uuid::new_v4()),
    ] {
        let (status, body) = metadata_text(&app, unknown).await;
        assert_eq!(status, 404, "{unknown}: {body}");
    }
}
