//! Accounts and permission sets.

use super::*;

/// An `aws` account's settings are stored and read back whole, replaced by an update and removed
/// by turning the account native again; listing and batch reads carry them too.
pub(super) async fn aws_accounts_keep_their_settings(d: &dyn Directory) {
    use portcullis_domain::{Arn, AwsAccount, AwsRegion, Federation, RoleArnTemplate, StsEndpoint};
    let aws = AwsAccount {
        region: Some(AwsRegion::parse("eu-west-1").unwrap()),
        sts_endpoint: Some(StsEndpoint::parse("http://127.0.0.1:5000").unwrap()),
        federation: Federation::Saml,
        provider_arn: Some(
            Arn::parse("arn:aws:iam::400000000000:saml-provider/Portcullis").unwrap(),
        ),
        role_arn_template: Some(
            RoleArnTemplate::parse("arn:aws:iam::{accountId}:role/sso/{permissionSetName}")
                .unwrap(),
        ),
        role_arns: [(
            role("Admin"),
            Arn::parse("arn:aws:iam::400000000000:role/Administrators").unwrap(),
        )]
        .into(),
        audience: Some(portcullis_domain::TokenAudience::parse("minio").unwrap()),
        session_tags: [(
            portcullis_domain::TagKey::parse("Department").unwrap(),
            portcullis_domain::TagTemplate::parse("${user:department}").unwrap(),
        )]
        .into(),
        regional_sign_in: true,
    };
    let mut new = new_account("400000000000", "Cloud");
    new.kind = AccountKind::Aws(aws.clone());
    let created = d.create_account(admin(), new.clone()).await.unwrap();
    assert_eq!(created.kind, new.kind);
    assert_eq!(d.get_account(&created.id).await.unwrap(), created);
    assert_eq!(
        d.get_accounts(std::slice::from_ref(&created.id))
            .await
            .unwrap(),
        vec![created.clone()]
    );
    let listed: Vec<_> = read_pages(100, |p| d.list_accounts(p))
        .await
        .into_iter()
        .flat_map(|p| p.items)
        .collect();
    assert!(listed.contains(&created), "{listed:?}");

    let web = AwsAccount {
        federation: Federation::WebIdentity,
        ..AwsAccount::default()
    };
    let mut changed = new.clone();
    changed.kind = AccountKind::Aws(web);
    let updated = d.update_account(admin(), changed.clone()).await.unwrap();
    assert_eq!(updated.kind, changed.kind);
    assert_eq!(d.get_account(&created.id).await.unwrap(), updated);

    changed.kind = AccountKind::Native;
    let native = d.update_account(admin(), changed).await.unwrap();
    assert_eq!(native.kind, AccountKind::Native);
    assert_eq!(
        d.get_account(&created.id).await.unwrap().kind,
        AccountKind::Native
    );
}

pub(super) async fn account_crud(d: &dyn Directory) {
    let mark = audit_mark(d).await;
    let new = new_account("300000000000", "Production");
    let prod = d.create_account(admin(), new.clone()).await.unwrap();
    assert_eq!(
        (&prod.id, &prod.name, &prod.email, &prod.console_url),
        (&new.id, &new.name, &new.email, &new.console_url)
    );
    assert_recent(prod.created_at);
    assert_eq!(d.get_account(&prod.id).await.unwrap(), prod);

    let mut dup = new_account("300000000000", "Another");
    dup.email = email("another@example.com");
    assert_err!(
        d.create_account(admin(), dup).await,
        StoreError::Conflict {
            field: "accountId",
            ..
        }
    );
    assert_eq!(d.get_account(&prod.id).await.unwrap(), prod);

    let dev = d
        .create_account(admin(), new_account("100000000000", "Development"))
        .await
        .unwrap();
    let mut no_console = new_account("200000000000", "Staging");
    no_console.console_url = None;
    let staging = d.create_account(admin(), no_console).await.unwrap();
    assert_eq!(staging.console_url, None);
    assert_eq!(d.get_account(&staging.id).await.unwrap(), staging);
    // Several at once, in id order, unknown ids left out.
    let unknown = AccountId::parse("999999999999").unwrap();
    assert_eq!(
        d.get_accounts(&[prod.id.clone(), unknown, dev.id.clone(), staging.id.clone()])
            .await
            .unwrap(),
        vec![dev.clone(), staging.clone(), prod.clone()]
    );
    assert_eq!(d.get_accounts(&[]).await.unwrap(), vec![]);

    // Update replaces name, email and console URL (here: clears it).
    tick().await;
    let replacement = NewAccount {
        id: prod.id.clone(),
        name: dn("Production (EU)"),
        email: email("prod-eu@example.com"),
        console_url: None,
        kind: AccountKind::Native,
    };
    let prod2 = d
        .update_account(admin(), replacement.clone())
        .await
        .unwrap();
    assert_eq!(
        (&prod2.id, &prod2.name, &prod2.email, &prod2.console_url),
        (
            &replacement.id,
            &replacement.name,
            &replacement.email,
            &None
        )
    );
    assert_eq!(prod2.created_at, prod.created_at);
    assert!(prod2.updated_at > prod.updated_at);
    assert_eq!(d.get_account(&prod.id).await.unwrap(), prod2);
    let with_console = new_account("200000000000", "Staging");
    let staging2 = d
        .update_account(admin(), with_console.clone())
        .await
        .unwrap();
    assert_eq!(staging2.console_url, with_console.console_url);
    assert_eq!(d.get_account(&staging.id).await.unwrap(), staging2);

    // By account id, paginated.
    let pages = read_pages(2, |p| d.list_accounts(p)).await;
    assert_eq!(pages.len(), 2);
    assert_eq!(
        flatten(&pages),
        vec![dev.clone(), staging2.clone(), prod2.clone()]
    );

    let nothing = acct("999999999999");
    assert_err!(
        d.get_account(&nothing).await,
        StoreError::NotFound("account")
    );
    assert_err!(
        d.update_account(admin(), new_account("999999999999", "Ghost"))
            .await,
        StoreError::NotFound("account")
    );
    assert_err!(
        d.delete_account(admin(), &nothing).await,
        StoreError::NotFound("account")
    );

    d.delete_account(admin(), &dev.id).await.unwrap();
    assert_err!(
        d.get_account(&dev.id).await,
        StoreError::NotFound("account")
    );
    assert_err!(
        d.delete_account(admin(), &dev.id).await,
        StoreError::NotFound("account")
    );
    assert_eq!(
        d.list_accounts(all()).await.unwrap().items,
        vec![staging2, prod2]
    );

    expect_events(
        d,
        mark,
        &[
            events::account(admin(), "create", &prod.id),
            events::account(admin(), "create", &dev.id),
            events::account(admin(), "create", &staging.id),
            events::account(admin(), "update", &prod.id),
            events::account(admin(), "update", &staging.id),
            events::account(admin(), "delete", &dev.id),
        ],
    )
    .await;
}

pub(super) async fn permission_set_crud(d: &dyn Directory) {
    let mark = audit_mark(d).await;
    let new = new_ps("ReadOnly", 2);
    let ro = d.create_permission_set(admin(), new.clone()).await.unwrap();
    assert_eq!(
        (&ro.name, &ro.description, ro.session_duration.seconds()),
        (&new.name, &new.description, 7200)
    );
    assert_recent(ro.created_at);
    assert_eq!(d.get_permission_set(ro.id).await.unwrap(), ro);

    assert_err!(
        d.create_permission_set(admin(), new_ps("ReadOnly", 1))
            .await,
        StoreError::Conflict { field: "name", .. }
    );
    // Names are case-sensitive.
    let ro_lower = d
        .create_permission_set(admin(), new_ps("readonly", 1))
        .await
        .unwrap();
    let adm = d
        .create_permission_set(admin(), new_ps("Admin", 12))
        .await
        .unwrap();
    assert_eq!(adm.session_duration.seconds(), 43_200);
    assert_err!(
        d.update_permission_set(admin(), adm.id, new_ps("readonly", 1))
            .await,
        StoreError::Conflict { field: "name", .. }
    );
    assert_eq!(d.get_permission_set(adm.id).await.unwrap(), adm);

    tick().await;
    let replacement = NewPermissionSet {
        name: role("Administrator"),
        description: desc(""),
        session_duration: PermissionSetDuration::parse_iso8601("PT90M").unwrap(),
        policies: super::provisioning::policies(),
    };
    let adm2 = d
        .update_permission_set(admin(), adm.id, replacement.clone())
        .await
        .unwrap();
    assert_eq!(
        (&adm2.name, &adm2.description, adm2.session_duration),
        (
            &replacement.name,
            &replacement.description,
            replacement.session_duration
        )
    );
    assert_eq!(adm2.session_duration.to_iso8601(), "PT1H30M");
    assert_eq!((adm2.id, adm2.created_at), (adm.id, adm.created_at));
    assert!(adm2.updated_at > adm.updated_at);
    assert_eq!(d.get_permission_set(adm.id).await.unwrap(), adm2);

    // By name (case-sensitive, byte order: upper case first).
    let pages = read_pages(2, |p| d.list_permission_sets(p)).await;
    assert_eq!(pages.len(), 2);
    assert_eq!(
        flatten(&pages),
        vec![adm2.clone(), ro.clone(), ro_lower.clone()]
    );

    let nothing = PermissionSetId::new();
    assert_err!(
        d.get_permission_set(nothing).await,
        StoreError::NotFound("permission set")
    );
    assert_err!(
        d.update_permission_set(admin(), nothing, new_ps("Ghost", 1))
            .await,
        StoreError::NotFound("permission set")
    );
    assert_err!(
        d.delete_permission_set(admin(), nothing).await,
        StoreError::NotFound("permission set")
    );
    d.delete_permission_set(admin(), ro.id).await.unwrap();
    assert_err!(
        d.get_permission_set(ro.id).await,
        StoreError::NotFound("permission set")
    );
    assert_err!(
        d.delete_permission_set(admin(), ro.id).await,
        StoreError::NotFound("permission set")
    );
    assert_eq!(
        d.list_permission_sets(all()).await.unwrap().items,
        vec![adm2, ro_lower.clone()]
    );

    expect_events(
        d,
        mark,
        &[
            events::permission_set(admin(), "create", ro.id),
            events::permission_set(admin(), "create", ro_lower.id),
            events::permission_set(admin(), "create", adm.id),
            events::permission_set(admin(), "update", adm.id),
            events::permission_set(admin(), "delete", ro.id),
        ],
    )
    .await;
}
