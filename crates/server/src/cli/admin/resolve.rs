//! Resources named by name as well as by id: an argument that is not an id of the resource's
//! shape (a UUID; an account's 12 digits) is looked up in the admin API's list of that resource
//! (the lists take no name filter, so every page is read) and replaced by the one id that has
//! that name. None, or several, is an error that says so.

use serde_json::Value;

use super::calls::{Call, list};
use super::commands::*;
use super::execute;

/// The kinds of resource an argument may name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Kind {
    User,
    Group,
    Account,
    PermissionSet,
    Application,
}

impl Kind {
    /// (list path, list key, id field, name field, what it is called).
    pub(super) fn lookup(
        self,
    ) -> (
        &'static str,
        &'static str,
        &'static str,
        &'static str,
        &'static str,
    ) {
        match self {
            Kind::User => ("users", "users", "userId", "userName", "user"),
            Kind::Group => ("groups", "groups", "groupId", "displayName", "group"),
            Kind::Account => ("accounts", "accounts", "accountId", "name", "account"),
            Kind::PermissionSet => (
                "permission-sets",
                "permissionSets",
                "permissionSetId",
                "name",
                "permission set",
            ),
            Kind::Application => (
                "applications",
                "applications",
                "applicationId",
                "name",
                "application",
            ),
        }
    }

    /// Whether `s` has the shape of this kind's ids.
    pub(super) fn is_id(self, s: &str) -> bool {
        match self {
            Kind::Account => s.len() == 12 && s.bytes().all(|b| b.is_ascii_digit()),
            _ => uuid::Uuid::try_parse(s).is_ok(),
        }
    }

    /// The kind a principal type names (USER or GROUP, any case).
    fn of_principal(principal_type: &str) -> Option<Kind> {
        if principal_type.eq_ignore_ascii_case("USER") {
            Some(Kind::User)
        } else if principal_type.eq_ignore_ascii_case("GROUP") {
            Some(Kind::Group)
        } else {
            None
        }
    }
}

/// The arguments of `resource` that name a resource, with their kind.
pub(super) fn references(resource: &mut Resource) -> Vec<(Kind, &mut String)> {
    use Kind::*;
    match resource {
        Resource::Users(c) => match c {
            Users::List(_) | Users::Create { .. } => vec![],
            Users::Get { user_id }
            | Users::Update { user_id, .. }
            | Users::Enable { user_id }
            | Users::Disable { user_id }
            | Users::Delete { user_id }
            | Users::Groups { user_id }
            | Users::Sessions { user_id }
            | Users::RevokeSessions { user_id, .. }
            | Users::SetPassword { user_id, .. }
            | Users::OneTimePassword { user_id, .. }
            | Users::MfaDevices { user_id }
            | Users::RemoveMfaDevice { user_id, .. } => vec![(User, user_id)],
        },
        Resource::Groups(c) => match c {
            Groups::List(_) | Groups::Create { .. } => vec![],
            Groups::Get { group_id }
            | Groups::Update { group_id, .. }
            | Groups::Delete { group_id }
            | Groups::Members { group_id, .. } => vec![(Group, group_id)],
            Groups::AddMember { group_id, user_id }
            | Groups::RemoveMember { group_id, user_id } => {
                vec![(Group, group_id), (User, user_id)]
            }
        },
        Resource::Accounts(c) => match c {
            Accounts::List(_) | Accounts::Create { .. } => vec![],
            Accounts::Get { account_id }
            | Accounts::Update { account_id, .. }
            | Accounts::Delete { account_id } => vec![(Account, account_id)],
        },
        Resource::PermissionSets(c) => match c {
            PermissionSets::List(_) | PermissionSets::Create { .. } => vec![],
            PermissionSets::Get { permission_set_id }
            | PermissionSets::Update {
                permission_set_id, ..
            }
            | PermissionSets::Delete { permission_set_id } => {
                vec![(PermissionSet, permission_set_id)]
            }
        },
        Resource::Assignments(c) => match c {
            Assignments::List {
                account_id,
                permission_set_id,
                principal_type,
                principal_id,
                ..
            } => {
                let mut refs = vec![];
                if let Some(a) = account_id {
                    refs.push((Account, a));
                }
                if let Some(p) = permission_set_id {
                    refs.push((PermissionSet, p));
                }
                if let (Some(k), Some(p)) = (
                    principal_type.as_deref().and_then(Kind::of_principal),
                    principal_id,
                ) {
                    refs.push((k, p));
                }
                refs
            }
            Assignments::Create(a) | Assignments::Delete(a) => {
                let mut refs = vec![
                    (Account, &mut a.account_id),
                    (PermissionSet, &mut a.permission_set_id),
                ];
                if let Some(k) = Kind::of_principal(&a.principal_type) {
                    refs.push((k, &mut a.principal_id));
                }
                refs
            }
        },
        Resource::Applications(c) => match c {
            Applications::List(_) | Applications::Create { .. } => vec![],
            Applications::Get { application_id }
            | Applications::Update { application_id, .. }
            | Applications::RotateSecret { application_id }
            | Applications::SetIcon { application_id, .. }
            | Applications::RemoveIcon { application_id }
            | Applications::Delete { application_id }
            | Applications::Assignments { application_id } => {
                vec![(Application, application_id)]
            }
            Applications::Assign {
                application_id,
                principal_type,
                principal_id,
            }
            | Applications::Unassign {
                application_id,
                principal_type,
                principal_id,
            } => {
                let mut refs = vec![(Application, application_id)];
                if let Some(k) = Kind::of_principal(principal_type) {
                    refs.push((k, principal_id));
                }
                refs
            }
        },
        Resource::Provisioning(Provisioning::Run {
            account_id,
            permission_set_id,
            ..
        }) => {
            let mut refs = Vec::new();
            if let Some(a) = account_id {
                refs.push((Account, a));
            }
            if let Some(p) = permission_set_id {
                refs.push((PermissionSet, p));
            }
            refs
        }
        Resource::Settings(_)
        | Resource::Tokens(_)
        | Resource::Keys(_)
        | Resource::Audit(_)
        | Resource::Provisioning(_) => vec![],
    }
}

/// The one id among `items` whose name is `name`: an exact match wins, else a match ignoring
/// case (user names are unique regardless of case).
pub(super) fn pick(kind: Kind, name: &str, items: &[Value]) -> Result<String, String> {
    let (_, _, id_field, name_field, what) = kind.lookup();
    let named = |exact: bool| -> Vec<&str> {
        items
            .iter()
            .filter(|i| {
                i.get(name_field).and_then(Value::as_str).is_some_and(|n| {
                    if exact {
                        n == name
                    } else {
                        n.eq_ignore_ascii_case(name)
                    }
                })
            })
            .filter_map(|i| i.get(id_field).and_then(Value::as_str))
            .collect()
    };
    let mut ids = named(true);
    if ids.is_empty() {
        ids = named(false);
    }
    match ids.as_slice() {
        [id] => Ok((*id).to_owned()),
        [] => Err(format!(
            "no {what} has the {name_field} '{name}' (nor that id)"
        )),
        several => Err(format!(
            "{} {what}s have the {name_field} '{name}': use an id ({})",
            several.len(),
            several.join(", ")
        )),
    }
}

/// Reads every page of `kind`'s list.
async fn all_of(
    client: &reqwest::Client,
    base: &str,
    token: &str,
    kind: Kind,
) -> Result<Vec<Value>, String> {
    let (path, key, ..) = kind.lookup();
    let paging = Paging {
        max_results: Some(1000),
        next_token: None,
        all: true,
    };
    let c: Call = list(path.into(), key, &[], &paging);
    let mut items = Vec::new();
    let mut next: Option<String> = None;
    loop {
        let mut page = execute(client, base, token, &c, next.as_deref()).await?;
        if let Some(Value::Array(more)) = page.get_mut(key).map(Value::take) {
            items.extend(more);
        }
        match page.get("nextToken").and_then(Value::as_str) {
            Some(t) => next = Some(t.to_owned()),
            None => return Ok(items),
        }
    }
}

/// Replaces each name among `resource`'s arguments by the id it names.
pub(super) async fn resolve(
    client: &reqwest::Client,
    base: &str,
    token: &str,
    resource: &mut Resource,
) -> Result<(), String> {
    for (kind, value) in references(resource) {
        if value.is_empty() || kind.is_id(value) {
            continue;
        }
        let items = all_of(client, base, token, kind).await?;
        *value = pick(kind, value, &items)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn ids_are_recognised_by_shape() {
        assert!(Kind::Account.is_id("123456789012"));
        assert!(!Kind::Account.is_id("Production"));
        assert!(!Kind::Account.is_id("12345678901"));
        assert!(Kind::User.is_id("00000000-0000-4000-8000-000000000000"));
        assert!(!Kind::User.is_id("alice"));
    }

    #[test]
    fn names_resolve_to_one_id_or_say_why_not() {
        let users = [
            json!({"userId": "u1", "userName": "alice"}),
            json!({"userId": "u2", "userName": "bob"}),
        ];
        assert_eq!(pick(Kind::User, "alice", &users), Ok("u1".into()));
        assert_eq!(pick(Kind::User, "BOB", &users), Ok("u2".into()));
        let none = pick(Kind::User, "carol", &users).unwrap_err();
        assert!(none.contains("no user") && none.contains("carol"), "{none}");
        let groups = [
            json!({"groupId": "g1", "displayName": "Ops"}),
            json!({"groupId": "g2", "displayName": "ops"}),
            json!({"groupId": "g3", "displayName": "Dev"}),
            json!({"groupId": "g4", "displayName": "dev"}),
        ];
        assert_eq!(pick(Kind::Group, "ops", &groups), Ok("g2".into()));
        let several = pick(Kind::Group, "DEV", &groups).unwrap_err();
        assert!(
            several.contains("g3") && several.contains("g4"),
            "{several}"
        );
    }
}
