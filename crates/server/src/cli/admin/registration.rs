//! The `oidc` and `saml` objects of `applications create/update`, built from the command line's
//! options, and merged into the stored registration on update.

use serde_json::{Value, json};

use super::calls::{obj, s};
use super::commands::*;

/// The `oidc` object of the OIDC options given, with `clientType` when set; `None` when no OIDC
/// option was given. An empty value empties a list or clears (`null`) a value.
pub(super) fn oidc_body(a: &OidcArgs, client_type: Option<&str>) -> Option<Value> {
    let list = |v: &Vec<String>| {
        (!v.is_empty()).then(|| json!(v.iter().filter(|s| !s.is_empty()).collect::<Vec<_>>()))
    };
    let clearable = |v: &Option<String>| {
        v.as_ref()
            .map(|s| if s.is_empty() { Value::Null } else { json!(s) })
    };
    let body = obj(&[
        ("clientType", client_type.map(|t| json!(t))),
        ("redirectUris", list(&a.redirect_uris)),
        ("postLogoutRedirectUris", list(&a.post_logout_redirect_uris)),
        ("grantTypes", list(&a.grant_types)),
        ("allowedScopes", list(&a.scopes)),
        ("audience", clearable(&a.audience)),
        ("signingAlgorithm", s(&a.signing_algorithm)),
        ("accessTokenLifetime", s(&a.access_token_lifetime)),
        ("idTokenLifetime", s(&a.id_token_lifetime)),
        ("refreshTokenLifetime", s(&a.refresh_token_lifetime)),
        ("initiateLoginUri", clearable(&a.initiate_login_uri)),
    ]);
    body.as_object()
        .is_some_and(|m| !m.is_empty())
        .then_some(body)
}

/// The `saml` object of the SAML options given; `None` when no SAML option was given. An empty
/// value empties a list or clears (`null`) a value.
pub(super) fn saml_body(a: &SamlArgs) -> Option<Value> {
    let clearable = |v: &Option<String>| {
        v.as_ref()
            .map(|s| if s.is_empty() { Value::Null } else { json!(s) })
    };
    let acs = (!a.acs_urls.is_empty()).then(|| {
        let list: Vec<Value> = a
            .acs_urls
            .iter()
            .filter(|acs| !acs.url.is_empty())
            .map(|acs| {
                let mut v = json!({"url": acs.url, "isDefault": acs.is_default});
                if let Some(i) = acs.index {
                    v["index"] = json!(i);
                }
                v
            })
            .collect();
        json!(list)
    });
    let attributes = (!a.attributes.is_empty()).then(|| {
        json!(
            a.attributes
                .iter()
                .filter(|(name, _)| !name.is_empty())
                .map(|(name, value)| json!({"name": name, "value": value}))
                .collect::<Vec<_>>()
        )
    });
    let aws_roles = (!a.aws_roles.is_empty()).then(|| {
        json!(
            a.aws_roles
                .iter()
                .filter(|r| !r.is_empty())
                .collect::<Vec<_>>()
        )
    });
    let body = obj(&[
        (
            "metadataXml",
            a.sp_metadata
                .as_ref()
                .filter(|m| !m.is_empty())
                .map(|m| json!(m)),
        ),
        ("entityId", s(&a.entity_id)),
        ("acs", acs),
        ("sloUrl", clearable(&a.slo_url)),
        ("certificate", clearable(&a.sp_certificate)),
        (
            "requireSignedRequests",
            a.require_signed_requests.map(|b| json!(b)),
        ),
        ("nameIdFormat", s(&a.name_id_format)),
        ("attributes", attributes),
        ("preset", a.aws_preset.then(|| json!("aws"))),
        ("awsRoles", aws_roles),
        ("assertionLifetime", s(&a.assertion_lifetime)),
        ("signedPart", s(&a.sign)),
        ("allowSha1", a.allow_sha1.map(|b| json!(b))),
        ("defaultRelayState", clearable(&a.relay_state)),
        ("startUrl", clearable(&a.start_url)),
    ]);
    body.as_object()
        .is_some_and(|m| !m.is_empty())
        .then_some(body)
}

/// What SP metadata sets: an update that uploads metadata takes these from it, not from the
/// registration read.
const FROM_METADATA: &[&str] = &[
    "entityId",
    "acs",
    "sloUrl",
    "sloBindings",
    "certificate",
    "requireSignedRequests",
];

/// The prefix of the attributes the AWS preset adds: an update that applies the preset again
/// replaces them.
const AWS_ATTRIBUTES: &str = "https://aws.amazon.com/SAML/Attributes/";

/// Lays `body.oidc` and `body.saml` over those of `current` (the application as read), so that
/// the PATCH replaces each registration with the current one changed only where options were
/// given.
pub(super) fn merge_registration(current: &Value, body: &mut Value) {
    for key in ["oidc", "saml"] {
        let Some(changes) = body.get(key).and_then(Value::as_object).cloned() else {
            continue;
        };
        let mut merged = current
            .get(key)
            .and_then(Value::as_object)
            .cloned()
            .unwrap_or_default();
        if key == "saml" {
            if changes.contains_key("metadataXml") {
                for k in FROM_METADATA {
                    merged.remove(*k);
                }
            }
            // The preset adds RoleSessionName and SessionDuration again, and Role once per
            // `awsRoles`: the ones added before go (the roles only when new ones are given).
            let new_roles = changes.contains_key("awsRoles");
            if changes.contains_key("preset")
                && let Some(Value::Array(attrs)) = merged.get_mut("attributes")
            {
                attrs.retain(|a| {
                    let name = a.get("name").and_then(Value::as_str).unwrap_or("");
                    match name.strip_prefix(AWS_ATTRIBUTES) {
                        Some("Role") => !new_roles,
                        Some(_) => false,
                        None => true,
                    }
                });
            }
        }
        merged.extend(changes);
        body[key] = Value::Object(merged);
    }
}
