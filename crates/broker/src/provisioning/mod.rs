//! Provisioning permission sets into `aws` accounts, what IAM Identity Center does: in every
//! `aws` account that has an assignment of a permission set, Portcullis keeps the IAM identity
//! provider it signs in as (a SAML provider made from its metadata, or an OIDC provider for its
//! issuer) and the permission set's role (trust policy, session length, managed policies,
//! inline policy, permissions boundary), and removes the role when the last assignment goes.
//!
//! - The connection (`ProvisioningConnection`) is an access key of a principal allowed to manage
//!   IAM; its secret is sealed here before it reaches the directory. With a member role name,
//!   every account but the key's own is reached by `AssumeRole` into that role
//!   (`OrganizationAccountAccessRole`, the role Organizations creates).
//! - A run plans from the directory (`plan.rs`), applies each (account, permission set) that is
//!   not in sync (`apply.rs`), and records the outcome (`ProvisioningRecord`), so the status is
//!   `in sync`, `out of date` or `failed: <AWS's message>` without asking AWS.
//! - Runs on one node take turns; across nodes every step is idempotent.

mod apply;
mod aws;
mod desired;
mod organizations;
mod plan;
#[cfg(test)]
mod tests;

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use chrono::{DateTime, Utc};
use portcullis_auth::derive::derive;
use portcullis_auth::federation::{CloudAssertions, WebIdentityTokens};
use portcullis_auth::seal::SecretBox;
use portcullis_domain::cloud::{AccessKeyId, AwsRegion, IamRoleName, REMOVAL_ATTEMPT, StsEndpoint};
use portcullis_domain::{
    AccountId, Actor, NewAuditEvent, PermissionSetId, ProvisioningConnection, ProvisioningRecord,
    ProvisioningState, RoleName,
};
use portcullis_sessions::Clock;
use portcullis_store::{Directory, StoreError};

use crate::aws_xml::AwsError;
use apply::{Iam, Removed};
use aws::{AwsClient, Endpoint, Key};
use desired::Desired;

pub use organizations::OrganizationAccount;

const SEAL_LABEL: &[u8] = b"provisioning connection seal";
const SEAL_AAD: &[u8] = b"portcullis provisioning secret v1";
const STS_VERSION: &str = "2011-06-15";

/// Why provisioning could not run at all (one pair's failure is its status instead).
#[derive(Debug, thiserror::Error)]
pub enum ProvisioningError {
    #[error("no provisioning connection is set")]
    NotConfigured,
    #[error(transparent)]
    Store(#[from] StoreError),
    /// What Portcullis federates with could not be made (no signing key).
    #[error("the identity provider's metadata could not be made: {0}")]
    Federation(String),
    /// AWS refused or failed a call that is not about one pair (Organizations, the key itself).
    #[error("AWS answered {code}: {message}")]
    Aws { code: String, message: String },
    #[error("the provisioning connection's secret does not open (was the master key changed?)")]
    Sealed,
}

impl From<AwsError> for ProvisioningError {
    fn from(e: AwsError) -> Self {
        Self::Aws {
            code: e.code,
            message: e.message,
        }
    }
}

/// A connection as an administrator gives it: the secret in the clear, once.
#[derive(Clone)]
pub struct ConnectionInput {
    pub access_key_id: AccessKeyId,
    pub secret_access_key: String,
    pub region: Option<AwsRegion>,
    pub endpoint: Option<StsEndpoint>,
    pub member_role_name: Option<IamRoleName>,
    pub auto_provision: bool,
}

impl std::fmt::Debug for ConnectionInput {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ConnectionInput")
            .field("access_key_id", &self.access_key_id)
            .field("secret_access_key", &"<redacted>")
            .finish_non_exhaustive()
    }
}

/// Where one (account, permission set) stands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PairStatus {
    pub account_id: AccountId,
    pub permission_set_id: PermissionSetId,
    pub permission_set_name: RoleName,
    pub role_arn: String,
    pub state: ProvisioningState,
    pub attempted_at: Option<DateTime<Utc>>,
    pub provisioned_at: Option<DateTime<Utc>>,
}

/// Which pairs a run takes, and whether those in sync are applied again.
#[derive(Debug, Clone, Default)]
pub struct RunScope {
    pub account: Option<AccountId>,
    pub permission_set: Option<PermissionSetId>,
    /// Apply even what is in sync (repairs changes made in AWS behind Portcullis's back).
    pub force: bool,
}

impl RunScope {
    fn takes(&self, account: &AccountId, set: PermissionSetId) -> bool {
        self.account.as_ref().is_none_or(|a| a == account)
            && self.permission_set.is_none_or(|p| p == set)
    }
}

/// The provisioning service.
pub struct Provisioning {
    directory: Arc<dyn Directory>,
    assertions: Arc<dyn CloudAssertions>,
    tokens: Arc<dyn WebIdentityTokens>,
    clock: Arc<dyn Clock>,
    client: AwsClient,
    seal: SecretBox,
    /// Runs on this node take turns.
    run_lock: tokio::sync::Mutex<()>,
    /// A background run is queued (changes coming together make one run).
    queued: AtomicBool,
    /// `portcullis.provisioning.changes`, by outcome (`applied`, `removed`, `failed`).
    changes: opentelemetry::metrics::Counter<u64>,
}

impl std::fmt::Debug for Provisioning {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Provisioning").finish_non_exhaustive()
    }
}

impl Provisioning {
    /// `key`: the broker's key (derived from the master key); the connection's secret is sealed
    /// under a key derived from it.
    pub fn new(
        directory: Arc<dyn Directory>,
        assertions: Arc<dyn CloudAssertions>,
        tokens: Arc<dyn WebIdentityTokens>,
        clock: Arc<dyn Clock>,
        key: &[u8; 32],
    ) -> Result<Self, reqwest::Error> {
        Ok(Self {
            directory,
            assertions,
            tokens,
            clock,
            client: AwsClient::new()?,
            seal: SecretBox::new(&derive(key, SEAL_LABEL)),
            run_lock: tokio::sync::Mutex::new(()),
            queued: AtomicBool::new(false),
            changes: changes_counter(&opentelemetry::metrics::MeterProvider::meter(
                &opentelemetry::metrics::NoopMeterProvider::new(),
                "portcullis",
            )),
        })
    }

    /// Counts what runs do with this meter's `portcullis.provisioning.changes` (by `outcome`:
    /// `applied`, `removed`, `failed`), what an alert on failed provisioning watches.
    pub fn with_metrics(mut self, meter: &opentelemetry::metrics::Meter) -> Self {
        self.changes = changes_counter(meter);
        self
    }

    fn count(&self, outcome: &'static str) {
        self.changes
            .add(1, &[opentelemetry::KeyValue::new("outcome", outcome)]);
    }

    /// Stores the connection, its secret sealed.
    pub async fn set_connection(
        &self,
        actor: Actor,
        input: ConnectionInput,
    ) -> Result<ProvisioningConnection, ProvisioningError> {
        let connection = ProvisioningConnection {
            sealed_secret: self.seal.seal(
                input.secret_access_key.as_bytes(),
                &aad(&input.access_key_id),
            ),
            access_key_id: input.access_key_id,
            region: input.region,
            endpoint: input.endpoint,
            member_role_name: input.member_role_name,
            auto_provision: input.auto_provision,
            updated_at: self.clock.now(),
        };
        self.directory
            .put_provisioning_connection(actor, Some(connection.clone()))
            .await?;
        Ok(connection)
    }

    pub async fn connection(&self) -> Result<Option<ProvisioningConnection>, ProvisioningError> {
        Ok(self.directory.get_provisioning_connection().await?)
    }

    pub async fn delete_connection(&self, actor: Actor) -> Result<(), ProvisioningError> {
        Ok(self
            .directory
            .put_provisioning_connection(actor, None)
            .await?)
    }

    /// Every pair there is or was, and where it stands: nothing is asked of AWS.
    pub async fn status(&self) -> Result<Vec<PairStatus>, ProvisioningError> {
        let plan = plan::Plan::read(self).await?;
        Ok(plan.statuses())
    }

    /// Applies every pair in `scope` that is not in sync (all of them with `force`) and removes
    /// the roles of pairs no longer assigned; returns the statuses after.
    pub async fn run(
        &self,
        actor: Actor,
        scope: &RunScope,
    ) -> Result<Vec<PairStatus>, ProvisioningError> {
        let _turn = self.run_lock.lock().await;
        let connection = self
            .connection()
            .await?
            .ok_or(ProvisioningError::NotConfigured)?;
        let plan = plan::Plan::read(self).await?;
        let mut reach = Reach::new(self, &connection)?;
        for (pair, desired) in &plan.desired {
            if !scope.takes(&pair.0, pair.1) {
                continue;
            }
            let record = plan.records.get(pair);
            let desired = match desired {
                Ok(d) => d,
                Err(why) => {
                    let failure = AwsError {
                        code: "InvalidConfiguration".into(),
                        message: why.clone(),
                        request_id: None,
                    };
                    let fingerprint = format!("invalid:{why}");
                    self.record_failure(actor, pair, record, &fingerprint, "", &failure)
                        .await?;
                    continue;
                }
            };
            let fingerprint = desired.fingerprint();
            let state = ProvisioningState::of(record, Some(&fingerprint));
            if state == ProvisioningState::InSync && !scope.force {
                continue;
            }
            let outcome = self.apply(&mut reach, desired, record).await;
            match outcome {
                Ok(()) => self.record_success(actor, desired, &fingerprint).await?,
                Err(e) => {
                    self.record_failure(actor, pair, record, &fingerprint, &desired.role_arn, &e)
                        .await?;
                }
            }
        }
        for (pair, record) in &plan.records {
            if plan.desired.contains_key(pair) || !scope.takes(&pair.0, pair.1) {
                continue;
            }
            self.remove(actor, &mut reach, record).await?;
        }
        drop(_turn);
        // What changed is in the records; the rest of the plan stands.
        let plan = plan::Plan {
            records: plan::records(&*self.directory).await?,
            ..plan
        };
        Ok(plan.statuses())
    }

    /// Makes `desired` so in its account: the provider once per account and run (however many
    /// permission sets use it), then the role; a role renamed since `record` (a new role
    /// template, say) replaces the old one.
    async fn apply(
        &self,
        reach: &mut Reach<'_>,
        desired: &Desired,
        record: Option<&ProvisioningRecord>,
    ) -> Result<(), AwsError> {
        let key = reach.iam_for(&desired.account_id).await?;
        let iam = Iam {
            client: &self.client,
            key: &key,
            endpoint: &reach.iam,
        };
        let provider = (desired.account_id.clone(), desired.provider.fingerprint());
        iam.apply(desired, reach.providers_done.contains(&provider))
            .await?;
        reach.providers_done.insert(provider);
        match record {
            Some(r) if renamed(&r.role_arn, &desired.role_name) => {
                iam.remove(&r.role_arn).await.map(|_| ())
            }
            _ => Ok(()),
        }
    }

    /// After a change of permission sets, accounts or assignments: when the connection says so,
    /// a run in the background (one for changes that come together).
    pub fn changed(self: &Arc<Self>) {
        if self.queued.swap(true, Ordering::AcqRel) {
            return;
        }
        let me = self.clone();
        tokio::spawn(async move {
            // Take the turn first, so changes made while a run is going get a run of their own.
            let turn = me.run_lock.lock().await;
            me.queued.store(false, Ordering::Release);
            drop(turn);
            match me.connection().await {
                Ok(Some(c)) if c.auto_provision => {
                    if let Err(e) = me.run(Actor::System, &RunScope::default()).await {
                        tracing::warn!(error = %e, "automatic provisioning did not run");
                    }
                }
                Ok(_) => {}
                Err(e) => tracing::warn!(error = %e, "automatic provisioning did not run"),
            }
        });
    }

    /// The active accounts of the organization the connection's key belongs to (its
    /// management account, or a delegated administrator).
    pub async fn organization_accounts(
        &self,
    ) -> Result<Vec<OrganizationAccount>, ProvisioningError> {
        let connection = self
            .connection()
            .await?
            .ok_or(ProvisioningError::NotConfigured)?;
        let reach = Reach::new(self, &connection)?;
        organizations::list_accounts(&self.client, &reach.own, &reach.organizations).await
    }

    async fn remove(
        &self,
        actor: Actor,
        reach: &mut Reach<'_>,
        record: &ProvisioningRecord,
    ) -> Result<(), ProvisioningError> {
        let outcome = match reach.iam_for(&record.account_id).await {
            Ok(key) => {
                Iam {
                    client: &self.client,
                    key: &key,
                    endpoint: &reach.iam,
                }
                .remove(&record.role_arn)
                .await
            }
            Err(e) => Err(e),
        };
        match outcome {
            Ok(removed) => {
                if removed == Removed::NotOurs {
                    tracing::warn!(role = %record.role_arn, "left a role that is not Portcullis's");
                }
                self.directory
                    .delete_provisioning_record(&record.account_id, record.permission_set_id)
                    .await?;
                self.count("removed");
                self.audit(
                    actor,
                    "provisioning.remove",
                    &record.account_id,
                    serde_json::json!({
                        "permissionSetId": record.permission_set_id.to_string(),
                        "permissionSetName": record.permission_set_name.as_str(),
                        "roleArn": record.role_arn,
                        "deleted": removed == Removed::Deleted,
                    }),
                )
                .await
            }
            Err(e) => {
                let failed = ProvisioningRecord {
                    attempted: REMOVAL_ATTEMPT.into(),
                    attempted_at: self.clock.now(),
                    error: Some(message(&e)),
                    ..record.clone()
                };
                self.directory.put_provisioning_record(failed).await?;
                self.audit_failure(actor, &record.account_id, record, &e)
                    .await
            }
        }
    }

    async fn record_success(
        &self,
        actor: Actor,
        d: &Desired,
        fingerprint: &str,
    ) -> Result<(), ProvisioningError> {
        let now = self.clock.now();
        let record = ProvisioningRecord {
            account_id: d.account_id.clone(),
            permission_set_id: d.permission_set_id,
            permission_set_name: d.permission_set_name.clone(),
            role_arn: d.role_arn.clone(),
            provisioned: Some(fingerprint.to_owned()),
            provisioned_at: Some(now),
            attempted: fingerprint.to_owned(),
            attempted_at: now,
            error: None,
        };
        self.directory.put_provisioning_record(record).await?;
        self.count("applied");
        self.audit(
            actor,
            "provisioning.apply",
            &d.account_id,
            serde_json::json!({
                "permissionSetId": d.permission_set_id.to_string(),
                "permissionSetName": d.permission_set_name.as_str(),
                "roleArn": d.role_arn,
                "providerArn": d.provider.arn(),
                "managedPolicies": d.managed_policies,
                "inlinePolicy": d.inline_policy.is_some(),
                "permissionsBoundary": d.permissions_boundary,
            }),
        )
        .await
    }

    async fn record_failure(
        &self,
        actor: Actor,
        pair: &(AccountId, PermissionSetId),
        record: Option<&ProvisioningRecord>,
        fingerprint: &str,
        role_arn: &str,
        e: &AwsError,
    ) -> Result<(), ProvisioningError> {
        let name = plan::set_name(self, pair.1, record).await?;
        let failed = ProvisioningRecord {
            account_id: pair.0.clone(),
            permission_set_id: pair.1,
            permission_set_name: name,
            role_arn: record.map_or(role_arn, |r| r.role_arn.as_str()).to_owned(),
            provisioned: record.and_then(|r| r.provisioned.clone()),
            provisioned_at: record.and_then(|r| r.provisioned_at),
            attempted: fingerprint.to_owned(),
            attempted_at: self.clock.now(),
            error: Some(message(e)),
        };
        self.directory
            .put_provisioning_record(failed.clone())
            .await?;
        self.audit_failure(actor, &pair.0, &failed, e).await
    }

    async fn audit_failure(
        &self,
        actor: Actor,
        account: &AccountId,
        record: &ProvisioningRecord,
        e: &AwsError,
    ) -> Result<(), ProvisioningError> {
        tracing::warn!(account = %account, role = %record.role_arn, code = %e.code, message = %e.message, "provisioning failed");
        self.count("failed");
        self.audit(
            actor,
            "provisioning.fail",
            account,
            serde_json::json!({
                "permissionSetId": record.permission_set_id.to_string(),
                "roleArn": record.role_arn,
                "code": e.code,
                "message": e.message,
                "awsRequestId": e.request_id,
            }),
        )
        .await
    }

    async fn audit(
        &self,
        actor: Actor,
        action: &str,
        account: &AccountId,
        details: serde_json::Value,
    ) -> Result<(), ProvisioningError> {
        let event = NewAuditEvent::new(actor, action, format!("account:{account}"))
            .with_details(details.to_string());
        Ok(self.directory.record_event(event).await?)
    }
}

/// Whether the role `old_arn` names is another role than `new_name` (IAM role names are unique
/// in an account, whatever their path).
fn renamed(old_arn: &str, new_name: &str) -> bool {
    desired::split_role_arn(old_arn).is_some_and(|(_, old)| old != new_name)
}

fn changes_counter(meter: &opentelemetry::metrics::Meter) -> opentelemetry::metrics::Counter<u64> {
    meter
        .u64_counter("portcullis.provisioning.changes")
        .with_description(
            "Permission sets provisioned into, removed from or failed in aws accounts",
        )
        .with_unit("{change}")
        .build()
}

/// `code: message`, what the status shows after `failed:`.
fn message(e: &AwsError) -> String {
    format!("{}: {}", e.code, e.message)
}

fn aad(access_key_id: &AccessKeyId) -> Vec<u8> {
    let mut aad = SEAL_AAD.to_vec();
    aad.push(0);
    aad.extend_from_slice(access_key_id.as_str().as_bytes());
    aad
}

/// How one run reaches accounts: the connection's key, its endpoints, and the keys of accounts
/// reached by assuming the member role (kept for the run only).
struct Reach<'a> {
    provisioning: &'a Provisioning,
    own: Key,
    own_account: Option<String>,
    member_role: Option<IamRoleName>,
    /// (account, provider fingerprint) made or updated in this run.
    providers_done: HashSet<(AccountId, String)>,
    iam: Endpoint,
    sts: Endpoint,
    organizations: Endpoint,
    assumed: HashMap<AccountId, Result<Key, AwsError>>,
}

impl<'a> Reach<'a> {
    fn new(
        provisioning: &'a Provisioning,
        c: &ProvisioningConnection,
    ) -> Result<Self, ProvisioningError> {
        let secret = provisioning
            .seal
            .open(&c.sealed_secret, &aad(&c.access_key_id))
            .map_err(|_| ProvisioningError::Sealed)?;
        let secret = String::from_utf8(secret).map_err(|_| ProvisioningError::Sealed)?;
        let region = c
            .region
            .as_ref()
            .map_or("us-east-1", AwsRegion::as_str)
            .to_owned();
        let at = |public: String, service: &'static str, region: &str| Endpoint {
            url: c
                .endpoint
                .as_ref()
                .map_or(public, |e| e.as_str().to_owned()),
            service,
            region: region.to_owned(),
        };
        Ok(Self {
            provisioning,
            own: Key {
                access_key_id: c.access_key_id.as_str().to_owned(),
                secret_access_key: secret,
                session_token: None,
            },
            own_account: None,
            member_role: c.member_role_name.clone(),
            providers_done: HashSet::new(),
            // IAM is global: one endpoint, signed for us-east-1.
            iam: at("https://iam.amazonaws.com/".into(), "iam", "us-east-1"),
            sts: at(
                format!("https://sts.{region}.amazonaws.com/"),
                "sts",
                &region,
            ),
            organizations: at(
                "https://organizations.us-east-1.amazonaws.com/".into(),
                "organizations",
                "us-east-1",
            ),
            assumed: HashMap::new(),
        })
    }

    /// The key that manages IAM in `account`.
    async fn iam_for(&mut self, account: &AccountId) -> Result<Key, AwsError> {
        let Some(role) = self.member_role.clone() else {
            return Ok(self.own.clone());
        };
        if self.own_account.is_none() {
            let me = self
                .provisioning
                .client
                .query(
                    &self.own,
                    &self.sts,
                    &[("Action", "GetCallerIdentity"), ("Version", STS_VERSION)],
                )
                .await?;
            self.own_account = me.first("Account").map(str::to_owned);
        }
        if self.own_account.as_deref() == Some(account.as_str()) {
            return Ok(self.own.clone());
        }
        if let Some(known) = self.assumed.get(account) {
            return known.clone();
        }
        let role_arn = format!("arn:aws:iam::{account}:role/{role}");
        let assumed = self
            .provisioning
            .client
            .query(
                &self.own,
                &self.sts,
                &[
                    ("Action", "AssumeRole"),
                    ("Version", STS_VERSION),
                    ("RoleArn", &role_arn),
                    ("RoleSessionName", "portcullis-provisioning"),
                    ("DurationSeconds", "900"),
                ],
            )
            .await
            .and_then(|l| {
                let get = |name: &str| {
                    l.first(name).map(str::to_owned).ok_or_else(|| AwsError {
                        code: "BadAnswer".into(),
                        message: format!("AssumeRole answered without {name}"),
                        request_id: None,
                    })
                };
                Ok(Key {
                    access_key_id: get("Credentials/AccessKeyId")?,
                    secret_access_key: get("Credentials/SecretAccessKey")?,
                    session_token: Some(get("Credentials/SessionToken")?),
                })
            })
            .map_err(|e| AwsError {
                message: format!("assuming {role_arn}: {}", e.message),
                ..e
            });
        self.assumed.insert(account.clone(), assumed.clone());
        assumed
    }
}
