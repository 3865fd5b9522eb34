//! Entry points for the fuzz targets in `fuzz/` (docs/design/fuzzing.md): the admin API's JSON
//! request bodies, each deserialized as its handler does and run through its validation, and SP
//! metadata as an administrator uploads it. Not an API: nothing but `fuzz/` calls these.

use portcullis_domain::{FieldErrors, Settings};
use serde::de::DeserializeOwned;

use crate::applications::{self, ApplicationBody, OidcBody, OidcView};
use crate::saml::{SamlBody, SamlView, parse_saml};
use crate::{accounts, assignments, groups, permission_sets, sessions, settings, users};

/// A refusal always names what is wrong: a 400 with no field errors tells nobody anything.
fn refused(e: &FieldErrors) {
    assert!(!e.is_empty(), "validation failed without naming a field");
}

fn json<T: DeserializeOwned>(body: &[u8]) -> Option<T> {
    serde_json::from_slice(body).ok()
}

/// What the API shows, given back as a request body, parses to the same registration.
fn saml_round_trip(settings: &portcullis_domain::SamlSettings) {
    let view = match serde_json::to_value(SamlView::from(settings.clone())) {
        Ok(v) => v,
        Err(e) => panic!("a SAML view does not serialize: {e}"),
    };
    let body: SamlBody = match serde_json::from_value(view.clone()) {
        Ok(b) => b,
        Err(e) => panic!("the SAML view is not a valid body ({e}): {view}"),
    };
    let mut e = FieldErrors::new();
    let again = parse_saml(&mut e, body);
    assert_eq!(again.as_ref(), Some(settings), "{view} ({e:?})");
}

fn oidc_round_trip(settings: &portcullis_domain::OidcSettings) {
    let view = match serde_json::to_value(OidcView::from(settings.clone())) {
        Ok(v) => v,
        Err(e) => panic!("an OIDC view does not serialize: {e}"),
    };
    let body: OidcBody = match serde_json::from_value(view.clone()) {
        Ok(b) => b,
        Err(e) => panic!("the OIDC view is not a valid body ({e}): {view}"),
    };
    let mut e = FieldErrors::new();
    let again = applications::parse_oidc(&mut e, body);
    assert_eq!(again.as_ref(), Some(settings), "{view} ({e:?})");
}

/// `data` is SP metadata XML, registered as `{"saml": {"metadataXml": …}}` would register it.
pub fn saml_metadata(data: &[u8]) {
    let Ok(xml) = std::str::from_utf8(data) else {
        return;
    };
    let _ = portcullis_saml::xml::read_sp_metadata(xml);
    let mut e = FieldErrors::new();
    let body = SamlBody {
        metadata_xml: Some(xml.to_owned()),
        ..SamlBody::default()
    };
    match parse_saml(&mut e, body) {
        Some(settings) => {
            assert!(settings.problems().is_empty());
            saml_round_trip(&settings);
        }
        None => refused(&e),
    }
}

/// `data` is `<request type>\n<JSON body>`; the types are those of the admin API's POST, PUT and
/// PATCH bodies (see the match).
pub fn admin_json(data: &[u8]) {
    let Some(nl) = data.iter().position(|b| *b == b'\n') else {
        return;
    };
    let (kind, body) = (&data[..nl], &data[nl + 1..]);
    match kind {
        b"createUser" => {
            if let Some(b) = json::<users::CreateUser>(body) {
                match users::parse_new_user(b) {
                    Ok(u) => {
                        let again = users::CreateUser {
                            user_name: Some(u.user_name.as_str().into()),
                            email: Some(u.email.as_str().into()),
                            display_name: Some(u.display_name.as_str().into()),
                            given_name: u.given_name.as_ref().map(|n| n.as_str().into()),
                            family_name: u.family_name.as_ref().map(|n| n.as_str().into()),
                            enabled: Some(u.enabled),
                            attributes: Some(u.attributes.clone().into()),
                        };
                        assert_eq!(users::parse_new_user(again).ok(), Some(u));
                    }
                    Err(e) => refused(&e),
                }
            }
        }
        b"patchUser" => {
            if let Some(b) = json::<users::PatchUser>(body)
                && let Err(e) = users::parse_patch(b)
            {
                refused(&e);
            }
        }
        b"group" => {
            if let Some(b) = json::<groups::GroupBody>(body) {
                match groups::parse(b, None) {
                    Ok(g) => {
                        let again = groups::GroupBody {
                            display_name: Some(g.name.as_str().into()),
                            description: Some(g.description.as_str().into()),
                        };
                        assert_eq!(groups::parse(again, None).ok(), Some(g));
                    }
                    Err(e) => refused(&e),
                }
            }
        }
        b"account" => {
            if let Some(b) = json::<accounts::CreateAccount>(body)
                && let Err(e) = accounts::parse_create(b)
            {
                refused(&e);
            }
        }
        b"permissionSet" => {
            if let Some(b) = json::<permission_sets::PermissionSetBody>(body)
                && let Err(e) = permission_sets::parse(b, None)
            {
                refused(&e);
            }
        }
        b"assignment" => {
            if let Some(b) = json::<assignments::AssignmentBody>(body)
                && let Err(e) = assignments::parse(b)
            {
                refused(&e);
            }
        }
        b"assignmentQuery" => {
            if let Ok(q) = serde_urlencoded::from_bytes::<assignments::AssignmentQuery>(body)
                && let Err(e) = assignments::parse_filter(&q)
            {
                refused(&e);
            }
        }
        b"application" => {
            if let Some(b) = json::<ApplicationBody>(body) {
                match applications::parse(b, None) {
                    Ok(app) => {
                        if let Some(s) = &app.saml {
                            assert!(s.problems().is_empty());
                            saml_round_trip(s);
                        }
                        if let Some(o) = &app.oidc {
                            oidc_round_trip(o);
                        }
                    }
                    Err(e) => refused(&e),
                }
            }
        }
        b"settings" => {
            if let Some(b) = json::<settings::SettingsView>(body) {
                match settings::apply(b, Settings::default()) {
                    Ok(s) => {
                        let view = settings::SettingsView::from(s.clone());
                        assert_eq!(settings::apply(view, Settings::default()).ok(), Some(s));
                    }
                    Err(e) => refused(&e),
                }
            }
        }
        b"oneTimePassword" => {
            let _ = json::<sessions::OneTimePasswordRequest>(body);
        }
        b"setPassword" => {
            let _ = json::<sessions::SetPassword>(body);
        }
        _ => {}
    }
}
