//! `/admin/v1/permission-sets`: roles people assume in accounts. The name is the role name.

use actix_web::{HttpResponse, web};
use chrono::{DateTime, Utc};
use portcullis_domain::cloud::{
    CloudPolicies, InlinePolicy, ManagedPolicyArn, PermissionsBoundary, PolicyReference,
};
use portcullis_domain::{
    Description, FieldErrors, NewPermissionSet, PermissionSet, PermissionSetDuration,
    PermissionSetId, RoleName,
};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use super::auth::AdminPrincipal;
use super::error::{ApiError, ErrorBody};
use super::paging::{ListQuery, next_token};
use super::wire::{double_option, parse_id, required};
use crate::Admin;

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct PermissionSetView {
    pub permission_set_id: Uuid,
    /// The role name: 1–32 of `A-Z a-z 0-9 + = , . @ _ -`.
    pub name: String,
    pub description: String,
    /// ISO-8601, `PT1H` to `PT12H`.
    pub session_duration: String,
    /// AWS managed policies its role gets in `aws` accounts.
    pub aws_managed_policies: Vec<String>,
    /// Customer managed policies (by name and path, in each account) its role gets.
    pub customer_managed_policies: Vec<PolicyReferenceBody>,
    /// The inline policy (a JSON policy document), if any.
    pub inline_policy: Option<String>,
    pub permissions_boundary: Option<BoundaryBody>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl From<PermissionSet> for PermissionSetView {
    fn from(p: PermissionSet) -> Self {
        let policies = p.policies;
        Self {
            permission_set_id: p.id.as_uuid(),
            name: p.name.into(),
            description: p.description.into(),
            session_duration: p.session_duration.to_iso8601(),
            aws_managed_policies: policies
                .aws_managed_policies
                .into_iter()
                .map(Into::into)
                .collect(),
            customer_managed_policies: policies
                .customer_managed_policies
                .iter()
                .map(PolicyReferenceBody::from)
                .collect(),
            inline_policy: policies.inline_policy.map(Into::into),
            permissions_boundary: policies.permissions_boundary.map(|b| match b {
                PermissionsBoundary::ManagedPolicyArn(a) => BoundaryBody {
                    managed_policy_arn: Some(a.into()),
                    customer_managed_policy_reference: None,
                },
                PermissionsBoundary::CustomerManagedPolicyReference(r) => BoundaryBody {
                    managed_policy_arn: None,
                    customer_managed_policy_reference: Some(PolicyReferenceBody::from(&r)),
                },
            }),
            created_at: p.created_at,
            updated_at: p.updated_at,
        }
    }
}

/// A customer managed policy: the policy of this name and path in each account.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PolicyReferenceBody {
    #[schema(example = "BillingReadOnly", min_length = 1, max_length = 128)]
    pub name: String,
    /// Default `/`.
    #[schema(example = "/")]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
}

impl From<&PolicyReference> for PolicyReferenceBody {
    fn from(r: &PolicyReference) -> Self {
        Self {
            name: r.name().to_owned(),
            path: Some(r.path().to_owned()),
        }
    }
}

/// A permissions boundary: exactly one of an AWS managed policy ARN or a customer managed
/// policy (Identity Center's `PermissionsBoundary`).
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct BoundaryBody {
    #[schema(example = "arn:aws:iam::aws:policy/PowerUserAccess")]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub managed_policy_arn: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub customer_managed_policy_reference: Option<PolicyReferenceBody>,
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct PermissionSetList {
    pub permission_sets: Vec<PermissionSetView>,
    pub next_token: Option<String>,
}

/// A new permission set (POST: `name` required, `sessionDuration` default `PT1H`) or the fields to
/// change (PATCH).
#[derive(Debug, Default, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PermissionSetBody {
    /// The role name. Required on create.
    #[schema(min_length = 1, max_length = 32, pattern = r"^[A-Za-z0-9+=,.@_-]+$")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[schema(max_length = 700, pattern = r"^[^\x00-\x08\x0B-\x1F\x7F-\x9F]*$")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// ISO-8601, `PT1H` to `PT12H`; default `PT1H`.
    #[schema(
        pattern = r"^P([0-9]+W|[0-9]+D|([0-9]+D)?T([0-9]+H([0-9]+M)?([0-9]+S)?|[0-9]+M([0-9]+S)?|[0-9]+S))$"
    )]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub session_duration: Option<String>,
    /// AWS managed policy ARNs (`arn:aws:iam::aws:policy/…`), replacing the list; together with
    /// the customer managed ones at most 20.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub aws_managed_policies: Option<Vec<String>>,
    /// Customer managed policies by name and path, replacing the list.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub customer_managed_policies: Option<Vec<PolicyReferenceBody>>,
    /// A JSON policy document (as a string, at most 10,240 characters besides white space);
    /// `null` removes it.
    #[serde(
        default,
        deserialize_with = "double_option",
        skip_serializing_if = "Option::is_none"
    )]
    #[schema(value_type = Option<String>)]
    pub inline_policy: Option<Option<String>>,
    /// `null` removes it.
    #[serde(
        default,
        deserialize_with = "double_option",
        skip_serializing_if = "Option::is_none"
    )]
    #[schema(value_type = Option<BoundaryBody>)]
    pub permissions_boundary: Option<Option<BoundaryBody>>,
}

fn reference(e: &mut FieldErrors, field: &str, r: PolicyReferenceBody) -> Option<PolicyReference> {
    e.check(
        field,
        PolicyReference::new(&r.name, r.path.as_deref().unwrap_or("/")),
    )
}

/// The policies from `b`, each field absent keeping `cur`'s.
fn parse_policies(
    e: &mut FieldErrors,
    b: &mut PermissionSetBody,
    cur: CloudPolicies,
) -> Option<CloudPolicies> {
    let before = e.0.len();
    let aws_managed_policies = match b.aws_managed_policies.take() {
        None => cur.aws_managed_policies,
        Some(list) => list
            .into_iter()
            .enumerate()
            .filter_map(|(i, a)| {
                e.check(
                    &format!("awsManagedPolicies.{i}"),
                    ManagedPolicyArn::parse(a),
                )
            })
            .collect(),
    };
    let customer_managed_policies = match b.customer_managed_policies.take() {
        None => cur.customer_managed_policies,
        Some(list) => list
            .into_iter()
            .enumerate()
            .filter_map(|(i, r)| reference(e, &format!("customerManagedPolicies.{i}"), r))
            .collect(),
    };
    let inline_policy = match b.inline_policy.take() {
        None => cur.inline_policy,
        Some(None) => None,
        Some(Some(doc)) => e.check("inlinePolicy", InlinePolicy::parse(doc)),
    };
    let permissions_boundary = match b.permissions_boundary.take() {
        None => cur.permissions_boundary,
        Some(None) => None,
        Some(Some(BoundaryBody {
            managed_policy_arn: Some(arn),
            customer_managed_policy_reference: None,
        })) => e
            .check(
                "permissionsBoundary.managedPolicyArn",
                ManagedPolicyArn::parse(arn),
            )
            .map(PermissionsBoundary::ManagedPolicyArn),
        Some(Some(BoundaryBody {
            managed_policy_arn: None,
            customer_managed_policy_reference: Some(r),
        })) => reference(e, "permissionsBoundary.customerManagedPolicyReference", r)
            .map(PermissionsBoundary::CustomerManagedPolicyReference),
        Some(Some(_)) => {
            e.add(
                "permissionsBoundary",
                "give exactly one of managedPolicyArn and customerManagedPolicyReference",
            );
            None
        }
    };
    if e.0.len() > before {
        return None;
    }
    let policies = CloudPolicies {
        aws_managed_policies,
        customer_managed_policies,
        inline_policy,
        permissions_boundary,
    };
    if let Err((field, why)) = policies.check() {
        e.add(field, why.message);
        return None;
    }
    Some(policies)
}

pub(crate) fn parse(
    mut b: PermissionSetBody,
    cur: Option<PermissionSet>,
) -> Result<NewPermissionSet, FieldErrors> {
    let mut e = FieldErrors::new();
    let policies = parse_policies(
        &mut e,
        &mut b,
        cur.as_ref().map(|c| c.policies.clone()).unwrap_or_default(),
    );
    let name = match (b.name, &cur) {
        (Some(v), _) => e.check("name", RoleName::parse(v)),
        (None, Some(c)) => Some(c.name.clone()),
        (None, None) => required(&mut e, "name", None),
    };
    let description = match (b.description, &cur) {
        (Some(v), _) => e.check("description", Description::parse(v)),
        (None, Some(c)) => Some(c.description.clone()),
        (None, None) => Some(Description::default_empty()),
    };
    let session_duration = match (b.session_duration, &cur) {
        (Some(v), _) => e.check("sessionDuration", PermissionSetDuration::parse_iso8601(&v)),
        (None, Some(c)) => Some(c.session_duration),
        (None, None) => Some(PermissionSetDuration::default()),
    };
    e.finish(|| {
        Some(NewPermissionSet {
            name: name?,
            description: description?,
            session_duration: session_duration?,
            policies: policies?,
        })
    })
}

#[utoipa::path(post, path = "/admin/v1/permission-sets", tag = "permission-sets", request_body = PermissionSetBody,
    responses((status = 201, body = PermissionSetView), (status = 400, body = ErrorBody), (status = 409, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn create(
    admin: AdminPrincipal,
    state: web::Data<Admin>,
    body: web::Json<PermissionSetBody>,
) -> Result<HttpResponse, ApiError> {
    let new = parse(body.into_inner(), None)?;
    let ps = state
        .directory
        .create_permission_set(admin.actor, new)
        .await?;
    Ok(HttpResponse::Created().json(PermissionSetView::from(ps)))
}

#[utoipa::path(get, path = "/admin/v1/permission-sets", tag = "permission-sets", params(ListQuery),
    responses((status = 200, body = PermissionSetList), (status = 400, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn list(
    _admin: AdminPrincipal,
    state: web::Data<Admin>,
    q: web::Query<ListQuery>,
) -> Result<HttpResponse, ApiError> {
    let page = state.directory.list_permission_sets(q.page()?).await?;
    Ok(HttpResponse::Ok().json(PermissionSetList {
        next_token: next_token(page.next),
        permission_sets: page.items.into_iter().map(Into::into).collect(),
    }))
}

#[utoipa::path(get, path = "/admin/v1/permission-sets/{permissionSetId}", tag = "permission-sets",
    params(("permissionSetId" = Uuid, Path)),
    responses((status = 200, body = PermissionSetView), (status = 404, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn get(
    _admin: AdminPrincipal,
    state: web::Data<Admin>,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let id: PermissionSetId = parse_id("permissionSetId", &path)?;
    Ok(HttpResponse::Ok().json(PermissionSetView::from(
        state.directory.get_permission_set(id).await?,
    )))
}

#[utoipa::path(patch, path = "/admin/v1/permission-sets/{permissionSetId}", tag = "permission-sets",
    params(("permissionSetId" = Uuid, Path)), request_body = PermissionSetBody,
    responses((status = 200, body = PermissionSetView), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn patch(
    admin: AdminPrincipal,
    state: web::Data<Admin>,
    path: web::Path<String>,
    body: web::Json<PermissionSetBody>,
) -> Result<HttpResponse, ApiError> {
    let id: PermissionSetId = parse_id("permissionSetId", &path)?;
    let current = state.directory.get_permission_set(id).await?;
    let new = parse(body.into_inner(), Some(current))?;
    let ps = state
        .directory
        .update_permission_set(admin.actor, id, new)
        .await?;
    state.provisioning.changed();
    Ok(HttpResponse::Ok().json(PermissionSetView::from(ps)))
}

#[utoipa::path(delete, path = "/admin/v1/permission-sets/{permissionSetId}", tag = "permission-sets",
    params(("permissionSetId" = Uuid, Path)),
    responses((status = 204), (status = 404, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn delete(
    admin: AdminPrincipal,
    state: web::Data<Admin>,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let id: PermissionSetId = parse_id("permissionSetId", &path)?;
    state
        .directory
        .delete_permission_set(admin.actor, id)
        .await?;
    state.provisioning.changed();
    Ok(HttpResponse::NoContent().finish())
}

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::resource("/permission-sets")
            .route(web::post().to(create))
            .route(web::get().to(list)),
    )
    .service(
        web::resource("/permission-sets/{permissionSetId}")
            .route(web::get().to(get))
            .route(web::patch().to(patch))
            .route(web::delete().to(delete)),
    );
}
