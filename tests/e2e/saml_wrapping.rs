//! Signature wrapping against the real endpoint: an AuthnRequest signed by the SP (xmlsec,
//! through samael) is accepted; the same signed request moved inside a forged one, or its
//! signature moved into a forged request beside it, is refused, by an SP that must sign.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use portcullis_sessions::Clock;

use crate::helpers::TestApp;
use crate::saml::{SP, authn_request, signed_authn_request, signing_sp};

crate::on_both_backends!(wrapped_signed_requests_are_refused);

async fn wrapped_signed_requests_are_refused(app: TestApp) {
    let (b, key, cert) = signing_sp(&app).await;
    let now = app.clock.now();
    let sign = |id: &str| signed_authn_request(id, now, (&key, &cert));
    let post = |xml: String| {
        let b = &b;
        async move {
            b.post("/saml/sso", &[("SAMLRequest", &STANDARD.encode(xml))])
                .await
        }
    };
    let body = |signed: &str| {
        let start = signed.find("<samlp:AuthnRequest").unwrap();
        signed[start..].to_owned()
    };
    // Control: the SP's signed request is accepted.
    let ok = post(sign("_w1")).await;
    assert_eq!(ok.status, 200, "{ok:?}");
    assert!(ok.field("SAMLResponse").is_some(), "{ok:?}");

    // The signed request inside a forged one with another ID.
    let forged = authn_request("_w2forged", now, None).replace(
        "</samlp:AuthnRequest>",
        &format!(
            "<samlp:Extensions>{}</samlp:Extensions></samlp:AuthnRequest>",
            body(&sign("_w2"))
        ),
    );
    let r = post(forged).await;
    assert_eq!(r.status, 400, "{r:?}");
    assert!(r.body.contains("signature does not verify"), "{}", r.body);

    // The signature moved into a forged request; the signed one kept beside it.
    let signed = body(&sign("_w3"));
    let start = signed.find("<ds:Signature").unwrap();
    let end = signed.find("</ds:Signature>").unwrap() + "</ds:Signature>".len();
    let original = format!("{}{}", &signed[..start], &signed[end..]);
    let moved = authn_request("_w3forged", now, None).replace(
        "</saml:Issuer>",
        &format!(
            "</saml:Issuer>{}<samlp:Extensions>{original}</samlp:Extensions>",
            &signed[start..end]
        ),
    );
    let r = post(moved).await;
    assert_eq!(r.status, 400, "{r:?}");
    assert!(!r.body.contains(SP), "{}", r.body);
}
