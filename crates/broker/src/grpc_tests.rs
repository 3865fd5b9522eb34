//! The gRPC services through a real tonic client over TCP: every method, with and without the
//! caller's token, and `VerifyCredentials` on requests signed for STS and for another service.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use portcullis_sessions::Clock;
use tonic::Code;
use tonic::metadata::MetadataValue;

use crate::BrokerConfig;
use crate::grpc::proto::broker as pb;
use crate::grpc::proto::broker::credential_broker_client::CredentialBrokerClient;
use crate::grpc::proto::sessions as ps;
use crate::grpc::proto::sessions::session_validation_client::SessionValidationClient;
use crate::tests::{BODY, Fixture, TOKEN, sign_for};

/// Serves the fixture's broker on a free port; the base URL.
async fn serve(f: &Fixture) -> String {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let broker = f.broker.clone();
    tokio::spawn(crate::grpc::serve(broker, listener, std::future::pending()));
    format!("http://{addr}")
}

fn authed<T>(message: T, token: &str) -> tonic::Request<T> {
    let mut r = tonic::Request::new(message);
    r.metadata_mut().insert(
        "authorization",
        MetadataValue::try_from(format!("Bearer {token}")).unwrap(),
    );
    r
}

fn headers_of(req: &http::Request<Vec<u8>>) -> Vec<pb::Header> {
    req.headers()
        .iter()
        .map(|(k, v)| pb::Header {
            name: k.as_str().to_owned(),
            value: v.to_str().unwrap().to_owned(),
        })
        .collect()
}

#[tokio::test]
async fn every_broker_method_over_grpc() {
    let f = Fixture::new(BrokerConfig::default()).await;
    let acct = f.account("123456789012").await;
    f.grant(&acct, "Deploy", 2).await;
    f.grant(&acct, "Audit", 1).await;
    let base = serve(&f).await;
    let mut client = CredentialBrokerClient::connect(base).await.unwrap();

    let accounts = client
        .list_accounts(authed(pb::ListAccountsRequest::default(), TOKEN))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(accounts.accounts.len(), 1);
    assert_eq!(accounts.accounts[0].account_id, "123456789012");
    assert!(accounts.next_token.is_empty());
    let unauth = client
        .list_accounts(tonic::Request::new(pb::ListAccountsRequest::default()))
        .await
        .unwrap_err();
    assert_eq!(unauth.code(), Code::Unauthenticated);

    // The SSO header works as well as `authorization`.
    let mut r = tonic::Request::new(pb::ListAccountRolesRequest {
        account_id: "123456789012".into(),
        max_results: 1,
        next_token: String::new(),
    });
    r.metadata_mut().insert(
        "x-amz-sso_bearer_token",
        MetadataValue::try_from(TOKEN).unwrap(),
    );
    let roles = client.list_account_roles(r).await.unwrap().into_inner();
    assert_eq!(roles.roles[0].role_name, "Audit");
    assert!(!roles.next_token.is_empty());
    let more = client
        .list_account_roles(authed(
            pb::ListAccountRolesRequest {
                account_id: "123456789012".into(),
                max_results: 1,
                next_token: roles.next_token,
            },
            TOKEN,
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(more.roles[0].role_name, "Deploy");
    let missing = client
        .list_account_roles(authed(
            pb::ListAccountRolesRequest {
                account_id: "999999999999".into(),
                ..Default::default()
            },
            TOKEN,
        ))
        .await
        .unwrap_err();
    assert_eq!(missing.code(), Code::NotFound);

    let now = f.clock.now();
    let c = client
        .get_role_credentials(authed(
            pb::GetRoleCredentialsRequest {
                account_id: "123456789012".into(),
                role_name: "Deploy".into(),
            },
            TOKEN,
        ))
        .await
        .unwrap()
        .into_inner()
        .credentials
        .unwrap();
    assert!(c.access_key_id.starts_with("ASIA"));
    assert_eq!(
        c.expiration.unwrap().seconds,
        (now + chrono::Duration::hours(2)).timestamp()
    );
    let bad = client
        .get_role_credentials(authed(
            pb::GetRoleCredentialsRequest {
                account_id: "nope".into(),
                role_name: "Deploy".into(),
            },
            TOKEN,
        ))
        .await
        .unwrap_err();
    assert_eq!(bad.code(), Code::InvalidArgument);

    // VerifyCredentials: a request signed for STS, one signed for the resource service itself,
    // and one with the wrong secret.
    let verify = |service: &str, secret: &str| {
        let req = sign_for(
            if service.is_empty() { "sts" } else { service },
            &c.access_key_id,
            secret,
            &c.session_token,
            now,
            "eu-north-1",
            BODY,
        );
        pb::VerifyCredentialsRequest {
            method: "POST".into(),
            path: "/".into(),
            headers: headers_of(&req),
            body: req.body().clone(),
            service: service.into(),
        }
    };
    for service in ["", "execute-api"] {
        let answer = client
            .verify_credentials(verify(service, &c.secret_access_key))
            .await
            .unwrap()
            .into_inner();
        match answer.result {
            Some(pb::verify_credentials_response::Result::Identity(id)) => {
                assert_eq!(
                    id.arn,
                    "arn:aws:sts::123456789012:assumed-role/Deploy/alice"
                );
                assert_eq!(id.user_id, f.user.to_string());
                assert_eq!(id.access_key_id, c.access_key_id);
            }
            other => panic!("{service}: {other:?}"),
        }
    }
    let refused = client
        .verify_credentials(verify("", &"w".repeat(40)))
        .await
        .unwrap()
        .into_inner();
    match refused.result {
        Some(pb::verify_credentials_response::Result::Refusal(r)) => {
            assert_eq!(r.code, "SignatureDoesNotMatch")
        }
        other => panic!("{other:?}"),
    }
    // Signed for STS but presented as another service's request.
    let mismatched = pb::VerifyCredentialsRequest {
        service: "execute-api".into(),
        ..verify("", &c.secret_access_key)
    };
    let refused = client
        .verify_credentials(mismatched)
        .await
        .unwrap()
        .into_inner();
    assert!(
        matches!(
            refused.result,
            Some(pb::verify_credentials_response::Result::Refusal(_))
        ),
        "{refused:?}"
    );
}

#[tokio::test]
async fn sessions_validate_and_revoke_over_grpc() {
    let f = Fixture::new(BrokerConfig::default()).await;
    let base = serve(&f).await;
    let mut client = SessionValidationClient::connect(base).await.unwrap();
    let validate = |t: &str| ps::ValidateSessionRequest {
        session_token: t.to_owned(),
    };

    let ok = client
        .validate_session(validate(&f.session_token))
        .await
        .unwrap()
        .into_inner();
    assert!(ok.valid);
    let s = ok.session.unwrap();
    assert_eq!(s.user_id, f.user.to_string());
    assert_eq!(s.user_name, "alice");
    assert_eq!(s.amr, ["pwd"]);
    assert_eq!(s.session_id.len(), 64);

    for bad in ["", "not-a-session"] {
        let r = client
            .validate_session(validate(bad))
            .await
            .unwrap()
            .into_inner();
        assert!(!r.valid && r.session.is_none(), "{bad}");
    }

    let revoke = |t: &str| ps::RevokeSessionRequest {
        session_token: t.to_owned(),
    };
    let r = client
        .revoke_session(revoke(&f.session_token))
        .await
        .unwrap()
        .into_inner();
    assert!(r.revoked);
    let again = client
        .revoke_session(revoke(&f.session_token))
        .await
        .unwrap()
        .into_inner();
    assert!(!again.revoked);
    let gone = client
        .validate_session(validate(&f.session_token))
        .await
        .unwrap()
        .into_inner();
    assert!(!gone.valid);
    // The SSO access token died with its portal session.
    assert!(f.broker.authenticate(Some(TOKEN)).await.is_err());
}
