//! `applications`: the application itself here, its `oidc` and `saml` registrations in
//! `registration.rs`.

use reqwest::Method;

use super::super::commands::Applications;
use super::super::registration::{oidc_body, saml_body};
use super::{
    APP_COLS, Call, PRINCIPAL_COLS, View, body, delete, get, list, patch, post, rows, send,
};
use portcullis_admin::applications::{ApplicationBody, PrincipalBody};

pub(super) fn applications(c: &Applications) -> Call {
    match c {
        Applications::List(p) => list("applications".into(), "applications", APP_COLS, p),
        Applications::Get { application_id } => {
            get(format!("applications/{application_id}"), View::Record)
        }
        Applications::Create {
            name,
            kind,
            description,
            disabled,
            public,
            oidc,
            saml,
        } => post(
            "applications".into(),
            &ApplicationBody {
                name: Some(name.clone()),
                kind: Some(kind.clone()),
                description: description.clone(),
                enabled: disabled.then_some(false),
                oidc: oidc_body(oidc, public.then_some("public")),
                saml: saml_body(saml),
            },
        ),
        Applications::Update {
            application_id,
            name,
            description,
            enabled,
            public,
            confidential,
            oidc,
            saml,
        } => {
            let client_type = match (public, confidential) {
                (true, _) => Some("public"),
                (_, true) => Some("confidential"),
                _ => None,
            };
            let request = ApplicationBody {
                name: name.clone(),
                description: description.clone(),
                kind: None,
                enabled: *enabled,
                oidc: oidc_body(oidc, client_type),
                saml: saml_body(saml),
            };
            let path = format!("applications/{application_id}");
            Call {
                merge_from: (request.oidc.is_some() || request.saml.is_some())
                    .then(|| path.clone()),
                ..patch(path, &request)
            }
        }
        Applications::RotateSecret { application_id } => send(
            Method::POST,
            format!("applications/{application_id}/client-secret"),
            None,
            View::Record,
        ),
        Applications::SetIcon {
            application_id,
            file,
        } => Call {
            upload: Some(file.clone()),
            ..send(
                Method::PUT,
                format!("applications/{application_id}/icon"),
                None,
                View::Done("icon set"),
            )
        },
        Applications::RemoveIcon { application_id } => delete(
            format!("applications/{application_id}/icon"),
            "icon removed",
        ),
        Applications::Delete { application_id } => delete(
            format!("applications/{application_id}"),
            "application deleted",
        ),
        Applications::Assignments { application_id } => rows(
            format!("applications/{application_id}/assignments"),
            "assignments",
            PRINCIPAL_COLS,
        ),
        Applications::Assign {
            application_id,
            principal_type,
            principal_id,
        } => post(
            format!("applications/{application_id}/assignments"),
            &principal(principal_type, principal_id),
        ),
        Applications::Unassign {
            application_id,
            principal_type,
            principal_id,
        } => send(
            Method::DELETE,
            format!("applications/{application_id}/assignments"),
            Some(body(&principal(principal_type, principal_id))),
            View::Done("assignment deleted"),
        ),
    }
}

fn principal(principal_type: &str, principal_id: &str) -> PrincipalBody {
    PrincipalBody {
        principal_type: Some(principal_type.to_owned()),
        principal_id: Some(principal_id.to_owned()),
    }
}
