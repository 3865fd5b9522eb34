//! `/admin/v1/permission-sets`: roles people assume in accounts. The name is the role name.

use actix_web::{HttpResponse, web};
use chrono::{DateTime, Utc};
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
use super::wire::{parse_id, required};
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
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl From<PermissionSet> for PermissionSetView {
    fn from(p: PermissionSet) -> Self {
        Self {
            permission_set_id: p.id.as_uuid(),
            name: p.name.into(),
            description: p.description.into(),
            session_duration: p.session_duration.to_iso8601(),
            created_at: p.created_at,
            updated_at: p.updated_at,
        }
    }
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
}

pub(crate) fn parse(
    b: PermissionSetBody,
    cur: Option<PermissionSet>,
) -> Result<NewPermissionSet, FieldErrors> {
    let mut e = FieldErrors::new();
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
