//! `/admin/v1/groups`: groups and their members.

use actix_web::{HttpResponse, web};
use chrono::{DateTime, Utc};
use portcullis_domain::{Description, DisplayName, FieldErrors, Group, GroupId, NewGroup, UserId};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use super::auth::AdminPrincipal;
use super::error::{ApiError, ErrorBody};
use super::paging::{ListQuery, next_token};
use super::users::UserList;
use super::wire::{parse_id, required};
use crate::Admin;

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct GroupView {
    pub group_id: Uuid,
    pub display_name: String,
    pub description: String,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl From<Group> for GroupView {
    fn from(g: Group) -> Self {
        Self {
            group_id: g.id.as_uuid(),
            display_name: g.name.into(),
            description: g.description.into(),
            created_at: g.created_at,
            updated_at: g.updated_at,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct GroupList {
    pub groups: Vec<GroupView>,
    pub next_token: Option<String>,
}

/// A new group (POST) or the fields to change (PATCH).
#[derive(Debug, Default, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct GroupBody {
    /// Unique, case-insensitively. Required on create.
    #[schema(
        min_length = 1,
        max_length = 256,
        pattern = r"^[^\s\x00-\x1F\x7F-\x9F]([^\x00-\x1F\x7F-\x9F]*[^\s\x00-\x1F\x7F-\x9F])?$"
    )]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub display_name: Option<String>,
    #[schema(max_length = 700, pattern = r"^[^\x00-\x08\x0B-\x1F\x7F-\x9F]*$")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
}

pub(crate) fn parse(body: GroupBody, current: Option<&Group>) -> Result<NewGroup, FieldErrors> {
    let mut e = FieldErrors::new();
    let name = match (body.display_name, current) {
        (Some(v), _) => e.check("displayName", DisplayName::parse(v)),
        (None, Some(g)) => Some(g.name.clone()),
        (None, None) => required(&mut e, "displayName", None),
    };
    let description = match (body.description, current) {
        (Some(v), _) => e.check("description", Description::parse(v)),
        (None, Some(g)) => Some(g.description.clone()),
        (None, None) => Some(Description::default_empty()),
    };
    e.finish(|| {
        Some(NewGroup {
            name: name?,
            description: description?,
        })
    })
}

#[utoipa::path(post, path = "/admin/v1/groups", tag = "groups", request_body = GroupBody,
    responses((status = 201, body = GroupView), (status = 400, body = ErrorBody), (status = 409, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn create(
    admin: AdminPrincipal,
    state: web::Data<Admin>,
    body: web::Json<GroupBody>,
) -> Result<HttpResponse, ApiError> {
    let new = parse(body.into_inner(), None)?;
    let group = state.directory.create_group(admin.actor, new).await?;
    Ok(HttpResponse::Created().json(GroupView::from(group)))
}

#[utoipa::path(get, path = "/admin/v1/groups", tag = "groups", params(ListQuery),
    responses((status = 200, body = GroupList), (status = 400, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn list(
    _admin: AdminPrincipal,
    state: web::Data<Admin>,
    q: web::Query<ListQuery>,
) -> Result<HttpResponse, ApiError> {
    let page = state.directory.list_groups(q.page()?).await?;
    Ok(HttpResponse::Ok().json(GroupList {
        next_token: next_token(page.next),
        groups: page.items.into_iter().map(Into::into).collect(),
    }))
}

#[utoipa::path(get, path = "/admin/v1/groups/{groupId}", tag = "groups",
    params(("groupId" = Uuid, Path)),
    responses((status = 200, body = GroupView), (status = 404, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn get(
    _admin: AdminPrincipal,
    state: web::Data<Admin>,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let id: GroupId = parse_id("groupId", &path)?;
    Ok(HttpResponse::Ok().json(GroupView::from(state.directory.get_group(id).await?)))
}

#[utoipa::path(patch, path = "/admin/v1/groups/{groupId}", tag = "groups",
    params(("groupId" = Uuid, Path)), request_body = GroupBody,
    responses((status = 200, body = GroupView), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn patch(
    admin: AdminPrincipal,
    state: web::Data<Admin>,
    path: web::Path<String>,
    body: web::Json<GroupBody>,
) -> Result<HttpResponse, ApiError> {
    let id: GroupId = parse_id("groupId", &path)?;
    let current = state.directory.get_group(id).await?;
    let new = parse(body.into_inner(), Some(&current))?;
    let group = state.directory.update_group(admin.actor, id, new).await?;
    Ok(HttpResponse::Ok().json(GroupView::from(group)))
}

#[utoipa::path(delete, path = "/admin/v1/groups/{groupId}", tag = "groups",
    params(("groupId" = Uuid, Path)),
    responses((status = 204), (status = 404, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn delete(
    admin: AdminPrincipal,
    state: web::Data<Admin>,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let id: GroupId = parse_id("groupId", &path)?;
    state.directory.delete_group(admin.actor, id).await?;
    state.provisioning.changed();
    Ok(HttpResponse::NoContent().finish())
}

#[utoipa::path(get, path = "/admin/v1/groups/{groupId}/members", tag = "groups",
    params(("groupId" = Uuid, Path), ListQuery),
    responses((status = 200, body = UserList), (status = 404, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn members(
    _admin: AdminPrincipal,
    state: web::Data<Admin>,
    path: web::Path<String>,
    q: web::Query<ListQuery>,
) -> Result<HttpResponse, ApiError> {
    let id: GroupId = parse_id("groupId", &path)?;
    let page = q.page()?;
    state.directory.get_group(id).await?;
    let page = state.directory.list_members(id, page).await?;
    Ok(HttpResponse::Ok().json(UserList {
        next_token: next_token(page.next),
        users: page.items.into_iter().map(Into::into).collect(),
    }))
}

#[utoipa::path(put, path = "/admin/v1/groups/{groupId}/members/{userId}", tag = "groups",
    params(("groupId" = Uuid, Path), ("userId" = Uuid, Path)),
    responses((status = 204, description = "The user is a member (idempotent)"), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn add_member(
    admin: AdminPrincipal,
    state: web::Data<Admin>,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, ApiError> {
    let group: GroupId = parse_id("groupId", &path.0)?;
    let user: UserId = parse_id("userId", &path.1)?;
    state.directory.add_member(admin.actor, group, user).await?;
    Ok(HttpResponse::NoContent().finish())
}

#[utoipa::path(delete, path = "/admin/v1/groups/{groupId}/members/{userId}", tag = "groups",
    params(("groupId" = Uuid, Path), ("userId" = Uuid, Path)),
    responses((status = 204), (status = 404, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn remove_member(
    admin: AdminPrincipal,
    state: web::Data<Admin>,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, ApiError> {
    let group: GroupId = parse_id("groupId", &path.0)?;
    let user: UserId = parse_id("userId", &path.1)?;
    state
        .directory
        .remove_member(admin.actor, group, user)
        .await?;
    Ok(HttpResponse::NoContent().finish())
}

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::resource("/groups")
            .route(web::post().to(create))
            .route(web::get().to(list)),
    )
    .service(
        web::resource("/groups/{groupId}")
            .route(web::get().to(get))
            .route(web::patch().to(patch))
            .route(web::delete().to(delete)),
    )
    .service(web::resource("/groups/{groupId}/members").route(web::get().to(members)))
    .service(
        web::resource("/groups/{groupId}/members/{userId}")
            .route(web::put().to(add_member))
            .route(web::delete().to(remove_member)),
    );
}
