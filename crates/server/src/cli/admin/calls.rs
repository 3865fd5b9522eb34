//! Each `portcullis admin` subcommand as one admin API call, and how its answer is shown. The
//! bodies sent are the admin API's own request types (`portcullis_admin::…`), so that a field renamed
//! there fails this build; one file a group of resources builds them.

mod access;
mod applications;
mod organisation;
mod people;
mod provisioning;

use reqwest::Method;
use serde::Serialize;
use serde_json::Value;

use super::commands::*;
use crate::cli::output::Columns;
use portcullis_admin::paging::ListQuery;

/// How to show an answer.
pub(super) enum View {
    List { key: &'static str, columns: Columns },
    Record,
    Done(&'static str),
}

/// One admin API call.
pub(super) struct Call {
    pub(super) method: Method,
    pub(super) path: String,
    /// The query parameters, from one of the admin API's query types.
    pub(super) query: Vec<(String, String)>,
    /// The request, one of the admin API's request types as JSON.
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
    ("KIND", "kind"),
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
pub(super) const PROVISIONING_COLS: Columns = &[
    ("ACCOUNT ID", "accountId"),
    ("PERMISSION SET", "permissionSetName"),
    ("ROLE ARN", "roleArn"),
    ("STATUS", "summary"),
];
pub(super) const AUDIT_COLS: Columns = &[
    ("ID", "eventId"),
    ("TIME", "time"),
    ("ACTOR", "actor"),
    ("ACTION", "action"),
    ("TARGET", "target"),
];

/// A request as the JSON it is sent as. Serializing the admin API's request types cannot fail
/// (their maps have string keys).
pub(super) fn body(request: &impl Serialize) -> Value {
    serde_json::to_value(request).unwrap_or_default()
}

/// `request` when at least one of its fields was given (it serializes to a non-empty object).
pub(super) fn given<T: Serialize>(request: T) -> Option<T> {
    body(&request)
        .as_object()
        .is_some_and(|m| !m.is_empty())
        .then_some(request)
}

pub(super) fn get(path: String, view: View) -> Call {
    send(Method::GET, path, None, view)
}

/// A paged list (`ListQuery`).
pub(super) fn list(path: String, key: &'static str, columns: Columns, p: &Paging) -> Call {
    let query = ListQuery {
        max_results: p.max_results,
        next_token: p.next_token.clone(),
    };
    paged(path, key, columns, p, &query)
}

/// A paged list with `query`, one of the admin API's query types (the paging of `p` in it);
/// `--all` follows `nextToken`.
pub(super) fn paged(
    path: String,
    key: &'static str,
    columns: Columns,
    p: &Paging,
    query: &impl Serialize,
) -> Call {
    // Through the URL encoding, as reqwest would send `query`: the fields given, in their order,
    // the paging first.
    let mut query: Vec<(String, String)> = serde_urlencoded::to_string(query)
        .ok()
        .and_then(|q| serde_urlencoded::from_str(&q).ok())
        .unwrap_or_default();
    query.sort_by_key(|(k, _)| !matches!(k.as_str(), "maxResults" | "nextToken"));
    Call {
        query,
        all: p.all,
        ..get(path, View::List { key, columns })
    }
}

pub(super) fn send(method: Method, path: String, body: Option<Value>, view: View) -> Call {
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

pub(super) fn post(path: String, request: &impl Serialize) -> Call {
    send(Method::POST, path, Some(body(request)), View::Record)
}

pub(super) fn patch(path: String, request: &impl Serialize) -> Call {
    send(Method::PATCH, path, Some(body(request)), View::Record)
}

pub(super) fn delete(path: String, what: &'static str) -> Call {
    send(Method::DELETE, path, None, View::Done(what))
}

/// A list that is not paged: `key` of the answer, as a table of `columns`.
pub(super) fn rows(path: String, key: &'static str, columns: Columns) -> Call {
    get(path, View::List { key, columns })
}

pub(super) fn call(resource: &Resource) -> Call {
    match resource {
        Resource::Users(c) => people::users(c),
        Resource::Groups(c) => people::groups(c),
        Resource::Accounts(c) => access::accounts(c),
        Resource::PermissionSets(c) => access::permission_sets(c),
        Resource::Assignments(c) => access::assignments(c),
        Resource::Applications(c) => applications::applications(c),
        Resource::Settings(c) => organisation::settings(c),
        Resource::Tokens(c) => organisation::tokens(c),
        Resource::Keys(c) => organisation::keys(c),
        Resource::Audit(a) => organisation::audit(a),
        Resource::Provisioning(c) => provisioning::provisioning(c),
    }
}

#[cfg(test)]
mod tests;
#[cfg(test)]
mod wire_tests;
