//! What an `aws` account should hold for one permission set: the identity provider Portcullis
//! signs in as, and the role with its trust policy, session length, policies and boundary. Its
//! fingerprint (SHA-256 of the canonical JSON) is what "in sync" compares.

use std::collections::BTreeSet;

use portcullis_domain::cloud::AwsAccount;
use portcullis_domain::{AccountId, Federation, PermissionSet, PermissionSetId, RoleName};
use serde::Serialize;
use sha2::{Digest, Sha256};

/// The tag that marks a role as Portcullis's: only such roles are changed or removed.
pub(crate) const MANAGED_TAG: &str = "portcullis:managed";
/// The name of the permission set's inline policy on its role.
pub(crate) const INLINE_POLICY_NAME: &str = "PortcullisInlinePolicy";

/// The identity provider in the account.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase", tag = "kind")]
pub(crate) enum Provider {
    /// An IAM SAML provider made from our IdP metadata.
    Saml {
        arn: String,
        name: String,
        metadata_sha256: String,
        #[serde(skip)]
        metadata: String,
    },
    /// An IAM OIDC provider for our issuer, trusting tokens for `audience`.
    Oidc {
        arn: String,
        url: String,
        audience: String,
    },
}

impl Provider {
    /// SHA-256 (hex) of what is written for the provider.
    pub(crate) fn fingerprint(&self) -> String {
        let json = serde_json::to_vec(self).unwrap_or_default();
        hex::encode(Sha256::digest(&json))
    }

    pub(crate) fn arn(&self) -> &str {
        match self {
            Self::Saml { arn, .. } | Self::Oidc { arn, .. } => arn,
        }
    }
}

/// What Portcullis federates with: the SAML metadata and the OIDC issuer, the same for every
/// account.
#[derive(Debug, Clone)]
pub(crate) struct Federator {
    pub(crate) saml_metadata: Option<String>,
    pub(crate) issuer: String,
}

/// The desired state of one (account, permission set).
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Desired {
    pub(crate) account_id: AccountId,
    pub(crate) permission_set_id: PermissionSetId,
    pub(crate) permission_set_name: RoleName,
    pub(crate) provider: Provider,
    pub(crate) role_arn: String,
    pub(crate) role_name: String,
    pub(crate) role_path: String,
    pub(crate) description: String,
    pub(crate) max_session_seconds: u64,
    pub(crate) trust_policy: String,
    /// AWS managed and customer managed policy ARNs.
    pub(crate) managed_policies: BTreeSet<String>,
    pub(crate) inline_policy: Option<String>,
    pub(crate) permissions_boundary: Option<String>,
}

impl Desired {
    /// What `account` should hold for `set`, or why it cannot be said (a role ARN that names
    /// no role).
    pub(crate) fn new(
        account: &AccountId,
        aws: &AwsAccount,
        set: &PermissionSet,
        federator: &Federator,
    ) -> Result<Self, String> {
        let role_arn = aws.role_arn_for(account, &set.name);
        let (role_path, role_name) =
            split_role_arn(&role_arn).ok_or_else(|| format!("{role_arn} is not a role ARN"))?;
        let partition = role_arn.split(':').nth(1).unwrap_or("aws").to_owned();
        let provider = match aws.federation {
            Federation::Saml => {
                let arn = aws.provider_arn_for(account, "");
                let metadata = federator
                    .saml_metadata
                    .clone()
                    .ok_or_else(|| "no SAML metadata".to_owned())?;
                Provider::Saml {
                    name: arn.rsplit('/').next().unwrap_or_default().to_owned(),
                    arn,
                    metadata_sha256: hex::encode(Sha256::digest(metadata.as_bytes())),
                    metadata,
                }
            }
            Federation::WebIdentity => Provider::Oidc {
                arn: aws.provider_arn_for(account, &federator.issuer),
                url: federator.issuer.trim_end_matches('/').to_owned(),
                audience: aws.audience().to_owned(),
            },
        };
        let p = &set.policies;
        let managed_policies = p
            .aws_managed_policies
            .iter()
            .map(|a| a.as_str().to_owned())
            .chain(
                p.customer_managed_policies
                    .iter()
                    .map(|r| r.arn_in(&partition, account.as_str())),
            )
            .collect();
        Ok(Self {
            account_id: account.clone(),
            permission_set_id: set.id,
            permission_set_name: set.name.clone(),
            trust_policy: trust_policy(&provider, &aws.sign_in_audiences()),
            provider,
            role_arn: role_arn.clone(),
            role_name,
            role_path,
            description: format!("Portcullis permission set {}", set.name),
            max_session_seconds: set.session_duration.seconds(),
            managed_policies,
            inline_policy: p.inline_policy.as_ref().map(|i| i.compact()),
            permissions_boundary: p
                .permissions_boundary
                .as_ref()
                .map(|b| b.arn_in(&partition, account.as_str())),
        })
    }

    /// SHA-256 (hex) of the canonical JSON of everything above.
    pub(crate) fn fingerprint(&self) -> String {
        let json = serde_json::to_vec(self).unwrap_or_default();
        hex::encode(Sha256::digest(&json))
    }
}

/// `arn:aws:iam::1:role/a/b/Name` → (`/a/b/`, `Name`).
pub(crate) fn split_role_arn(arn: &str) -> Option<(String, String)> {
    let resource = arn.splitn(6, ':').nth(5)?;
    let rest = resource.strip_prefix("role/")?;
    Some(match rest.rsplit_once('/') {
        Some((path, name)) => (format!("/{path}/"), name.to_owned()),
        None => ("/".to_owned(), rest.to_owned()),
    })
}

/// Who may assume the role: the account's provider, for our tokens or assertions only, with
/// session tags and (SAML) the source identity.
fn trust_policy(provider: &Provider, sign_in_urls: &[String]) -> String {
    let statement = match provider {
        Provider::Saml { arn, .. } => serde_json::json!({
            "Effect": "Allow",
            "Principal": {"Federated": arn},
            "Action": ["sts:AssumeRoleWithSAML", "sts:TagSession", "sts:SetSourceIdentity"],
            "Condition": {"StringEquals": {"SAML:aud": sign_in_urls}},
        }),
        Provider::Oidc { arn, audience, .. } => {
            let host_path = arn.split_once(":oidc-provider/").map_or("", |(_, h)| h);
            serde_json::json!({
                "Effect": "Allow",
                "Principal": {"Federated": arn},
                "Action": ["sts:AssumeRoleWithWebIdentity", "sts:TagSession"],
                "Condition": {"StringEquals": {format!("{host_path}:aud"): audience}},
            })
        }
    };
    serde_json::json!({"Version": "2012-10-17", "Statement": [statement]}).to_string()
}

#[cfg(test)]
mod tests {
    use portcullis_domain::cloud::{
        CloudPolicies, InlinePolicy, ManagedPolicyArn, PermissionsBoundary, PolicyReference,
        RoleArnTemplate,
    };
    use portcullis_domain::{Description, PermissionSetDuration};

    use super::*;

    fn set(policies: CloudPolicies) -> PermissionSet {
        PermissionSet {
            id: PermissionSetId::new(),
            name: RoleName::parse("Dev").unwrap(),
            description: Description::default_empty(),
            session_duration: PermissionSetDuration::from_seconds(7200).unwrap(),
            policies,
            created_at: chrono::Utc::now(),
            updated_at: chrono::Utc::now(),
        }
    }

    fn federator() -> Federator {
        Federator {
            saml_metadata: Some("<md:EntityDescriptor/>".into()),
            issuer: "https://id.example.com".into(),
        }
    }

    #[test]
    fn saml_role() {
        let account = AccountId::parse("111122223333").unwrap();
        let aws = AwsAccount {
            role_arn_template: Some(
                RoleArnTemplate::parse("arn:aws:iam::{accountId}:role/sso/{permissionSetName}")
                    .unwrap(),
            ),
            ..AwsAccount::default()
        };
        let policies = CloudPolicies {
            aws_managed_policies: vec![
                ManagedPolicyArn::parse("arn:aws:iam::aws:policy/ReadOnlyAccess").unwrap(),
            ],
            customer_managed_policies: vec![PolicyReference::new("Billing", "/").unwrap()],
            inline_policy: Some(InlinePolicy::parse(r#"{ "Statement": [] }"#).unwrap()),
            permissions_boundary: Some(PermissionsBoundary::CustomerManagedPolicyReference(
                PolicyReference::new("Boundary", "/b/").unwrap(),
            )),
        };
        let d = Desired::new(&account, &aws, &set(policies), &federator()).unwrap();
        assert_eq!(d.role_arn, "arn:aws:iam::111122223333:role/sso/Dev");
        assert_eq!(
            (d.role_path.as_str(), d.role_name.as_str()),
            ("/sso/", "Dev")
        );
        assert_eq!(d.max_session_seconds, 7200);
        assert_eq!(
            d.managed_policies.iter().collect::<Vec<_>>(),
            vec![
                "arn:aws:iam::111122223333:policy/Billing",
                "arn:aws:iam::aws:policy/ReadOnlyAccess"
            ]
        );
        assert_eq!(d.inline_policy.as_deref(), Some(r#"{"Statement":[]}"#));
        assert_eq!(
            d.permissions_boundary.as_deref(),
            Some("arn:aws:iam::111122223333:policy/b/Boundary")
        );
        let trust: serde_json::Value = serde_json::from_str(&d.trust_policy).unwrap();
        let st = &trust["Statement"][0];
        assert_eq!(
            st["Principal"]["Federated"],
            "arn:aws:iam::111122223333:saml-provider/Portcullis"
        );
        assert_eq!(
            st["Condition"]["StringEquals"]["SAML:aud"][0],
            "https://signin.aws.amazon.com/saml"
        );
        assert!(matches!(&d.provider, Provider::Saml { name, .. } if name == "Portcullis"));
        // The fingerprint follows every input, and only them.
        let again = Desired::new(&account, &aws, &set(CloudPolicies::default()), &federator());
        assert_ne!(again.unwrap().fingerprint(), d.fingerprint());
        let mut rotated = federator();
        rotated.saml_metadata = Some("<md:EntityDescriptor other/>".into());
        let d2 = Desired::new(&account, &aws, &set(CloudPolicies::default()), &rotated).unwrap();
        let d3 = Desired::new(&account, &aws, &set(CloudPolicies::default()), &rotated).unwrap();
        assert_eq!(d2.fingerprint(), {
            let mut same = d3.clone();
            same.permission_set_id = d2.permission_set_id;
            same.fingerprint()
        });
    }

    #[test]
    fn web_identity_role() {
        let account = AccountId::parse("111122223333").unwrap();
        let aws = AwsAccount {
            federation: Federation::WebIdentity,
            ..AwsAccount::default()
        };
        let d = Desired::new(&account, &aws, &set(CloudPolicies::default()), &federator()).unwrap();
        assert_eq!(
            d.provider.arn(),
            "arn:aws:iam::111122223333:oidc-provider/id.example.com"
        );
        let trust: serde_json::Value = serde_json::from_str(&d.trust_policy).unwrap();
        assert_eq!(
            trust["Statement"][0]["Condition"]["StringEquals"]["id.example.com:aud"],
            "sts.amazonaws.com"
        );
        assert_eq!(split_role_arn("arn:aws:iam::1:role/Name").unwrap().0, "/");
        assert!(split_role_arn("arn:aws:iam::1:user/Name").is_none());
    }
}
