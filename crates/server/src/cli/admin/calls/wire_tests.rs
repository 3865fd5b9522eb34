//! The bodies and queries sent are the admin API's own types, serialized to exactly the JSON
//! the hand-built bodies were (`json!` below is what the CLI sent before), and each is what the
//! server's type reads.

#![allow(clippy::unwrap_used)]

use clap::Parser;
use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::json;

use super::*;
use portcullis_admin::accounts::PatchAccount;
use portcullis_admin::applications::{
    ApplicationBody, ApplicationView, ClientSecretView, CreatedApplication, PrincipalBody,
};
use portcullis_admin::assignments::AssignmentBody;
use portcullis_admin::error::ErrorBody;
use portcullis_admin::sessions::{OneTimePasswordRequest, SetPassword};
use portcullis_admin::settings::SettingsView;
use portcullis_admin::users::{CreateUser, PatchUser};

#[derive(Debug, Parser)]
struct Cmd {
    #[command(subcommand)]
    resource: Resource,
}

fn resource(args: &[&str]) -> Resource {
    Cmd::try_parse_from(std::iter::once("admin").chain(args.iter().copied()))
        .unwrap_or_else(|e| panic!("{e}"))
        .resource
}

/// The body `args` sends, checked to be one the server's `T` reads.
fn sent<T: DeserializeOwned>(args: &[&str]) -> Value {
    let body = call(&resource(args)).body.unwrap();
    if let Err(e) = serde_json::from_value::<T>(body.clone()) {
        panic!("the server does not read {body} as its request type: {e}");
    }
    body
}

#[test]
fn people_are_sent_as_the_api_types() {
    assert_eq!(
        sent::<CreateUser>(&[
            "users",
            "create",
            "--user-name",
            "alice",
            "--email",
            "alice@example.com",
            "--given-name",
            "Alice",
        ]),
        json!({"userName": "alice", "email": "alice@example.com", "givenName": "Alice",
               "enabled": true})
    );
    assert_eq!(
        sent::<CreateUser>(&[
            "users",
            "create",
            "--user-name",
            "bob",
            "--email",
            "bob@example.com",
            "--disabled",
        ]),
        json!({"userName": "bob", "email": "bob@example.com", "enabled": false})
    );
    assert_eq!(
        sent::<PatchUser>(&[
            "users",
            "update",
            "U",
            "--family-name",
            "",
            "--enabled",
            "true"
        ]),
        json!({"familyName": "", "enabled": true})
    );
    assert_eq!(
        sent::<PatchUser>(&["users", "disable", "U"]),
        json!({"enabled": false})
    );
    assert_eq!(
        sent::<OneTimePasswordRequest>(&["users", "one-time-password", "U", "--email"]),
        json!({"delivery": "EMAIL"})
    );
    assert_eq!(
        sent::<OneTimePasswordRequest>(&["users", "one-time-password", "U"]),
        json!({"delivery": "RETURN"})
    );
    // The password read from standard input goes in the body.
    let mut r = resource(&[
        "users",
        "set-password",
        "U",
        "--password-stdin",
        "--permanent",
    ]);
    if let Resource::Users(Users::SetPassword { password, .. }) = &mut r {
        *password = Some("correct horse".to_owned().into());
    }
    let body = call(&r).body.unwrap();
    assert_eq!(
        body,
        json!({"password": "correct horse", "temporary": false})
    );
    assert!(serde_json::from_value::<SetPassword>(body).is_ok());
}

#[test]
fn cleared_values_are_sent_as_null_and_absent_ones_not_at_all() {
    assert_eq!(
        sent::<PatchAccount>(&["accounts", "update", "123456789012", "--console-url", ""]),
        json!({"consoleUrl": null})
    );
    assert_eq!(
        sent::<PatchAccount>(&["accounts", "update", "123456789012", "--name", "Prod"]),
        json!({"name": "Prod"})
    );
    // The types themselves: `None` is absent, `Some(None)` is `null`.
    let patch = PatchUser {
        given_name: Some(None),
        ..PatchUser::default()
    };
    assert_eq!(body(&patch), json!({"givenName": null}));
    assert_eq!(body(&PatchUser::default()), json!({}));
    assert_eq!(
        sent::<ApplicationBody>(&[
            "applications",
            "update",
            "A",
            "--audience",
            "",
            "--initiate-login-uri",
            "https://a.example/login",
            "--start-url",
            "",
            "--scope",
            "",
        ]),
        json!({"oidc": {"audience": null, "initiateLoginUri": "https://a.example/login",
                        "allowedScopes": []},
               "saml": {"startUrl": null}})
    );
}

#[test]
fn settings_send_mfa_only_when_an_mfa_option_is_given() {
    assert_eq!(
        sent::<SettingsView>(&["settings", "set", "--session-duration", "PT8H"]),
        json!({"sessionDuration": "PT8H"})
    );
    assert_eq!(
        sent::<SettingsView>(&[
            "settings",
            "set",
            "--mfa-types",
            "AUTHENTICATOR_APP,WEBAUTHN",
            "--email-otp",
            "false",
        ]),
        json!({"mfa": {"allowedTypes": ["AUTHENTICATOR_APP", "WEBAUTHN"]}, "emailOtp": false})
    );
}

#[test]
fn assignments_and_their_filters_are_the_api_types() {
    let args = [
        "--account-id",
        "123456789012",
        "--permission-set-id",
        "P",
        "--principal-type",
        "USER",
        "--principal-id",
        "U",
    ];
    let create: Vec<&str> = ["assignments", "create"].into_iter().chain(args).collect();
    assert_eq!(
        sent::<AssignmentBody>(&create),
        json!({"accountId": "123456789012", "permissionSetId": "P", "principalType": "USER",
               "principalId": "U"})
    );
    let assign = [
        "applications",
        "assign",
        "A",
        "--principal-type",
        "GROUP",
        "--principal-id",
        "G",
    ];
    assert_eq!(
        sent::<PrincipalBody>(&assign),
        json!({"principalType": "GROUP", "principalId": "G"})
    );

    let query = |args: &[&str]| {
        let c = call(&resource(args));
        c.query
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
    };
    assert_eq!(
        query(&[
            "assignments",
            "list",
            "--principal-type",
            "USER",
            "--principal-id",
            "U",
            "--max-results",
            "5",
        ]),
        ["maxResults=5", "principalType=USER", "principalId=U"]
    );
    assert_eq!(
        query(&["users", "list", "--max-results", "10", "--next-token", "t"]),
        ["maxResults=10", "nextToken=t"]
    );
    assert_eq!(
        query(&[
            "audit",
            "--action",
            "user.*",
            "--since",
            "2026-01-01T00:00:00Z"
        ]),
        ["since=2026-01-01T00:00:00Z", "action=user.*"]
    );
    assert!(query(&["groups", "list"]).is_empty());
}

#[test]
fn errors_are_read_through_the_api_error_body() {
    let answer = json!({"error": "ValidationError", "message": "invalid request",
        "fields": [{"field": "email", "message": "is not an email address"}]});
    let e = ErrorBody::deserialize(&answer).unwrap();
    assert_eq!(e.message, "invalid request");
    assert_eq!(
        (e.fields[0].field.as_str(), e.fields[0].message.as_str()),
        ("email", "is not an email address")
    );
    let e = ErrorBody::deserialize(&json!({"error": "NotFound", "message": "no such user"}));
    assert!(e.unwrap().fields.is_empty());
    assert!(ErrorBody::deserialize(&json!("<html>Bad gateway</html>")).is_err());
}

#[test]
fn client_secrets_are_recognised_by_the_answer_types() {
    let app = || ApplicationView {
        application_id: uuid::Uuid::nil(),
        name: "Wiki".into(),
        description: String::new(),
        kind: "OIDC".into(),
        enabled: true,
        client_id: Some(uuid::Uuid::nil().to_string()),
        oidc: None,
        saml: None,
        created_at: chrono::Utc::now(),
        updated_at: chrono::Utc::now(),
    };
    let created = |client_secret: Option<&str>| {
        body(&CreatedApplication {
            application: app(),
            client_secret: client_secret.map(str::to_owned),
        })
    };
    let shows = super::super::shows_secret;
    assert!(shows(&created(Some("s3cret"))));
    assert!(!shows(&created(None)));
    assert!(!shows(&body(&app())));
    assert!(shows(&body(&ClientSecretView {
        client_id: "C".into(),
        client_secret: "s3cret".into(),
    })));
    assert!(!shows(&json!({"userId": "U", "clientSecret": 3})));
}

/// Whether the admin API's schema `name` (its OpenAPI document, made from its types) has the
/// property `key`.
fn has(doc: &Value, name: &str, key: &str) -> bool {
    doc["components"]["schemas"][name]["properties"]
        .get(key)
        .is_some()
}

/// What the CLI reads of answers generically (list keys, table columns, the fields names are
/// looked up by) are fields of the admin API's answer types.
#[test]
fn the_fields_read_from_answers_are_the_api_types() {
    use utoipa::OpenApi;
    let doc = serde_json::to_value(portcullis_admin::AdminApi::openapi()).unwrap();
    let tables: [(&str, &[&str], &str, Columns); 12] = [
        ("UserList", &["users", "nextToken"], "UserView", USER_COLS),
        (
            "GroupList",
            &["groups", "nextToken"],
            "GroupView",
            GROUP_COLS,
        ),
        ("UserGroups", &["groups"], "GroupView", GROUP_COLS),
        (
            "AccountList",
            &["accounts", "nextToken"],
            "AccountView",
            ACCOUNT_COLS,
        ),
        (
            "PermissionSetList",
            &["permissionSets", "nextToken"],
            "PermissionSetView",
            PS_COLS,
        ),
        (
            "AssignmentList",
            &["assignments", "nextToken"],
            "AssignmentView",
            ASSIGNMENT_COLS,
        ),
        (
            "ApplicationList",
            &["applications", "nextToken"],
            "ApplicationView",
            APP_COLS,
        ),
        (
            "ApplicationAssignmentList",
            &["assignments"],
            "PrincipalView",
            PRINCIPAL_COLS,
        ),
        ("KeyList", &["keys", "samlKeys"], "KeyView", KEY_COLS),
        ("SessionList", &["sessions"], "SessionView", SESSION_COLS),
        ("MfaDeviceList", &["devices"], "MfaDeviceView", DEVICE_COLS),
        (
            "AuditEventList",
            &["events", "nextToken"],
            "AuditEventView",
            AUDIT_COLS,
        ),
    ];
    for (list, keys, item, columns) in tables {
        for key in keys {
            assert!(has(&doc, list, key), "{list} has no {key}");
        }
        for (_, key) in columns {
            assert!(has(&doc, item, key), "{item} has no {key}");
        }
    }
    assert!(has(&doc, "TokenList", "tokens"));
    for (_, key) in TOKEN_COLS {
        assert!(has(&doc, "TokenView", key), "TokenView has no {key}");
    }
    use super::super::resolve::Kind;
    for (kind, list, item) in [
        (Kind::User, "UserList", "UserView"),
        (Kind::Group, "GroupList", "GroupView"),
        (Kind::Account, "AccountList", "AccountView"),
        (
            Kind::PermissionSet,
            "PermissionSetList",
            "PermissionSetView",
        ),
        (Kind::Application, "ApplicationList", "ApplicationView"),
    ] {
        let (_, key, id, name, _) = kind.lookup();
        assert!(has(&doc, list, key), "{list} has no {key}");
        assert!(
            has(&doc, item, id) && has(&doc, item, name),
            "{item}: {id}, {name}"
        );
    }
}
