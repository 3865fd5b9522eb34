//! The provisioning connection and records, and permission-set policies.

use portcullis_domain::cloud::{
    AccessKeyId, CloudPolicies, IamRoleName, InlinePolicy, ManagedPolicyArn, PermissionsBoundary,
    PolicyReference,
};
use portcullis_domain::{ProvisioningConnection, ProvisioningRecord};

use super::*;

pub(super) fn policies() -> CloudPolicies {
    CloudPolicies {
        aws_managed_policies: vec![
            ManagedPolicyArn::parse("arn:aws:iam::aws:policy/ReadOnlyAccess").unwrap(),
        ],
        customer_managed_policies: vec![PolicyReference::new("Billing", "/team/").unwrap()],
        inline_policy: Some(
            InlinePolicy::parse(
                r#"{"Version": "2012-10-17", "Statement": [{"Effect": "Deny", "Action": "s3:*", "Resource": "*"}]}"#,
            )
            .unwrap(),
        ),
        permissions_boundary: Some(PermissionsBoundary::ManagedPolicyArn(
            ManagedPolicyArn::parse("arn:aws:iam::aws:policy/PowerUserAccess").unwrap(),
        )),
    }
}

pub(super) async fn permission_set_policies_round_trip(d: &dyn Directory) {
    let plain = d
        .create_permission_set(admin(), new_ps("Plain", 1))
        .await
        .unwrap();
    assert!(plain.policies.is_empty());
    let with = NewPermissionSet {
        policies: policies(),
        ..new_ps("WithPolicies", 2)
    };
    let created = d.create_permission_set(admin(), with).await.unwrap();
    assert_eq!(created.policies, policies());
    assert_eq!(d.get_permission_set(created.id).await.unwrap(), created);
    // An update replaces them, to nothing as well.
    let cleared = d
        .update_permission_set(admin(), created.id, new_ps("WithPolicies", 2))
        .await
        .unwrap();
    assert!(cleared.policies.is_empty());
    assert_eq!(d.get_permission_set(created.id).await.unwrap(), cleared);
    let listed = d.list_permission_sets(all()).await.unwrap().items;
    assert_eq!(listed, vec![plain, cleared]);
}

fn connection(auto: bool) -> ProvisioningConnection {
    ProvisioningConnection {
        access_key_id: AccessKeyId::parse("AKIAIOSFODNN7EXAMPLE").unwrap(),
        sealed_secret: vec![1, 0, 255, 7],
        region: None,
        endpoint: None,
        member_role_name: Some(IamRoleName::parse("OrganizationAccountAccessRole").unwrap()),
        auto_provision: auto,
        updated_at: ms(Utc::now()),
    }
}

fn record(account: &str, ps: PermissionSetId, attempted: &str) -> ProvisioningRecord {
    ProvisioningRecord {
        account_id: acct(account),
        permission_set_id: ps,
        permission_set_name: role("Dev"),
        role_arn: format!("arn:aws:iam::{account}:role/Dev"),
        provisioned: None,
        provisioned_at: None,
        attempted: attempted.into(),
        attempted_at: ms(Utc::now()),
        error: Some("NoSuchEntity: the policy does not exist".into()),
    }
}

pub(super) async fn provisioning_connection_and_records(d: &dyn Directory) {
    assert_eq!(d.get_provisioning_connection().await.unwrap(), None);
    let mark = audit_mark(d).await;
    let first = connection(true);
    d.put_provisioning_connection(admin(), Some(first.clone()))
        .await
        .unwrap();
    assert_eq!(d.get_provisioning_connection().await.unwrap(), Some(first));
    let replaced = connection(false);
    d.put_provisioning_connection(admin(), Some(replaced.clone()))
        .await
        .unwrap();
    assert_eq!(
        d.get_provisioning_connection().await.unwrap(),
        Some(replaced)
    );
    d.put_provisioning_connection(admin(), None).await.unwrap();
    assert_eq!(d.get_provisioning_connection().await.unwrap(), None);
    expect_events(
        d,
        mark,
        &[
            events::provisioning_connection(admin(), "put"),
            events::provisioning_connection(admin(), "put"),
            events::provisioning_connection(admin(), "delete"),
        ],
    )
    .await;

    // Records: upserted per (account, permission set), listed in key order, deleted
    // idempotently; they need no account or permission set to exist.
    assert!(d.list_provisioning_records().await.unwrap().is_empty());
    let (p1, p2) = (PermissionSetId::new(), PermissionSetId::new());
    let b = record("222222222222", p1, "f1");
    let a = record("111111111111", p2, "f1");
    d.put_provisioning_record(b.clone()).await.unwrap();
    d.put_provisioning_record(a.clone()).await.unwrap();
    assert_eq!(
        d.list_provisioning_records().await.unwrap(),
        vec![a.clone(), b.clone()]
    );
    let done = ProvisioningRecord {
        provisioned: Some("f2".into()),
        provisioned_at: Some(ms(Utc::now())),
        attempted: "f2".into(),
        error: None,
        ..b.clone()
    };
    d.put_provisioning_record(done.clone()).await.unwrap();
    assert_eq!(
        d.list_provisioning_records().await.unwrap(),
        vec![a.clone(), done]
    );
    d.delete_provisioning_record(&b.account_id, p1)
        .await
        .unwrap();
    d.delete_provisioning_record(&b.account_id, p1)
        .await
        .unwrap();
    assert_eq!(d.list_provisioning_records().await.unwrap(), vec![a]);
}
