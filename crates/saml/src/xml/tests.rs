//! The XML layer on its own: decoding limits, the readers, our signatures, and what an SP's
//! signature must be to count (the wrapping, algorithm and transform refusals).

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::OnceLock;

use super::*;

/// One key pair for the module's tests (RSA generation is slow in debug builds).
fn key() -> &'static SigningKey {
    static KEY: OnceLock<SigningKey> = OnceLock::new();
    KEY.get_or_init(|| {
        let (key, cert) = generate_key_and_certificate("test", 1).unwrap();
        SigningKey::open(&key, cert).unwrap()
    })
}

const NOW: &str = "2026-12-03T10:00:00Z";

/// A signed AuthnRequest with `id`, its signature after the Issuer.
fn signed_request(id: &str) -> String {
    let mut w = XmlWriter::new();
    w.start_element(
        "samlp:AuthnRequest",
        &[
            ("xmlns:samlp", PROTOCOL_NS),
            ("xmlns:saml", ASSERTION_NS),
            ("ID", id),
            ("Version", "2.0"),
            ("IssueInstant", NOW),
            ("AssertionConsumerServiceURL", "https://sp.example/acs"),
        ],
    );
    w.start_element("saml:Issuer", &[]);
    w.text("https://sp.example");
    w.end_element("saml:Issuer");
    key().write_template(&mut w, id);
    w.empty_element("samlp:NameIDPolicy", &[("AllowCreate", "true")]);
    w.end_element("samlp:AuthnRequest");
    key().sign(w.into_string()).unwrap()
}

fn verify(xml: &str, allow_sha1: bool) -> Result<(), XmlError> {
    Message::parse(xml)?.verify(key().cert_der(), allow_sha1)
}

#[test]
fn dtds_and_oversized_messages_are_refused() {
    let dtd = "<!DOCTYPE x [<!ENTITY a SYSTEM \"file:///etc/passwd\">]><x>&a;</x>";
    assert_eq!(decode_post(&STANDARD.encode(dtd)), Err(XmlError::Dtd));
    assert_eq!(Message::parse(dtd).unwrap_err(), XmlError::Dtd);
    let big = format!("<x>{}</x>", "a".repeat(MAX_MESSAGE_BYTES));
    assert_eq!(decode_post(&STANDARD.encode(&big)), Err(XmlError::TooLarge));
    // An inflation bomb: a few hundred bytes that inflate past the limit stop at the limit.
    let bomb = encode_redirect(&format!("<x>{}</x>", " ".repeat(10 * MAX_MESSAGE_BYTES)));
    assert!(bomb.len() < 2_000, "{}", bomb.len());
    assert_eq!(decode_redirect(&bomb), Err(XmlError::TooLarge));
    assert_eq!(
        decode_redirect(&encode_redirect("<x/>")).as_deref(),
        Ok("<x/>")
    );
    let deep = format!("{}{}", "<a>".repeat(100), "</a>".repeat(100));
    assert!(matches!(Message::parse(&deep), Err(XmlError::Malformed(_))));
    assert!(matches!(
        Message::parse("<a><b></a>"),
        Err(XmlError::Malformed(_))
    ));
    // Characters XML does not allow, in an attribute or in text, by either binding (the fuzz
    // target found a NUL in an ID that did not survive being written again).
    for bad in ["<x ID=\"a\0b\"/>", "<x>\u{1}</x>", "<x>\u{FFFF}</x>"] {
        assert!(
            matches!(Message::parse(bad), Err(XmlError::Malformed(_))),
            "{bad:?}"
        );
        assert!(matches!(
            decode_redirect(&encode_redirect(bad)),
            Err(XmlError::Malformed(_))
        ));
    }
    assert!(Message::parse("<x a=\"\t\">\r\n\u{10FFFF}</x>").is_ok());
}

#[test]
fn requests_are_read_by_namespace_and_whole_text() {
    let xml = format!(
        "<p:AuthnRequest xmlns:p=\"{PROTOCOL_NS}\" xmlns:a=\"{ASSERTION_NS}\" ID=\"_r\" \
         Version=\"2.0\" IssueInstant=\"2026-12-03T11:00:00+01:00\" IsPassive=\"1\" \
         AssertionConsumerServiceIndex=\"3\"><a:Issuer>https://sp<!-- -->.example&amp;x</a:Issuer>\
         </p:AuthnRequest>"
    );
    let r = Message::parse(&xml).unwrap().authn_request().unwrap();
    assert_eq!(r.issuer.as_deref(), Some("https://sp.example&x"));
    assert_eq!(r.issue_instant.to_rfc3339(), "2026-12-03T10:00:00+00:00");
    assert_eq!(
        (
            r.is_passive,
            r.force_authn,
            r.assertion_consumer_service_index
        ),
        (Some(true), None, Some(3))
    );
    // The same names in another namespace are not SAML.
    let foreign = xml.replace(PROTOCOL_NS, "urn:other");
    assert!(Message::parse(&foreign).unwrap().authn_request().is_err());
    let two_issuers = xml.replace(
        "</p:AuthnRequest>",
        "<a:Issuer>https://other.example</a:Issuer></p:AuthnRequest>",
    );
    assert!(
        Message::parse(&two_issuers)
            .unwrap()
            .authn_request()
            .is_err()
    );
    let no_instant = xml.replace("IssueInstant=", "X=");
    assert!(
        Message::parse(&no_instant)
            .unwrap()
            .authn_request()
            .is_err()
    );

    let logout = format!(
        "<samlp:LogoutRequest xmlns:samlp=\"{PROTOCOL_NS}\" xmlns:saml=\"{ASSERTION_NS}\" ID=\"a\" \
         NotOnOrAfter=\"soon\"><saml:NameID>n</saml:NameID><samlp:SessionIndex>_one</samlp:SessionIndex>\
         <samlp:SessionIndex> _t&amp;wo </samlp:SessionIndex></samlp:LogoutRequest>"
    );
    let r = Message::parse(&logout).unwrap().logout_request().unwrap();
    assert_eq!(
        r.session_indexes,
        vec!["_one".to_owned(), "_t&wo".to_owned()]
    );
    assert_eq!(r.name_id.as_deref(), Some("n"));
    assert_eq!(r.not_on_or_after.as_deref(), Some("soon"));
    assert_eq!(r.issue_instant, None);
    assert!(Message::parse(&logout).unwrap().authn_request().is_err());
}

#[test]
fn our_signatures_verify_and_tampering_is_seen() {
    let signed = signed_request("_abc");
    assert!(signed.contains(SHA256) && !signed.contains(SHA1));
    assert_eq!(verify(&signed, false), Ok(()));
    let tampered = signed.replace("https://sp.example/acs", "https://evil.example/acs");
    assert_eq!(verify(&tampered, false), Err(XmlError::BadSignature));
    // Another certificate: not the signer.
    let (_, other) = generate_key_and_certificate("other", 1).unwrap();
    let message = Message::parse(&signed).unwrap();
    assert_eq!(message.verify(&other, false), Err(XmlError::BadSignature));
    // No signature at all is not a verified one.
    let unsigned = signed_request("_u");
    let start = unsigned.find("<ds:Signature").unwrap();
    let end = unsigned.find("</ds:Signature>").unwrap() + "</ds:Signature>".len();
    let unsigned = format!("{}{}", &unsigned[..start], &unsigned[end..]);
    assert!(!Message::parse(&unsigned).unwrap().has_signature());
    assert_eq!(verify(&unsigned, false), Err(XmlError::BadSignature));
}

#[test]
fn sha1_needs_the_opt_in() {
    // We make no SHA-1 signatures; an SP's (as OpenSSL makes them) is checked here.
    let sha1 = include_str!("fixtures/authn-request-sha1.xml");
    let cert = STANDARD
        .decode(include_str!("fixtures/sp-cert.b64").trim())
        .unwrap();
    let message = Message::parse(sha1).unwrap();
    assert_eq!(message.verify(&cert, false), Err(XmlError::Algorithm));
    assert_eq!(message.verify(&cert, true), Ok(()));
    let tampered = sha1.replace("_sha1req", "_sha1reX");
    let message = Message::parse(&tampered).unwrap();
    assert_eq!(message.verify(&cert, true), Err(XmlError::BadSignature));
}

#[test]
fn a_signature_must_cover_the_root_it_sits_in() {
    let signed = signed_request("_inner");
    // XSW: the signed request wrapped in a forged one (another ID, another ACS).
    let forged = format!(
        "<samlp:AuthnRequest xmlns:samlp=\"{PROTOCOL_NS}\" xmlns:saml=\"{ASSERTION_NS}\" ID=\"_forged\" \
         Version=\"2.0\" IssueInstant=\"{NOW}\" AssertionConsumerServiceURL=\"https://evil.example/acs\">\
         <saml:Issuer>https://sp.example</saml:Issuer><samlp:Extensions>{signed}</samlp:Extensions>\
         </samlp:AuthnRequest>"
    );
    assert_eq!(verify(&forged, false), Err(XmlError::BadSignature));
    // XSW: the signature moved into a forged request, pointing at the original kept beside it.
    let start = signed.find("<ds:Signature").unwrap();
    let end = signed.find("</ds:Signature>").unwrap() + "</ds:Signature>".len();
    let signature = &signed[start..end];
    let original = format!("{}{}", &signed[..start], &signed[end..]);
    let moved = format!(
        "<samlp:AuthnRequest xmlns:samlp=\"{PROTOCOL_NS}\" xmlns:saml=\"{ASSERTION_NS}\" ID=\"_forged\" \
         Version=\"2.0\" IssueInstant=\"{NOW}\" AssertionConsumerServiceURL=\"https://evil.example/acs\">\
         <saml:Issuer>https://sp.example</saml:Issuer>{signature}<samlp:Extensions>{original}\
         </samlp:Extensions></samlp:AuthnRequest>"
    );
    assert_eq!(verify(&moved, false), Err(XmlError::BadSignature));
    // A second element with the signed ID: refused outright.
    let duplicate = signed.replace(
        "</samlp:AuthnRequest>",
        "<samlp:Extensions><x ID=\"_inner\"/></samlp:Extensions></samlp:AuthnRequest>",
    );
    assert_eq!(verify(&duplicate, false), Err(XmlError::BadSignature));
    // Unsigned content added after signing is seen (the root's digest covers it).
    let added = signed.replace(
        "</samlp:AuthnRequest>",
        "<saml:Issuer>https://other.example</saml:Issuer></samlp:AuthnRequest>",
    );
    assert_eq!(verify(&added, false), Err(XmlError::BadSignature));
}

#[test]
fn only_the_saml_transforms_are_accepted() {
    let signed = signed_request("_t");
    let xpath = signed.replace(
        "<ds:Transform Algorithm=\"http://www.w3.org/2001/10/xml-exc-c14n#\"/>",
        "<ds:Transform Algorithm=\"http://www.w3.org/TR/1999/REC-xpath-19991116\">\
         <ds:XPath>not(ancestor-or-self::saml:Issuer)</ds:XPath></ds:Transform>",
    );
    assert_ne!(xpath, signed);
    assert_eq!(verify(&xpath, false), Err(XmlError::Algorithm));
    let hmac = signed.replace(
        RSA_SHA256,
        "http://www.w3.org/2001/04/xmldsig-more#hmac-sha256",
    );
    assert_eq!(verify(&hmac, false), Err(XmlError::Algorithm));
}

#[test]
fn query_signatures() {
    let q = "SAMLRequest=abc&SigAlg=x";
    let sig = key().sign_query(q).unwrap();
    let cert = key().cert_der();
    assert_eq!(
        verify_query_signature(q, &sig, RSA_SHA256, cert, false),
        Ok(())
    );
    assert_eq!(
        verify_query_signature("SAMLRequest=abd&SigAlg=x", &sig, RSA_SHA256, cert, false),
        Err(XmlError::BadSignature)
    );
    assert_eq!(
        verify_query_signature(q, &sig, RSA_SHA1, cert, false),
        Err(XmlError::Algorithm)
    );
}

#[test]
fn certificates_are_checked() {
    assert_eq!(check_certificate(key().cert_der()), Ok(()));
    assert!(check_certificate(b"not a certificate").is_err());
    let mut trailing = key().cert_der().to_vec();
    trailing.push(0);
    assert!(check_certificate(&trailing).is_err());
}

#[test]
fn a_byte_order_mark_and_a_default_namespace_are_read() {
    let xml = format!(
        "\u{feff}<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<AuthnRequest xmlns=\"{PROTOCOL_NS}\" \
         ID=\"_d\" Version=\"2.0\" IssueInstant=\"{NOW}\"><Issuer xmlns=\"{ASSERTION_NS}\">\
         https://sp.example</Issuer></AuthnRequest>"
    );
    let decoded = decode_post(&STANDARD.encode(&xml)).unwrap();
    let r = Message::parse(&decoded).unwrap().authn_request().unwrap();
    assert_eq!(r.issuer.as_deref(), Some("https://sp.example"));
}
