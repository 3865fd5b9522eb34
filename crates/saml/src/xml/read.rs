//! Typed reading of what SPs send: AuthnRequests (SAML Core §3.4.1), LogoutRequests (§3.7.1) and
//! SP metadata (SAML Metadata §2.4.4), from the one parsed tree. Names are matched by namespace,
//! and an element's text is all of its text (comments split nothing: `a<!---->b` reads `ab`, as
//! canonicalisation, and so the signature, sees it).

use chrono::{DateTime, Datelike, Utc};
use uppsala::{Document, NodeId, NodeKind};

use super::{ASSERTION_NS, DSIG_NS, METADATA_NS, Message, PROTOCOL_NS, XmlError};

/// What an AuthnRequest asks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthnRequest {
    pub id: String,
    pub version: String,
    pub issue_instant: DateTime<Utc>,
    pub destination: Option<String>,
    pub issuer: Option<String>,
    pub assertion_consumer_service_url: Option<String>,
    pub assertion_consumer_service_index: Option<usize>,
    pub is_passive: Option<bool>,
    pub force_authn: Option<bool>,
}

/// What a LogoutRequest asks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogoutRequest {
    pub id: Option<String>,
    pub version: Option<String>,
    pub issue_instant: Option<DateTime<Utc>>,
    pub destination: Option<String>,
    /// `NotOnOrAfter` as written (its checks are the caller's).
    pub not_on_or_after: Option<String>,
    pub issuer: Option<String>,
    pub name_id: Option<String>,
    /// The `SessionIndex` elements, in order.
    pub session_indexes: Vec<String>,
}

fn malformed(why: impl Into<String>) -> XmlError {
    XmlError::Malformed(why.into())
}

/// Navigation over one parsed document.
struct Tree<'d, 'a> {
    doc: &'d Document<'a>,
}

impl Tree<'_, '_> {
    fn is(&self, node: NodeId, ns: &str, local: &str) -> bool {
        self.doc
            .element(node)
            .is_some_and(|e| e.matches_name_ns(ns, local))
    }

    fn children<'s>(
        &'s self,
        parent: NodeId,
        ns: &'s str,
        local: &'s str,
    ) -> impl Iterator<Item = NodeId> + 's {
        self.doc
            .children_iter(parent)
            .filter(move |n| self.is(*n, ns, local))
    }

    /// The child named so, when there is at most one.
    fn only_child(
        &self,
        parent: NodeId,
        ns: &str,
        local: &str,
    ) -> Result<Option<NodeId>, XmlError> {
        let mut found = self.children(parent, ns, local);
        let first = found.next();
        if found.next().is_some() {
            return Err(malformed(format!("more than one {local}")));
        }
        Ok(first)
    }

    /// All the text of an element that holds text only.
    fn text(&self, node: NodeId) -> Result<String, XmlError> {
        let mut out = String::new();
        for child in self.doc.children_iter(node) {
            match self.doc.node_kind(child) {
                Some(NodeKind::Text(t) | NodeKind::CData(t)) => out.push_str(t),
                Some(NodeKind::Element(e)) => {
                    return Err(malformed(format!(
                        "an element ({}) where only text belongs",
                        e.name.local_name
                    )));
                }
                _ => {}
            }
        }
        Ok(out)
    }

    fn child_text(
        &self,
        parent: NodeId,
        ns: &str,
        local: &str,
    ) -> Result<Option<String>, XmlError> {
        self.only_child(parent, ns, local)?
            .map(|n| self.text(n))
            .transpose()
    }

    fn attribute(&self, node: NodeId, name: &str) -> Option<String> {
        self.doc
            .element(node)?
            .attributes
            .iter()
            .find(|a| a.name.namespace_uri.is_none() && a.name.local_name == name)
            .map(|a| a.value.to_string())
    }
}

/// An `xs:boolean`.
fn boolean(raw: Option<String>, name: &str) -> Result<Option<bool>, XmlError> {
    raw.map(|v| match v.trim() {
        "true" | "1" => Ok(true),
        "false" | "0" => Ok(false),
        _ => Err(malformed(format!("{name} is not a boolean"))),
    })
    .transpose()
}

/// An `xs:dateTime` with its zone (SAML Core §1.3.3: UTC).
fn instant(raw: Option<String>, name: &str) -> Result<Option<DateTime<Utc>>, XmlError> {
    raw.map(|v| {
        DateTime::parse_from_rfc3339(v.trim())
            .map(|t| t.with_timezone(&Utc))
            .ok()
            .filter(|t| (0..=9999).contains(&t.year()))
            .ok_or_else(|| malformed(format!("{name} is not a time")))
    })
    .transpose()
}

impl Message<'_> {
    fn tree(&self) -> Tree<'_, '_> {
        Tree { doc: &self.doc }
    }

    fn expect_root(&self, local: &str) -> Result<(), XmlError> {
        if self.tree().is(self.root, PROTOCOL_NS, local) {
            Ok(())
        } else {
            Err(malformed(format!("not a {local}")))
        }
    }

    /// The message as an AuthnRequest.
    pub fn authn_request(&self) -> Result<AuthnRequest, XmlError> {
        self.expect_root("AuthnRequest")?;
        let t = self.tree();
        let root = self.root;
        let required = |name: &str| {
            t.attribute(root, name)
                .ok_or_else(|| malformed(format!("an AuthnRequest has no {name}")))
        };
        let index = t
            .attribute(root, "AssertionConsumerServiceIndex")
            .map(|v| {
                v.trim()
                    .parse::<u16>()
                    .map(usize::from)
                    .map_err(|_| malformed("AssertionConsumerServiceIndex is not an index"))
            })
            .transpose()?;
        Ok(AuthnRequest {
            id: required("ID")?,
            version: required("Version")?,
            issue_instant: instant(Some(required("IssueInstant")?), "IssueInstant")?
                .ok_or_else(|| malformed("no IssueInstant"))?,
            destination: t.attribute(root, "Destination"),
            issuer: t.child_text(root, ASSERTION_NS, "Issuer")?,
            assertion_consumer_service_url: t.attribute(root, "AssertionConsumerServiceURL"),
            assertion_consumer_service_index: index,
            is_passive: boolean(t.attribute(root, "IsPassive"), "IsPassive")?,
            force_authn: boolean(t.attribute(root, "ForceAuthn"), "ForceAuthn")?,
        })
    }

    /// The message as a LogoutRequest.
    pub fn logout_request(&self) -> Result<LogoutRequest, XmlError> {
        self.expect_root("LogoutRequest")?;
        let t = self.tree();
        let root = self.root;
        let session_indexes = t
            .children(root, PROTOCOL_NS, "SessionIndex")
            .map(|n| t.text(n).map(|s| s.trim().to_owned()))
            .collect::<Result<_, _>>()?;
        Ok(LogoutRequest {
            id: t.attribute(root, "ID"),
            version: t.attribute(root, "Version"),
            issue_instant: instant(t.attribute(root, "IssueInstant"), "IssueInstant")?,
            destination: t.attribute(root, "Destination"),
            not_on_or_after: t.attribute(root, "NotOnOrAfter"),
            issuer: t.child_text(root, ASSERTION_NS, "Issuer")?,
            name_id: t.child_text(root, ASSERTION_NS, "NameID")?,
            session_indexes,
        })
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

const MAX_METADATA_BYTES: usize = 256 * 1024;
const POST: &str = "urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST";
const REDIRECT: &str = "urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect";

/// Reads SP metadata uploaded by an administrator (DTDs refused, 256 KiB at most).
pub fn read_sp_metadata(xml: &str) -> Result<SpMetadata, String> {
    let doc = super::parse(xml, MAX_METADATA_BYTES).map_err(|e| match e {
        XmlError::TooLarge => "is larger than 256 KiB".to_owned(),
        XmlError::Dtd => "must not contain a document type declaration".to_owned(),
        other => format!("is not SAML metadata ({other})"),
    })?;
    let t = Tree { doc: &doc };
    let root = doc
        .document_element()
        .filter(|r| t.is(*r, METADATA_NS, "EntityDescriptor"))
        .ok_or("is not SAML metadata (no md:EntityDescriptor)")?;
    let bad = |e: XmlError| format!("is not SAML metadata ({e})");
    let sp = t
        .children(root, METADATA_NS, "SPSSODescriptor")
        .next()
        .ok_or("has no SPSSODescriptor")?;
    let mut acs = Vec::new();
    for a in t.children(sp, METADATA_NS, "AssertionConsumerService") {
        if t.attribute(a, "Binding").as_deref() != Some(POST) {
            continue;
        }
        let location = t
            .attribute(a, "Location")
            .ok_or("has an AssertionConsumerService without a Location")?;
        let index = t
            .attribute(a, "index")
            .and_then(|i| i.trim().parse::<u16>().ok())
            .ok_or("has an AssertionConsumerService without a valid index")?;
        let is_default = boolean(t.attribute(a, "isDefault"), "isDefault").map_err(bad)?;
        acs.push((location, index, is_default.unwrap_or(false)));
    }
    let certificate = t
        .children(sp, METADATA_NS, "KeyDescriptor")
        .find(|k| t.attribute(*k, "use").as_deref() != Some("encryption"))
        .and_then(|k| t.children(k, DSIG_NS, "KeyInfo").next())
        .and_then(|k| t.children(k, DSIG_NS, "X509Data").next())
        .and_then(|x| t.children(x, DSIG_NS, "X509Certificate").next())
        .map(|c| t.text(c))
        .transpose()
        .map_err(bad)?
        .map(|c| c.chars().filter(|c| !c.is_whitespace()).collect());
    let front_channel: Vec<(String, String)> = t
        .children(sp, METADATA_NS, "SingleLogoutService")
        .filter_map(|s| Some((t.attribute(s, "Binding")?, t.attribute(s, "Location")?)))
        .filter(|(binding, _)| binding == REDIRECT || binding == POST)
        .collect();
    let slo_url = front_channel.first().map(|(_, location)| location.clone());
    let slo_bindings = front_channel
        .iter()
        .filter(|(_, location)| Some(location) == slo_url.as_ref())
        .map(|(binding, _)| binding.clone())
        .collect();
    Ok(SpMetadata {
        entity_id: t.attribute(root, "entityID"),
        acs,
        slo_url,
        slo_bindings,
        certificate,
        authn_requests_signed: boolean(
            t.attribute(sp, "AuthnRequestsSigned"),
            "AuthnRequestsSigned",
        )
        .map_err(bad)?,
        want_assertions_signed: boolean(
            t.attribute(sp, "WantAssertionsSigned"),
            "WantAssertionsSigned",
        )
        .map_err(bad)?
        .unwrap_or(false),
    })
}
