//! What the IdP sends: the Response with its Assertion (SAML Core §2.3.3, §3.2.2; Profiles §4.1.4.2
//! for Web Browser SSO), status-only Responses (`RequestDenied`, `NoPassive`), LogoutResponses
//! (Core §3.7.2), the metadata document (Metadata §2.4.3) and the auto-posting form (Bindings
//! §3.5.4). XML is written from templates with every value escaped, then signed by [`crate::xml`].

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use chrono::{DateTime, SecondsFormat, Utc};
use portcullis_auth::derive::hmac_sha256;
use portcullis_domain::{NameIdFormat, SamlSettings, SignedPart, User};

use crate::keys::SamlKey;
use crate::xml;

pub const SUCCESS: &str = "urn:oasis:names:tc:SAML:2.0:status:Success";
pub const REQUESTER: &str = "urn:oasis:names:tc:SAML:2.0:status:Requester";
pub const RESPONDER: &str = "urn:oasis:names:tc:SAML:2.0:status:Responder";
pub const REQUEST_DENIED: &str = "urn:oasis:names:tc:SAML:2.0:status:RequestDenied";
pub const NO_PASSIVE: &str = "urn:oasis:names:tc:SAML:2.0:status:NoPassive";
pub const UNKNOWN_PRINCIPAL: &str = "urn:oasis:names:tc:SAML:2.0:status:UnknownPrincipal";
pub const BINDING_POST: &str = "urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST";
pub const BINDING_REDIRECT: &str = "urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect";
const NS: &str = "xmlns:samlp=\"urn:oasis:names:tc:SAML:2.0:protocol\" \
                  xmlns:saml=\"urn:oasis:names:tc:SAML:2.0:assertion\"";

/// XML text and attribute escaping.
pub fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&apos;")
}

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
    let cert_der = &key.cert_der;
    let sp = g.sp;
    let response_id = new_id();
    let assertion_id = new_id();
    let now = instant(g.now);
    let not_after =
        instant(g.now + chrono::TimeDelta::seconds(sp.assertion_lifetime.seconds() as i64));
    let not_before = instant(g.now - chrono::TimeDelta::seconds(60));
    let irt = g
        .in_response_to
        .map(|i| format!(" InResponseTo=\"{}\"", esc(i)))
        .unwrap_or_default();
    let sha1 = sp.allow_sha1;
    let sig = |id: &str| xml::signature_template(id, cert_der, sha1);
    // xmlsec fills one template per pass; for both, the Assertion is signed first and the
    // Response's template is added afterwards, so its digest covers the signed Assertion.
    let (response_sig, assertion_sig) = match sp.signed_part {
        SignedPart::Response => (sig(&response_id), String::new()),
        SignedPart::Assertion | SignedPart::Both => (String::new(), sig(&assertion_id)),
    };
    let subject_id = g.subject.user.id.to_string();
    let mut attributes = String::new();
    for m in &sp.attributes {
        let format = m
            .name_format
            .as_deref()
            .unwrap_or("urn:oasis:names:tc:SAML:2.0:attrname-format:basic");
        attributes.push_str(&format!(
            "<saml:Attribute Name=\"{}\" NameFormat=\"{}\">",
            esc(&m.name),
            esc(format)
        ));
        for v in attribute_values(&m.value, &g.subject, &subject_id) {
            attributes.push_str(&format!(
                "<saml:AttributeValue xsi:type=\"xs:string\">{}</saml:AttributeValue>",
                esc(&v)
            ));
        }
        attributes.push_str("</saml:Attribute>");
    }
    let attribute_statement = if attributes.is_empty() {
        String::new()
    } else {
        format!("<saml:AttributeStatement>{attributes}</saml:AttributeStatement>")
    };
    let issuer = esc(g.issuer);
    let audience = esc(&sp.entity_id);
    let acs = esc(g.acs_url);
    let body = format!(
        "<samlp:Response {NS} ID=\"{response_id}\" Version=\"2.0\" IssueInstant=\"{now}\" \
         Destination=\"{acs}\"{irt}><saml:Issuer>{issuer}</saml:Issuer>{response_sig}\
         <samlp:Status><samlp:StatusCode Value=\"{SUCCESS}\"/></samlp:Status>\
         <saml:Assertion xmlns:xs=\"http://www.w3.org/2001/XMLSchema\" \
         xmlns:xsi=\"http://www.w3.org/2001/XMLSchema-instance\" ID=\"{assertion_id}\" \
         Version=\"2.0\" IssueInstant=\"{now}\"><saml:Issuer>{issuer}</saml:Issuer>{assertion_sig}\
         <saml:Subject><saml:NameID Format=\"{format}\" SPNameQualifier=\"{audience}\">{name_id}</saml:NameID>\
         <saml:SubjectConfirmation Method=\"urn:oasis:names:tc:SAML:2.0:cm:bearer\">\
         <saml:SubjectConfirmationData{irt} NotOnOrAfter=\"{not_after}\" Recipient=\"{acs}\"/>\
         </saml:SubjectConfirmation></saml:Subject>\
         <saml:Conditions NotBefore=\"{not_before}\" NotOnOrAfter=\"{not_after}\">\
         <saml:AudienceRestriction><saml:Audience>{audience}</saml:Audience></saml:AudienceRestriction>\
         </saml:Conditions><saml:AuthnStatement AuthnInstant=\"{authn}\" SessionIndex=\"{index}\" \
         SessionNotOnOrAfter=\"{session_end}\"><saml:AuthnContext><saml:AuthnContextClassRef>\
         urn:oasis:names:tc:SAML:2.0:ac:classes:PasswordProtectedTransport</saml:AuthnContextClassRef>\
         </saml:AuthnContext></saml:AuthnStatement>{attribute_statement}</saml:Assertion></samlp:Response>",
        format = g.sp.name_id_format.urn(),
        name_id = esc(&g.name_id),
        authn = instant(g.subject.authn_instant),
        index = esc(&g.subject.session_index),
        session_end = instant(g.subject.session_expires),
    );
    let signed = xml::sign(&body, key.key_der())?;
    if sp.signed_part != SignedPart::Both {
        return Ok(signed);
    }
    // The Response's Issuer is the first one; its signature follows it (SAML Core §5.4.1).
    let end_of_issuer = "</saml:Issuer>";
    let Some(at) = signed.find(end_of_issuer) else {
        return Err(xml::XmlError::Signing);
    };
    let at = at + end_of_issuer.len();
    let with_template = format!("{}{}{}", &signed[..at], sig(&response_id), &signed[at..]);
    xml::sign(&with_template, key.key_der())
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
    let irt = in_response_to
        .map(|i| format!(" InResponseTo=\"{}\"", esc(i)))
        .unwrap_or_default();
    let inner = second
        .map(|s| format!("<samlp:StatusCode Value=\"{s}\"/>"))
        .unwrap_or_default();
    let body = format!(
        "<samlp:Response {NS} ID=\"{id}\" Version=\"2.0\" IssueInstant=\"{}\" \
         Destination=\"{}\"{irt}><saml:Issuer>{}</saml:Issuer>{}<samlp:Status>\
         <samlp:StatusCode Value=\"{top}\">{inner}</samlp:StatusCode></samlp:Status></samlp:Response>",
        instant(now),
        esc(destination),
        esc(issuer),
        xml::signature_template(&id, &key.cert_der, false),
    );
    xml::sign(&body, key.key_der())
}

/// A LogoutResponse (SAML Core §3.7.2), signed when `embed_signature` (else the Redirect
/// binding signs the query).
pub fn logout_response(
    issuer: &str,
    destination: &str,
    in_response_to: &str,
    (status, second): (&str, Option<&str>),
    now: DateTime<Utc>,
    key: &SamlKey,
    embed_signature: bool,
) -> Result<String, xml::XmlError> {
    let id = new_id();
    let inner = second
        .map(|s| format!("<samlp:StatusCode Value=\"{s}\"/>"))
        .unwrap_or_default();
    let sig = if embed_signature {
        xml::signature_template(&id, &key.cert_der, false)
    } else {
        String::new()
    };
    let body = format!(
        "<samlp:LogoutResponse {NS} ID=\"{id}\" Version=\"2.0\" IssueInstant=\"{}\" \
         Destination=\"{}\" InResponseTo=\"{}\"><saml:Issuer>{}</saml:Issuer>{sig}<samlp:Status>\
         <samlp:StatusCode Value=\"{status}\">{inner}</samlp:StatusCode></samlp:Status></samlp:LogoutResponse>",
        instant(now),
        esc(destination),
        esc(in_response_to),
        esc(issuer),
    );
    if embed_signature {
        xml::sign(&body, key.key_der())
    } else {
        Ok(body)
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
    let keys: String = certs
        .iter()
        .map(|c| {
            format!(
                "<md:KeyDescriptor use=\"signing\"><ds:KeyInfo><ds:X509Data><ds:X509Certificate>{}\
                 </ds:X509Certificate></ds:X509Data></ds:KeyInfo></md:KeyDescriptor>",
                STANDARD.encode(c)
            )
        })
        .collect();
    let formats: String = NameIdFormat::ALL
        .iter()
        .map(|f| format!("<md:NameIDFormat>{}</md:NameIDFormat>", f.urn()))
        .collect();
    let sso = format!("{}/saml/sso", esc(base));
    let slo = format!("{}/saml/slo", esc(base));
    format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\
         <md:EntityDescriptor xmlns:md=\"urn:oasis:names:tc:SAML:2.0:metadata\" \
         xmlns:ds=\"http://www.w3.org/2000/09/xmldsig#\" entityID=\"{}\">\
         <md:IDPSSODescriptor WantAuthnRequestsSigned=\"{want_authn_requests_signed}\" \
         protocolSupportEnumeration=\"urn:oasis:names:tc:SAML:2.0:protocol\">{keys}\
         <md:SingleLogoutService Binding=\"{BINDING_REDIRECT}\" Location=\"{slo}\"/>\
         <md:SingleLogoutService Binding=\"{BINDING_POST}\" Location=\"{slo}\"/>{formats}\
         <md:SingleSignOnService Binding=\"{BINDING_REDIRECT}\" Location=\"{sso}\"/>\
         <md:SingleSignOnService Binding=\"{BINDING_POST}\" Location=\"{sso}\"/>\
         </md:IDPSSODescriptor></md:EntityDescriptor>",
        esc(entity_id)
    )
}
