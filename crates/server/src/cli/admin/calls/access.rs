//! `accounts`, `permission-sets` and `assignments`.

use reqwest::Method;

use super::super::commands::{Accounts, AssignmentArgs, Assignments, CloudArgs, PermissionSets};
use super::provisioning::with_policies;
use super::{
    ACCOUNT_COLS, ASSIGNMENT_COLS, Call, PS_COLS, View, body, delete, get, list, paged, patch,
    post, send,
};
use portcullis_admin::accounts::{AwsBody, CreateAccount, PatchAccount};
use portcullis_admin::assignments::{AssignmentBody, AssignmentQuery};
use portcullis_admin::permission_sets::PermissionSetBody;

pub(super) fn accounts(c: &Accounts) -> Call {
    match c {
        Accounts::List(p) => list("accounts".into(), "accounts", ACCOUNT_COLS, p),
        Accounts::Get { account_id } => get(format!("accounts/{account_id}"), View::Record),
        Accounts::Create {
            account_id,
            name,
            email,
            console_url,
            cloud,
        } => post(
            "accounts".into(),
            &CreateAccount {
                account_id: Some(account_id.clone()),
                name: Some(name.clone()),
                email: Some(email.clone()),
                console_url: console_url.clone(),
                kind: cloud.kind.clone(),
                aws: aws_body(cloud),
            },
        ),
        Accounts::Update {
            account_id,
            name,
            email,
            console_url,
            cloud,
        } => patch(
            format!("accounts/{account_id}"),
            &PatchAccount {
                name: name.clone(),
                email: email.clone(),
                // An empty --console-url removes the link (`null`).
                console_url: console_url
                    .as_ref()
                    .map(|u| (!u.is_empty()).then(|| u.clone())),
                kind: cloud.kind.clone(),
                aws: aws_body(cloud),
            },
        ),
        Accounts::Delete { account_id } => {
            delete(format!("accounts/{account_id}"), "account deleted")
        }
    }
}

/// The `aws` settings the options give, when any is given.
fn aws_body(c: &CloudArgs) -> Option<AwsBody> {
    let body = AwsBody {
        region: c.region.clone(),
        sts_endpoint: c.sts_endpoint.clone(),
        federation: c.federation.clone(),
        provider_arn: c.provider_arn.clone(),
        role_arn_template: c.role_arn_template.clone(),
        role_arns: (!c.role_arns.is_empty()).then(|| c.role_arns.iter().cloned().collect()),
        audience: c.audience.clone(),
        session_tags: (!c.session_tags.is_empty())
            .then(|| c.session_tags.iter().cloned().collect()),
        regional_sign_in: c.regional_sign_in.then_some(true),
    };
    let any = body.region.is_some()
        || body.sts_endpoint.is_some()
        || body.federation.is_some()
        || body.provider_arn.is_some()
        || body.role_arn_template.is_some()
        || body.role_arns.is_some()
        || body.audience.is_some()
        || body.session_tags.is_some()
        || body.regional_sign_in.is_some();
    any.then_some(body)
}

pub(super) fn permission_sets(c: &PermissionSets) -> Call {
    match c {
        PermissionSets::List(p) => list("permission-sets".into(), "permissionSets", PS_COLS, p),
        PermissionSets::Get { permission_set_id } => {
            get(format!("permission-sets/{permission_set_id}"), View::Record)
        }
        PermissionSets::Create {
            name,
            description,
            session_duration,
            policies,
        } => post(
            "permission-sets".into(),
            &with_policies(
                PermissionSetBody {
                    name: Some(name.clone()),
                    description: description.clone(),
                    session_duration: session_duration.clone(),
                    ..PermissionSetBody::default()
                },
                policies,
            ),
        ),
        PermissionSets::Update {
            permission_set_id,
            name,
            description,
            session_duration,
            policies,
        } => patch(
            format!("permission-sets/{permission_set_id}"),
            &with_policies(
                PermissionSetBody {
                    name: name.clone(),
                    description: description.clone(),
                    session_duration: session_duration.clone(),
                    ..PermissionSetBody::default()
                },
                policies,
            ),
        ),
        PermissionSets::Delete { permission_set_id } => delete(
            format!("permission-sets/{permission_set_id}"),
            "permission set deleted",
        ),
    }
}

pub(super) fn assignments(c: &Assignments) -> Call {
    match c {
        Assignments::List {
            account_id,
            permission_set_id,
            principal_type,
            principal_id,
            paging,
        } => paged(
            "assignments".into(),
            "assignments",
            ASSIGNMENT_COLS,
            paging,
            &AssignmentQuery {
                account_id: account_id.clone(),
                permission_set_id: permission_set_id.clone(),
                principal_type: principal_type.clone(),
                principal_id: principal_id.clone(),
                max_results: paging.max_results,
                next_token: paging.next_token.clone(),
            },
        ),
        Assignments::Create(a) => post("assignments".into(), &assignment(a)),
        Assignments::Delete(a) => send(
            Method::DELETE,
            "assignments".into(),
            Some(body(&assignment(a))),
            View::Done("assignment deleted"),
        ),
    }
}

fn assignment(a: &AssignmentArgs) -> AssignmentBody {
    AssignmentBody {
        account_id: Some(a.account_id.clone()),
        permission_set_id: Some(a.permission_set_id.clone()),
        principal_type: Some(a.principal_type.clone()),
        principal_id: Some(a.principal_id.clone()),
    }
}
