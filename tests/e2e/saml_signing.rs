//! Signing choices: `signedPart: "both"` signs the Assertion and the Response around it, each
//! signature verifying on its own terms (xmlsec through samael, with the certificate from our
//! metadata).

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use samael::crypto::{CertificateDer, Crypto, CryptoProvider, ReduceMode};
use serde_json::json;

use crate::helpers::TestApp;
use crate::oidc_support::{mfa_off, person, signed_in};
use crate::saml::{posted, register, service_provider};

crate::on_both_backends!(both_the_response_and_the_assertion_are_signed,);

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
