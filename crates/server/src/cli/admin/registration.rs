//! The `oidc` and `saml` objects of `applications create/update`, built from the command line's
//! options, and merged into the stored registration on update.

use serde_json::Value;

use super::calls::given;
use super::commands::*;
use portcullis_admin::applications::OidcBody;
use portcullis_admin::saml::{AcsBody, AttributeBody, SamlBody};

/// A list option: `None` when not given; the empty value (`--scope ""`) empties the list.
fn list(v: &[String]) -> Option<Vec<String>> {
    (!v.is_empty()).then(|| v.iter().filter(|s| !s.is_empty()).cloned().collect())
}

/// An option that an empty value clears (`null`).
fn clearable(v: &Option<String>) -> Option<Option<String>> {
    v.as_ref().map(|s| (!s.is_empty()).then(|| s.clone()))
}

/// The `oidc` object of the OIDC options given, with `clientType` when set; `None` when no OIDC
/// option was given. An empty value empties a list or clears (`null`) a value.
pub(super) fn oidc_body(a: &OidcArgs, client_type: Option<&str>) -> Option<OidcBody> {
    given(OidcBody {
        client_type: client_type.map(str::to_owned),
        redirect_uris: list(&a.redirect_uris),
        post_logout_redirect_uris: list(&a.post_logout_redirect_uris),
        grant_types: list(&a.grant_types),
        allowed_scopes: list(&a.scopes),
        audience: clearable(&a.audience),
        signing_algorithm: a.signing_algorithm.clone(),
        access_token_lifetime: a.access_token_lifetime.clone(),
        id_token_lifetime: a.id_token_lifetime.clone(),
        refresh_token_lifetime: a.refresh_token_lifetime.clone(),
        initiate_login_uri: clearable(&a.initiate_login_uri),
        require_consent: None,
    })
}

/// The `saml` object of the SAML options given; `None` when no SAML option was given. An empty
/// value empties a list or clears (`null`) a value.
pub(super) fn saml_body(a: &SamlArgs) -> Option<SamlBody> {
    let acs = (!a.acs_urls.is_empty()).then(|| {
        a.acs_urls
            .iter()
            .filter(|acs| !acs.url.is_empty())
            .map(|acs| AcsBody {
                url: acs.url.clone(),
                index: acs.index,
                is_default: acs.is_default,
            })
            .collect()
    });
    let attributes = (!a.attributes.is_empty()).then(|| {
        a.attributes
            .iter()
            .filter(|(name, _)| !name.is_empty())
            .map(|(name, value)| AttributeBody {
                name: name.clone(),
                name_format: None,
                value: value.clone(),
            })
            .collect()
    });
    given(SamlBody {
        metadata_xml: a.sp_metadata.clone().filter(|m| !m.is_empty()),
        entity_id: a.entity_id.clone(),
        acs,
        slo_url: clearable(&a.slo_url),
        slo_bindings: None,
        certificate: clearable(&a.sp_certificate),
        require_signed_requests: a.require_signed_requests,
        name_id_format: a.name_id_format.clone(),
        attributes,
        preset: a.aws_preset.then(|| "aws".to_owned()),
        aws_roles: list(&a.aws_roles),
        assertion_lifetime: a.assertion_lifetime.clone(),
        signed_part: a.sign.clone(),
        allow_sha1: a.allow_sha1,
        default_relay_state: clearable(&a.relay_state),
        start_url: clearable(&a.start_url),
    })
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

#[cfg(test)]
mod tests {
    use super::*;
    use portcullis_admin::saml::{AttributeView, SamlView};

    /// The merge names fields of the registration body and view: they must be the API's.
    #[test]
    fn the_merge_names_fields_of_the_api() {
        let every = SamlBody {
            metadata_xml: Some(String::new()),
            entity_id: Some(String::new()),
            acs: Some(vec![]),
            slo_url: Some(None),
            slo_bindings: Some(vec![]),
            certificate: Some(None),
            require_signed_requests: Some(false),
            attributes: Some(vec![]),
            preset: Some(String::new()),
            aws_roles: Some(vec![]),
            ..SamlBody::default()
        };
        let body = serde_json::to_value(every).unwrap_or_default();
        let view = serde_json::to_value(SamlView {
            entity_id: String::new(),
            acs: vec![],
            slo_url: None,
            slo_bindings: vec![],
            certificate: None,
            require_signed_requests: false,
            name_id_format: String::new(),
            attributes: vec![AttributeView {
                name: String::new(),
                name_format: None,
                value: String::new(),
            }],
            assertion_lifetime: String::new(),
            signed_part: String::new(),
            allow_sha1: false,
            default_relay_state: None,
            start_url: None,
        })
        .unwrap_or_default();
        for key in FROM_METADATA.iter().chain(&["attributes"]) {
            assert!(body.get(key).is_some(), "{key} is not in the body");
            assert!(view.get(key).is_some(), "{key} is not in the view");
        }
        for key in ["metadataXml", "preset", "awsRoles"] {
            assert!(body.get(key).is_some(), "{key} is not in the body");
        }
        assert!(view["attributes"][0].get("name").is_some());
    }
}
