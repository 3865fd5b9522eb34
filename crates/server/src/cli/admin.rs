//! `portcullis admin …`: every admin API resource from the command line. Each subcommand becomes
//! one HTTP call; the answer prints as a table (lists), `key value` lines (one object) or JSON.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Subcommand};
use serde_json::{Map, Value, json};

use super::Cli;
use super::output::{Columns, record, table};
use crate::bootstrap::BOOTSTRAP_TOKEN_FILE;
use crate::config::Config;

#[derive(Debug, Args)]
pub struct AdminArgs {
    /// Base URL of Portcullis (default: the configured public URL).
    #[arg(long, env = "PORTCULLIS_URL")]
    url: Option<String>,
    /// Admin token (default: PORTCULLIS_ADMIN_TOKEN, --token-file, or the bootstrap token file in
    /// the data directory).
    #[arg(long, env = "PORTCULLIS_ADMIN_TOKEN", hide_env_values = true)]
    token: Option<String>,
    /// Read the admin token from this file.
    #[arg(long)]
    token_file: Option<PathBuf>,
    /// Print the API's JSON instead of a table.
    #[arg(long, global = true)]
    json: bool,
    #[command(subcommand)]
    resource: Resource,
}

#[derive(Debug, Subcommand)]
enum Resource {
    /// People.
    #[command(subcommand)]
    Users(Users),
    /// Groups and their members.
    #[command(subcommand)]
    Groups(Groups),
    /// Accounts.
    #[command(subcommand)]
    Accounts(Accounts),
    /// Permission sets (roles).
    #[command(subcommand, name = "permission-sets")]
    PermissionSets(PermissionSets),
    /// Account assignments.
    #[command(subcommand)]
    Assignments(Assignments),
    /// Business applications.
    #[command(subcommand)]
    Applications(Applications),
    /// Organisation settings.
    #[command(subcommand)]
    Settings(SettingsCmd),
    /// Admin API tokens.
    #[command(subcommand)]
    Tokens(Tokens),
    /// The audit log, newest first.
    Audit(AuditArgs),
}

#[derive(Debug, Args)]
struct Paging {
    #[arg(long)]
    max_results: Option<u32>,
    #[arg(long)]
    next_token: Option<String>,
    /// Follow nextToken until the last page.
    #[arg(long)]
    all: bool,
}

#[derive(Debug, Subcommand)]
enum Users {
    List(Paging),
    Get {
        user_id: String,
    },
    Create {
        #[arg(long)]
        user_name: String,
        #[arg(long)]
        email: String,
        #[arg(long)]
        display_name: Option<String>,
        #[arg(long)]
        given_name: Option<String>,
        #[arg(long)]
        family_name: Option<String>,
        /// Create the user disabled.
        #[arg(long)]
        disabled: bool,
    },
    Update {
        user_id: String,
        #[arg(long)]
        user_name: Option<String>,
        #[arg(long)]
        email: Option<String>,
        #[arg(long)]
        display_name: Option<String>,
        #[arg(long)]
        given_name: Option<String>,
        #[arg(long)]
        family_name: Option<String>,
        #[arg(long)]
        enabled: Option<bool>,
    },
    Enable {
        user_id: String,
    },
    Disable {
        user_id: String,
    },
    Delete {
        user_id: String,
    },
    /// The groups a user belongs to.
    Groups {
        user_id: String,
    },
}

#[derive(Debug, Subcommand)]
enum Groups {
    List(Paging),
    Get {
        group_id: String,
    },
    Create {
        #[arg(long)]
        display_name: String,
        #[arg(long)]
        description: Option<String>,
    },
    Update {
        group_id: String,
        #[arg(long)]
        display_name: Option<String>,
        #[arg(long)]
        description: Option<String>,
    },
    Delete {
        group_id: String,
    },
    Members {
        group_id: String,
        #[command(flatten)]
        paging: Paging,
    },
    AddMember {
        group_id: String,
        user_id: String,
    },
    RemoveMember {
        group_id: String,
        user_id: String,
    },
}

#[derive(Debug, Subcommand)]
enum Accounts {
    List(Paging),
    Get {
        account_id: String,
    },
    Create {
        #[arg(long)]
        account_id: String,
        #[arg(long)]
        name: String,
        #[arg(long)]
        email: String,
        #[arg(long)]
        console_url: Option<String>,
    },
    Update {
        account_id: String,
        #[arg(long)]
        name: Option<String>,
        #[arg(long)]
        email: Option<String>,
        #[arg(long)]
        console_url: Option<String>,
    },
    Delete {
        account_id: String,
    },
}

#[derive(Debug, Subcommand)]
enum PermissionSets {
    List(Paging),
    Get {
        permission_set_id: String,
    },
    Create {
        #[arg(long)]
        name: String,
        #[arg(long)]
        description: Option<String>,
        /// ISO-8601, PT1H to PT12H.
        #[arg(long)]
        session_duration: Option<String>,
    },
    Update {
        permission_set_id: String,
        #[arg(long)]
        name: Option<String>,
        #[arg(long)]
        description: Option<String>,
        #[arg(long)]
        session_duration: Option<String>,
    },
    Delete {
        permission_set_id: String,
    },
}

#[derive(Debug, Args)]
struct AssignmentArgs {
    #[arg(long)]
    account_id: String,
    #[arg(long)]
    permission_set_id: String,
    /// USER or GROUP.
    #[arg(long)]
    principal_type: String,
    #[arg(long)]
    principal_id: String,
}

#[derive(Debug, Subcommand)]
enum Assignments {
    List {
        #[arg(long)]
        account_id: Option<String>,
        #[arg(long)]
        permission_set_id: Option<String>,
        #[arg(long)]
        principal_type: Option<String>,
        #[arg(long)]
        principal_id: Option<String>,
        #[command(flatten)]
        paging: Paging,
    },
    Create(AssignmentArgs),
    Delete(AssignmentArgs),
}

#[derive(Debug, Subcommand)]
enum Applications {
    List(Paging),
    Get {
        application_id: String,
    },
    Create {
        #[arg(long)]
        name: String,
        /// OIDC or SAML.
        #[arg(long)]
        kind: String,
        #[arg(long)]
        description: Option<String>,
    },
    Update {
        application_id: String,
        #[arg(long)]
        name: Option<String>,
        #[arg(long)]
        description: Option<String>,
        #[arg(long)]
        enabled: Option<bool>,
    },
    Delete {
        application_id: String,
    },
    Assignments {
        application_id: String,
    },
    Assign {
        application_id: String,
        #[arg(long)]
        principal_type: String,
        #[arg(long)]
        principal_id: String,
    },
    Unassign {
        application_id: String,
        #[arg(long)]
        principal_type: String,
        #[arg(long)]
        principal_id: String,
    },
}

#[derive(Debug, Subcommand)]
enum SettingsCmd {
    Get,
    Set {
        /// Portal session lifetime, ISO-8601 (PT15M to P90D).
        #[arg(long)]
        session_duration: Option<String>,
        /// EVERY_SIGN_IN, CONTEXT_CHANGE or NEVER.
        #[arg(long)]
        mfa_prompt: Option<String>,
        /// Comma-separated: AUTHENTICATOR_APP, WEBAUTHN.
        #[arg(long, value_delimiter = ',')]
        mfa_types: Option<Vec<String>>,
        /// REQUIRE_REGISTRATION, EMAIL_CODE, BLOCK or ALLOW.
        #[arg(long)]
        mfa_no_device: Option<String>,
        #[arg(long)]
        email_otp: Option<bool>,
    },
}

#[derive(Debug, Subcommand)]
enum Tokens {
    List,
    Create {
        #[arg(long)]
        name: String,
        /// ISO-8601 lifetime, e.g. P30D.
        #[arg(long)]
        expires_in: Option<String>,
    },
    Revoke {
        token_id: String,
    },
}

#[derive(Debug, Args)]
struct AuditArgs {
    #[arg(long)]
    since: Option<String>,
    #[arg(long)]
    until: Option<String>,
    #[arg(long)]
    actor: Option<String>,
    #[arg(long)]
    action: Option<String>,
    #[command(flatten)]
    paging: Paging,
}

/// How to show an answer.
enum View {
    List { key: &'static str, columns: Columns },
    Record,
    Done(&'static str),
}

/// One admin API call.
struct Call {
    method: reqwest::Method,
    path: String,
    query: Vec<(&'static str, String)>,
    body: Option<Value>,
    view: View,
    all: bool,
}

const USER_COLS: Columns = &[
    ("USER ID", "userId"),
    ("USER NAME", "userName"),
    ("EMAIL", "email"),
    ("DISPLAY NAME", "displayName"),
    ("ENABLED", "enabled"),
];
const GROUP_COLS: Columns = &[
    ("GROUP ID", "groupId"),
    ("NAME", "displayName"),
    ("DESCRIPTION", "description"),
];
const ACCOUNT_COLS: Columns = &[
    ("ACCOUNT ID", "accountId"),
    ("NAME", "name"),
    ("EMAIL", "email"),
    ("CONSOLE URL", "consoleUrl"),
];
const PS_COLS: Columns = &[
    ("PERMISSION SET ID", "permissionSetId"),
    ("NAME", "name"),
    ("DURATION", "sessionDuration"),
    ("DESCRIPTION", "description"),
];
const ASSIGNMENT_COLS: Columns = &[
    ("ACCOUNT ID", "accountId"),
    ("PERMISSION SET ID", "permissionSetId"),
    ("TYPE", "principalType"),
    ("PRINCIPAL ID", "principalId"),
];
const APP_COLS: Columns = &[
    ("APPLICATION ID", "applicationId"),
    ("NAME", "name"),
    ("KIND", "kind"),
    ("ENABLED", "enabled"),
];
const PRINCIPAL_COLS: Columns = &[("TYPE", "principalType"), ("PRINCIPAL ID", "principalId")];
const TOKEN_COLS: Columns = &[
    ("TOKEN ID", "tokenId"),
    ("NAME", "name"),
    ("CREATED", "createdAt"),
    ("EXPIRES", "expiresAt"),
    ("BOOTSTRAP", "bootstrap"),
];
const AUDIT_COLS: Columns = &[
    ("ID", "eventId"),
    ("TIME", "time"),
    ("ACTOR", "actor"),
    ("ACTION", "action"),
    ("TARGET", "target"),
];

/// A JSON object of the fields that were given.
fn obj(fields: &[(&str, Option<Value>)]) -> Value {
    let map: Map<String, Value> = fields
        .iter()
        .filter_map(|(k, v)| v.clone().map(|v| ((*k).to_owned(), v)))
        .collect();
    Value::Object(map)
}

fn s(v: &Option<String>) -> Option<Value> {
    v.as_ref().map(|v| json!(v))
}

fn get(path: String, view: View) -> Call {
    Call {
        method: reqwest::Method::GET,
        path,
        query: vec![],
        body: None,
        view,
        all: false,
    }
}

fn list(path: String, key: &'static str, columns: Columns, p: &Paging) -> Call {
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

fn send(method: reqwest::Method, path: String, body: Option<Value>, view: View) -> Call {
    Call {
        method,
        path,
        query: vec![],
        body,
        view,
        all: false,
    }
}

fn post(path: String, body: Value) -> Call {
    send(reqwest::Method::POST, path, Some(body), View::Record)
}

fn patch(path: String, body: Value) -> Call {
    send(reqwest::Method::PATCH, path, Some(body), View::Record)
}

fn delete(path: String, what: &'static str) -> Call {
    send(reqwest::Method::DELETE, path, None, View::Done(what))
}

fn call(resource: &Resource) -> Call {
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
            } => post(
                "applications".into(),
                obj(&[
                    ("name", Some(json!(name))),
                    ("kind", Some(json!(kind))),
                    ("description", s(description)),
                ]),
            ),
            Applications::Update {
                application_id,
                name,
                description,
                enabled,
            } => patch(
                format!("applications/{application_id}"),
                obj(&[
                    ("name", s(name)),
                    ("description", s(description)),
                    ("enabled", enabled.map(|e| json!(e))),
                ]),
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

fn assignment_body(a: &AssignmentArgs) -> Value {
    json!({
        "accountId": a.account_id,
        "permissionSetId": a.permission_set_id,
        "principalType": a.principal_type,
        "principalId": a.principal_id,
    })
}

/// Where to send calls and with which token.
fn endpoint(cli: &Cli, args: &AdminArgs) -> Result<(String, String), String> {
    let config = Config::load(cli.config.as_deref()).ok();
    let url = args
        .url
        .clone()
        .or_else(|| config.as_ref().map(|c| c.public_base().to_owned()))
        .unwrap_or_else(|| "http://localhost:8080".into());
    let token = if let Some(t) = &args.token {
        t.clone()
    } else if let Some(f) = &args.token_file {
        std::fs::read_to_string(f).map_err(|e| format!("cannot read {}: {e}", f.display()))?
    } else {
        let dir = config
            .map(|c| c.data_dir)
            .unwrap_or_else(|| PathBuf::from("./data"));
        let path = dir.join(BOOTSTRAP_TOKEN_FILE);
        std::fs::read_to_string(&path).map_err(|_| {
            format!(
                "no admin token: pass --token, set PORTCULLIS_ADMIN_TOKEN, or use --token-file \
                 (no {} found)",
                path.display()
            )
        })?
    };
    Ok((
        url.trim_end_matches('/').to_owned(),
        token.trim().to_owned(),
    ))
}

async fn execute(
    client: &reqwest::Client,
    base: &str,
    token: &str,
    c: &Call,
    next: Option<&str>,
) -> Result<Value, String> {
    let mut query = c.query.clone();
    if let Some(t) = next {
        query.retain(|(k, _)| *k != "nextToken");
        query.push(("nextToken", t.to_owned()));
    }
    let mut req = client
        .request(c.method.clone(), format!("{base}/admin/v1/{}", c.path))
        .bearer_auth(token)
        .query(&query);
    if let Some(body) = &c.body {
        req = req.json(body);
    }
    let resp = req
        .send()
        .await
        .map_err(|e| format!("cannot reach {base}: {e}"))?;
    let status = resp.status();
    let text = resp
        .text()
        .await
        .map_err(|e| format!("reading the answer: {e}"))?;
    let body: Value = if text.is_empty() {
        Value::Null
    } else {
        serde_json::from_str(&text).unwrap_or(Value::String(text))
    };
    if status.is_success() {
        return Ok(body);
    }
    let mut msg = format!(
        "{} ({})",
        body.get("message")
            .and_then(Value::as_str)
            .unwrap_or("request failed"),
        status.as_u16()
    );
    for f in body
        .get("fields")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        msg.push_str(&format!(
            "\n  {}: {}",
            cell_str(f, "field"),
            cell_str(f, "message")
        ));
    }
    Err(msg)
}

fn cell_str<'a>(v: &'a Value, k: &str) -> &'a str {
    v.get(k).and_then(Value::as_str).unwrap_or("")
}

pub async fn run(cli: &Cli, args: &AdminArgs) -> ExitCode {
    let (base, token) = match endpoint(cli, args) {
        Ok(e) => e,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(2);
        }
    };
    let client = reqwest::Client::new();
    let c = call(&args.resource);
    let mut answer = match execute(&client, &base, &token, &c, None).await {
        Ok(v) => v,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::FAILURE;
        }
    };
    if let (true, View::List { key, .. }) = (c.all, &c.view) {
        while let Some(next) = answer
            .get("nextToken")
            .and_then(Value::as_str)
            .map(str::to_owned)
        {
            match execute(&client, &base, &token, &c, Some(&next)).await {
                Ok(mut more) => {
                    let extra = more.get_mut(*key).map(Value::take).unwrap_or(Value::Null);
                    if let (Some(items), Value::Array(extra)) =
                        (answer.get_mut(*key).and_then(Value::as_array_mut), extra)
                    {
                        items.extend(extra);
                    }
                    answer["nextToken"] = more.get("nextToken").cloned().unwrap_or(Value::Null);
                }
                Err(e) => {
                    eprintln!("error: {e}");
                    return ExitCode::FAILURE;
                }
            }
        }
    }
    if args.json {
        println!(
            "{}",
            serde_json::to_string_pretty(&answer).unwrap_or_default()
        );
        return ExitCode::SUCCESS;
    }
    match c.view {
        View::List { key, columns } => {
            let rows = answer
                .get(key)
                .and_then(Value::as_array)
                .cloned()
                .unwrap_or_default();
            print!("{}", table(&rows, columns));
            if let Some(t) = answer.get("nextToken").and_then(Value::as_str) {
                eprintln!("more results: --next-token {t}");
            }
        }
        View::Record => print!("{}", record(&answer)),
        View::Done(what) => println!("{what}"),
    }
    ExitCode::SUCCESS
}
