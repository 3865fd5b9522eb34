//! What the IdP sends: the Response with its Assertion (SAML Core §2.3.3, §3.2.2; Profiles §4.1.4.2
//! for Web Browser SSO), status-only Responses (`RequestDenied`, `NoPassive`), LogoutResponses
//! (Core §3.7.2), the metadata document (Metadata §2.4.3) and the auto-posting form (Bindings
//! §3.5.4). XML is written with an XML writer (every name and value escaped by it), then signed by
//! [`crate::xml`].

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use chrono::{DateTime, SecondsFormat, Utc};
use portcullis_auth::derive::hmac_sha256;
use portcullis_domain::{NameIdFormat, SamlSettings, SignedPart, User};

use crate::keys::SamlKey;
use crate::xml::{self, XmlWriter};

pub const SUCCESS: &str = "urn:oasis:names:tc:SAML:2.0:status:Success";
pub const REQUESTER: &str = "urn:oasis:names:tc:SAML:2.0:status:Requester";
pub const RESPONDER: &str = "urn:oasis:names:tc:SAML:2.0:status:Responder";
pub const REQUEST_DENIED: &str = "urn:oasis:names:tc:SAML:2.0:status:RequestDenied";
pub const NO_PASSIVE: &str = "urn:oasis:names:tc:SAML:2.0:status:NoPassive";
pub const UNKNOWN_PRINCIPAL: &str = "urn:oasis:names:tc:SAML:2.0:status:UnknownPrincipal";
pub const BINDING_POST: &str = "urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST";
pub const BINDING_REDIRECT: &str = "urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect";

/// A message ID: an NCName (starts with `_`) with 160 random bits.
pub fn new_id() -> String {
    format!("_{}", hex::encode(rand::random::<[u8; 20]>()))
}

pub fn instant(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Secs, true)
}

/// Who the assertion is about, and the session it comes from.
#[derive(Debug)]
pub struct Subject<'a> {
    pub user: &'a User,
    pub groups: Vec<String>,
    pub authn_instant: DateTime<Utc>,
    pub session_index: String,
    pub session_expires: DateTime<Utc>,
}

/// The NameID value for `format`: persistent is HMAC-SHA256(key, user id ‖ 0 ‖ SP entity id),
/// so it is stable for one SP and unlinkable across SPs.
pub fn name_id(format: NameIdFormat, user: &User, entity_id: &str, key: &[u8; 32]) -> String {
    match format {
        NameIdFormat::Persistent => {
            let user = user.id.to_string();
            hex::encode(hmac_sha256(
                key,
                &[user.as_bytes(), &[0], entity_id.as_bytes()],
            ))
        }
        NameIdFormat::EmailAddress => user.email.to_string(),
        NameIdFormat::Transient => new_id(),
        NameIdFormat::Unspecified => user.user_name.to_string(),
    }
}

/// The values of one mapping for this person: a template with placeholders substituted, or one
/// value per group for `${user:groups}`.
pub fn attribute_values(template: &str, subject: &Subject<'_>, subject_id: &str) -> Vec<String> {
    if template == "${user:groups}" {
        return subject.groups.clone();
    }
    let u = subject.user;
    let opt = |v: &Option<portcullis_domain::PersonName>| {
        v.as_ref().map(|n| n.to_string()).unwrap_or_default()
    };
    vec![
        template
            .replace("${user:subject}", subject_id)
            .replace("${user:email}", u.email.as_str())
            .replace("${user:name}", u.display_name.as_str())
            .replace("${user:givenName}", &opt(&u.given_name))
            .replace("${user:familyName}", &opt(&u.family_name)),
    ]
}

/// Everything a successful Response needs.
#[derive(Debug)]
pub struct Grant<'a> {
    pub issuer: &'a str,
    pub sp: &'a SamlSettings,
    pub acs_url: &'a str,
    pub in_response_to: Option<&'a str>,
    pub name_id: String,
    pub subject: Subject<'a>,
    pub now: DateTime<Utc>,
}

/// The signed Response (Response, Assertion or both signed, as the SP is configured).
pub fn success(g: &Grant<'_>, key: &SamlKey) -> Result<String, xml::XmlError> {
    let signer = key.signer();
    let sp = g.sp;
    let assertion = assertion(g, signer)?;
    let response_id = new_id();
    let mut w = XmlWriter::with_capacity(assertion.len() + 4096);
    start_response(
        &mut w,
        "samlp:Response",
        &response_id,
        g.now,
        g.acs_url,
        g.in_response_to,
        g.issuer,
    );
    let signed = matches!(sp.signed_part, SignedPart::Response | SignedPart::Both);
    if signed {
        // After the Issuer (SAML Core §5.4.1); the first template, so the one filled in, while
        // the Assertion (already signed for `Both`) is covered by this digest as it is.
        signer.write_template(&mut w, &response_id);
    }
    status(&mut w, SUCCESS, None);
    w.raw(&assertion);
    w.end_element("samlp:Response");
    if signed {
        signer.sign(w.into_string())
    } else {
        Ok(w.into_string())
    }
}

/// The Assertion, on its own (it declares every namespace it uses, so that its exclusive
/// canonical form is the same here and inside the Response), signed unless only the Response is.
fn assertion(g: &Grant<'_>, signer: &xml::SigningKey) -> Result<String, xml::XmlError> {
    let sp = g.sp;
    let id = new_id();
    let now = instant(g.now);
    let not_after =
        instant(g.now + chrono::TimeDelta::seconds(sp.assertion_lifetime.seconds() as i64));
    let not_before = instant(g.now - chrono::TimeDelta::seconds(60));
    let mut w = XmlWriter::with_capacity(4096);
    w.start_element(
        "saml:Assertion",
        &[
            ("xmlns:saml", xml::ASSERTION_NS),
            ("xmlns:xs", "http://www.w3.org/2001/XMLSchema"),
            ("xmlns:xsi", "http://www.w3.org/2001/XMLSchema-instance"),
            ("ID", &id),
            ("Version", "2.0"),
            ("IssueInstant", &now),
        ],
    );
    text_element(&mut w, "saml:Issuer", g.issuer);
    let signed = sp.signed_part != SignedPart::Response;
    if signed {
        signer.write_template(&mut w, &id);
    }
    w.start_element("saml:Subject", &[]);
    w.start_element(
        "saml:NameID",
        &[
            ("Format", sp.name_id_format.urn()),
            ("SPNameQualifier", &sp.entity_id),
        ],
    );
    w.text(&g.name_id);
    w.end_element("saml:NameID");
    w.start_element(
        "saml:SubjectConfirmation",
        &[("Method", "urn:oasis:names:tc:SAML:2.0:cm:bearer")],
    );
    let mut confirmation = Vec::with_capacity(3);
    if let Some(irt) = g.in_response_to {
        confirmation.push(("InResponseTo", irt));
    }
    confirmation.push(("NotOnOrAfter", &not_after));
    confirmation.push(("Recipient", g.acs_url));
    w.empty_element("saml:SubjectConfirmationData", &confirmation);
    w.end_element("saml:SubjectConfirmation");
    w.end_element("saml:Subject");
    w.start_element(
        "saml:Conditions",
        &[("NotBefore", &not_before), ("NotOnOrAfter", &not_after)],
    );
    w.start_element("saml:AudienceRestriction", &[]);
    text_element(&mut w, "saml:Audience", &sp.entity_id);
    w.end_element("saml:AudienceRestriction");
    w.end_element("saml:Conditions");
    w.start_element(
        "saml:AuthnStatement",
        &[
            ("AuthnInstant", &instant(g.subject.authn_instant)),
            ("SessionIndex", &g.subject.session_index),
            ("SessionNotOnOrAfter", &instant(g.subject.session_expires)),
        ],
    );
    w.start_element("saml:AuthnContext", &[]);
    text_element(
        &mut w,
        "saml:AuthnContextClassRef",
        "urn:oasis:names:tc:SAML:2.0:ac:classes:PasswordProtectedTransport",
    );
    w.end_element("saml:AuthnContext");
    w.end_element("saml:AuthnStatement");
    if !sp.attributes.is_empty() {
        let subject_id = g.subject.user.id.to_string();
        w.start_element("saml:AttributeStatement", &[]);
        for m in &sp.attributes {
            let format = m
                .name_format
                .as_deref()
                .unwrap_or("urn:oasis:names:tc:SAML:2.0:attrname-format:basic");
            w.start_element(
                "saml:Attribute",
                &[("Name", &m.name), ("NameFormat", format)],
            );
            for v in attribute_values(&m.value, &g.subject, &subject_id) {
                w.start_element("saml:AttributeValue", &[("xsi:type", "xs:string")]);
                w.text(&v);
                w.end_element("saml:AttributeValue");
            }
            w.end_element("saml:Attribute");
        }
        w.end_element("saml:AttributeStatement");
    }
    w.end_element("saml:Assertion");
    if signed {
        signer.sign(w.into_string())
    } else {
        Ok(w.into_string())
    }
}

fn text_element(w: &mut XmlWriter, name: &str, text: &str) {
    w.start_element(name, &[]);
    w.text(text);
    w.end_element(name);
}

/// The start of a protocol message (`samlp:Response` or `samlp:LogoutResponse`) and its Issuer.
fn start_response(
    w: &mut XmlWriter,
    element: &str,
    id: &str,
    now: DateTime<Utc>,
    destination: &str,
    in_response_to: Option<&str>,
    issuer: &str,
) {
    let now = instant(now);
    let mut attributes = vec![
        ("xmlns:samlp", xml::PROTOCOL_NS),
        ("xmlns:saml", xml::ASSERTION_NS),
        ("ID", id),
        ("Version", "2.0"),
        ("IssueInstant", &now),
        ("Destination", destination),
    ];
    if let Some(irt) = in_response_to {
        attributes.push(("InResponseTo", irt));
    }
    w.start_element(element, &attributes);
    text_element(w, "saml:Issuer", issuer);
}

/// `<samlp:Status>` with its top-level code (and a second-level one).
fn status(w: &mut XmlWriter, top: &str, second: Option<&str>) {
    w.start_element("samlp:Status", &[]);
    match second {
        Some(second) => {
            w.start_element("samlp:StatusCode", &[("Value", top)]);
            w.empty_element("samlp:StatusCode", &[("Value", second)]);
            w.end_element("samlp:StatusCode");
        }
        None => w.empty_element("samlp:StatusCode", &[("Value", top)]),
    }
    w.end_element("samlp:Status");
}

/// A signed Response carrying only a status (no assertion).
pub fn status_only(
    issuer: &str,
    destination: &str,
    in_response_to: Option<&str>,
    top: &str,
    second: Option<&str>,
    now: DateTime<Utc>,
    key: &SamlKey,
) -> Result<String, xml::XmlError> {
    let id = new_id();
    let mut w = XmlWriter::with_capacity(4096);
    start_response(
        &mut w,
        "samlp:Response",
        &id,
        now,
        destination,
        in_response_to,
        issuer,
    );
    key.signer().write_template(&mut w, &id);
    status(&mut w, top, second);
    w.end_element("samlp:Response");
    key.signer().sign(w.into_string())
}

/// A LogoutResponse (SAML Core §3.7.2), signed when `embed_signature` (else the Redirect
/// binding signs the query).
pub fn logout_response(
    issuer: &str,
    destination: &str,
    in_response_to: &str,
    (top, second): (&str, Option<&str>),
    now: DateTime<Utc>,
    key: &SamlKey,
    embed_signature: bool,
) -> Result<String, xml::XmlError> {
    let id = new_id();
    let mut w = XmlWriter::with_capacity(4096);
    start_response(
        &mut w,
        "samlp:LogoutResponse",
        &id,
        now,
        destination,
        Some(in_response_to),
        issuer,
    );
    if embed_signature {
        key.signer().write_template(&mut w, &id);
    }
    status(&mut w, top, second);
    w.end_element("samlp:LogoutResponse");
    if embed_signature {
        key.signer().sign(w.into_string())
    } else {
        Ok(w.into_string())
    }
}

/// The IdP metadata: every published certificate, SSO and SLO endpoints for both bindings, the
/// NameID formats, and whether (this SP's) AuthnRequests must be signed.
pub fn metadata(
    entity_id: &str,
    base: &str,
    certs: &[Vec<u8>],
    want_authn_requests_signed: bool,
) -> String {
    let sso = format!("{base}/saml/sso");
    let slo = format!("{base}/saml/slo");
    let mut w = XmlWriter::with_capacity(2048 + certs.len() * 1500);
    w.write_declaration_full("1.0", Some("UTF-8"), None);
    w.start_element(
        "md:EntityDescriptor",
        &[
            ("xmlns:md", xml::METADATA_NS),
            ("xmlns:ds", xml::DSIG_NS),
            ("entityID", entity_id),
        ],
    );
    w.start_element(
        "md:IDPSSODescriptor",
        &[
            (
                "WantAuthnRequestsSigned",
                if want_authn_requests_signed {
                    "true"
                } else {
                    "false"
                },
            ),
            ("protocolSupportEnumeration", xml::PROTOCOL_NS),
        ],
    );
    for cert in certs {
        w.start_element("md:KeyDescriptor", &[("use", "signing")]);
        w.start_element("ds:KeyInfo", &[]);
        w.start_element("ds:X509Data", &[]);
        text_element(&mut w, "ds:X509Certificate", &STANDARD.encode(cert));
        w.end_element("ds:X509Data");
        w.end_element("ds:KeyInfo");
        w.end_element("md:KeyDescriptor");
    }
    for binding in [BINDING_REDIRECT, BINDING_POST] {
        w.empty_element(
            "md:SingleLogoutService",
            &[("Binding", binding), ("Location", &slo)],
        );
    }
    for format in NameIdFormat::ALL {
        text_element(&mut w, "md:NameIDFormat", format.urn());
    }
    for binding in [BINDING_REDIRECT, BINDING_POST] {
        w.empty_element(
            "md:SingleSignOnService",
            &[("Binding", binding), ("Location", &sso)],
        );
    }
    w.end_element("md:IDPSSODescriptor");
    w.end_element("md:EntityDescriptor");
    w.into_string()
}
