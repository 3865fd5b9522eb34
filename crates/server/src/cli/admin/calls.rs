//! Each `portcullis admin` subcommand as one admin API call, and how its answer is shown.

use serde_json::{Map, Value, json};

use super::commands::*;
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
            Users::SetPassword {
                user_id,
                password,
                temporary,
            } => send(
                reqwest::Method::PUT,
                format!("users/{user_id}/password"),
                Some(json!({"password": password, "temporary": temporary})),
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
            match c {
                Keys::List => get("keys".into(), view),
                Keys::Rotate => send(Method::POST, "keys/rotate".into(), None, view),
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
mod tests {
    #![allow(clippy::unwrap_used)]

    use clap::Parser;

    use super::*;

    #[derive(Debug, Parser)]
    struct Cmd {
        #[command(subcommand)]
        resource: Resource,
    }

    fn parse(args: &[&str]) -> Call {
        let cmd = Cmd::try_parse_from(std::iter::once("admin").chain(args.iter().copied()))
            .unwrap_or_else(|e| panic!("{e}"));
        call(&cmd.resource)
    }

    #[test]
    fn create_sends_the_oidc_options_given() {
        let c = parse(&[
            "applications",
            "create",
            "--name",
            "Wiki",
            "--kind",
            "OIDC",
            "--redirect-uri",
            "https://wiki.example.com/cb",
            "--redirect-uri",
            "http://127.0.0.1/cb",
            "--grant-type",
            "authorization_code",
            "--scope",
            "api:read",
            "--signing-algorithm",
            "ES256",
            "--access-token-lifetime",
            "PT15M",
            "--public",
        ]);
        assert_eq!(c.path, "applications");
        assert_eq!(
            c.body,
            Some(json!({
                "name": "Wiki",
                "kind": "OIDC",
                "oidc": {
                    "clientType": "public",
                    "redirectUris": ["https://wiki.example.com/cb", "http://127.0.0.1/cb"],
                    "grantTypes": ["authorization_code"],
                    "allowedScopes": ["api:read"],
                    "signingAlgorithm": "ES256",
                    "accessTokenLifetime": "PT15M",
                }
            }))
        );
        let saml = parse(&["applications", "create", "--name", "Pay", "--kind", "SAML"]);
        assert_eq!(saml.body, Some(json!({"name": "Pay", "kind": "SAML"})));
    }

    #[test]
    fn icons_are_uploaded_and_removed() {
        let set = parse(&["applications", "set-icon", "A", "logo.png"]);
        assert_eq!(
            (set.method, set.path.as_str()),
            (reqwest::Method::PUT, "applications/A/icon")
        );
        assert_eq!(set.upload, Some(std::path::PathBuf::from("logo.png")));
        assert_eq!(set.body, None);
        let remove = parse(&["applications", "remove-icon", "A"]);
        assert_eq!(
            (remove.method, remove.path.as_str()),
            (reqwest::Method::DELETE, "applications/A/icon")
        );
        assert_eq!(remove.upload, None);
    }

    #[test]
    fn update_changes_only_the_oidc_options_given() {
        let plain = parse(&["applications", "update", "A", "--enabled", "false"]);
        assert_eq!(plain.merge_from, None);
        assert_eq!(plain.body, Some(json!({"enabled": false})));

        let c = parse(&[
            "applications",
            "update",
            "A",
            "--confidential",
            "--audience",
            "",
            "--post-logout-redirect-uri",
            "",
        ]);
        assert_eq!(c.merge_from.as_deref(), Some("applications/A"));
        let mut body = c.body.unwrap();
        let current = json!({"applicationId": "A", "oidc": {
            "clientType": "public", "redirectUris": ["https://a.example.com/cb"],
            "postLogoutRedirectUris": ["https://a.example.com/bye"], "audience": "api"}});
        merge_registration(&current, &mut body);
        assert_eq!(
            body,
            json!({"oidc": {"clientType": "confidential",
                "redirectUris": ["https://a.example.com/cb"],
                "postLogoutRedirectUris": [], "audience": null}})
        );
        assert!(
            Cmd::try_parse_from([
                "admin",
                "applications",
                "update",
                "A",
                "--public",
                "--confidential"
            ])
            .is_err()
        );
    }

    #[test]
    fn create_sends_the_saml_options_given() {
        let dir = tempfile::tempdir().unwrap();
        let cert = dir.path().join("sp.pem");
        std::fs::write(
            &cert,
            "-----BEGIN CERTIFICATE-----\nMIIC\n-----END CERTIFICATE-----\n",
        )
        .unwrap();
        let cert_arg = cert.to_str().unwrap();
        let c = parse(&[
            "applications",
            "create",
            "--name",
            "Payroll",
            "--kind",
            "SAML",
            "--entity-id",
            "https://payroll.example/saml",
            "--acs-url",
            "https://payroll.example/acs",
            "--acs-url",
            "https://payroll.example/acs2,index=5,default,binding=HTTP-POST",
            "--slo-url",
            "https://payroll.example/slo",
            "--sp-certificate",
            cert_arg,
            "--require-signed-requests",
            "--name-id-format",
            "emailAddress",
            "--attribute",
            "mail=${user:email}",
            "--attribute",
            "who=${user:name} = ${user:subject}",
            "--assertion-lifetime",
            "PT10M",
            "--sign",
            "assertion",
            "--allow-sha1",
            "false",
            "--relay-state",
            "home",
            "--start-url",
            "https://payroll.example/home",
        ]);
        assert_eq!(
            c.body,
            Some(json!({
                "name": "Payroll",
                "kind": "SAML",
                "saml": {
                    "entityId": "https://payroll.example/saml",
                    "acs": [
                        {"url": "https://payroll.example/acs", "isDefault": false},
                        {"url": "https://payroll.example/acs2", "index": 5, "isDefault": true},
                    ],
                    "sloUrl": "https://payroll.example/slo",
                    "certificate": "-----BEGIN CERTIFICATE-----\nMIIC\n-----END CERTIFICATE-----\n",
                    "requireSignedRequests": true,
                    "nameIdFormat": "emailAddress",
                    "attributes": [
                        {"name": "mail", "value": "${user:email}"},
                        {"name": "who", "value": "${user:name} = ${user:subject}"},
                    ],
                    "assertionLifetime": "PT10M",
                    "signedPart": "assertion",
                    "allowSha1": false,
                    "defaultRelayState": "home",
                    "startUrl": "https://payroll.example/home",
                }
            }))
        );

        let md = dir.path().join("sp.xml");
        std::fs::write(&md, "<md:EntityDescriptor/>").unwrap();
        let c = parse(&[
            "applications",
            "create",
            "--name",
            "AWS",
            "--kind",
            "SAML",
            "--sp-metadata",
            md.to_str().unwrap(),
            "--aws-preset",
            "--aws-role",
            "arn:aws:iam::1:role/Dev,arn:aws:iam::1:saml-provider/P",
        ]);
        assert_eq!(
            c.body.unwrap()["saml"],
            json!({"metadataXml": "<md:EntityDescriptor/>", "preset": "aws",
                   "awsRoles": ["arn:aws:iam::1:role/Dev,arn:aws:iam::1:saml-provider/P"]})
        );

        let refused = |extra: &[&str]| {
            let args = [
                "admin",
                "applications",
                "create",
                "--name",
                "X",
                "--kind",
                "SAML",
            ];
            Cmd::try_parse_from(args.iter().chain(extra)).is_err()
        };
        assert!(refused(&[
            "--acs-url",
            "https://sp/acs,binding=HTTP-Redirect"
        ]));
        assert!(refused(&["--acs-url", "https://sp/acs,index=x"]));
        assert!(refused(&["--attribute", "no-equals-sign"]));
        assert!(refused(&["--sp-metadata", "/nonexistent/sp.xml"]));
        assert!(refused(&["--sign", "both"]));
        assert!(refused(&["--aws-role", "arn:aws:iam::1:role/Dev"]));
    }

    #[test]
    fn acs_options_are_read_from_the_end() {
        let acs = |url: &str, index, is_default| Acs {
            url: url.into(),
            index,
            is_default,
        };
        assert_eq!(
            parse_acs("https://sp/acs").unwrap(),
            acs("https://sp/acs", None, false)
        );
        assert_eq!(
            parse_acs("https://sp/a,b?x=1,default,index=2").unwrap(),
            acs("https://sp/a,b?x=1", Some(2), true)
        );
        assert_eq!(
            parse_acs("https://sp/acs, binding=urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST")
                .unwrap(),
            acs("https://sp/acs", None, false)
        );
        assert_eq!(parse_acs("").unwrap(), acs("", None, false));
        assert!(parse_acs(",default").is_err());
    }

    #[test]
    fn update_changes_only_the_saml_options_given() {
        let current = json!({"applicationId": "A", "kind": "SAML", "saml": {
            "entityId": "https://sp.example/saml",
            "acs": [{"url": "https://sp.example/acs", "index": 0, "isDefault": true}],
            "sloUrl": "https://sp.example/slo", "certificate": "MIIC", "requireSignedRequests": true,
            "nameIdFormat": "persistent",
            "attributes": [
                {"name": "mail", "nameFormat": null, "value": "${user:email}"},
                {"name": "https://aws.amazon.com/SAML/Attributes/Role",
                 "nameFormat": "urn:oasis:names:tc:SAML:2.0:attrname-format:uri", "value": "r,p"},
                {"name": "https://aws.amazon.com/SAML/Attributes/SessionDuration",
                 "nameFormat": "urn:oasis:names:tc:SAML:2.0:attrname-format:uri", "value": "3600"}],
            "assertionLifetime": "PT5M", "signedPart": "response", "allowSha1": false,
            "defaultRelayState": null, "startUrl": "https://sp.example/home"}});

        let c = parse(&[
            "applications",
            "update",
            "A",
            "--sign",
            "assertion",
            "--slo-url",
            "",
            "--start-url",
            "",
        ]);
        assert_eq!(c.merge_from.as_deref(), Some("applications/A"));
        let mut body = c.body.unwrap();
        merge_registration(&current, &mut body);
        let mut want = current["saml"].clone();
        want["signedPart"] = json!("assertion");
        want["sloUrl"] = Value::Null;
        want["startUrl"] = Value::Null;
        assert_eq!(body, json!({"saml": want}));

        // New metadata: what metadata says is taken from it, the rest is kept; the AWS preset
        // again replaces the attributes it added (the roles only when new ones are given).
        let dir = tempfile::tempdir().unwrap();
        let md = dir.path().join("sp.xml");
        std::fs::write(&md, "<EntityDescriptor/>").unwrap();
        let c = parse(&[
            "applications",
            "update",
            "A",
            "--sp-metadata",
            md.to_str().unwrap(),
            "--aws-preset",
        ]);
        let mut body = c.body.unwrap();
        merge_registration(&current, &mut body);
        assert_eq!(
            body,
            json!({"saml": {"metadataXml": "<EntityDescriptor/>", "preset": "aws",
                "nameIdFormat": "persistent",
                "attributes": [{"name": "mail", "nameFormat": null, "value": "${user:email}"},
                    {"name": "https://aws.amazon.com/SAML/Attributes/Role",
                     "nameFormat": "urn:oasis:names:tc:SAML:2.0:attrname-format:uri",
                     "value": "r,p"}],
                "assertionLifetime": "PT5M", "signedPart": "response", "allowSha1": false,
                "defaultRelayState": null, "startUrl": "https://sp.example/home"}})
        );
        let c = parse(&[
            "applications",
            "update",
            "A",
            "--aws-preset",
            "--aws-role",
            "r2,p",
        ]);
        let mut body = c.body.unwrap();
        merge_registration(&current, &mut body);
        assert_eq!(
            body["saml"]["attributes"],
            json!([{"name": "mail", "nameFormat": null, "value": "${user:email}"}])
        );
        assert_eq!(body["saml"]["awsRoles"], json!(["r2,p"]));

        // Lists given replace; an empty value empties them; booleans can be turned off.
        let c = parse(&[
            "applications",
            "update",
            "A",
            "--attribute",
            "",
            "--acs-url",
            "https://sp.example/new,index=3",
            "--require-signed-requests",
            "false",
        ]);
        let mut body = c.body.unwrap();
        merge_registration(&current, &mut body);
        assert_eq!(body["saml"]["attributes"], json!([]));
        assert_eq!(
            body["saml"]["acs"],
            json!([{"url": "https://sp.example/new", "index": 3, "isDefault": false}])
        );
        assert_eq!(body["saml"]["requireSignedRequests"], json!(false));
        assert_eq!(body["saml"]["entityId"], json!("https://sp.example/saml"));
    }

    #[test]
    fn secret_rotation_and_keys() {
        let c = parse(&["applications", "rotate-secret", "A"]);
        assert_eq!(
            (c.method, c.path.as_str()),
            (reqwest::Method::POST, "applications/A/client-secret")
        );
        let c = parse(&["keys", "rotate"]);
        assert_eq!(
            (c.method, c.path.as_str()),
            (reqwest::Method::POST, "keys/rotate")
        );
        assert!(matches!(c.view, View::List { key: "keys", .. }));
        let c = parse(&["keys", "list"]);
        assert_eq!((c.method, c.path.as_str()), (reqwest::Method::GET, "keys"));
    }
}
