//! The SAML SP-initiated round trip (Web Browser SSO): the service provider sends an AuthnRequest
//! by HTTP-Redirect to `/saml/sso`, and the signed-in browser receives the auto-posting form with
//! the signed `SAMLResponse` for the ACS in the answer (a redirect to `/saml/continue`, were there
//! one, would be followed). The ACS is never contacted:
//! the bench reads the form, decodes the Response and checks it with string tests (no signature
//! verification — it would spend the CPU the server shares with the load generator).

use std::io::Write as _;

use anyhow::Context as _;
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use serde_json::{Value, json};

use portcullis_testkit::{Browser, Page, snippet};

/// The service provider's entity id.
pub const SP_ENTITY_ID: &str = "https://sp.bench.example.com/saml";
/// The service provider's assertion consumer service: on loopback (http is allowed there), never
/// contacted.
pub const ACS: &str = "http://127.0.0.1:9/saml/acs";

const SUCCESS: &str = "urn:oasis:names:tc:SAML:2.0:status:Success";

/// The admin API body registering the service provider (persistent NameID, one attribute).
pub fn registration() -> Value {
    json!({"name": "payroll-saml", "kind": "SAML", "saml": {
        "entityId": SP_ENTITY_ID,
        "acs": [{"url": ACS, "index": 0, "isDefault": true}],
        "nameIdFormat": "persistent",
        "attributes": [{"name": "mail", "value": "${user:email}"}]}})
}

/// An unsigned AuthnRequest with `id`, issued now, for the IdP at `base`.
pub fn authn_request(base: &str, id: &str) -> String {
    let now = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    format!(
        "<samlp:AuthnRequest xmlns:samlp=\"urn:oasis:names:tc:SAML:2.0:protocol\" \
         xmlns:saml=\"urn:oasis:names:tc:SAML:2.0:assertion\" ID=\"{id}\" Version=\"2.0\" \
         IssueInstant=\"{now}\" Destination=\"{base}/saml/sso\" \
         ProtocolBinding=\"urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST\" \
         AssertionConsumerServiceURL=\"{ACS}\"><saml:Issuer>{SP_ENTITY_ID}</saml:Issuer>\
         <samlp:NameIDPolicy Format=\"urn:oasis:names:tc:SAML:2.0:nameid-format:persistent\" \
         AllowCreate=\"true\"/></samlp:AuthnRequest>"
    )
}

/// `/saml/sso?SAMLRequest=…&RelayState=…` for `xml` (HTTP-Redirect binding: DEFLATE, base64,
/// URL-encoding).
pub fn redirect_path(xml: &str, relay_state: &str) -> anyhow::Result<String> {
    let mut enc = flate2::write::DeflateEncoder::new(Vec::new(), flate2::Compression::default());
    enc.write_all(xml.as_bytes())?;
    let deflated = STANDARD.encode(enc.finish()?);
    let query = url::form_urlencoded::Serializer::new(String::new())
        .append_pair("SAMLRequest", &deflated)
        .append_pair("RelayState", relay_state)
        .finish();
    Ok(format!("/saml/sso?{query}"))
}

/// One SP-initiated round trip from a browser that is already signed in.
pub async fn round_trip(b: &Browser, base: &str) -> anyhow::Result<()> {
    let id = format!("_bench{}", uuid::Uuid::new_v4().simple());
    let relay = "bench-relay";
    let page = b
        .try_follow(&redirect_path(&authn_request(base, &id), relay)?)
        .await?;
    check_response(&response_xml(&page, relay)?, &id)
}

/// The decoded `SAMLResponse` of the auto-posting form on `page`, which must carry `relay` back.
pub fn response_xml(page: &Page, relay: &str) -> anyhow::Result<String> {
    anyhow::ensure!(
        page.status == 200,
        "SAML SSO: {} {:?} {}",
        page.status,
        page.location,
        snippet(&page.body)
    );
    let form = page
        .form(Some(ACS))
        .with_context(|| format!("no form posting to the ACS: {}", snippet(&page.body)))?;
    anyhow::ensure!(
        form.value("RelayState") == Some(relay),
        "RelayState not carried back"
    );
    let encoded = form
        .value("SAMLResponse")
        .with_context(|| format!("no SAMLResponse: {}", snippet(&page.body)))?;
    String::from_utf8(
        STANDARD
            .decode(encoded.trim())
            .context("SAMLResponse base64")?,
    )
    .context("SAMLResponse is not UTF-8")
}

/// String checks of a successful Response to request `id` for [`ACS`].
pub fn check_response(xml: &str, id: &str) -> anyhow::Result<()> {
    let has = |s: &str| xml.contains(s);
    let wanted = [
        format!("StatusCode Value=\"{SUCCESS}\""),
        format!("Destination=\"{ACS}\""),
        format!("Recipient=\"{ACS}\""),
        format!("InResponseTo=\"{id}\""),
        format!("<saml:Audience>{SP_ENTITY_ID}</saml:Audience>"),
    ];
    for w in &wanted {
        anyhow::ensure!(has(w), "the Response lacks {w}: {}", snippet(xml));
    }
    anyhow::ensure!(
        has("<saml:Assertion ") || has("<Assertion "),
        "the Response has no Assertion: {}",
        snippet(xml)
    );
    // The request ID twice: on the Response and in SubjectConfirmationData.
    anyhow::ensure!(
        xml.matches(&format!("InResponseTo=\"{id}\"")).count() >= 2,
        "InResponseTo is missing from the assertion's SubjectConfirmationData"
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::io::Read as _;

    use super::*;

    #[test]
    fn redirect_path_inflates_back_to_the_request() {
        let xml = authn_request("http://127.0.0.1:1", "_abc");
        let path = redirect_path(&xml, "r").unwrap();
        let query = path.strip_prefix("/saml/sso?").unwrap();
        let (_, v) = url::form_urlencoded::parse(query.as_bytes())
            .find(|(k, _)| k == "SAMLRequest")
            .unwrap();
        let mut out = String::new();
        flate2::read::DeflateDecoder::new(STANDARD.decode(v.as_bytes()).unwrap().as_slice())
            .read_to_string(&mut out)
            .unwrap();
        assert_eq!(out, xml);
    }

    #[test]
    fn checks_a_response() {
        let ok = format!(
            "<samlp:Response Destination=\"{ACS}\" InResponseTo=\"_x\"><samlp:Status>\
             <samlp:StatusCode Value=\"{SUCCESS}\"/></samlp:Status><saml:Assertion ID=\"a\">\
             <saml:SubjectConfirmationData InResponseTo=\"_x\" Recipient=\"{ACS}\"/>\
             <saml:Audience>{SP_ENTITY_ID}</saml:Audience></saml:Assertion></samlp:Response>"
        );
        check_response(&ok, "_x").unwrap();
        assert!(check_response(&ok, "_y").is_err());
        assert!(check_response(&ok.replace("Success", "Requester"), "_x").is_err());
    }
}
