//! Entry points for the fuzz targets in `fuzz/` (docs/design/fuzzing.md): thin wrappers that take
//! outside input as bytes, drive it through the same parsing and checking code the endpoints
//! use, and assert what must hold for any input. Not an API: nothing but `fuzz/` calls these.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use chrono::Utc;
use portcullis_auth::fuzzing::must;
use portcullis_domain::{
    Application, ApplicationId, ApplicationKind, AssertionConsumerService, Description,
    DisplayName, SamlSettings, SamlUrl,
};

use crate::binding::RedirectQuery;
use crate::sso::{self, Binding};
use crate::{ServiceProvider, xml};

// ---------------------------------------------------------------------------------------------
// SAML: AuthnRequest and LogoutRequest, by HTTP-Redirect and HTTP-POST.

/// Which request a SAML target feeds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SamlRequest {
    Authn,
    Logout,
}

/// A registered SP that requires signed requests, with a certificate made here: its key is never
/// seen by the fuzzer, so no input may ever authenticate. Made once by the harness and passed to
/// [`saml_request`].
pub fn saml_fixture() -> ServiceProvider {
    {
        let (_, cert) = must(
            xml::generate_key_and_certificate("fuzz SP", 2),
            "SP certificate",
        );
        let settings = SamlSettings {
            entity_id: "https://sp.example.com/saml".into(),
            acs: vec![AssertionConsumerService {
                url: must(SamlUrl::parse("https://sp.example.com/acs"), "ACS"),
                index: 0,
                is_default: true,
            }],
            slo_url: None,
            slo_bindings: Vec::new(),
            certificate: Some(STANDARD.encode(cert)),
            require_signed_requests: true,
            name_id_format: Default::default(),
            attributes: Vec::new(),
            assertion_lifetime: Default::default(),
            signed_part: Default::default(),
            allow_sha1: false,
            default_relay_state: None,
            start_url: None,
        };
        let now = Utc::now();
        ServiceProvider {
            app: Application {
                id: ApplicationId::new(),
                name: must(DisplayName::parse("Fuzz SP"), "name"),
                description: Description::default_empty(),
                kind: ApplicationKind::Saml,
                enabled: true,
                oidc: None,
                saml: Some(settings.clone()),
                created_at: now,
                updated_at: now,
            },
            settings,
        }
    }
}

/// An AuthnRequest written back from what was read (with our XML writer), to read again.
fn write_authn_request(r: &xml::AuthnRequest) -> String {
    let mut w = xml::XmlWriter::new();
    let instant = crate::response::instant(r.issue_instant);
    let index = r.assertion_consumer_service_index.map(|i| i.to_string());
    let flag = |b: Option<bool>| b.map(|b| b.to_string());
    let (passive, force) = (flag(r.is_passive), flag(r.force_authn));
    let optional = [
        ("Destination", r.destination.as_deref()),
        (
            "AssertionConsumerServiceURL",
            r.assertion_consumer_service_url.as_deref(),
        ),
        ("AssertionConsumerServiceIndex", index.as_deref()),
        ("IsPassive", passive.as_deref()),
        ("ForceAuthn", force.as_deref()),
    ];
    let mut attributes = vec![
        ("xmlns:samlp", xml::PROTOCOL_NS),
        ("xmlns:saml", xml::ASSERTION_NS),
        ("ID", r.id.as_str()),
        ("Version", r.version.as_str()),
        ("IssueInstant", instant.as_str()),
    ];
    attributes.extend(optional.iter().filter_map(|(k, v)| Some((*k, (*v)?))));
    w.start_element("samlp:AuthnRequest", &attributes);
    if let Some(issuer) = &r.issuer {
        w.start_element("saml:Issuer", &[]);
        w.text(issuer);
        w.end_element("saml:Issuer");
    }
    w.end_element("samlp:AuthnRequest");
    w.into_string()
}

/// A LogoutRequest written back from what was read.
fn write_logout_request(r: &xml::LogoutRequest) -> String {
    let mut w = xml::XmlWriter::new();
    let instant = r.issue_instant.map(crate::response::instant);
    let optional = [
        ("ID", r.id.as_deref()),
        ("Version", r.version.as_deref()),
        ("IssueInstant", instant.as_deref()),
        ("Destination", r.destination.as_deref()),
        ("NotOnOrAfter", r.not_on_or_after.as_deref()),
    ];
    let mut attributes = vec![
        ("xmlns:samlp", xml::PROTOCOL_NS),
        ("xmlns:saml", xml::ASSERTION_NS),
    ];
    attributes.extend(optional.iter().filter_map(|(k, v)| Some((*k, (*v)?))));
    w.start_element("samlp:LogoutRequest", &attributes);
    for (name, value) in [("saml:Issuer", &r.issuer), ("saml:NameID", &r.name_id)] {
        if let Some(value) = value {
            w.start_element(name, &[]);
            w.text(value);
            w.end_element(name);
        }
    }
    for index in &r.session_indexes {
        w.start_element("samlp:SessionIndex", &[]);
        w.text(index);
        w.end_element("samlp:SessionIndex");
    }
    w.end_element("samlp:LogoutRequest");
    w.into_string()
}

/// `data` is the message as XML (what the bindings carry once decoded and inflated) and, also,
/// the raw `SAMLRequest` value of either binding.
pub fn saml_request(kind: SamlRequest, sp: &ServiceProvider, data: &[u8]) {
    // The raw parameter value: base64 (POST), or base64 of DEFLATE (Redirect).
    let raw = String::from_utf8_lossy(data);
    if let Ok(x) = xml::decode_redirect(&raw) {
        assert!(x.len() <= xml::MAX_MESSAGE_BYTES);
    }
    if let Ok(x) = xml::decode_post(&raw) {
        assert!(x.len() <= xml::MAX_MESSAGE_BYTES);
    }
    let Ok(message) = std::str::from_utf8(data) else {
        return;
    };
    // The input as a whole Redirect query string: parsed once from the raw octets, duplicates
    // and encoded names refused, the signed octets exactly as received.
    if let Ok(q) = RedirectQuery::parse(message, "SAMLRequest")
        && q.signature().is_some()
    {
        // What the signature is checked over is made of the parameters exactly as they came.
        for piece in q.signed_octets().split('&') {
            assert!(
                message.split('&').any(|p| p == piece),
                "signed piece {piece:?} is not in the query as received"
            );
        }
    }

    // Both bindings hand on the same document, or refuse it for the same reason.
    let post = xml::decode_post(&STANDARD.encode(message));
    let deflated = xml::encode_redirect(message);
    let redirect = xml::decode_redirect(&deflated);
    assert_eq!(
        post, redirect,
        "the HTTP-POST and HTTP-Redirect decodings differ"
    );
    if let Ok(x) = &post {
        assert_eq!(x, message, "decoding changed the message");
    }

    // The endpoint's parameter handling: a Redirect query string, as the browser brings it.
    let enc = |v: &str| url::form_urlencoded::byte_serialize(v.as_bytes()).collect::<String>();
    let query = format!("SAMLRequest={}&RelayState=fuzz-relay", enc(&deflated));
    let pairs: Vec<(String, String)> = url::form_urlencoded::parse(query.as_bytes())
        .into_owned()
        .collect();
    match (sso::inbound(pairs, xml::decode_redirect), &redirect) {
        (Ok((x, relay)), Ok(expected)) => {
            assert_eq!(&x, expected);
            assert_eq!(relay.as_deref(), Some("fuzz-relay"));
        }
        (Err(_), Err(_)) => {}
        (got, expected) => panic!(
            "inbound() and decode_redirect() disagree: {:?} vs {expected:?}",
            got.map(|(x, _)| x).map_err(|_| "refused")
        ),
    }
    let Ok(doc) = redirect else {
        return;
    };

    let Ok(tree) = xml::Message::parse(&doc) else {
        return;
    };
    let _ = tree.has_signature();
    // Round trip: what was read, written by our writer (which escapes), reads back the same
    // (times at the second, as we write them).
    let root = match kind {
        SamlRequest::Authn => {
            if let Ok(mut request) = tree.authn_request() {
                request.issue_instant = truncated(request.issue_instant);
                let again = write_authn_request(&request);
                let reparsed = xml::Message::parse(&again).and_then(|m| m.authn_request());
                assert_eq!(reparsed.as_ref().ok(), Some(&request), "{again}");
            }
            "AuthnRequest"
        }
        SamlRequest::Logout => {
            if let Ok(mut request) = tree.logout_request() {
                request.issue_instant = request.issue_instant.map(truncated);
                let again = write_logout_request(&request);
                let reparsed = xml::Message::parse(&again).and_then(|m| m.logout_request());
                assert_eq!(reparsed.as_ref().ok(), Some(&request), "{again}");
            }
            "LogoutRequest"
        }
    };

    // Authentication: the SP requires signed requests and its key is unknown to the input, so
    // nothing may pass — by either binding, whatever signatures the document carries.
    let parsed = RedirectQuery::parse(&query, "SAMLRequest");
    let redirect = parsed
        .as_ref()
        .ok()
        .map(|query| Binding::Redirect { query });
    for binding in redirect.into_iter().chain([Binding::Post]) {
        let outcome = sso::authenticate(sp, &binding, &tree, root);
        assert!(
            outcome.is_err(),
            "an unsigned or forged {root} was accepted by {binding:?}"
        );
    }
}

/// A time at whole seconds (how we write times).
fn truncated(t: chrono::DateTime<Utc>) -> chrono::DateTime<Utc> {
    chrono::DateTime::from_timestamp(t.timestamp(), 0).unwrap_or(t)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The committed seeds (fuzz/corpus/<target>/) of each target, run as ordinary tests: what a
    /// target once found stays fixed even where the fuzz step does not run.
    fn corpus(target: &str) -> Vec<Vec<u8>> {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../../fuzz/corpus")
            .join(target);
        let mut out = Vec::new();
        for entry in std::fs::read_dir(&dir).into_iter().flatten().flatten() {
            out.push(must(std::fs::read(entry.path()), "seed"));
        }
        assert!(!out.is_empty(), "no seeds in {}", dir.display());
        out
    }

    #[test]
    fn saml_seeds() {
        let sp = saml_fixture();
        for seed in corpus("saml_authn_request") {
            saml_request(SamlRequest::Authn, &sp, &seed);
        }
        for seed in corpus("saml_logout_request") {
            saml_request(SamlRequest::Logout, &sp, &seed);
        }
    }
}
