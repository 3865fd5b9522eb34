//! `/admin/v1/assignments`: which principal holds which permission set in which account.

use actix_web::{HttpRequest, HttpResponse, web};
use portcullis_domain::{AccountAssignment, AccountId, FieldErrors, PermissionSetId, Principal};
use portcullis_store::AssignmentFilter;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use super::auth::AdminPrincipal;
use super::error::{ApiError, ErrorBody};
use super::paging::{next_token, page_request};
use super::wire::{body_or_query, parse_principal, required};
use crate::Admin;

/// An account assignment (request and response).
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct AssignmentBody {
    #[schema(required = true, nullable = false, pattern = r"^[0-9]{12}$")]
    pub account_id: Option<String>,
    #[schema(required = true, nullable = false, format = Uuid)]
    pub permission_set_id: Option<String>,
    /// `USER` or `GROUP`.
    #[schema(required = true, nullable = false, pattern = r"^(USER|GROUP)$")]
    pub principal_type: Option<String>,
    #[schema(required = true, nullable = false, format = Uuid)]
    pub principal_id: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct AssignmentView {
    pub account_id: String,
    pub permission_set_id: Uuid,
    pub principal_type: String,
    pub principal_id: Uuid,
}

impl From<AccountAssignment> for AssignmentView {
    fn from(a: AccountAssignment) -> Self {
        Self {
            account_id: a.account_id.into(),
            permission_set_id: a.permission_set_id.as_uuid(),
            principal_type: a.principal.principal_type().as_str().into(),
            principal_id: a.principal.uuid(),
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct AssignmentList {
    pub assignments: Vec<AssignmentView>,
    pub next_token: Option<String>,
}

/// Filters (all optional; `principalType` and `principalId` go together) and paging.
#[derive(Debug, Default, Serialize, Deserialize, IntoParams)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct AssignmentQuery {
    #[param(pattern = r"^[0-9]{12}$")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub account_id: Option<String>,
    #[param(format = Uuid)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub permission_set_id: Option<String>,
    /// `USER` or `GROUP`, with `principalId`.
    #[param(pattern = r"^(USER|GROUP)$")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub principal_type: Option<String>,
    #[param(format = Uuid)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub principal_id: Option<String>,
    /// 1–1000, default 100.
    #[param(minimum = 1, maximum = 1000)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_results: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_token: Option<String>,
}

pub(crate) fn parse(b: AssignmentBody) -> Result<AccountAssignment, FieldErrors> {
    let mut e = FieldErrors::new();
    let account_id = required(&mut e, "accountId", b.account_id)
        .and_then(|v| e.check("accountId", AccountId::parse(v)));
    let permission_set_id = required(&mut e, "permissionSetId", b.permission_set_id)
        .and_then(|v| e.check("permissionSetId", v.parse::<PermissionSetId>()));
    let principal = parse_principal(&mut e, b.principal_type, b.principal_id);
    e.finish(|| {
        Some(AccountAssignment {
            account_id: account_id?,
            permission_set_id: permission_set_id?,
            principal: principal?,
        })
    })
}

pub(crate) fn parse_filter(q: &AssignmentQuery) -> Result<AssignmentFilter, FieldErrors> {
    let mut e = FieldErrors::new();
    let account_id = q
        .account_id
        .clone()
        .and_then(|v| e.check("accountId", AccountId::parse(v)));
    let permission_set_id = q
        .permission_set_id
        .as_deref()
        .and_then(|v| e.check("permissionSetId", v.parse::<PermissionSetId>()));
    let principal: Option<Principal> = match (&q.principal_type, &q.principal_id) {
        (None, None) => None,
        (t, i) => parse_principal(&mut e, t.clone(), i.clone()),
    };
    e.finish(|| {
        Some(AssignmentFilter {
            account_id,
            permission_set_id,
            principal,
        })
    })
}

#[utoipa::path(post, path = "/admin/v1/assignments", tag = "assignments", request_body = AssignmentBody,
    responses((status = 201, body = AssignmentView), (status = 400, body = ErrorBody), (status = 409, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn create(
    admin: AdminPrincipal,
    state: web::Data<Admin>,
    body: web::Json<AssignmentBody>,
) -> Result<HttpResponse, ApiError> {
    let a = parse(body.into_inner())?;
    state
        .directory
        .create_assignment(admin.actor, a.clone())
        .await?;
    state.provisioning.changed();
    Ok(HttpResponse::Created().json(AssignmentView::from(a)))
}

#[utoipa::path(get, path = "/admin/v1/assignments", tag = "assignments", params(AssignmentQuery),
    responses((status = 200, body = AssignmentList), (status = 400, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn list(
    _admin: AdminPrincipal,
    state: web::Data<Admin>,
    q: web::Query<AssignmentQuery>,
) -> Result<HttpResponse, ApiError> {
    let filter = parse_filter(&q)?;
    let page = page_request(q.max_results, q.next_token.as_deref())?;
    let page = state.directory.list_assignments(&filter, page).await?;
    Ok(HttpResponse::Ok().json(AssignmentList {
        next_token: next_token(page.next),
        assignments: page.items.into_iter().map(Into::into).collect(),
    }))
}

/// The assignment to remove goes in a JSON body or in the query string.
#[utoipa::path(delete, path = "/admin/v1/assignments", tag = "assignments", request_body = AssignmentBody,
    responses((status = 204), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn delete(
    admin: AdminPrincipal,
    state: web::Data<Admin>,
    req: HttpRequest,
    body: web::Bytes,
) -> Result<HttpResponse, ApiError> {
    let a = parse(body_or_query(&req, &body)?)?;
    state.directory.delete_assignment(admin.actor, &a).await?;
    state.provisioning.changed();
    Ok(HttpResponse::NoContent().finish())
}

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::resource("/assignments")
            .route(web::post().to(create))
            .route(web::get().to(list))
            .route(web::delete().to(delete)),
    );
}
