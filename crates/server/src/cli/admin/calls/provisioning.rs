//! `provisioning`, and the AWS policies of `permission-sets`.

use reqwest::Method;

use super::super::commands::PolicyArgs;
use super::super::provisioning_args::{Connection, Provisioning};
use super::{Call, PROVISIONING_COLS, View, body, delete, get, post, rows, send};
use portcullis_admin::permission_sets::{BoundaryBody, PermissionSetBody, PolicyReferenceBody};
use portcullis_admin::provisioning::{ConnectionBody, ImportBody, RunBody};

/// `/team/Billing` → name `Billing`, path `/team/`; `Billing` → path `/`.
fn reference(s: &str) -> PolicyReferenceBody {
    match s.rsplit_once('/') {
        Some((path, name)) => {
            let path = path.trim_matches('/');
            PolicyReferenceBody {
                name: name.to_owned(),
                path: Some(if path.is_empty() {
                    "/".to_owned()
                } else {
                    format!("/{path}/")
                }),
            }
        }
        None => PolicyReferenceBody {
            name: s.to_owned(),
            path: None,
        },
    }
}

/// The policy fields of a permission set's body from the options given.
pub(super) fn with_policies(mut b: PermissionSetBody, p: &PolicyArgs) -> PermissionSetBody {
    if p.clear_managed_policies {
        b.aws_managed_policies = Some(vec![]);
        b.customer_managed_policies = Some(vec![]);
    }
    if !p.aws_managed_policies.is_empty() {
        b.aws_managed_policies = Some(p.aws_managed_policies.clone());
    }
    if !p.customer_managed_policies.is_empty() {
        b.customer_managed_policies = Some(
            p.customer_managed_policies
                .iter()
                .map(|s| reference(s))
                .collect(),
        );
    }
    if p.no_inline_policy {
        b.inline_policy = Some(None);
    } else if let Some(doc) = &p.inline_policy {
        b.inline_policy = Some(Some(doc.clone()));
    }
    if p.no_permissions_boundary {
        b.permissions_boundary = Some(None);
    } else if let Some(boundary) = &p.permissions_boundary {
        b.permissions_boundary = Some(Some(if boundary.starts_with("arn:") {
            BoundaryBody {
                managed_policy_arn: Some(boundary.clone()),
                customer_managed_policy_reference: None,
            }
        } else {
            BoundaryBody {
                managed_policy_arn: None,
                customer_managed_policy_reference: Some(reference(boundary)),
            }
        }));
    }
    b
}

pub(super) fn provisioning(c: &Provisioning) -> Call {
    let statuses = || View::List {
        key: "statuses",
        columns: PROVISIONING_COLS,
    };
    match c {
        Provisioning::Connection(Connection::Show) => {
            get("provisioning/connection".into(), View::Record)
        }
        Provisioning::Connection(Connection::Set {
            access_key_id,
            secret_access_key,
            region,
            endpoint,
            member_role_name,
            no_auto_provision,
        }) => send(
            Method::PUT,
            "provisioning/connection".into(),
            Some(body(&ConnectionBody {
                access_key_id: Some(access_key_id.clone()),
                secret_access_key: Some(secret_access_key.clone()),
                region: region.clone(),
                endpoint: endpoint.clone(),
                member_role_name: member_role_name.clone(),
                auto_provision: Some(!no_auto_provision),
            })),
            View::Record,
        ),
        Provisioning::Connection(Connection::Delete) => delete(
            "provisioning/connection".into(),
            "provisioning connection removed",
        ),
        Provisioning::Status => get("provisioning/status".into(), statuses()),
        Provisioning::Run {
            account_id,
            permission_set_id,
            force,
        } => send(
            Method::POST,
            "provisioning/run".into(),
            Some(body(&RunBody {
                account_id: account_id.clone(),
                permission_set_id: permission_set_id.as_deref().and_then(|p| p.parse().ok()),
                force: force.then_some(true),
            })),
            statuses(),
        ),
        Provisioning::OrganizationAccounts => rows(
            "provisioning/organization-accounts".into(),
            "accounts",
            &[
                ("ACCOUNT ID", "accountId"),
                ("NAME", "name"),
                ("EMAIL", "email"),
                ("IMPORTED", "imported"),
            ],
        ),
        Provisioning::ImportAccounts {
            account_ids,
            federation,
        } => post(
            "provisioning/import-accounts".into(),
            &ImportBody {
                account_ids: (!account_ids.is_empty()).then(|| account_ids.clone()),
                federation: federation.clone(),
            },
        ),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use clap::Parser;
    use serde_json::json;

    use super::super::tests::{Cmd, parse};
    use super::*;

    #[test]
    fn permission_set_policies() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("policy.json");
        std::fs::write(&file, r#"{"Statement": []}"#).unwrap();
        let c = parse(&[
            "permission-sets",
            "create",
            "--name",
            "Dev",
            "--aws-managed-policy",
            "arn:aws:iam::aws:policy/ReadOnlyAccess",
            "--customer-managed-policy",
            "/team/Billing",
            "--inline-policy-file",
            file.to_str().unwrap(),
            "--permissions-boundary",
            "Boundary",
        ]);
        assert_eq!(
            c.body,
            Some(json!({
                "name": "Dev",
                "awsManagedPolicies": ["arn:aws:iam::aws:policy/ReadOnlyAccess"],
                "customerManagedPolicies": [{"name": "Billing", "path": "/team/"}],
                "inlinePolicy": r#"{"Statement": []}"#,
                "permissionsBoundary": {"customerManagedPolicyReference": {"name": "Boundary"}},
            }))
        );
        let c = parse(&[
            "permission-sets",
            "update",
            "Dev",
            "--clear-managed-policies",
            "--no-inline-policy",
            "--no-permissions-boundary",
        ]);
        assert_eq!(
            c.body,
            Some(json!({
                "awsManagedPolicies": [],
                "customerManagedPolicies": [],
                "inlinePolicy": null,
                "permissionsBoundary": null,
            }))
        );
        // Only what is given changes.
        let c = parse(&["permission-sets", "update", "Dev", "--description", "x"]);
        assert_eq!(c.body, Some(json!({"description": "x"})));
        let missing = Cmd::try_parse_from([
            "admin",
            "permission-sets",
            "create",
            "--name",
            "Dev",
            "--inline-policy-file",
            "/no/such/file.json",
        ]);
        assert!(missing.unwrap_err().to_string().contains("cannot read"));
    }

    #[test]
    fn provisioning_commands() {
        let c = parse(&[
            "provisioning",
            "connection",
            "set",
            "--access-key-id",
            "AKIAIOSFODNN7EXAMPLE",
            "--secret-access-key",
            "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
            "--endpoint",
            "http://127.0.0.1:5000",
            "--member-role-name",
            "OrganizationAccountAccessRole",
            "--no-auto-provision",
        ]);
        assert_eq!(
            (c.method.as_str(), c.path.as_str()),
            ("PUT", "provisioning/connection")
        );
        assert_eq!(
            c.body,
            Some(json!({
                "accessKeyId": "AKIAIOSFODNN7EXAMPLE",
                "secretAccessKey": "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
                "endpoint": "http://127.0.0.1:5000",
                "memberRoleName": "OrganizationAccountAccessRole",
                "autoProvision": false,
            }))
        );
        let c = parse(&["provisioning", "status"]);
        assert_eq!(
            (c.method.as_str(), c.path.as_str()),
            ("GET", "provisioning/status")
        );
        assert!(matches!(
            c.view,
            View::List {
                key: "statuses",
                ..
            }
        ));
        let id = "8b8e5b2e-2f36-4a55-9d43-0c3f1a1b2c3d";
        let c = parse(&[
            "provisioning",
            "run",
            "--account",
            "111122223333",
            "--permission-set",
            id,
            "--force",
        ]);
        assert_eq!(
            c.body,
            Some(json!({"accountId": "111122223333", "permissionSetId": id, "force": true}))
        );
        let c = parse(&["provisioning", "run"]);
        assert_eq!(c.body, Some(json!({})));
        let c = parse(&[
            "provisioning",
            "import-accounts",
            "--account-id",
            "111122223333",
        ]);
        assert_eq!(c.body, Some(json!({"accountIds": ["111122223333"]})));
    }

    #[test]
    fn policy_references() {
        let r = reference("/team/a/Billing");
        assert_eq!(
            (r.name.as_str(), r.path.as_deref()),
            ("Billing", Some("/team/a/"))
        );
        let r = reference("Billing");
        assert_eq!((r.name.as_str(), r.path), ("Billing", None));
        let r = reference("team/Billing");
        assert_eq!(r.path.as_deref(), Some("/team/"));
    }
}
