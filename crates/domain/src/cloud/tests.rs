//! The rules of cloud accounts.

use super::*;

fn account() -> AccountId {
    AccountId::parse("123456789012").unwrap()
}

#[test]
fn cloud_sessions_are_capped_by_the_portal_session_but_never_below_sts_minimum() {
    assert_eq!(cloud_session_seconds(7_200, 28_800), 7_200);
    assert_eq!(cloud_session_seconds(7_200, 3_000), 3_000);
    assert_eq!(cloud_session_seconds(7_200, 60), 900);
    assert_eq!(cloud_session_seconds(43_200, -5), 900);
}

#[test]
fn role_session_names_follow_aws_rules() {
    assert_eq!(role_session_name("ada"), "ada");
    assert_eq!(role_session_name("a"), "a_");
    assert_eq!(role_session_name(&"x".repeat(128)).len(), 64);
    assert_eq!(
        role_session_name("ada.l+ove@example.com"),
        "ada.l+ove@example.com"
    );
}

#[test]
fn arns() {
    for ok in [
        "arn:aws:iam::123456789012:role/Admin",
        "arn:aws:iam::123456789012:role/path/to/Admin+=,.@_-",
        "arn:aws-cn:iam::123456789012:saml-provider/Portcullis",
        "arn:aws-us-gov:iam::123456789012:oidc-provider/idp.example.com/realms/x",
    ] {
        assert!(Arn::parse(ok).is_ok(), "{ok}");
    }
    for bad in [
        "",
        "arn:aws:iam::12345678901:role/Admin",
        "arn:aws:s3:::bucket",
        "arn:aws:iam:us-east-1:123456789012:role/Admin",
        "arn:aws:iam::123456789012:user/ada",
        "arn:aws:iam::123456789012:role/",
        "arn:aws:iam::123456789012:role/with space",
        "arn:aws:iam::123456789012:role/ünïcode",
        "arn:other:iam::123456789012:role/Admin",
    ] {
        assert!(Arn::parse(bad).is_err(), "{bad}");
    }
    let long = format!("arn:aws:iam::123456789012:role/{}", "a".repeat(65));
    assert!(Arn::parse(long).is_err());
    let arn = Arn::parse("arn:aws:iam::123456789012:role/Admin").unwrap();
    assert_eq!(arn.account(), "123456789012");
    assert!(arn.check_in(&account(), ArnKind::Role).is_ok());
    assert!(arn.check_in(&account(), ArnKind::SamlProvider).is_err());
    let other = AccountId::parse("210987654321").unwrap();
    assert!(arn.check_in(&other, ArnKind::Role).is_err());
}

#[test]
fn role_arn_templates() {
    assert!(RoleArnTemplate::parse(RoleArnTemplate::DEFAULT).is_ok());
    assert!(
        RoleArnTemplate::parse("arn:aws:iam::{accountId}:role/portcullis/{permissionSetName}")
            .is_ok()
    );
    for bad in [
        "arn:aws:iam::{accountId}:role/Fixed",
        "arn:aws:iam::{accountId}:user/{permissionSetName}",
        "arn:aws:iam::{account}:role/{permissionSetName}",
        "arn:aws:iam::{accountId}:role/{permissionSetName}{extra}",
        // 32 + 40 characters: beyond IAM's 64.
        "arn:aws:iam::{accountId}:role/{permissionSetName}-aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
    ] {
        assert!(RoleArnTemplate::parse(bad).is_err(), "{bad}");
    }
}

#[test]
fn regions_and_endpoints() {
    for ok in ["us-east-1", "eu-west-3", "us-gov-west-1", "ap-southeast-10"] {
        assert!(AwsRegion::parse(ok).is_ok(), "{ok}");
    }
    for bad in [
        "",
        "us-east",
        "US-EAST-1",
        "us-east-1a",
        "us--1",
        "eu-west-123",
    ] {
        assert!(AwsRegion::parse(bad).is_err(), "{bad}");
    }
    assert_eq!(
        StsEndpoint::parse("https://sts.eu-west-1.amazonaws.com/")
            .unwrap()
            .as_str(),
        "https://sts.eu-west-1.amazonaws.com"
    );
    assert!(StsEndpoint::parse("http://127.0.0.1:5000").is_ok());
    assert!(StsEndpoint::parse("http://localhost:9000/sts").is_ok());
    for bad in [
        "http://sts.example.com",
        "ftp://sts.example.com",
        "https://user:pw@sts.example.com",
        "https://sts.example.com/?x=1",
        "sts.example.com",
    ] {
        assert!(StsEndpoint::parse(bad).is_err(), "{bad}");
    }
}

#[test]
fn defaults_follow_aws() {
    let a = AwsAccount::default();
    let id = account();
    let set = RoleName::parse("ReadOnly").unwrap();
    assert_eq!(a.sts_url(), "https://sts.us-east-1.amazonaws.com");
    assert_eq!(
        a.provider_arn_for(&id, "https://id.example.com"),
        "arn:aws:iam::123456789012:saml-provider/Portcullis"
    );
    assert_eq!(
        a.role_arn_for(&id, &set),
        "arn:aws:iam::123456789012:role/ReadOnly"
    );
    let web = AwsAccount {
        federation: Federation::WebIdentity,
        region: Some(AwsRegion::parse("eu-west-1").unwrap()),
        role_arns: [(
            set.clone(),
            Arn::parse("arn:aws:iam::123456789012:role/custom/RO").unwrap(),
        )]
        .into(),
        ..AwsAccount::default()
    };
    assert_eq!(web.sts_url(), "https://sts.eu-west-1.amazonaws.com");
    assert_eq!(web.audience(), "sts.amazonaws.com");
    assert!(TokenAudience::parse("minio").is_ok());
    for bad in ["", "with space", "tab\t", "ünï"] {
        assert!(TokenAudience::parse(bad).is_err(), "{bad}");
    }
    assert_eq!(
        web.provider_arn_for(&id, "https://id.example.com/"),
        "arn:aws:iam::123456789012:oidc-provider/id.example.com"
    );
    assert_eq!(
        web.role_arn_for(&id, &set),
        "arn:aws:iam::123456789012:role/custom/RO"
    );
}

#[test]
fn arns_must_be_the_accounts_own() {
    let foreign = AwsAccount {
        provider_arn: Some(Arn::parse("arn:aws:iam::210987654321:saml-provider/P").unwrap()),
        ..AwsAccount::default()
    };
    assert_eq!(foreign.check_for(&account()).unwrap_err().0, "providerArn");
    let wrong_kind = AwsAccount {
        federation: Federation::WebIdentity,
        provider_arn: Some(Arn::parse("arn:aws:iam::123456789012:saml-provider/P").unwrap()),
        ..AwsAccount::default()
    };
    assert!(wrong_kind.check_for(&account()).is_err());
    let role = AwsAccount {
        role_arns: [(
            RoleName::parse("Admin").unwrap(),
            Arn::parse("arn:aws:iam::210987654321:role/Admin").unwrap(),
        )]
        .into(),
        ..AwsAccount::default()
    };
    assert_eq!(role.check_for(&account()).unwrap_err().0, "roleArns.Admin");
}

#[test]
fn stored_form_round_trips() {
    let kind = AccountKind::Aws(AwsAccount {
        sts_endpoint: Some(StsEndpoint::parse("http://127.0.0.1:5000").unwrap()),
        provider_arn: Some(Arn::parse("arn:aws:iam::123456789012:saml-provider/P").unwrap()),
        role_arn_template: Some(
            RoleArnTemplate::parse("arn:aws:iam::{accountId}:role/x/{permissionSetName}").unwrap(),
        ),
        ..AwsAccount::default()
    });
    let json = serde_json::to_string(&kind).unwrap();
    assert!(json.contains(r#""kind":"aws""#), "{json}");
    assert_eq!(serde_json::from_str::<AccountKind>(&json).unwrap(), kind);
    // A stored value that no longer validates is refused, not trusted.
    let tampered = json.replace("saml-provider/P", "user/P");
    assert!(serde_json::from_str::<AccountKind>(&tampered).is_err());
    assert_eq!(
        serde_json::to_string(&AccountKind::Native).unwrap(),
        r#"{"kind":"native"}"#
    );
}

#[test]
fn session_tags_take_the_persons_values() {
    use crate::{DisplayName, Email, UserAttributes, UserId, UserName};
    let user = User {
        id: UserId::new(),
        user_name: UserName::parse("ada").unwrap(),
        email: Email::parse("ada@example.com").unwrap(),
        display_name: DisplayName::parse("Ada Lovelace").unwrap(),
        given_name: None,
        family_name: None,
        enabled: true,
        created_at: chrono::Utc::now(),
        updated_at: chrono::Utc::now(),
        attributes: UserAttributes::parse([("department".into(), "Engineering".into())].into())
            .unwrap(),
    };
    let tag = |k: &str, v: &str| (TagKey::parse(k).unwrap(), TagTemplate::parse(v).unwrap());
    let aws = AwsAccount {
        session_tags: [
            tag("Department", "${user:department}"),
            tag("Who", "${user:userName} <${user:email}>"),
            tag("Team", "static"),
            tag("CostCenter", "${user:costCenter}"),
            tag("Given", "${user:givenName}"),
        ]
        .into(),
        ..AwsAccount::default()
    };
    assert_eq!(
        aws.session_tags_for(&user),
        [
            ("Department".to_owned(), "Engineering".to_owned()),
            ("Team".to_owned(), "static".to_owned()),
            ("Who".to_owned(), "ada <ada@example.com>".to_owned()),
        ]
    );
    for bad in ["${user:groups}", "${department}", "${user:", "${user:1x}"] {
        assert!(TagTemplate::parse(bad).is_err(), "{bad}");
    }
    for bad in ["", "aws:foo", "tab\tkey", &"k".repeat(129)] {
        assert!(TagKey::parse(bad).is_err(), "{bad}");
    }
    assert!(TagKey::parse("cost-center:team/sub").is_ok());
}

#[test]
fn sign_in_endpoints() {
    let global = AwsAccount::default();
    assert_eq!(global.sign_in_url(), "https://signin.aws.amazon.com/saml");
    assert_eq!(global.sign_in_audiences(), vec![global.sign_in_url()]);
    let regional = AwsAccount {
        region: Some(AwsRegion::parse("eu-central-1").unwrap()),
        regional_sign_in: true,
        ..AwsAccount::default()
    };
    assert_eq!(
        regional.sign_in_url(),
        "https://eu-central-1.signin.aws.amazon.com/saml"
    );
    // The global one stays: AssumeRoleWithSAML assertions are addressed to it.
    assert_eq!(
        regional.sign_in_audiences(),
        vec![
            "https://signin.aws.amazon.com/saml".to_owned(),
            "https://eu-central-1.signin.aws.amazon.com/saml".to_owned()
        ]
    );
    let json = serde_json::to_value(&regional).unwrap();
    assert_eq!(json["regionalSignIn"], true);
    assert!(
        serde_json::to_value(&global)
            .unwrap()
            .get("regionalSignIn")
            .is_none()
    );
}
