//! Provisioning over the embedded directory, without AWS: the connection's secret is sealed
//! under the key it was set with (and opens under no other), and the status is read from the
//! directory alone. What reaches AWS is tested against moto (tests/interop/test_aws_provisioning.py).

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;

use async_trait::async_trait;
use chrono::Utc;
use portcullis_auth::federation::{
    CloudAssertions, CloudGrant, FederationError, WebIdentityTokens,
};
use portcullis_domain::cloud::{AccessKeyId, AwsAccount};
use portcullis_domain::{AccountKind, Actor, DisplayName, Email, NewAccount, ProvisioningState};
use portcullis_sessions::ManualClock;
use portcullis_store::Directory;

use super::{ConnectionInput, Provisioning, ProvisioningError, RunScope};
use crate::BrokerConfig;
use crate::tests::{Fixture, acct};

const SECRET: &str = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY";

#[derive(Debug)]
struct Federator;

#[async_trait]
impl CloudAssertions for Federator {
    async fn aws_saml_response(&self, _: &CloudGrant<'_>) -> Result<String, FederationError> {
        Ok(String::new())
    }

    async fn idp_metadata(&self) -> Result<String, FederationError> {
        Ok("<md:EntityDescriptor/>".into())
    }
}

#[async_trait]
impl WebIdentityTokens for Federator {
    async fn web_identity_token(
        &self,
        _: &CloudGrant<'_>,
        _: &str,
    ) -> Result<String, FederationError> {
        Ok(String::new())
    }

    fn issuer(&self) -> String {
        "https://id.example.com".into()
    }
}

fn provisioning(directory: &Arc<dyn Directory>, key: [u8; 32]) -> Provisioning {
    Provisioning::new(
        directory.clone(),
        Arc::new(Federator),
        Arc::new(Federator),
        Arc::new(ManualClock::new(Utc::now())),
        &key,
    )
    .unwrap()
}

fn input() -> ConnectionInput {
    ConnectionInput {
        access_key_id: AccessKeyId::parse("AKIAIOSFODNN7EXAMPLE").unwrap(),
        secret_access_key: SECRET.into(),
        region: None,
        // Nothing listens there: no test may reach AWS.
        endpoint: Some(portcullis_domain::StsEndpoint::parse("http://127.0.0.1:9").unwrap()),
        member_role_name: None,
        auto_provision: false,
    }
}

#[tokio::test]
async fn the_secret_is_sealed_and_opens_only_under_its_key() {
    let dir = tempfile::tempdir().unwrap();
    let directory: Arc<dyn Directory> =
        Arc::new(portcullis_store::testing::sqlite_in(dir.path()).await);
    let p = provisioning(&directory, [1; 32]);
    assert!(matches!(
        p.run(Actor::System, &RunScope::default()).await,
        Err(ProvisioningError::NotConfigured)
    ));
    let stored = p.set_connection(Actor::System, input()).await.unwrap();
    let json = serde_json::to_string(&stored).unwrap();
    assert!(!json.contains(SECRET), "{json}");
    assert!(
        !stored
            .sealed_secret
            .windows(SECRET.len())
            .any(|w| w == SECRET.as_bytes())
    );
    assert!(!format!("{stored:?}").contains(SECRET));
    assert!(!format!("{:?}", input()).contains(SECRET));
    // Under the key it was sealed with, a run gets as far as AWS (which is not there).
    assert!(p.run(Actor::System, &RunScope::default()).await.is_ok());
    // Under another master key it does not open, and says what to do.
    let other = provisioning(&directory, [2; 32]);
    let e = other
        .run(Actor::System, &RunScope::default())
        .await
        .unwrap_err();
    assert!(matches!(e, ProvisioningError::Sealed), "{e}");
    assert!(e.to_string().contains("master key"));
}

#[tokio::test]
async fn status_comes_from_the_directory_alone() {
    let f = Fixture::new(BrokerConfig::default()).await;
    let account = |id: &str, kind: AccountKind| NewAccount {
        id: acct(id),
        name: DisplayName::parse("Account").unwrap(),
        email: Email::parse("a@example.com").unwrap(),
        console_url: None,
        kind,
    };
    for a in [
        account("111111111111", AccountKind::Aws(AwsAccount::default())),
        account("222222222222", AccountKind::Native),
        account("333333333333", AccountKind::Aws(AwsAccount::default())),
    ] {
        f.directory.create_account(Actor::System, a).await.unwrap();
    }
    // Assigned in an aws account and in a native one; the other aws account has none.
    f.grant(&acct("111111111111"), "Dev", 1).await;
    f.grant(&acct("222222222222"), "Native", 1).await;
    let p = provisioning(&f.directory, [1; 32]);
    let status = p.status().await.unwrap();
    assert_eq!(status.len(), 1, "{status:?}");
    assert_eq!(status[0].account_id, acct("111111111111"));
    assert_eq!(status[0].role_arn, "arn:aws:iam::111111111111:role/Dev");
    assert_eq!(status[0].state, ProvisioningState::OutOfDate);
    // A run that cannot reach AWS records the failure, with its code.
    p.set_connection(Actor::System, input()).await.unwrap();
    let after = p.run(Actor::System, &RunScope::default()).await.unwrap();
    match &after[0].state {
        ProvisioningState::Failed(m) => assert!(m.starts_with("Unreachable"), "{m}"),
        other => panic!("{other:?}"),
    }
}
