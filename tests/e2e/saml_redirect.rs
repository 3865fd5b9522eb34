//! The HTTP-Redirect binding's query signature covers exactly the parameters that are used
//! (SAML Bindings §3.4.4.1): a `RelayState` smuggled past the signature under an encoded name
//! (`Relay%53tate`), or a second copy of any binding parameter, is refused — for AuthnRequests at
//! `/saml/sso` and LogoutRequests at `/saml/slo` — while a validly signed query still verifies.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use portcullis_sessions::Clock;

use crate::helpers::TestApp;
use crate::saml::{SP, authn_request, deflate, enc, signing_sp};

crate::on_both_backends!(smuggled_parameters_are_refused,);

pub(crate) const RSA_SHA256: &str = "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256";

/// A Redirect query for `xml` in `SAMLRequest`, with `relay` when given, signed with `key`.
pub(crate) fn signed_query(xml: &str, relay: Option<&str>, key: &[u8]) -> String {
    let mut q = format!("SAMLRequest={}", enc(&deflate(xml)));
    if let Some(r) = relay {
        q.push_str(&format!("&RelayState={}", enc(r)));
    }
    q.push_str(&format!("&SigAlg={}", enc(RSA_SHA256)));
    let pkey = openssl::pkey::PKey::from_rsa(openssl::rsa::Rsa::private_key_from_der(key).unwrap())
        .unwrap();
    let mut signer =
        openssl::sign::Signer::new(openssl::hash::MessageDigest::sha256(), &pkey).unwrap();
    signer.update(q.as_bytes()).unwrap();
    q.push_str(&format!(
        "&Signature={}",
        enc(&STANDARD.encode(signer.sign_to_vec().unwrap()))
    ));
    q
}

/// A LogoutRequest from the test SP.
pub(crate) fn logout_request(
    id: &str,
    instant: chrono::DateTime<chrono::Utc>,
    name_id: &str,
    session_index: Option<&str>,
) -> String {
    let index = session_index
        .map(|s| format!("<samlp:SessionIndex>{s}</samlp:SessionIndex>"))
        .unwrap_or_default();
    format!(
        "<samlp:LogoutRequest xmlns:samlp=\"urn:oasis:names:tc:SAML:2.0:protocol\" \
         xmlns:saml=\"urn:oasis:names:tc:SAML:2.0:assertion\" ID=\"{id}\" Version=\"2.0\" \
         IssueInstant=\"{}\"><saml:Issuer>{SP}</saml:Issuer><saml:NameID>{name_id}</saml:NameID>\
         {index}</samlp:LogoutRequest>",
        instant.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
    )
}

async fn smuggled_parameters_are_refused(app: TestApp) {
    let (b, key, _cert) = signing_sp(&app).await;
    let now = app.clock.now();

    // Signed without a RelayState; the attacker appends one under an encoded name.
    let q = signed_query(&authn_request("_smuggle1", now, None), None, &key);
    let r = b
        .get(&format!(
            "/saml/sso?{q}&Relay%53tate=https%3A%2F%2Fevil.example"
        ))
        .await;
    assert_eq!(r.status, 400, "{r:?}");
    assert!(r.body.contains("plain name"), "{}", r.body);
    assert!(!r.body.contains("evil.example"), "{}", r.body);
    // The same under its plain name is not covered by the signature: refused too.
    let q = signed_query(&authn_request("_smuggle2", now, None), None, &key);
    let r = b.get(&format!("/saml/sso?{q}&RelayState=evil")).await;
    assert_eq!(r.status, 400, "{r:?}");
    // Second copies of each binding parameter, plain or encoded.
    let q = signed_query(&authn_request("_smuggle3", now, None), Some("rs"), &key);
    for extra in [
        "&RelayState=rs",
        "&SigAlg=http%3A%2F%2Fwww.w3.org%2F2000%2F09%2Fxmldsig%23rsa-sha1",
        "&Signature=AAAA",
        "&SAMLRequest=AAAA",
        "&SAML%52equest=AAAA",
        "&%53igAlg=x",
        "&Sig%41lg=x",
        "&%53ignature=AAAA",
    ] {
        let r = b.get(&format!("/saml/sso?{q}{extra}")).await;
        assert_eq!(r.status, 400, "{extra}: {r:?}");
    }
    // The untouched query verifies (other, unknown parameters are ignored).
    let r = b.get(&format!("/saml/sso?{q}&utm=1")).await;
    assert_eq!(r.status, 200, "{r:?}");
    assert!(r.field("SAMLResponse").is_some(), "{r:?}");

    // LogoutRequest by Redirect: the same rules; the session stays.
    let lo = logout_request("_lo-smuggle", now, "x", None);
    let q = signed_query(&lo, None, &key);
    let r = b
        .get(&format!(
            "/saml/slo?{q}&Relay%53tate=https%3A%2F%2Fevil.example"
        ))
        .await;
    assert_eq!(r.status, 400, "{r:?}");
    let q = signed_query(&lo, Some("bye"), &key);
    let r = b.get(&format!("/saml/slo?{q}&RelayState=bye")).await;
    assert_eq!(r.status, 400, "{r:?}");
    assert_eq!(b.get("/portal").await.status, 200, "still signed in");
}
