//! The only module that touches samael, xmlsec and OpenSSL: decoding inbound SAML messages
//! (size limit, DTDs refused), verifying XML signatures so that the element whose signature
//! verified is the element used (samael's `ValidateAndMarkNoAncestors` reduction: everything not
//! covered by a verified signature is dropped before the message is parsed), verifying
//! HTTP-Redirect query signatures (SAML Bindings §3.4.4.1), and signing what we send. samael is a
//! 0.0.x crate: keep its types behind this module so it can be replaced.

use std::io::Read;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use samael::crypto::{
    AllowedSignatureAlgorithm, CertificateDer, Crypto, CryptoProvider, ReduceMode,
};
pub use samael::schema::{AuthnRequest, LogoutRequest};

/// The largest inbound message, as XML, and so the largest inflated Redirect payload.
pub const MAX_MESSAGE_BYTES: usize = 64 * 1024;

pub const RSA_SHA256: &str = "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256";
pub const RSA_SHA1: &str = "http://www.w3.org/2000/09/xmldsig#rsa-sha1";
pub const SHA256: &str = "http://www.w3.org/2001/04/xmlenc#sha256";
pub const SHA1: &str = "http://www.w3.org/2000/09/xmldsig#sha1";
const DSIG_NS: &str = "http://www.w3.org/2000/09/xmldsig#";

/// Why an inbound message was refused (each maps to a SAML status or a page at the edge).
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum XmlError {
    #[error("the message is larger than {MAX_MESSAGE_BYTES} bytes")]
    TooLarge,
    #[error("the message contains a document type declaration")]
    Dtd,
    #[error("the message is not valid base64 / DEFLATE / UTF-8")]
    Encoding,
    #[error("the message is malformed: {0}")]
    Malformed(String),
    #[error("the signature does not verify")]
    BadSignature,
    #[error("the signature algorithm is not accepted")]
    Algorithm,
    #[error("signing failed")]
    Signing,
}

fn check_safe(xml: &str) -> Result<(), XmlError> {
    if xml.len() > MAX_MESSAGE_BYTES {
        return Err(XmlError::TooLarge);
    }
    // SAML messages never carry a DTD; refusing it refuses entity expansion and external entities
    // before any parser sees them.
    let upper = xml.to_ascii_uppercase();
    if upper.contains("<!DOCTYPE") || upper.contains("<!ENTITY") {
        return Err(XmlError::Dtd);
    }
    Ok(())
}

fn base64_decode(b64: &str) -> Result<Vec<u8>, XmlError> {
    if b64.len() > MAX_MESSAGE_BYTES * 4 / 3 + 8 {
        return Err(XmlError::TooLarge);
    }
    let clean: String = b64.chars().filter(|c| !c.is_ascii_whitespace()).collect();
    STANDARD.decode(clean).map_err(|_| XmlError::Encoding)
}

/// An HTTP-POST binding message (`SAMLRequest` form field): base64 XML.
pub fn decode_post(b64: &str) -> Result<String, XmlError> {
    let xml = String::from_utf8(base64_decode(b64)?).map_err(|_| XmlError::Encoding)?;
    check_safe(&xml)?;
    Ok(xml)
}

/// An HTTP-Redirect binding message: base64 of raw DEFLATE (SAML Bindings §3.4.4.1), inflated
/// no further than the size limit.
pub fn decode_redirect(b64: &str) -> Result<String, XmlError> {
    let compressed = base64_decode(b64)?;
    let mut out = Vec::new();
    flate2::read::DeflateDecoder::new(compressed.as_slice())
        .take(MAX_MESSAGE_BYTES as u64 + 1)
        .read_to_end(&mut out)
        .map_err(|_| XmlError::Encoding)?;
    if out.len() > MAX_MESSAGE_BYTES {
        return Err(XmlError::TooLarge);
    }
    let xml = String::from_utf8(out).map_err(|_| XmlError::Encoding)?;
    check_safe(&xml)?;
    Ok(xml)
}

/// DEFLATE + base64, for messages we send by HTTP-Redirect.
pub fn encode_redirect(xml: &str) -> String {
    use std::io::Write;
    let mut enc = flate2::write::DeflateEncoder::new(Vec::new(), flate2::Compression::default());
    // Writing to a Vec cannot fail.
    let _ = enc.write_all(xml.as_bytes());
    STANDARD.encode(enc.finish().unwrap_or_default())
}

/// Whether the message carries an XML signature anywhere.
pub fn has_signature(xml: &str) -> bool {
    xml.contains(DSIG_NS) && xml.contains("Signature")
}

/// Verifies every XML signature of `xml` against `cert_der` and returns the document reduced to
/// what the signatures cover: the caller parses only that, so an unsigned wrapper element can
/// never be what is used. RSA-SHA256 with SHA-256 digests, or any algorithm when `allow_sha1`.
pub fn verify_reduced(xml: &str, cert_der: &[u8], allow_sha1: bool) -> Result<String, XmlError> {
    check_safe(xml)?;
    if !allow_sha1 && (xml.contains(RSA_SHA1) || xml.contains(SHA1)) {
        return Err(XmlError::Algorithm);
    }
    let allowed = [AllowedSignatureAlgorithm::RsaSha256];
    Crypto::reduce_xml_to_signed_with_allowed_algorithms(
        xml,
        &[CertificateDer::from(cert_der.to_vec())],
        ReduceMode::ValidateAndMarkNoAncestors,
        (!allow_sha1).then_some(&allowed[..]),
    )
    .map_err(|_| XmlError::BadSignature)
}

/// Verifies an HTTP-Redirect query signature over `signed` (the raw, still URL-encoded
/// `SAMLRequest=…&RelayState=…&SigAlg=…` as received).
pub fn verify_query_signature(
    signed: &str,
    signature_b64: &str,
    sig_alg: &str,
    cert_der: &[u8],
    allow_sha1: bool,
) -> Result<(), XmlError> {
    let digest = match sig_alg {
        RSA_SHA256 => openssl::hash::MessageDigest::sha256(),
        RSA_SHA1 if allow_sha1 => openssl::hash::MessageDigest::sha1(),
        _ => return Err(XmlError::Algorithm),
    };
    let signature = base64_decode(signature_b64)?;
    let cert = openssl::x509::X509::from_der(cert_der).map_err(|_| XmlError::BadSignature)?;
    let key = cert.public_key().map_err(|_| XmlError::BadSignature)?;
    let mut verifier =
        openssl::sign::Verifier::new(digest, &key).map_err(|_| XmlError::BadSignature)?;
    verifier
        .update(signed.as_bytes())
        .map_err(|_| XmlError::BadSignature)?;
    match verifier.verify(&signature) {
        Ok(true) => Ok(()),
        _ => Err(XmlError::BadSignature),
    }
}

/// Signs a query string for HTTP-Redirect (RSA-SHA256): the `Signature` parameter's value.
pub fn sign_query(signed: &str, key_der: &[u8]) -> Result<String, XmlError> {
    let rsa = openssl::rsa::Rsa::private_key_from_der(key_der).map_err(|_| XmlError::Signing)?;
    let key = openssl::pkey::PKey::from_rsa(rsa).map_err(|_| XmlError::Signing)?;
    let mut signer = openssl::sign::Signer::new(openssl::hash::MessageDigest::sha256(), &key)
        .map_err(|_| XmlError::Signing)?;
    signer
        .update(signed.as_bytes())
        .map_err(|_| XmlError::Signing)?;
    Ok(STANDARD.encode(signer.sign_to_vec().map_err(|_| XmlError::Signing)?))
}

/// An enveloped-signature template for the element with `id` (exclusive C14N, RSA-SHA256 and
/// SHA-256, or RSA-SHA1 and SHA-1 for an SP that opted in), carrying our certificate.
pub fn signature_template(id: &str, cert_der: &[u8], sha1: bool) -> String {
    let (method, digest) = if sha1 {
        (RSA_SHA1, SHA1)
    } else {
        (RSA_SHA256, SHA256)
    };
    format!(
        "<ds:Signature xmlns:ds=\"{DSIG_NS}\"><ds:SignedInfo>\
         <ds:CanonicalizationMethod Algorithm=\"http://www.w3.org/2001/10/xml-exc-c14n#\"/>\
         <ds:SignatureMethod Algorithm=\"{method}\"/><ds:Reference URI=\"#{id}\"><ds:Transforms>\
         <ds:Transform Algorithm=\"http://www.w3.org/2000/09/xmldsig#enveloped-signature\"/>\
         <ds:Transform Algorithm=\"http://www.w3.org/2001/10/xml-exc-c14n#\"/></ds:Transforms>\
         <ds:DigestMethod Algorithm=\"{digest}\"/><ds:DigestValue></ds:DigestValue></ds:Reference>\
         </ds:SignedInfo><ds:SignatureValue></ds:SignatureValue><ds:KeyInfo><ds:X509Data>\
         <ds:X509Certificate>{}</ds:X509Certificate></ds:X509Data></ds:KeyInfo></ds:Signature>",
        STANDARD.encode(cert_der)
    )
}

/// Fills in the one signature template of `xml` with `key_der` (PKCS#1 RSA private key).
pub fn sign(xml: &str, key_der: &[u8]) -> Result<String, XmlError> {
    Crypto::sign_xml(xml, key_der).map_err(|e| {
        tracing::error!(error = %e, "signing a SAML message failed");
        XmlError::Signing
    })
}

pub fn parse_authn_request(xml: &str) -> Result<AuthnRequest, XmlError> {
    xml.parse::<AuthnRequest>()
        .map_err(|e| XmlError::Malformed(format!("not an AuthnRequest ({e})")))
}

pub fn parse_logout_request(xml: &str) -> Result<LogoutRequest, XmlError> {
    xml.parse::<LogoutRequest>()
        .map_err(|e| XmlError::Malformed(format!("not a LogoutRequest ({e})")))
}

/// The `SessionIndex` elements of a LogoutRequest (SAML Core §3.7.1), in order. samael reads
/// `SessionIndex` as an attribute, so the (already verified or reduced) XML is scanned here.
pub fn session_indexes(xml: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut rest = xml;
    while let Some(start) = rest.find('<') {
        rest = &rest[start + 1..];
        let Some(end) = rest.find(|c: char| c.is_whitespace() || c == '>' || c == '/') else {
            break;
        };
        if rest[..end].rsplit(':').next() != Some("SessionIndex") {
            continue;
        }
        let Some(gt) = rest.find('>') else { break };
        if rest[..gt].ends_with('/') {
            out.push(String::new());
            rest = &rest[gt + 1..];
            continue;
        }
        let body = &rest[gt + 1..];
        let text_end = body.find('<').unwrap_or(body.len());
        out.push(
            body[..text_end]
                .trim()
                .replace("&lt;", "<")
                .replace("&gt;", ">")
                .replace("&quot;", "\"")
                .replace("&apos;", "'")
                .replace("&amp;", "&"),
        );
        rest = &body[text_end..];
    }
    out
}

/// The value of attribute `name` on the document element, unescaped no further (for plain
/// values such as times).
pub fn root_attribute<'a>(xml: &'a str, name: &str) -> Option<&'a str> {
    let mut rest = xml;
    let tag = loop {
        let start = rest.find('<')?;
        rest = &rest[start + 1..];
        if rest.starts_with('?') || rest.starts_with('!') {
            continue;
        }
        break &rest[..rest.find('>')?];
    };
    let needle = format!("{name}=");
    let mut search = tag;
    while let Some(at) = search.find(&needle) {
        let before = search[..at].chars().last();
        let after = &search[at + needle.len()..];
        if before.is_some_and(char::is_whitespace) {
            let quote = after.chars().next().filter(|c| *c == '"' || *c == '\'')?;
            let value = &after[1..];
            return value.find(quote).map(|end| &value[..end]);
        }
        search = after;
    }
    None
}

/// The local name of the document element (to check what a reduced document is).
pub fn root_name(xml: &str) -> Option<&str> {
    let mut rest = xml;
    loop {
        let start = rest.find('<')?;
        rest = &rest[start + 1..];
        if rest.starts_with('?') || rest.starts_with('!') {
            continue;
        }
        let end = rest.find(|c: char| c.is_whitespace() || c == '>' || c == '/')?;
        let name = &rest[..end];
        return Some(name.rsplit(':').next().unwrap_or(name));
    }
}

/// A fresh RSA-2048 key (PKCS#1 DER) and its self-signed certificate (DER), valid `days`.
pub fn generate_key_and_certificate(
    common_name: &str,
    days: u32,
) -> Result<(Vec<u8>, Vec<u8>), XmlError> {
    use openssl::{asn1::Asn1Time, bn::BigNum, bn::MsbOption, nid::Nid, pkey::PKey, x509};
    let fail = |_| XmlError::Signing;
    let rsa = openssl::rsa::Rsa::generate(2048).map_err(fail)?;
    let key_der = rsa.private_key_to_der().map_err(fail)?;
    let key = PKey::from_rsa(rsa).map_err(fail)?;
    let mut name = x509::X509Name::builder().map_err(fail)?;
    name.append_entry_by_nid(Nid::COMMONNAME, common_name)
        .map_err(fail)?;
    let name = name.build();
    let mut b = x509::X509::builder().map_err(fail)?;
    let mut serial = BigNum::new().map_err(fail)?;
    serial
        .rand(127, MsbOption::MAYBE_ZERO, false)
        .map_err(fail)?;
    let serial = serial.to_asn1_integer().map_err(fail)?;
    b.set_serial_number(&serial).map_err(fail)?;
    b.set_version(2).map_err(fail)?;
    b.set_subject_name(&name).map_err(fail)?;
    b.set_issuer_name(&name).map_err(fail)?;
    b.set_pubkey(&key).map_err(fail)?;
    let (from, until) = (
        Asn1Time::days_from_now(0).map_err(fail)?,
        Asn1Time::days_from_now(days).map_err(fail)?,
    );
    b.set_not_before(&from).map_err(fail)?;
    b.set_not_after(&until).map_err(fail)?;
    b.sign(&key, openssl::hash::MessageDigest::sha256())
        .map_err(fail)?;
    let cert_der = b.build().to_der().map_err(fail)?;
    Ok((key_der, cert_der))
}

/// Whether `der` is an X.509 certificate with an RSA key of at least 2048 bits.
pub fn check_certificate(der: &[u8]) -> Result<(), &'static str> {
    let cert = openssl::x509::X509::from_der(der).map_err(|_| "is not an X.509 certificate")?;
    let key = cert
        .public_key()
        .map_err(|_| "has no readable public key")?;
    match key.rsa() {
        Ok(rsa) if rsa.size() >= 256 => Ok(()),
        Ok(_) => Err("must carry an RSA key of at least 2048 bits"),
        Err(_) => Err("must carry an RSA key"),
    }
}

/// What an SP's metadata says (SAML Metadata §2.4.4).
#[derive(Debug, Default)]
pub struct SpMetadata {
    pub entity_id: Option<String>,
    /// HTTP-POST ACS endpoints: (URL, index, isDefault).
    pub acs: Vec<(String, u16, bool)>,
    /// The first front-channel (HTTP-Redirect or HTTP-POST) SingleLogoutService.
    pub slo_url: Option<String>,
    /// The bindings the SP declares at `slo_url` (binding URNs).
    pub slo_bindings: Vec<String>,
    /// The signing certificate, base64 DER.
    pub certificate: Option<String>,
    pub authn_requests_signed: Option<bool>,
    /// `WantAssertionsSigned`: the SP rejects assertions without their own signature.
    pub want_assertions_signed: bool,
}

/// Reads SP metadata uploaded by an administrator (DTDs refused, 256 KiB at most).
pub fn read_sp_metadata(xml: &str) -> Result<SpMetadata, String> {
    if xml.len() > 256 * 1024 {
        return Err("is larger than 256 KiB".into());
    }
    let upper = xml.to_ascii_uppercase();
    if upper.contains("<!DOCTYPE") || upper.contains("<!ENTITY") {
        return Err("must not contain a document type declaration".into());
    }
    let ed: samael::metadata::EntityDescriptor = xml
        .parse()
        .map_err(|e| format!("is not SAML metadata ({e})"))?;
    let sp = ed
        .sp_sso_descriptors
        .as_ref()
        .and_then(|d| d.first())
        .ok_or("has no SPSSODescriptor")?;
    let acs = sp
        .assertion_consumer_services
        .iter()
        .filter(|a| a.binding == "urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST")
        .map(|a| {
            (
                a.location.clone(),
                u16::try_from(a.index).unwrap_or(u16::MAX),
                a.is_default.unwrap_or(false),
            )
        })
        .collect();
    let certificate = sp
        .key_descriptors
        .as_ref()
        .and_then(|keys| {
            keys.iter()
                .find(|k| k.key_use.as_deref() != Some("encryption"))
        })
        .and_then(|k| k.key_info.x509_data.as_ref())
        .and_then(|x| x.certificates.first())
        .map(|c| c.chars().filter(|c| !c.is_whitespace()).collect());
    let front_channel: Vec<_> = sp
        .single_logout_services
        .iter()
        .flatten()
        .filter(|s| {
            s.binding == "urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect"
                || s.binding == "urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST"
        })
        .collect();
    let slo_url = front_channel.first().map(|s| s.location.clone());
    let slo_bindings = front_channel
        .iter()
        .filter(|s| Some(&s.location) == slo_url.as_ref())
        .map(|s| s.binding.clone())
        .collect();
    Ok(SpMetadata {
        entity_id: ed.entity_id.clone(),
        acs,
        slo_url,
        slo_bindings,
        certificate,
        authn_requests_signed: sp.authn_requests_signed,
        want_assertions_signed: sp.want_assertions_signed.unwrap_or(false),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dtds_and_oversized_messages_are_refused() {
        let dtd = "<!DOCTYPE x [<!ENTITY a SYSTEM \"file:///etc/passwd\">]><x>&a;</x>";
        assert_eq!(decode_post(&STANDARD.encode(dtd)), Err(XmlError::Dtd));
        let big = format!("<x>{}</x>", "a".repeat(MAX_MESSAGE_BYTES));
        assert_eq!(decode_post(&STANDARD.encode(&big)), Err(XmlError::TooLarge));
        assert_eq!(
            decode_redirect(&encode_redirect(&big)),
            Err(XmlError::TooLarge)
        );
        assert_eq!(
            decode_redirect(&encode_redirect("<x/>")).as_deref(),
            Ok("<x/>")
        );
    }

    #[test]
    fn session_indexes_are_read_from_elements() {
        let xml = "<samlp:LogoutRequest ID=\"a\"><saml:NameID>n</saml:NameID>\
                   <samlp:SessionIndex>_one</samlp:SessionIndex><SessionIndex> _t&amp;wo </SessionIndex>\
                   </samlp:LogoutRequest>";
        assert_eq!(
            session_indexes(xml),
            vec!["_one".to_owned(), "_t&wo".to_owned()]
        );
        assert!(session_indexes("<samlp:LogoutRequest SessionIndex=\"x\"/>").is_empty());
    }

    #[test]
    fn root_attributes() {
        let xml = "<?xml version=\"1.0\"?><samlp:LogoutRequest ID=\"a\" xNotOnOrAfter=\"no\" \
                   NotOnOrAfter='2026-01-01T00:00:00Z'><x NotOnOrAfter=\"inner\"/></samlp:LogoutRequest>";
        assert_eq!(
            root_attribute(xml, "NotOnOrAfter"),
            Some("2026-01-01T00:00:00Z")
        );
        assert_eq!(root_attribute(xml, "ID"), Some("a"));
        assert_eq!(
            root_attribute("<r><x NotOnOrAfter=\"1\"/></r>", "NotOnOrAfter"),
            None
        );
    }

    #[test]
    fn root_names() {
        assert_eq!(
            root_name("<?xml version=\"1.0\"?><samlp:AuthnRequest ID=\"a\"/>"),
            Some("AuthnRequest")
        );
        assert_eq!(root_name("<LogoutRequest>"), Some("LogoutRequest"));
    }

    #[test]
    fn signs_and_verifies_with_sha256() {
        let (key, cert) = generate_key_and_certificate("test", 1).unwrap();
        let xml = format!(
            "<r:Root xmlns:r=\"urn:x\" ID=\"_abc\"><r:Issuer>me</r:Issuer>{}<r:Body>hi</r:Body></r:Root>",
            signature_template("_abc", &cert, false)
        );
        let signed = sign(&xml, &key).unwrap();
        assert!(signed.contains(SHA256) && !signed.contains(SHA1));
        let reduced = verify_reduced(&signed, &cert, false).unwrap();
        assert!(reduced.contains("hi"));
        let tampered = signed.replace(">hi<", ">ho<");
        assert_eq!(
            verify_reduced(&tampered, &cert, false),
            Err(XmlError::BadSignature)
        );
        let q = "SAMLRequest=abc&SigAlg=x";
        let sig = sign_query(q, &key).unwrap();
        assert!(verify_query_signature(q, &sig, RSA_SHA256, &cert, false).is_ok());
        assert!(
            verify_query_signature("SAMLRequest=abd&SigAlg=x", &sig, RSA_SHA256, &cert, false)
                .is_err()
        );
        assert_eq!(
            verify_query_signature(q, &sig, RSA_SHA1, &cert, false),
            Err(XmlError::Algorithm)
        );
    }
}
