//! `/admin/v1/provisioning`: the connection Portcullis provisions `aws` accounts through, where
//! each (account, permission set) stands, "provision now", and importing accounts from AWS
//! Organizations.

use actix_web::{HttpResponse, web};
use chrono::{DateTime, Utc};
use portcullis_broker::provisioning::{
    ConnectionInput, OrganizationAccount, PairStatus, ProvisioningError, RunScope,
};
use portcullis_domain::cloud::{AccessKeyId, AwsRegion, IamRoleName, StsEndpoint};
use portcullis_domain::{
    AccountId, AccountKind, AwsAccount, DisplayName, Email, Federation, FieldErrors, NewAccount,
    PermissionSetId, ProvisioningConnection, ProvisioningState,
};
use portcullis_store::StoreError;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use super::auth::AdminPrincipal;
use super::error::{ApiError, ErrorBody};
use super::wire::{optional_json, required};
use crate::Admin;

impl From<ProvisioningError> for ApiError {
    fn from(e: ProvisioningError) -> Self {
        match e {
            ProvisioningError::NotConfigured => Self::Conflict {
                field: "connection".into(),
                message: "no provisioning connection is set: PUT /admin/v1/provisioning/connection"
                    .into(),
            },
            ProvisioningError::Store(s) => s.into(),
            e @ ProvisioningError::Aws { .. } => Self::Upstream(e.to_string()),
            // The operator can mend it: set the connection again under the current master key.
            e @ ProvisioningError::Sealed => Self::Conflict {
                field: "connection".into(),
                message: format!("{e}; set the connection again"),
            },
            e @ ProvisioningError::Federation(_) => Self::Internal(anyhow::Error::new(e)),
        }
    }
}

/// The connection as it is stored: everything but the secret, which never comes back.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ConnectionView {
    pub access_key_id: String,
    pub region: Option<String>,
    pub endpoint: Option<String>,
    pub member_role_name: Option<String>,
    pub auto_provision: bool,
    pub updated_at: DateTime<Utc>,
}

impl From<ProvisioningConnection> for ConnectionView {
    fn from(c: ProvisioningConnection) -> Self {
        Self {
            access_key_id: c.access_key_id.into(),
            region: c.region.map(Into::into),
            endpoint: c.endpoint.map(|e| e.as_str().to_owned()),
            member_role_name: c.member_role_name.map(Into::into),
            auto_provision: c.auto_provision,
            updated_at: c.updated_at,
        }
    }
}

/// The connection to set (it replaces the current one as a whole).
#[derive(Default, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ConnectionBody {
    /// An access key of a principal allowed to manage IAM (and, with `memberRoleName`, to
    /// assume that role in the member accounts).
    #[schema(example = "AKIAIOSFODNN7EXAMPLE")]
    pub access_key_id: Option<String>,
    /// Stored sealed with the master key; never returned.
    pub secret_access_key: Option<String>,
    /// For STS and Organizations; default `us-east-1`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub region: Option<String>,
    /// One endpoint for IAM, STS and Organizations instead of AWS's (LocalStack, moto; `http`
    /// only on loopback).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub endpoint: Option<String>,
    /// The role assumed in every account other than the key's own, such as
    /// `OrganizationAccountAccessRole`; absent: the key is used in every account.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub member_role_name: Option<String>,
    /// Provision at once after a change of permission sets, accounts or assignments; default
    /// true.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub auto_provision: Option<bool>,
}

impl std::fmt::Debug for ConnectionBody {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ConnectionBody")
            .field("access_key_id", &self.access_key_id)
            .field("secret_access_key", &"<redacted>")
            .finish_non_exhaustive()
    }
}

fn parse_connection(b: ConnectionBody) -> Result<ConnectionInput, FieldErrors> {
    let mut e = FieldErrors::new();
    let access_key_id = required(&mut e, "accessKeyId", b.access_key_id)
        .and_then(|v| e.check("accessKeyId", AccessKeyId::parse(v)));
    let secret = required(&mut e, "secretAccessKey", b.secret_access_key);
    if let Some(s) = &secret
        && !(16..=128).contains(&s.len())
    {
        e.add("secretAccessKey", "must be 16 to 128 characters");
    }
    let region = b.region.map(|v| e.check("region", AwsRegion::parse(v)));
    let endpoint = b
        .endpoint
        .map(|v| e.check("endpoint", StsEndpoint::parse(v)));
    let member_role_name = b
        .member_role_name
        .map(|v| e.check("memberRoleName", IamRoleName::parse(v)));
    e.finish(|| {
        Some(ConnectionInput {
            access_key_id: access_key_id?,
            secret_access_key: secret?,
            region: region.flatten(),
            endpoint: endpoint.flatten(),
            member_role_name: member_role_name.flatten(),
            auto_provision: b.auto_provision.unwrap_or(true),
        })
    })
}

#[utoipa::path(get, path = "/admin/v1/provisioning/connection", tag = "provisioning",
    responses((status = 200, body = ConnectionView), (status = 404, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn get_connection(
    _admin: AdminPrincipal,
    state: web::Data<Admin>,
) -> Result<HttpResponse, ApiError> {
    match state.provisioning.connection().await? {
        Some(c) => Ok(HttpResponse::Ok().json(ConnectionView::from(c))),
        None => Err(ApiError::NotFound(
            "no provisioning connection is set".into(),
        )),
    }
}

#[utoipa::path(put, path = "/admin/v1/provisioning/connection", tag = "provisioning",
    request_body = ConnectionBody,
    responses((status = 200, body = ConnectionView), (status = 400, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn put_connection(
    admin: AdminPrincipal,
    state: web::Data<Admin>,
    body: web::Json<ConnectionBody>,
) -> Result<HttpResponse, ApiError> {
    let input = parse_connection(body.into_inner())?;
    let c = state
        .provisioning
        .set_connection(admin.actor, input)
        .await?;
    state.provisioning.changed();
    Ok(HttpResponse::Ok().json(ConnectionView::from(c)))
}

#[utoipa::path(delete, path = "/admin/v1/provisioning/connection", tag = "provisioning",
    responses((status = 204)), security(("bearer" = [])))]
pub async fn delete_connection(
    admin: AdminPrincipal,
    state: web::Data<Admin>,
) -> Result<HttpResponse, ApiError> {
    state.provisioning.delete_connection(admin.actor).await?;
    Ok(HttpResponse::NoContent().finish())
}

/// Where one permission set stands in one account.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct StatusView {
    pub account_id: String,
    pub permission_set_id: Uuid,
    pub permission_set_name: String,
    /// The role it is (or was) provisioned as.
    pub role_arn: String,
    /// `inSync`, `outOfDate`, `failed` or `pendingRemoval`.
    #[schema(pattern = "^(inSync|outOfDate|failed|pendingRemoval)$")]
    pub status: String,
    /// `in sync`, `out of date`, `failed: <AWS's message>` or `pending removal`.
    pub summary: String,
    /// AWS's code and message when `failed`.
    pub message: Option<String>,
    pub attempted_at: Option<DateTime<Utc>>,
    pub provisioned_at: Option<DateTime<Utc>>,
}

impl From<PairStatus> for StatusView {
    fn from(s: PairStatus) -> Self {
        Self {
            account_id: s.account_id.as_str().to_owned(),
            permission_set_id: s.permission_set_id.as_uuid(),
            permission_set_name: s.permission_set_name.into(),
            role_arn: s.role_arn,
            status: s.state.code().to_owned(),
            summary: s.state.to_string(),
            message: match &s.state {
                ProvisioningState::Failed(m) => Some(m.clone()),
                _ => None,
            },
            attempted_at: s.attempted_at,
            provisioned_at: s.provisioned_at,
        }
    }
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct StatusList {
    pub statuses: Vec<StatusView>,
}

fn status_list(statuses: Vec<PairStatus>) -> HttpResponse {
    HttpResponse::Ok().json(StatusList {
        statuses: statuses.into_iter().map(Into::into).collect(),
    })
}

#[utoipa::path(get, path = "/admin/v1/provisioning/status", tag = "provisioning",
    responses((status = 200, body = StatusList)), security(("bearer" = [])))]
pub async fn status(
    _admin: AdminPrincipal,
    state: web::Data<Admin>,
) -> Result<HttpResponse, ApiError> {
    Ok(status_list(state.provisioning.status().await?))
}

/// Which pairs to provision now (all when empty).
#[derive(Debug, Default, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RunBody {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub account_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub permission_set_id: Option<Uuid>,
    /// Apply pairs that are in sync as well (repairs changes made in AWS directly).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub force: Option<bool>,
}

#[utoipa::path(post, path = "/admin/v1/provisioning/run", tag = "provisioning",
    request_body(content = Option<RunBody>, description = "optional; empty: every pair"),
    responses((status = 200, body = StatusList), (status = 400, body = ErrorBody),
        (status = 409, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn run(
    admin: AdminPrincipal,
    state: web::Data<Admin>,
    req: actix_web::HttpRequest,
    body: web::Bytes,
) -> Result<HttpResponse, ApiError> {
    let b: RunBody = optional_json(&req, &body)?.unwrap_or_default();
    let mut e = FieldErrors::new();
    let account = b
        .account_id
        .map(|v| e.check("accountId", AccountId::parse(v)));
    e.finish(|| Some(()))?;
    let scope = RunScope {
        account: account.flatten(),
        permission_set: b.permission_set_id.map(PermissionSetId::from_uuid),
        force: b.force.unwrap_or(false),
    };
    Ok(status_list(
        state.provisioning.run(admin.actor, &scope).await?,
    ))
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct OrganizationAccountView {
    pub account_id: String,
    pub name: String,
    pub email: String,
    /// Whether Portcullis has an account with this id already.
    pub imported: bool,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct OrganizationAccountList {
    pub accounts: Vec<OrganizationAccountView>,
}

async fn organization_views(
    state: &Admin,
    accounts: Vec<OrganizationAccount>,
) -> Result<Vec<OrganizationAccountView>, ApiError> {
    let ids: Vec<AccountId> = accounts
        .iter()
        .filter_map(|a| AccountId::parse(&a.id).ok())
        .collect();
    let known: std::collections::HashSet<String> = state
        .directory
        .get_accounts(&ids)
        .await?
        .into_iter()
        .map(|a| a.id.as_str().to_owned())
        .collect();
    Ok(accounts
        .into_iter()
        .map(|a| OrganizationAccountView {
            imported: known.contains(&a.id),
            account_id: a.id,
            name: a.name,
            email: a.email,
        })
        .collect())
}

#[utoipa::path(get, path = "/admin/v1/provisioning/organization-accounts", tag = "provisioning",
    responses((status = 200, body = OrganizationAccountList), (status = 409, body = ErrorBody),
        (status = 502, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn organization_accounts(
    _admin: AdminPrincipal,
    state: web::Data<Admin>,
) -> Result<HttpResponse, ApiError> {
    let accounts = state.provisioning.organization_accounts().await?;
    Ok(HttpResponse::Ok().json(OrganizationAccountList {
        accounts: organization_views(&state, accounts).await?,
    }))
}

/// Which organization accounts to create as `aws` accounts.
#[derive(Debug, Default, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ImportBody {
    /// Only these (default: every active account not yet imported).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub account_ids: Option<Vec<String>>,
    /// `saml` (default) or `webIdentity`, for every account created.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub federation: Option<String>,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ImportResult {
    /// The accounts created.
    pub created: Vec<String>,
    /// Asked for and there already (left unchanged).
    pub existing: Vec<String>,
    /// Not created, with why (a name or email Portcullis does not accept).
    pub skipped: Vec<ImportSkip>,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ImportSkip {
    pub account_id: String,
    pub reason: String,
}

#[utoipa::path(post, path = "/admin/v1/provisioning/import-accounts", tag = "provisioning",
    request_body(content = Option<ImportBody>, description = "optional; empty: every account"),
    responses((status = 200, body = ImportResult), (status = 400, body = ErrorBody),
        (status = 409, body = ErrorBody), (status = 502, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn import_accounts(
    admin: AdminPrincipal,
    state: web::Data<Admin>,
    req: actix_web::HttpRequest,
    body: web::Bytes,
) -> Result<HttpResponse, ApiError> {
    let b: ImportBody = optional_json(&req, &body)?.unwrap_or_default();
    let mut e = FieldErrors::new();
    let federation = match b.federation {
        None => Some(Federation::default()),
        Some(v) => e.check("federation", Federation::parse(&v)),
    };
    let wanted: Option<Vec<AccountId>> = b.account_ids.map(|ids| {
        ids.into_iter()
            .enumerate()
            .filter_map(|(i, id)| e.check(&format!("accountIds.{i}"), AccountId::parse(id)))
            .collect()
    });
    let federation = e.finish(|| federation)?;
    let mut result = ImportResult {
        created: Vec::new(),
        existing: Vec::new(),
        skipped: Vec::new(),
    };
    let listed = state.provisioning.organization_accounts().await?;
    if let Some(wanted) = &wanted {
        for id in wanted {
            if !listed.iter().any(|a| a.id == id.as_str()) {
                result.skipped.push(ImportSkip {
                    account_id: id.as_str().to_owned(),
                    reason: "not an active account of the organization".into(),
                });
            }
        }
    }
    for a in organization_views(&state, listed).await? {
        if wanted
            .as_ref()
            .is_some_and(|w| !w.iter().any(|id| id.as_str() == a.account_id))
        {
            continue;
        }
        if a.imported {
            result.existing.push(a.account_id);
            continue;
        }
        let parsed = (
            AccountId::parse(&a.account_id),
            DisplayName::parse(&a.name),
            Email::parse(&a.email),
        );
        let (Ok(id), Ok(name), Ok(email)) = parsed else {
            result.skipped.push(ImportSkip {
                account_id: a.account_id,
                reason: "its id, name or email is not one Portcullis accepts".into(),
            });
            continue;
        };
        let new = NewAccount {
            id,
            name,
            email,
            console_url: None,
            kind: AccountKind::Aws(AwsAccount {
                federation,
                ..AwsAccount::default()
            }),
        };
        match state.directory.create_account(admin.actor, new).await {
            Ok(created) => result.created.push(created.id.as_str().to_owned()),
            Err(StoreError::Conflict { .. }) => result.existing.push(a.account_id),
            Err(e) => return Err(e.into()),
        }
    }
    Ok(HttpResponse::Ok().json(result))
}

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::resource("/provisioning/connection")
            .route(web::get().to(get_connection))
            .route(web::put().to(put_connection))
            .route(web::delete().to(delete_connection)),
    )
    .route("/provisioning/status", web::get().to(status))
    .route("/provisioning/run", web::post().to(run))
    .route(
        "/provisioning/organization-accounts",
        web::get().to(organization_accounts),
    )
    .route(
        "/provisioning/import-accounts",
        web::post().to(import_accounts),
    );
}
