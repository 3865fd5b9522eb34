//! Sign-in to AWS by SAML: the Response that the AWS sign-in page (`https://signin.aws.amazon.com/saml`)
//! and STS `AssumeRoleWithSAML` accept, for one role of one account. AWS is an SP like any other
//! (`urn:amazon:webservices`), with its own attributes:
//! - `https://aws.amazon.com/SAML/Attributes/Role`: exactly one value, `roleArn,providerArn`;
//! - `…/RoleSessionName`: who is in the role (AWS: 2–64 of `[\w+=,.@-]`) — the user name;
//! - `…/SessionDuration`: seconds (900–43,200), the permission set's duration capped by the portal
//!   session;
//! - `…/SourceIdentity`: the user name again, which AWS keeps through role chaining and CloudTrail;
//! - `…/PrincipalTag:<key>`: one per session tag of the account (attributes for access control).
//!
//! The Assertion is signed (what AWS checks, with the certificate of the IdP metadata uploaded to
//! the account's IAM SAML provider); the NameID is persistent for `urn:amazon:webservices`.

use async_trait::async_trait;
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use portcullis_auth::federation::{CloudAssertions, CloudGrant, FederationError};
use portcullis_domain::cloud::role_session_name;
use portcullis_domain::{
    AssertionConsumerService, AssertionLifetime, AttributeMapping, NameIdFormat, SamlSettings,
    SamlUrl, SignedPart,
};

use crate::{Saml, response};

/// AWS's SP entity id.
pub const AWS_ENTITY_ID: &str = "urn:amazon:webservices";
/// The AWS sign-in endpoint (global); regional ones are `https://{region}.signin.aws.amazon.com/saml`
/// ([`portcullis_domain::AwsAccount::sign_in_url`]).
pub use portcullis_domain::cloud::AWS_SIGN_IN_URL;
const ROLE: &str = "https://aws.amazon.com/SAML/Attributes/Role";
const ROLE_SESSION_NAME: &str = "https://aws.amazon.com/SAML/Attributes/RoleSessionName";
const SESSION_DURATION: &str = "https://aws.amazon.com/SAML/Attributes/SessionDuration";
const SOURCE_IDENTITY: &str = "https://aws.amazon.com/SAML/Attributes/SourceIdentity";
const PRINCIPAL_TAG: &str = "https://aws.amazon.com/SAML/Attributes/PrincipalTag:";

/// AWS as an SP, for one role: the attributes carry literal values (nothing in them is a
/// placeholder: ARNs and user names have no `${`).
fn aws_sp(grant: &CloudGrant<'_>, sign_in_url: &str) -> Result<SamlSettings, FederationError> {
    let literal = |name: &str, value: String| {
        AttributeMapping::new(
            name.to_owned(),
            Some("urn:oasis:names:tc:SAML:2.0:attrname-format:uri".to_owned()),
            value,
        )
        .map_err(|e| FederationError(e.message.into()))
    };
    let session_name = role_session_name(grant.user.user_name.as_str());
    let mut attributes = vec![
        literal(ROLE, format!("{},{}", grant.role_arn, grant.provider_arn))?,
        literal(ROLE_SESSION_NAME, session_name.clone())?,
        literal(SESSION_DURATION, grant.duration_seconds.to_string())?,
        literal(SOURCE_IDENTITY, session_name)?,
    ];
    for (key, value) in &grant.tags {
        // A value is the person's own data: a `${` in it must stay text, not become a
        // placeholder of the attribute mapping.
        if value.contains("${") {
            continue;
        }
        attributes.push(literal(&format!("{PRINCIPAL_TAG}{key}"), value.clone())?);
    }
    Ok(SamlSettings {
        entity_id: AWS_ENTITY_ID.to_owned(),
        acs: vec![AssertionConsumerService {
            url: SamlUrl::parse(sign_in_url).map_err(|e| FederationError(e.message.into()))?,
            index: 0,
            is_default: true,
        }],
        slo_url: None,
        slo_bindings: Vec::new(),
        certificate: None,
        require_signed_requests: false,
        name_id_format: NameIdFormat::Persistent,
        attributes,
        assertion_lifetime: AssertionLifetime::default(),
        signed_part: SignedPart::Assertion,
        allow_sha1: false,
        default_relay_state: None,
        start_url: None,
    })
}

impl Saml {
    /// The signed Response for `grant`, as XML, addressed to `sign_in_url` (the AWS sign-in
    /// endpoint the account uses).
    pub async fn aws_response_xml(
        &self,
        grant: &CloudGrant<'_>,
        sign_in_url: &str,
    ) -> Result<String, FederationError> {
        let sp = aws_sp(grant, sign_in_url)?;
        let key = self
            .keys
            .signing_key()
            .await
            .map_err(|e| FederationError(Box::new(e)))?;
        let now = self.auth.clock.now();
        let grant = response::Grant {
            issuer: &self.saml_entity_id(),
            sp: &sp,
            acs_url: sign_in_url,
            in_response_to: None,
            name_id: response::name_id(
                NameIdFormat::Persistent,
                grant.user,
                AWS_ENTITY_ID,
                &self.names,
            ),
            subject: response::Subject {
                user: grant.user,
                groups: Vec::new(),
                authn_instant: now,
                session_index: response::new_id(),
                session_expires: grant.session_expires,
            },
            now,
        };
        response::success(&grant, &key).map_err(|e| FederationError(Box::new(e)))
    }
}

#[async_trait]
impl CloudAssertions for Saml {
    async fn aws_saml_response(&self, grant: &CloudGrant<'_>) -> Result<String, FederationError> {
        let xml = self.aws_response_xml(grant, AWS_SIGN_IN_URL).await?;
        Ok(STANDARD.encode(xml))
    }

    async fn idp_metadata(&self) -> Result<String, FederationError> {
        let certs: Vec<Vec<u8>> = self
            .keys
            .published()
            .await
            .map_err(|e| FederationError(Box::new(e)))?
            .iter()
            .map(|k| k.cert_der().to_vec())
            .collect();
        Ok(response::metadata(
            &self.saml_entity_id(),
            &self.auth.issuer_url(),
            &certs,
            false,
        ))
    }
}
