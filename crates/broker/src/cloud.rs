//! Credentials from an account's own STS, for accounts that are real clouds: Portcullis asks the
//! identity provider for an assertion ([`CloudAssertions`]) and presents it to the account's STS
//! (`AssumeRoleWithSAML`, an unsigned Query API call), then hands the person what STS answered.
//! STS's own refusals (a trust policy that does not name the provider, a role that does not
//! exist) reach the person with STS's code and message; nothing is cached.

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use portcullis_auth::federation::{CloudAssertions, CloudGrant, WebIdentityTokens};
use portcullis_domain::cloud::{cloud_session_seconds, role_session_name};
use portcullis_domain::{
    AccountId, Actor, AwsAccount, Federation, NewAuditEvent, PermissionSet, RoleName,
};

use crate::Broker;
use crate::aws_xml::Leaves;
use crate::credentials::RoleCredentials;
use crate::error::BrokerError;
use crate::service::Caller;

/// The STS API version of the Query API.
const STS_VERSION: &str = "2011-06-15";
/// The longest STS answer read.
const MAX_ANSWER_BYTES: usize = 64 * 1024;
/// How long STS may take.
const STS_TIMEOUT: Duration = Duration::from_secs(10);

/// Reaching clouds: the assertions, the web-identity tokens and an HTTP client.
pub(crate) struct Cloud {
    assertions: Arc<dyn CloudAssertions>,
    tokens: Arc<dyn WebIdentityTokens>,
    http: reqwest::Client,
}

impl std::fmt::Debug for Cloud {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Cloud").finish_non_exhaustive()
    }
}

/// What STS gave, and the request id it names it by (for the audit record).
#[derive(Debug)]
pub(crate) struct Assumed {
    pub(crate) credentials: RoleCredentials,
    pub(crate) request_id: String,
    /// `arn:aws:sts::{account}:assumed-role/{role}/{session}`, when STS says.
    pub(crate) assumed_role_arn: Option<String>,
}

impl Cloud {
    pub(crate) fn new(
        assertions: Arc<dyn CloudAssertions>,
        tokens: Arc<dyn WebIdentityTokens>,
    ) -> Result<Self, reqwest::Error> {
        let http = reqwest::Client::builder()
            .timeout(STS_TIMEOUT)
            .redirect(reqwest::redirect::Policy::none())
            .build()?;
        Ok(Self {
            assertions,
            tokens,
            http,
        })
    }

    /// `AssumeRoleWithSAML` at `sts_url` for `grant`.
    pub(crate) async fn assume_role_with_saml(
        &self,
        sts_url: &str,
        grant: &CloudGrant<'_>,
    ) -> Result<Assumed, BrokerError> {
        let assertion = self
            .assertions
            .aws_saml_response(grant)
            .await
            .map_err(|e| BrokerError::Upstream(Upstream::ours(e.to_string())))?;
        let duration = grant.duration_seconds.to_string();
        self.call(
            sts_url,
            &[
                ("Action", "AssumeRoleWithSAML"),
                ("Version", STS_VERSION),
                ("RoleArn", grant.role_arn),
                ("PrincipalArn", grant.provider_arn),
                ("SAMLAssertion", assertion.as_str()),
                ("DurationSeconds", duration.as_str()),
            ],
        )
        .await
    }

    /// `AssumeRoleWithWebIdentity` at `sts_url` for `grant`, with an ID token for `audience`;
    /// the role session is named after the person (`session_name`).
    pub(crate) async fn assume_role_with_web_identity(
        &self,
        sts_url: &str,
        grant: &CloudGrant<'_>,
        audience: &str,
        session_name: &str,
    ) -> Result<Assumed, BrokerError> {
        let token = self
            .tokens
            .web_identity_token(grant, audience)
            .await
            .map_err(|e| BrokerError::Upstream(Upstream::ours(e.to_string())))?;
        let duration = grant.duration_seconds.to_string();
        self.call(
            sts_url,
            &[
                ("Action", "AssumeRoleWithWebIdentity"),
                ("Version", STS_VERSION),
                ("RoleArn", grant.role_arn),
                ("RoleSessionName", session_name),
                ("WebIdentityToken", token.as_str()),
                ("DurationSeconds", duration.as_str()),
            ],
        )
        .await
    }

    /// One unsigned STS Query API call (the two federation calls need no AWS credentials).
    async fn call(&self, sts_url: &str, form: &[(&str, &str)]) -> Result<Assumed, BrokerError> {
        let answer = self
            .http
            .post(sts_url)
            .form(&form)
            .send()
            .await
            .map_err(|e| BrokerError::Upstream(Upstream::unreachable(sts_url, &e)))?;
        let status = answer.status();
        let body = answer
            .bytes()
            .await
            .map_err(|e| BrokerError::Upstream(Upstream::unreachable(sts_url, &e)))?;
        if body.len() > MAX_ANSWER_BYTES {
            return Err(BrokerError::Upstream(Upstream::garbled(
                "the answer is too long",
            )));
        }
        let text = std::str::from_utf8(&body)
            .map_err(|_| BrokerError::Upstream(Upstream::garbled("the answer is not UTF-8")))?;
        read_answer(status.as_u16(), text).map_err(BrokerError::Upstream)
    }
}

/// A cloud's refusal or failure, as the person is told.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Upstream {
    /// STS's error code (`AccessDenied`, `InvalidIdentityToken`…), or ours when STS never
    /// answered (`Unreachable`, `BadAnswer`, `AssertionFailed`).
    pub code: String,
    pub message: String,
    pub request_id: Option<String>,
    /// Whether the request was refused (the person or the account's setup can fix it) rather
    /// than failed (try again later).
    pub refused: bool,
}

impl std::fmt::Display for Upstream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "the account's STS answered {}: {}",
            self.code, self.message
        )?;
        if let Some(id) = &self.request_id {
            write!(f, " (request id {id})")?;
        }
        Ok(())
    }
}

impl Upstream {
    fn unreachable(url: &str, e: &reqwest::Error) -> Self {
        tracing::warn!(sts = url, error = %e, "the account's STS could not be reached");
        Self {
            code: "Unreachable".into(),
            message: "the account's STS could not be reached".into(),
            request_id: None,
            refused: false,
        }
    }

    pub(crate) fn garbled(why: &str) -> Self {
        Self {
            code: "BadAnswer".into(),
            message: format!("the account's STS gave an answer that is not STS's: {why}"),
            request_id: None,
            refused: false,
        }
    }

    fn ours(why: String) -> Self {
        tracing::error!(error = %why, "no assertion for the account's STS");
        Self {
            code: "AssertionFailed".into(),
            message: "Portcullis could not make the assertion for the account's STS".into(),
            request_id: None,
            refused: false,
        }
    }
}

impl Broker {
    /// `GetRoleCredentials` for an `aws` account: the permission set's role in the account,
    /// assumed at the account's STS for the permission set's duration (capped by what is left of
    /// the person's portal session, and at least STS's 15 minutes). Audited with STS's request
    /// id, like native issuance.
    pub(crate) async fn cloud_credentials(
        &self,
        caller: &Caller,
        account: &AccountId,
        role: &RoleName,
        aws: &AwsAccount,
        permission_set: &PermissionSet,
    ) -> Result<RoleCredentials, BrokerError> {
        let Some(cloud) = &self.cloud else {
            return Err(BrokerError::InvalidRequest(format!(
                "account {account} is an AWS account, and this server has no way to reach \
                 clouds configured"
            )));
        };
        let session = self
            .sessions
            .get_session_by_id(caller.session_id())
            .await?
            .ok_or_else(BrokerError::unauthorized)?;
        let left = (session.expires_at - self.clock.now()).num_seconds();
        let role_arn = aws.role_arn_for(account, &permission_set.name);
        let provider_arn = aws.provider_arn_for(account, &cloud.tokens.issuer());
        let grant = CloudGrant {
            user: caller.user(),
            role_arn: &role_arn,
            provider_arn: &provider_arn,
            duration_seconds: cloud_session_seconds(
                permission_set.session_duration.seconds(),
                left,
            ),
            session_expires: session.expires_at,
            tags: aws.session_tags_for(caller.user()),
        };
        let sts = aws.sts_url();
        let assumed = match aws.federation {
            Federation::Saml => cloud.assume_role_with_saml(&sts, &grant).await,
            Federation::WebIdentity => {
                let session_name = role_session_name(caller.user().user_name.as_str());
                cloud
                    .assume_role_with_web_identity(&sts, &grant, aws.audience(), &session_name)
                    .await
            }
        };
        let assumed = match assumed {
            Ok(a) => a,
            Err(e) => {
                self.audit_refusal(caller, account, role, &role_arn, &e)
                    .await;
                return Err(e);
            }
        };
        let event = NewAuditEvent::new(
            Actor::User(caller.user().id),
            "broker.credentials.issue",
            format!("account:{account}"),
        )
        .with_details(
            serde_json::json!({
                "userId": caller.user().id.to_string(),
                "userName": caller.user().user_name.as_str(),
                "accountId": account.as_str(),
                "roleName": role.as_str(),
                "permissionSetId": permission_set.id.to_string(),
                "accessKeyId": assumed.credentials.access_key_id,
                "expiration": DateTime::from_timestamp_millis(assumed.credentials.expiration_ms)
                    .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)),
                "clientId": caller.client_id(),
                "source": "sts",
                "federation": aws.federation.as_str(),
                "sts": sts,
                "roleArn": role_arn,
                "assumedRoleArn": assumed.assumed_role_arn,
                "stsRequestId": assumed.request_id,
            })
            .to_string(),
        );
        self.audit.record(event).await?;
        tracing::info!(access_key_id = %assumed.credentials.access_key_id, sts_request_id = %assumed.request_id, "role credentials obtained from the account's STS");
        self.issued.add(
            1,
            &[
                opentelemetry::KeyValue::new("via", caller.channel().via()),
                opentelemetry::KeyValue::new("source", "sts"),
            ],
        );
        Ok(assumed.credentials)
    }

    /// Records that the account's STS refused or failed (best effort: the person is told either
    /// way).
    async fn audit_refusal(
        &self,
        caller: &Caller,
        account: &AccountId,
        role: &RoleName,
        role_arn: &str,
        e: &BrokerError,
    ) {
        let BrokerError::Upstream(up) = e else {
            return;
        };
        let event = NewAuditEvent::new(
            Actor::User(caller.user().id),
            "broker.credentials.refuse",
            format!("account:{account}"),
        )
        .with_details(
            serde_json::json!({
                "userId": caller.user().id.to_string(),
                "accountId": account.as_str(),
                "roleName": role.as_str(),
                "roleArn": role_arn,
                "code": up.code,
                "message": up.message,
                "stsRequestId": up.request_id,
            })
            .to_string(),
        );
        if let Err(e) = self.audit.record(event).await {
            tracing::warn!(error = %e, "could not audit an STS refusal");
        }
    }
}

/// Reads an STS Query API answer: the credentials of a success, or the `ErrorResponse`.
pub(crate) fn read_answer(status: u16, xml: &str) -> Result<Assumed, Upstream> {
    let leaves = Leaves::parse(xml).map_err(Upstream::garbled)?;
    if let Some(e) = leaves.error(status) {
        return Err(Upstream {
            code: e.code,
            message: e.message,
            request_id: e.request_id,
            // Sender errors (4xx) are about the request: the trust policy, the role, the
            // assertion. Receiver errors (5xx) are STS's own.
            refused: status < 500,
        });
    }
    if status >= 300 {
        return Err(Upstream::garbled(&format!(
            "status {status} without an error"
        )));
    }
    let need = |name: &str| {
        leaves
            .first(name)
            .map(str::to_owned)
            .ok_or_else(|| Upstream::garbled(&format!("no {name}")))
    };
    let expiration = need("Credentials/Expiration")?;
    let expiration = DateTime::parse_from_rfc3339(expiration.trim())
        .map_err(|_| Upstream::garbled("the Expiration is not a time"))?
        .with_timezone(&Utc);
    Ok(Assumed {
        credentials: RoleCredentials {
            access_key_id: need("Credentials/AccessKeyId")?,
            secret_access_key: need("Credentials/SecretAccessKey")?,
            session_token: need("Credentials/SessionToken")?,
            expiration_ms: expiration.timestamp_millis(),
        },
        request_id: leaves.first("RequestId").unwrap_or_default().to_owned(),
        assumed_role_arn: leaves.first("AssumedRoleUser/Arn").map(str::to_owned),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const OK: &str = r#"<AssumeRoleWithSAMLResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/">
  <AssumeRoleWithSAMLResult>
    <Issuer>http://localhost:8080/saml/metadata</Issuer>
    <AssumedRoleUser>
      <Arn>arn:aws:sts::123456789012:assumed-role/Admin/ada</Arn>
      <AssumedRoleId>AROA123:ada</AssumedRoleId>
    </AssumedRoleUser>
    <Credentials>
      <AccessKeyId>ASIAMOTO</AccessKeyId>
      <SecretAccessKey>secret</SecretAccessKey>
      <SessionToken>token</SessionToken>
      <Expiration>2026-12-04T03:00:00Z</Expiration>
    </Credentials>
  </AssumeRoleWithSAMLResult>
  <ResponseMetadata><RequestId>req-1</RequestId></ResponseMetadata>
</AssumeRoleWithSAMLResponse>"#;

    #[test]
    fn reads_credentials() {
        let a = read_answer(200, OK).unwrap();
        assert_eq!(a.credentials.access_key_id, "ASIAMOTO");
        assert_eq!(a.credentials.session_token, "token");
        assert_eq!(
            a.credentials.expiration_ms,
            DateTime::parse_from_rfc3339("2026-12-04T03:00:00Z")
                .unwrap()
                .timestamp_millis()
        );
        assert_eq!(a.request_id, "req-1");
        assert_eq!(
            a.assumed_role_arn.as_deref(),
            Some("arn:aws:sts::123456789012:assumed-role/Admin/ada")
        );
    }

    #[test]
    fn reads_errors() {
        let refused = r#"<ErrorResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/">
  <Error><Type>Sender</Type><Code>AccessDenied</Code>
  <Message>Not authorized to perform sts:AssumeRoleWithSAML</Message></Error>
  <RequestId>req-2</RequestId></ErrorResponse>"#;
        let e = read_answer(403, refused).unwrap_err();
        assert_eq!(e.code, "AccessDenied");
        assert!(e.refused);
        assert_eq!(e.request_id.as_deref(), Some("req-2"));
        assert!(e.to_string().contains("Not authorized"), "{e}");
        let failed = refused.replace("Sender", "Receiver");
        assert!(!read_answer(500, &failed).unwrap_err().refused);
        for garbage in [
            "",
            "<x/>",
            "not xml",
            "<!DOCTYPE x [<!ENTITY a 'b'>]><x>&a;</x>",
        ] {
            let e = read_answer(200, garbage).unwrap_err();
            assert_eq!(e.code, "BadAnswer", "{garbage}");
        }
        assert_eq!(read_answer(502, "<x/>").unwrap_err().code, "BadAnswer");
    }
}
