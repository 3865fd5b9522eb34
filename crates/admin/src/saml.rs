//! The `saml` object of `/admin/v1/applications`: a SAML application's service provider
//! registration, given by hand or as the SP's metadata XML (`metadataXml`), plus the AWS preset.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use portcullis_domain::{
    AssertionConsumerService, AssertionLifetime, AttributeMapping, FieldErrors, NameIdFormat,
    SamlBinding, SamlSettings, SamlUrl, SignedPart,
};
use serde::{Deserialize, Serialize};

use utoipa::ToSchema;

use super::wire::double_option;

/// One assertion consumer service (HTTP-POST binding).
#[derive(Debug, Deserialize, Serialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct AcsBody {
    pub url: String,
    /// Default: its position in the list.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub index: Option<u16>,
    #[serde(default)]
    pub is_default: bool,
}

/// One attribute: `value` is literal text with `${user:subject}`, `${user:email}`,
/// `${user:name}`, `${user:givenName}`, `${user:familyName}` placeholders, or `${user:groups}`.
#[derive(Debug, Deserialize, Serialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct AttributeBody {
    pub name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name_format: Option<String>,
    pub value: String,
}

/// One attribute as the API shows it (`nameFormat` is `null` when not set).
#[derive(Debug, Deserialize, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct AttributeView {
    pub name: String,
    pub name_format: Option<String>,
    pub value: String,
}

/// The SP registration to set. On PATCH a given `saml` replaces the whole registration.
#[derive(Debug, Default, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SamlBody {
    /// The SP's metadata (an `EntityDescriptor` with an `SPSSODescriptor`): entity id, HTTP-POST
    /// ACS endpoints, SLO URL, signing certificate, `AuthnRequestsSigned` and
    /// `WantAssertionsSigned` are read from it;
    /// fields given here as well win.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub metadata_xml: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub entity_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub acs: Option<Vec<AcsBody>>,
    #[serde(
        default,
        deserialize_with = "double_option",
        skip_serializing_if = "Option::is_none"
    )]
    #[schema(value_type = Option<String>)]
    pub slo_url: Option<Option<String>>,
    /// How the SP accepts LogoutResponses at `sloUrl`: `HTTP-Redirect` and/or `HTTP-POST` (or
    /// their URNs). Default: what `metadataXml` declares at that URL, else either.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub slo_bindings: Option<Vec<String>>,
    /// The SP's signing certificate: base64 DER or PEM.
    #[serde(
        default,
        deserialize_with = "double_option",
        skip_serializing_if = "Option::is_none"
    )]
    #[schema(value_type = Option<String>)]
    pub certificate: Option<Option<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub require_signed_requests: Option<bool>,
    /// `persistent` (default), `emailAddress`, `transient` or `unspecified`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name_id_format: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub attributes: Option<Vec<AttributeBody>>,
    /// `aws`: adds the AWS attribute profile (Role from `awsRoles`, RoleSessionName = email,
    /// SessionDuration).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub preset: Option<String>,
    /// For the AWS preset: `arn:aws:iam::ACCOUNT:role/ROLE,arn:aws:iam::ACCOUNT:saml-provider/NAME`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub aws_roles: Option<Vec<String>>,
    /// ISO-8601, `PT1M` to `PT1H`, default `PT5M`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub assertion_lifetime: Option<String>,
    /// Which elements we sign: `response` (default), `assertion`, or `both` (the Assertion, then
    /// the Response around it). Default `both` when `metadataXml` says
    /// `WantAssertionsSigned="true"`, which then refuses `response`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub signed_part: Option<String>,
    /// Accept RSA-SHA1 / SHA-1 in the SP's signed requests (default false); we always sign with RSA-SHA256.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub allow_sha1: Option<bool>,
    #[serde(
        default,
        deserialize_with = "double_option",
        skip_serializing_if = "Option::is_none"
    )]
    #[schema(value_type = Option<String>)]
    pub default_relay_state: Option<Option<String>>,
    #[serde(
        default,
        deserialize_with = "double_option",
        skip_serializing_if = "Option::is_none"
    )]
    #[schema(value_type = Option<String>)]
    pub start_url: Option<Option<String>>,
}

/// The registration as the API shows it.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct SamlView {
    pub entity_id: String,
    pub acs: Vec<AcsBody>,
    pub slo_url: Option<String>,
    /// `HTTP-Redirect`, `HTTP-POST`; empty: either.
    pub slo_bindings: Vec<String>,
    pub certificate: Option<String>,
    pub require_signed_requests: bool,
    pub name_id_format: String,
    pub attributes: Vec<AttributeView>,
    pub assertion_lifetime: String,
    /// `response`, `assertion` or `both`.
    pub signed_part: String,
    pub allow_sha1: bool,
    pub default_relay_state: Option<String>,
    pub start_url: Option<String>,
}

impl From<SamlSettings> for SamlView {
    fn from(s: SamlSettings) -> Self {
        Self {
            entity_id: s.entity_id,
            acs: s
                .acs
                .into_iter()
                .map(|a| AcsBody {
                    url: a.url.into(),
                    index: Some(a.index),
                    is_default: a.is_default,
                })
                .collect(),
            slo_url: s.slo_url.map(String::from),
            slo_bindings: s
                .slo_bindings
                .iter()
                .map(|b| b.as_str().to_owned())
                .collect(),
            certificate: s.certificate,
            require_signed_requests: s.require_signed_requests,
            name_id_format: s.name_id_format.as_str().into(),
            attributes: s
                .attributes
                .into_iter()
                .map(|m| AttributeView {
                    name: m.name,
                    name_format: m.name_format,
                    value: m.value,
                })
                .collect(),
            assertion_lifetime: s.assertion_lifetime.to_iso8601(),
            signed_part: s.signed_part.as_str().into(),
            allow_sha1: s.allow_sha1,
            default_relay_state: s.default_relay_state,
            start_url: s.start_url.map(String::from),
        }
    }
}

fn read_metadata(xml: &str) -> Result<FromMetadata, String> {
    let m = portcullis_saml::xml::read_sp_metadata(xml)?;
    Ok(FromMetadata {
        entity_id: m.entity_id,
        acs: m
            .acs
            .into_iter()
            .map(|(url, index, is_default)| AcsBody {
                url,
                index: Some(index),
                is_default,
            })
            .collect(),
        slo_url: m.slo_url,
        slo_bindings: m
            .slo_bindings
            .iter()
            .filter_map(|b| SamlBinding::parse(b).ok())
            .collect(),
        certificate: m.certificate,
        signed: m.authn_requests_signed,
        want_assertions_signed: m.want_assertions_signed,
    })
}

/// What SP metadata says.
#[derive(Debug, Default)]
struct FromMetadata {
    entity_id: Option<String>,
    acs: Vec<AcsBody>,
    slo_url: Option<String>,
    slo_bindings: Vec<SamlBinding>,
    certificate: Option<String>,
    signed: Option<bool>,
    want_assertions_signed: bool,
}

/// base64 DER or PEM → base64 DER of an RSA ≥ 2048 certificate.
fn parse_certificate(s: &str) -> Result<String, String> {
    let body: String = s
        .lines()
        .filter(|l| !l.starts_with("-----"))
        .collect::<String>()
        .chars()
        .filter(|c| !c.is_whitespace())
        .collect();
    let der = STANDARD
        .decode(&body)
        .map_err(|_| "must be a base64 DER or PEM certificate".to_owned())?;
    portcullis_saml::xml::check_certificate(&der)?;
    Ok(STANDARD.encode(der))
}

/// Turns a wire registration into domain settings, naming every invalid field.
pub fn parse_saml(e: &mut FieldErrors, b: SamlBody) -> Option<SamlSettings> {
    let mut bad = false;
    // `null` is as good as absent here (it clears the value on a PATCH, which replaces it all).
    let given_slo_url = b.slo_url.flatten();
    let md = match b.metadata_xml.as_deref().map(read_metadata) {
        Some(Ok(m)) => m,
        Some(Err(msg)) => {
            e.add("saml.metadataXml", msg);
            return None;
        }
        None => FromMetadata::default(),
    };
    let entity_id = b.entity_id.or(md.entity_id);
    let Some(entity_id) = entity_id else {
        e.add("saml.entityId", "is required (or give metadataXml)");
        return None;
    };
    let acs_raw = b.acs.unwrap_or(md.acs);
    let mut acs = Vec::new();
    for (i, a) in acs_raw.into_iter().enumerate() {
        match SamlUrl::parse(&a.url) {
            Ok(url) => acs.push(AssertionConsumerService {
                url,
                index: a.index.unwrap_or(i as u16),
                is_default: a.is_default,
            }),
            Err(err) => {
                bad = true;
                e.add("saml.acs", format!("'{}' {}", a.url, err.message));
            }
        }
    }
    // The metadata's bindings describe its SLO URL: they apply when that URL is the one used.
    let slo_bindings = match b.slo_bindings {
        Some(list) => {
            let mut out = Vec::new();
            for name in list {
                match e.check("saml.sloBindings", SamlBinding::parse(&name)) {
                    Some(binding) if !out.contains(&binding) => out.push(binding),
                    Some(_) => {}
                    None => bad = true,
                }
            }
            out
        }
        None if given_slo_url.is_none() || given_slo_url == md.slo_url => md.slo_bindings,
        None => Vec::new(),
    };
    let slo_url = match given_slo_url.or(md.slo_url) {
        Some(u) => e.check("saml.sloUrl", SamlUrl::parse(u)).map(Some),
        None => Some(None),
    };
    let certificate = match b.certificate.flatten().or(md.certificate) {
        Some(c) => match parse_certificate(&c) {
            Ok(c) => Some(Some(c)),
            Err(msg) => {
                e.add("saml.certificate", msg);
                None
            }
        },
        None => Some(None),
    };
    let name_id_format = match b.name_id_format {
        Some(f) => e.check("saml.nameIdFormat", NameIdFormat::parse(&f)),
        None => Some(NameIdFormat::default()),
    };
    let mut attributes = Vec::new();
    for a in b.attributes.unwrap_or_default() {
        match e.check(
            "saml.attributes",
            AttributeMapping::new(a.name, a.name_format, a.value),
        ) {
            Some(m) => attributes.push(m),
            None => bad = true,
        }
    }
    match b.preset.as_deref() {
        None => {}
        Some("aws") => {
            let uri = Some("urn:oasis:names:tc:SAML:2.0:attrname-format:uri".to_owned());
            let aws = "https://aws.amazon.com/SAML/Attributes/";
            for role in b.aws_roles.unwrap_or_default() {
                match e.check(
                    "saml.awsRoles",
                    AttributeMapping::new(format!("{aws}Role"), uri.clone(), role),
                ) {
                    Some(m) => attributes.push(m),
                    None => bad = true,
                }
            }
            attributes.extend(
                [
                    AttributeMapping::new(
                        format!("{aws}RoleSessionName"),
                        uri.clone(),
                        "${user:email}".into(),
                    ),
                    AttributeMapping::new(format!("{aws}SessionDuration"), uri, "3600".into()),
                ]
                .into_iter()
                .flatten(),
            );
        }
        Some(_) => {
            bad = true;
            e.add("saml.preset", "must be aws");
        }
    }
    let assertion_lifetime = match b.assertion_lifetime {
        Some(l) => e.check(
            "saml.assertionLifetime",
            AssertionLifetime::parse_iso8601(&l),
        ),
        None => Some(AssertionLifetime::default()),
    };
    // An SP whose metadata wants signed assertions gets them (and a signed Response as well,
    // unless `assertion` is asked for); `response` alone would have every assertion rejected.
    let signed_part = match b.signed_part {
        Some(p) => match e.check("saml.signedPart", SignedPart::parse(&p)) {
            Some(p) if md.want_assertions_signed && !p.signs_assertion() => {
                e.add(
                    "saml.signedPart",
                    "must be assertion or both: the metadata says WantAssertionsSigned=\"true\"",
                );
                None
            }
            other => other,
        },
        None if md.want_assertions_signed => Some(SignedPart::Both),
        None => Some(SignedPart::default()),
    };
    let start_url = match b.start_url.flatten() {
        Some(u) => e.check("saml.startUrl", SamlUrl::parse(u)).map(Some),
        None => Some(None),
    };
    let settings = SamlSettings {
        entity_id,
        acs,
        slo_url: slo_url?,
        slo_bindings,
        certificate: certificate?,
        require_signed_requests: b.require_signed_requests.or(md.signed).unwrap_or(false),
        name_id_format: name_id_format?,
        attributes,
        assertion_lifetime: assertion_lifetime?,
        signed_part: signed_part?,
        allow_sha1: b.allow_sha1.unwrap_or(false),
        default_relay_state: b.default_relay_state.flatten(),
        start_url: start_url?,
    };
    let problems = settings.problems();
    for (field, problem) in &problems {
        let name = match *field {
            "entity_id" => "saml.entityId",
            "default_relay_state" => "saml.defaultRelayState",
            "acs" => "saml.acs",
            _ => "saml.certificate",
        };
        e.add(name, *problem);
    }
    (problems.is_empty() && !bad).then_some(settings)
}
