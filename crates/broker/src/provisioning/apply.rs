//! Making an account hold what [`Desired`] says, with IAM's own calls, and taking it away again.
//! Every step reads before it writes, so a run after a partial failure finishes the job, and two
//! runs at once do the same thing twice rather than something different.

use crate::aws_xml::{AwsError, Leaves};

use super::aws::{AwsClient, Endpoint, Key};
use super::desired::{Desired, INLINE_POLICY_NAME, MANAGED_TAG, Provider};

const IAM_VERSION: &str = "2010-05-08";

/// IAM in one account, through one key.
#[derive(Debug)]
pub(crate) struct Iam<'a> {
    pub(crate) client: &'a AwsClient,
    pub(crate) key: &'a Key,
    pub(crate) endpoint: &'a Endpoint,
}

/// What [`Iam::remove`] did.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Removed {
    Deleted,
    /// Nothing to delete: the role was gone already.
    Gone,
    /// The role is not Portcullis's (no [`MANAGED_TAG`]): left alone.
    NotOurs,
}

fn no_such_entity(e: &AwsError) -> bool {
    e.code == "NoSuchEntity"
}

/// A deletion whose target was gone already did what it was for.
fn gone_is_done(r: Result<Leaves, AwsError>) -> Result<(), AwsError> {
    match r {
        Ok(_) => Ok(()),
        Err(e) if no_such_entity(&e) => Ok(()),
        Err(e) => Err(e),
    }
}

impl Iam<'_> {
    async fn call(&self, action: &str, params: &[(&str, &str)]) -> Result<Leaves, AwsError> {
        let mut all = vec![("Action", action), ("Version", IAM_VERSION)];
        all.extend_from_slice(params);
        self.client.query(self.key, self.endpoint, &all).await
    }

    /// The role, or `None` when it does not exist.
    async fn get_role(&self, name: &str) -> Result<Option<Leaves>, AwsError> {
        match self.call("GetRole", &[("RoleName", name)]).await {
            Ok(l) => Ok(Some(l)),
            Err(e) if no_such_entity(&e) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// Creates or updates the provider (unless `provider_done`: this run made it already), the
    /// role, its policies and its boundary.
    pub(crate) async fn apply(&self, d: &Desired, provider_done: bool) -> Result<(), AwsError> {
        if !provider_done {
            self.ensure_provider(&d.provider).await?;
        }
        let role = &d.role_name;
        let max = d.max_session_seconds.to_string();
        match self.get_role(role).await? {
            None => {
                self.call(
                    "CreateRole",
                    &[
                        ("RoleName", role),
                        ("Path", &d.role_path),
                        ("AssumeRolePolicyDocument", &d.trust_policy),
                        ("MaxSessionDuration", &max),
                        ("Description", &d.description),
                        ("Tags.member.1.Key", MANAGED_TAG),
                        ("Tags.member.1.Value", "true"),
                    ],
                )
                .await?;
            }
            Some(existing) => {
                if !is_ours(&existing) {
                    return Err(not_ours(&d.role_arn));
                }
                self.call(
                    "UpdateAssumeRolePolicy",
                    &[("RoleName", role), ("PolicyDocument", &d.trust_policy)],
                )
                .await?;
                self.call(
                    "UpdateRole",
                    &[
                        ("RoleName", role),
                        ("MaxSessionDuration", &max),
                        ("Description", &d.description),
                    ],
                )
                .await?;
            }
        }
        self.sync_managed(d).await?;
        match &d.inline_policy {
            Some(doc) => {
                self.call(
                    "PutRolePolicy",
                    &[
                        ("RoleName", role),
                        ("PolicyName", INLINE_POLICY_NAME),
                        ("PolicyDocument", doc),
                    ],
                )
                .await?;
            }
            None => self.delete_inline(role, INLINE_POLICY_NAME).await?,
        }
        match &d.permissions_boundary {
            Some(arn) => {
                self.call(
                    "PutRolePermissionsBoundary",
                    &[("RoleName", role), ("PermissionsBoundary", arn)],
                )
                .await?;
            }
            None => self.delete_boundary(role).await?,
        }
        Ok(())
    }

    async fn ensure_provider(&self, provider: &Provider) -> Result<(), AwsError> {
        match provider {
            Provider::Saml {
                arn,
                name,
                metadata,
                ..
            } => {
                let found = self
                    .call("GetSAMLProvider", &[("SAMLProviderArn", arn)])
                    .await;
                match found {
                    Ok(_) => {
                        self.call(
                            "UpdateSAMLProvider",
                            &[("SAMLProviderArn", arn), ("SAMLMetadataDocument", metadata)],
                        )
                        .await?;
                    }
                    Err(e) if no_such_entity(&e) => {
                        self.call(
                            "CreateSAMLProvider",
                            &[("Name", name), ("SAMLMetadataDocument", metadata)],
                        )
                        .await?;
                    }
                    Err(e) => return Err(e),
                }
            }
            Provider::Oidc { arn, url, audience } => {
                let found = self
                    .call(
                        "GetOpenIDConnectProvider",
                        &[("OpenIDConnectProviderArn", arn)],
                    )
                    .await;
                match found {
                    Ok(l) => {
                        if !l.all("ClientIDList/member").contains(&audience.as_str()) {
                            self.call(
                                "AddClientIDToOpenIDConnectProvider",
                                &[("OpenIDConnectProviderArn", arn), ("ClientID", audience)],
                            )
                            .await?;
                        }
                    }
                    Err(e) if no_such_entity(&e) => {
                        // No thumbprint: AWS verifies our issuer's TLS certificate against its
                        // trusted CAs for providers made without one.
                        self.call(
                            "CreateOpenIDConnectProvider",
                            &[("Url", url), ("ClientIDList.member.1", audience)],
                        )
                        .await?;
                    }
                    Err(e) => return Err(e),
                }
            }
        }
        Ok(())
    }

    /// Attaches what is missing and detaches what is no longer wanted.
    async fn sync_managed(&self, d: &Desired) -> Result<(), AwsError> {
        let attached = self.attached(&d.role_name).await?;
        for arn in attached.iter().filter(|a| !d.managed_policies.contains(*a)) {
            self.call(
                "DetachRolePolicy",
                &[("RoleName", &d.role_name), ("PolicyArn", arn)],
            )
            .await?;
        }
        for arn in d.managed_policies.iter().filter(|a| !attached.contains(a)) {
            self.call(
                "AttachRolePolicy",
                &[("RoleName", &d.role_name), ("PolicyArn", arn)],
            )
            .await?;
        }
        Ok(())
    }

    async fn attached(&self, role: &str) -> Result<Vec<String>, AwsError> {
        let l = self
            .call(
                "ListAttachedRolePolicies",
                &[("RoleName", role), ("MaxItems", "1000")],
            )
            .await?;
        Ok(l.all("AttachedPolicies/member/PolicyArn")
            .into_iter()
            .map(str::to_owned)
            .collect())
    }

    async fn delete_inline(&self, role: &str, name: &str) -> Result<(), AwsError> {
        let done = self
            .call(
                "DeleteRolePolicy",
                &[("RoleName", role), ("PolicyName", name)],
            )
            .await;
        gone_is_done(done)
    }

    async fn delete_boundary(&self, role: &str) -> Result<(), AwsError> {
        let done = self
            .call("DeleteRolePermissionsBoundary", &[("RoleName", role)])
            .await;
        gone_is_done(done)
    }

    /// Deletes the role `role_arn` names, with its policies and boundary, if it is ours. The
    /// provider stays: other roles (and people's sessions) may still use it.
    pub(crate) async fn remove(&self, role_arn: &str) -> Result<Removed, AwsError> {
        let Some((_, role)) = super::desired::split_role_arn(role_arn) else {
            return Ok(Removed::Gone);
        };
        let Some(existing) = self.get_role(&role).await? else {
            return Ok(Removed::Gone);
        };
        if !is_ours(&existing) {
            return Ok(Removed::NotOurs);
        }
        for arn in self.attached(&role).await? {
            self.call(
                "DetachRolePolicy",
                &[("RoleName", &role), ("PolicyArn", &arn)],
            )
            .await?;
        }
        let inline = self
            .call(
                "ListRolePolicies",
                &[("RoleName", &role), ("MaxItems", "1000")],
            )
            .await?;
        for name in inline.all("PolicyNames/member") {
            self.delete_inline(&role, name).await?;
        }
        self.delete_boundary(&role).await?;
        match self.call("DeleteRole", &[("RoleName", &role)]).await {
            Ok(_) => Ok(Removed::Deleted),
            Err(e) if no_such_entity(&e) => Ok(Removed::Gone),
            Err(e) => Err(e),
        }
    }
}

/// Whether a `GetRole` answer carries our tag.
fn is_ours(role: &Leaves) -> bool {
    let keys = role.all("Tags/member/Key");
    let values = role.all("Tags/member/Value");
    keys.iter()
        .zip(values.iter())
        .any(|(k, v)| *k == MANAGED_TAG && *v == "true")
}

fn not_ours(role_arn: &str) -> AwsError {
    AwsError {
        code: "RoleNotManaged".into(),
        message: format!(
            "the role {role_arn} exists and was not made by Portcullis (it has no \
             {MANAGED_TAG} tag); rename the permission set, set another role ARN for the \
             account, or delete the role"
        ),
        request_id: None,
    }
}
