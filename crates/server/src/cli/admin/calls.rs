//! Each `portcullis admin` subcommand as one admin API call, and how its answer is shown.

use secrecy::ExposeSecret;
use serde_json::{Map, Value, json};

use super::commands::*;
use super::registration::{oidc_body, saml_body};
use crate::cli::output::Columns;

/// How to show an answer.
pub(super) enum View {
    List { key: &'static str, columns: Columns },
    Record,
    Done(&'static str),
}

/// One admin API call.
pub(super) struct Call {
    pub(super) method: reqwest::Method,
    pub(super) path: String,
    pub(super) query: Vec<(&'static str, String)>,
    pub(super) body: Option<Value>,
    pub(super) view: View,
    pub(super) all: bool,
    /// Read this path first and send the body's `oidc` and `saml` merged over the ones read (an
    /// update changes only the options given; the API replaces the whole object).
    pub(super) merge_from: Option<String>,
    /// Send this file's bytes as the body instead of JSON (an application icon), with the image
    /// type its first bytes show.
    pub(super) upload: Option<std::path::PathBuf>,
    /// Another list in the answer whose rows join the table (`keys list`: the SAML keys after
    /// the OIDC ones); `--json` prints the answer as it came.
    pub(super) also: Option<&'static str>,
}

pub(super) const USER_COLS: Columns = &[
    ("USER ID", "userId"),
    ("USER NAME", "userName"),
    ("EMAIL", "email"),
    ("DISPLAY NAME", "displayName"),
    ("ENABLED", "enabled"),
];
pub(super) const GROUP_COLS: Columns = &[
    ("GROUP ID", "groupId"),
    ("NAME", "displayName"),
    ("DESCRIPTION", "description"),
];
pub(super) const ACCOUNT_COLS: Columns = &[
    ("ACCOUNT ID", "accountId"),
    ("NAME", "name"),
    ("EMAIL", "email"),
    ("CONSOLE URL", "consoleUrl"),
];
pub(super) const PS_COLS: Columns = &[
    ("PERMISSION SET ID", "permissionSetId"),
    ("NAME", "name"),
    ("DURATION", "sessionDuration"),
    ("DESCRIPTION", "description"),
];
pub(super) const ASSIGNMENT_COLS: Columns = &[
    ("ACCOUNT ID", "accountId"),
    ("PERMISSION SET ID", "permissionSetId"),
    ("TYPE", "principalType"),
    ("PRINCIPAL ID", "principalId"),
];
pub(super) const APP_COLS: Columns = &[
    ("APPLICATION ID", "applicationId"),
    ("NAME", "name"),
    ("KIND", "kind"),
    ("ENABLED", "enabled"),
];
pub(super) const KEY_COLS: Columns = &[
    ("KID", "kid"),
    ("PURPOSE", "purpose"),
    ("ALGORITHM", "algorithm"),
    ("STATE", "state"),
    ("CREATED", "createdAt"),
    ("ACTIVE FROM", "activeFrom"),
    ("RETIRED", "retiredAt"),
];
pub(super) const PRINCIPAL_COLS: Columns =
    &[("TYPE", "principalType"), ("PRINCIPAL ID", "principalId")];
pub(super) const SESSION_COLS: Columns = &[
    ("SESSION ID", "sessionId"),
    ("CREATED", "createdAt"),
    ("EXPIRES", "expiresAt"),
    ("AMR", "amr"),
    ("ADDRESS", "ip"),
];
pub(super) const DEVICE_COLS: Columns = &[
    ("DEVICE ID", "deviceId"),
    ("KIND", "kind"),
    ("NAME", "name"),
    ("LAST USED", "lastUsedAt"),
];
pub(super) const TOKEN_COLS: Columns = &[
    ("TOKEN ID", "tokenId"),
    ("NAME", "name"),
    ("CREATED", "createdAt"),
    ("EXPIRES", "expiresAt"),
    ("BOOTSTRAP", "bootstrap"),
];
pub(super) const AUDIT_COLS: Columns = &[
    ("ID", "eventId"),
    ("TIME", "time"),
    ("ACTOR", "actor"),
    ("ACTION", "action"),
    ("TARGET", "target"),
];

/// A JSON object of the fields that were given.
pub(super) fn obj(fields: &[(&str, Option<Value>)]) -> Value {
    let map: Map<String, Value> = fields
        .iter()
        .filter_map(|(k, v)| v.clone().map(|v| ((*k).to_owned(), v)))
        .collect();
    Value::Object(map)
}

pub(super) fn s(v: &Option<String>) -> Option<Value> {
    v.as_ref().map(|v| json!(v))
}

pub(super) fn get(path: String, view: View) -> Call {
    Call {
        method: reqwest::Method::GET,
        path,
        query: vec![],
        body: None,
        view,
        all: false,
        merge_from: None,
        upload: None,
        also: None,
    }
}

pub(super) fn list(path: String, key: &'static str, columns: Columns, p: &Paging) -> Call {
    let mut query = vec![];
    if let Some(m) = p.max_results {
        query.push(("maxResults", m.to_string()));
    }
    if let Some(t) = &p.next_token {
        query.push(("nextToken", t.clone()));
    }
    Call {
        query,
        all: p.all,
        ..get(path, View::List { key, columns })
    }
}

pub(super) fn send(method: reqwest::Method, path: String, body: Option<Value>, view: View) -> Call {
    Call {
        method,
        path,
        query: vec![],
        body,
        view,
        all: false,
        merge_from: None,
        upload: None,
        also: None,
    }
}

pub(super) fn post(path: String, body: Value) -> Call {
    send(reqwest::Method::POST, path, Some(body), View::Record)
}

pub(super) fn patch(path: String, body: Value) -> Call {
    send(reqwest::Method::PATCH, path, Some(body), View::Record)
}

pub(super) fn delete(path: String, what: &'static str) -> Call {
    send(reqwest::Method::DELETE, path, None, View::Done(what))
}

pub(super) fn call(resource: &Resource) -> Call {
    use reqwest::Method;
    match resource {
        Resource::Users(c) => match c {
            Users::List(p) => list("users".into(), "users", USER_COLS, p),
            Users::Get { user_id } => get(format!("users/{user_id}"), View::Record),
            Users::Create {
                user_name,
                email,
                display_name,
                given_name,
                family_name,
                disabled,
            } => post(
                "users".into(),
                obj(&[
                    ("userName", Some(json!(user_name))),
                    ("email", Some(json!(email))),
                    ("displayName", s(display_name)),
                    ("givenName", s(given_name)),
                    ("familyName", s(family_name)),
                    ("enabled", Some(json!(!disabled))),
                ]),
            ),
            Users::Update {
                user_id,
                user_name,
                email,
                display_name,
                given_name,
                family_name,
                enabled,
            } => patch(
                format!("users/{user_id}"),
                obj(&[
                    ("userName", s(user_name)),
                    ("email", s(email)),
                    ("displayName", s(display_name)),
                    ("givenName", s(given_name)),
                    ("familyName", s(family_name)),
                    ("enabled", enabled.map(|e| json!(e))),
                ]),
            ),
            Users::Enable { user_id } => {
                patch(format!("users/{user_id}"), json!({"enabled": true}))
            }
            Users::Disable { user_id } => {
                patch(format!("users/{user_id}"), json!({"enabled": false}))
            }
            Users::Delete { user_id } => delete(format!("users/{user_id}"), "user deleted"),
            Users::Sessions { user_id } => get(
                format!("users/{user_id}/sessions"),
                View::List {
                    key: "sessions",
                    columns: SESSION_COLS,
                },
            ),
            Users::RevokeSessions {
                user_id,
                session_id,
            } => match session_id {
                Some(sid) => delete(format!("users/{user_id}/sessions/{sid}"), "session ended"),
                None => send(
                    reqwest::Method::DELETE,
                    format!("users/{user_id}/sessions"),
                    None,
                    View::Record,
                ),
            },
            // Temporary unless --permanent: the admin API's default.
            Users::SetPassword {
                user_id,
                password,
                permanent,
                ..
            } => send(
                reqwest::Method::PUT,
                format!("users/{user_id}/password"),
                Some(json!({
                    "password": password.as_ref().map(ExposeSecret::expose_secret),
                    "temporary": !permanent,
                })),
                View::Done("password set"),
            ),
            Users::OneTimePassword { user_id, email } => post(
                format!("users/{user_id}/one-time-password"),
                json!({"delivery": if *email { "EMAIL" } else { "RETURN" }}),
            ),
            Users::MfaDevices { user_id } => get(
                format!("users/{user_id}/mfa-devices"),
                View::List {
                    key: "devices",
                    columns: DEVICE_COLS,
                },
            ),
            Users::RemoveMfaDevice { user_id, device_id } => delete(
                format!("users/{user_id}/mfa-devices/{device_id}"),
                "device removed",
            ),
            Users::Groups { user_id } => get(
                format!("users/{user_id}/groups"),
                View::List {
                    key: "groups",
                    columns: GROUP_COLS,
                },
            ),
        },
        Resource::Groups(c) => match c {
            Groups::List(p) => list("groups".into(), "groups", GROUP_COLS, p),
            Groups::Get { group_id } => get(format!("groups/{group_id}"), View::Record),
            Groups::Create {
                display_name,
                description,
            } => post(
                "groups".into(),
                obj(&[
                    ("displayName", Some(json!(display_name))),
                    ("description", s(description)),
                ]),
            ),
            Groups::Update {
                group_id,
                display_name,
                description,
            } => patch(
                format!("groups/{group_id}"),
                obj(&[
                    ("displayName", s(display_name)),
                    ("description", s(description)),
                ]),
            ),
            Groups::Delete { group_id } => delete(format!("groups/{group_id}"), "group deleted"),
            Groups::Members { group_id, paging } => list(
                format!("groups/{group_id}/members"),
                "users",
                USER_COLS,
                paging,
            ),
            Groups::AddMember { group_id, user_id } => send(
                Method::PUT,
                format!("groups/{group_id}/members/{user_id}"),
                None,
                View::Done("member added"),
            ),
            Groups::RemoveMember { group_id, user_id } => delete(
                format!("groups/{group_id}/members/{user_id}"),
                "member removed",
            ),
        },
        Resource::Accounts(c) => match c {
            Accounts::List(p) => list("accounts".into(), "accounts", ACCOUNT_COLS, p),
            Accounts::Get { account_id } => get(format!("accounts/{account_id}"), View::Record),
            Accounts::Create {
                account_id,
                name,
                email,
                console_url,
            } => post(
                "accounts".into(),
                obj(&[
                    ("accountId", Some(json!(account_id))),
                    ("name", Some(json!(name))),
                    ("email", Some(json!(email))),
                    ("consoleUrl", s(console_url)),
                ]),
            ),
            Accounts::Update {
                account_id,
                name,
                email,
                console_url,
            } => patch(
                format!("accounts/{account_id}"),
                obj(&[
                    ("name", s(name)),
                    ("email", s(email)),
                    // An empty --console-url removes the link.
                    (
                        "consoleUrl",
                        console_url
                            .as_ref()
                            .map(|u| if u.is_empty() { Value::Null } else { json!(u) }),
                    ),
                ]),
            ),
            Accounts::Delete { account_id } => {
                delete(format!("accounts/{account_id}"), "account deleted")
            }
        },
        Resource::PermissionSets(c) => match c {
            PermissionSets::List(p) => list("permission-sets".into(), "permissionSets", PS_COLS, p),
            PermissionSets::Get { permission_set_id } => {
                get(format!("permission-sets/{permission_set_id}"), View::Record)
            }
            PermissionSets::Create {
                name,
                description,
                session_duration,
            } => post(
                "permission-sets".into(),
                obj(&[
                    ("name", Some(json!(name))),
                    ("description", s(description)),
                    ("sessionDuration", s(session_duration)),
                ]),
            ),
            PermissionSets::Update {
                permission_set_id,
                name,
                description,
                session_duration,
            } => patch(
                format!("permission-sets/{permission_set_id}"),
                obj(&[
                    ("name", s(name)),
                    ("description", s(description)),
                    ("sessionDuration", s(session_duration)),
                ]),
            ),
            PermissionSets::Delete { permission_set_id } => delete(
                format!("permission-sets/{permission_set_id}"),
                "permission set deleted",
            ),
        },
        Resource::Assignments(c) => match c {
            Assignments::List {
                account_id,
                permission_set_id,
                principal_type,
                principal_id,
                paging,
            } => {
                let mut call = list("assignments".into(), "assignments", ASSIGNMENT_COLS, paging);
                for (k, v) in [
                    ("accountId", account_id),
                    ("permissionSetId", permission_set_id),
                    ("principalType", principal_type),
                    ("principalId", principal_id),
                ] {
                    if let Some(v) = v {
                        call.query.push((k, v.clone()));
                    }
                }
                call
            }
            Assignments::Create(a) => post("assignments".into(), assignment_body(a)),
            Assignments::Delete(a) => send(
                Method::DELETE,
                "assignments".into(),
                Some(assignment_body(a)),
                View::Done("assignment deleted"),
            ),
        },
        Resource::Applications(c) => match c {
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
                obj(&[
                    ("name", Some(json!(name))),
                    ("kind", Some(json!(kind))),
                    ("description", s(description)),
                    ("enabled", disabled.then_some(json!(false))),
                    ("oidc", oidc_body(oidc, public.then_some("public"))),
                    ("saml", saml_body(saml)),
                ]),
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
                let oidc = oidc_body(oidc, client_type);
                let saml = saml_body(saml);
                let path = format!("applications/{application_id}");
                Call {
                    merge_from: (oidc.is_some() || saml.is_some()).then(|| path.clone()),
                    ..patch(
                        path,
                        obj(&[
                            ("name", s(name)),
                            ("description", s(description)),
                            ("enabled", enabled.map(|e| json!(e))),
                            ("oidc", oidc),
                            ("saml", saml),
                        ]),
                    )
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
            Applications::Assignments { application_id } => get(
                format!("applications/{application_id}/assignments"),
                View::List {
                    key: "assignments",
                    columns: PRINCIPAL_COLS,
                },
            ),
            Applications::Assign {
                application_id,
                principal_type,
                principal_id,
            } => post(
                format!("applications/{application_id}/assignments"),
                json!({"principalType": principal_type, "principalId": principal_id}),
            ),
            Applications::Unassign {
                application_id,
                principal_type,
                principal_id,
            } => send(
                Method::DELETE,
                format!("applications/{application_id}/assignments"),
                Some(json!({"principalType": principal_type, "principalId": principal_id})),
                View::Done("assignment deleted"),
            ),
        },
        Resource::Settings(c) => match c {
            SettingsCmd::Get => get("settings".into(), View::Record),
            SettingsCmd::Set {
                session_duration,
                mfa_prompt,
                mfa_types,
                mfa_no_device,
                email_otp,
            } => {
                let mfa = obj(&[
                    ("prompt", s(mfa_prompt)),
                    ("allowedTypes", mfa_types.as_ref().map(|t| json!(t))),
                    ("noDeviceAction", s(mfa_no_device)),
                ]);
                let has_mfa = mfa.as_object().is_some_and(|m| !m.is_empty());
                send(
                    Method::PUT,
                    "settings".into(),
                    Some(obj(&[
                        ("sessionDuration", s(session_duration)),
                        ("mfa", has_mfa.then_some(mfa)),
                        ("emailOtp", email_otp.map(|e| json!(e))),
                    ])),
                    View::Record,
                )
            }
        },
        Resource::Tokens(c) => match c {
            Tokens::List => get(
                "tokens".into(),
                View::List {
                    key: "tokens",
                    columns: TOKEN_COLS,
                },
            ),
            Tokens::Create { name, expires_in } => post(
                "tokens".into(),
                obj(&[("name", Some(json!(name))), ("expiresIn", s(expires_in))]),
            ),
            Tokens::Revoke { token_id } => delete(format!("tokens/{token_id}"), "token revoked"),
        },
        Resource::Keys(c) => {
            let view = View::List {
                key: "keys",
                columns: KEY_COLS,
            };
            let c = match c {
                Keys::List => get("keys".into(), view),
                Keys::Rotate => send(Method::POST, "keys/rotate".into(), None, view),
            };
            Call {
                also: Some("samlKeys"),
                ..c
            }
        }
        Resource::Audit(a) => {
            let mut call = list("audit-events".into(), "events", AUDIT_COLS, &a.paging);
            for (k, v) in [
                ("since", &a.since),
                ("until", &a.until),
                ("actor", &a.actor),
                ("action", &a.action),
            ] {
                if let Some(v) = v {
                    call.query.push((k, v.clone()));
                }
            }
            call
        }
    }
}

pub(super) fn assignment_body(a: &AssignmentArgs) -> Value {
    json!({
        "accountId": a.account_id,
        "permissionSetId": a.permission_set_id,
        "principalType": a.principal_type,
        "principalId": a.principal_id,
    })
}

#[cfg(test)]
mod tests;
