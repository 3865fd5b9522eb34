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
use samael::traits::ToXml;

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

/// Whether no value of a parsed message needs escaping in XML text (samael's writer escapes
/// attribute values but writes text content as it is, so `&`, `<`, `>` and control characters do
/// not survive its round trip; we never write samael's types, responses are built with `esc`).
fn escapes_nothing(parsed: &impl std::fmt::Debug) -> bool {
    let debug = format!("{parsed:?}");
    !debug.contains(['&', '<', '>']) && !debug.contains("\\u{")
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

    let _ = xml::root_name(&doc);
    let _ = xml::has_signature(&doc);
    let root = match kind {
        SamlRequest::Authn => {
            if let Ok(request) = xml::parse_authn_request(&doc) {
                let _ = request.issuer.as_ref().and_then(|i| i.value.as_deref());
                // Round trip: what samael writes, it reads back as the same request (where
                // samael's writer need not escape: it writes text content as it is).
                if let Ok(again) = ToXml::to_string(&request)
                    && escapes_nothing(&request)
                {
                    let reparsed = xml::parse_authn_request(&again);
                    assert_eq!(reparsed.as_ref().ok(), Some(&request), "{again}");
                }
            }
            "AuthnRequest"
        }
        SamlRequest::Logout => {
            if let Ok(request) = xml::parse_logout_request(&doc) {
                let _ = request.issuer.as_ref().and_then(|i| i.value.as_deref());
                if let Ok(again) = ToXml::to_string(&request)
                    && escapes_nothing(&request)
                {
                    let reparsed = xml::parse_logout_request(&again);
                    assert_eq!(reparsed.as_ref().ok(), Some(&request), "{again}");
                }
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
        let outcome = sso::authenticate(sp, &binding, doc.clone(), root);
        assert!(
            outcome.is_err(),
            "an unsigned or forged {root} was accepted by {binding:?}"
        );
    }
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
