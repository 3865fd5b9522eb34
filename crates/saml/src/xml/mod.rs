//! The only module that parses, writes, signs or verifies SAML XML, all in pure Rust: Uppsala
//! parses and writes the XML, Bergshamra (on aws-lc-rs) canonicalises, signs and verifies it.
//! Inbound messages are decoded within a size limit, refused with any DTD, parsed once into a
//! [`Message`], and everything else reads that one tree: the signature check
//! ([`Message::verify`]: the signature must cover the message's own root, so an unsigned wrapper
//! can never be what is used) and the typed readers ([`read`]). Query signatures of the
//! HTTP-Redirect binding (SAML Bindings §3.4.4.1) and our own signatures are made and checked
//! with aws-lc-rs ([`dsig`]); certificates are made by rcgen and read by x509-parser
//! ([`certificate`]).

use std::io::Read;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;

pub mod certificate;
pub mod dsig;
pub mod read;

pub use certificate::{check_certificate, generate_key_and_certificate};
pub use dsig::{SigningKey, verify_query_signature};
pub use read::{AuthnRequest, LogoutRequest, SpMetadata, read_sp_metadata};
pub use uppsala::XmlWriter;

/// The largest inbound message, as XML, and so the largest inflated Redirect payload.
pub const MAX_MESSAGE_BYTES: usize = 64 * 1024;
/// The deepest element nesting accepted (SAML messages nest a handful of levels).
const MAX_DEPTH: u32 = 32;

pub const RSA_SHA256: &str = "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256";
pub const RSA_SHA1: &str = "http://www.w3.org/2000/09/xmldsig#rsa-sha1";
pub const SHA256: &str = "http://www.w3.org/2001/04/xmlenc#sha256";
pub const SHA1: &str = "http://www.w3.org/2000/09/xmldsig#sha1";
pub const DSIG_NS: &str = "http://www.w3.org/2000/09/xmldsig#";
pub const PROTOCOL_NS: &str = "urn:oasis:names:tc:SAML:2.0:protocol";
pub const ASSERTION_NS: &str = "urn:oasis:names:tc:SAML:2.0:assertion";
pub const METADATA_NS: &str = "urn:oasis:names:tc:SAML:2.0:metadata";

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

/// Refuses what no SAML message carries before any parser sees it: more than the size limit, and
/// a DTD (so no entity expansion and no external entities, whatever the parser would do).
fn check_safe(xml: &str, limit: usize) -> Result<(), XmlError> {
    if xml.len() > limit {
        return Err(XmlError::TooLarge);
    }
    let upper = xml.to_ascii_uppercase();
    if upper.contains("<!DOCTYPE") || upper.contains("<!ENTITY") {
        return Err(XmlError::Dtd);
    }
    // XML 1.0's `Char`: no NUL, no other C0 control but tab, LF and CR, no U+FFFE/U+FFFF. A
    // document with one is not XML; taken, it would not survive being written again.
    if let Some(c) = xml.chars().find(|c| !xml_char(*c)) {
        return Err(XmlError::Malformed(format!(
            "the character U+{:04X} is not allowed in XML",
            u32::from(c)
        )));
    }
    Ok(())
}

/// Whether XML 1.0 allows `c` in a document (Rust strings hold no surrogates).
fn xml_char(c: char) -> bool {
    matches!(c, '\t' | '\n' | '\r') || (c >= ' ' && c != '\u{FFFE}' && c != '\u{FFFF}')
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
    check_safe(&xml, MAX_MESSAGE_BYTES)?;
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
    check_safe(&xml, MAX_MESSAGE_BYTES)?;
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

/// Parses `xml` (at most `limit` bytes) with DTDs forbidden and nesting bounded.
fn parse(xml: &str, limit: usize) -> Result<uppsala::Document<'_>, XmlError> {
    check_safe(xml, limit)?;
    uppsala::Parser::new()
        .with_forbid_dtd(true)
        .with_max_depth(MAX_DEPTH)
        .parse(xml)
        .map_err(|e| XmlError::Malformed(format!("not well-formed XML ({e})")))
}

/// An inbound message, parsed once: the signature check and the readers see the same tree.
pub struct Message<'a> {
    xml: &'a str,
    doc: uppsala::Document<'a>,
    root: uppsala::NodeId,
}

impl std::fmt::Debug for Message<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Message")
            .field("root", &self.root_name())
            .finish_non_exhaustive()
    }
}

impl<'a> Message<'a> {
    /// Parses a decoded message (size limit, no DTD, well-formed, one document element).
    pub fn parse(xml: &'a str) -> Result<Self, XmlError> {
        let doc = parse(xml, MAX_MESSAGE_BYTES)?;
        let root = doc
            .document_element()
            .ok_or_else(|| XmlError::Malformed("no document element".into()))?;
        Ok(Self { xml, doc, root })
    }

    /// The local name of the document element.
    pub fn root_name(&self) -> &str {
        self.doc
            .element(self.root)
            .map(|e| e.name.local_name.as_ref())
            .unwrap_or_default()
    }

    /// Whether the message carries an XML signature anywhere.
    pub fn has_signature(&self) -> bool {
        self.doc.descendants(self.root).into_iter().any(|n| {
            self.doc
                .element(n)
                .is_some_and(|e| e.matches_name_ns(DSIG_NS, "Signature"))
        })
    }
}

#[cfg(test)]
mod tests;
