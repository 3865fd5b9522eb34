//! `/admin/v1/users`: people in the directory.

use actix_web::{HttpResponse, web};
use chrono::{DateTime, Utc};
use std::collections::BTreeMap;

use portcullis_domain::{
    DisplayName, Email, FieldErrors, NewUser, PersonName, User, UserAttributes, UserId, UserName,
    UserPatch,
};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use super::auth::AdminPrincipal;
use super::error::{ApiError, ErrorBody};
use super::groups::GroupView;
use super::paging::{ListQuery, next_token};
use super::wire::{double_option, parse_id, required};
use crate::Admin;

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct UserView {
    pub user_id: Uuid,
    pub user_name: String,
    pub email: String,
    pub display_name: String,
    pub given_name: Option<String>,
    pub family_name: Option<String>,
    pub enabled: bool,
    /// The person's own attributes (`${user:<name>}` in AWS session tags).
    pub attributes: BTreeMap<String, String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl From<User> for UserView {
    fn from(u: User) -> Self {
        Self {
            user_id: u.id.as_uuid(),
            user_name: u.user_name.into(),
            email: u.email.into(),
            display_name: u.display_name.into(),
            given_name: u.given_name.map(Into::into),
            family_name: u.family_name.map(Into::into),
            enabled: u.enabled,
            attributes: u.attributes.into(),
            created_at: u.created_at,
            updated_at: u.updated_at,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct UserList {
    pub users: Vec<UserView>,
    pub next_token: Option<String>,
}

/// A new person. `displayName` defaults to "givenName familyName", else the user name.
#[derive(Debug, Default, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CreateUser {
    #[schema(
        required = true,
        nullable = false,
        min_length = 1,
        max_length = 128,
        pattern = r"^[A-Za-z0-9+=,.@_-]+$"
    )]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user_name: Option<String>,
    #[schema(
        required = true,
        nullable = false,
        max_length = 254,
        pattern = r"^[^\s@\x00-\x1F\x7F-\x9F]{1,64}@[A-Za-z0-9\u00C0-\uFFFF-]+(\.[A-Za-z0-9\u00C0-\uFFFF-]+)+$"
    )]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    #[schema(
        min_length = 1,
        max_length = 256,
        pattern = r"^[^\s\x00-\x1F\x7F-\x9F]([^\x00-\x1F\x7F-\x9F]*[^\s\x00-\x1F\x7F-\x9F])?$"
    )]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub display_name: Option<String>,
    #[schema(
        min_length = 1,
        max_length = 128,
        pattern = r"^[^\s\x00-\x1F\x7F-\x9F]([^\x00-\x1F\x7F-\x9F]*[^\s\x00-\x1F\x7F-\x9F])?$"
    )]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub given_name: Option<String>,
    #[schema(
        min_length = 1,
        max_length = 128,
        pattern = r"^[^\s\x00-\x1F\x7F-\x9F]([^\x00-\x1F\x7F-\x9F]*[^\s\x00-\x1F\x7F-\x9F])?$"
    )]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub family_name: Option<String>,
    /// Default true.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub enabled: Option<bool>,
    /// Custom attributes: at most 50, names 1–64 of `A-Za-z0-9_.-` starting with a letter (not
    /// a built-in field's name), values up to 256 characters.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub attributes: Option<BTreeMap<String, String>>,
}

/// Fields to change; `null` clears `givenName`/`familyName`.
#[derive(Debug, Default, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PatchUser {
    #[schema(min_length = 1, max_length = 128, pattern = r"^[A-Za-z0-9+=,.@_-]+$")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user_name: Option<String>,
    #[schema(
        max_length = 254,
        pattern = r"^[^\s@\x00-\x1F\x7F-\x9F]{1,64}@[A-Za-z0-9\u00C0-\uFFFF-]+(\.[A-Za-z0-9\u00C0-\uFFFF-]+)+$"
    )]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    #[schema(
        min_length = 1,
        max_length = 256,
        pattern = r"^[^\s\x00-\x1F\x7F-\x9F]([^\x00-\x1F\x7F-\x9F]*[^\s\x00-\x1F\x7F-\x9F])?$"
    )]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub display_name: Option<String>,
    #[serde(
        default,
        deserialize_with = "double_option",
        skip_serializing_if = "Option::is_none"
    )]
    #[schema(value_type = Option<String>, min_length = 1, max_length = 128, pattern = r"^[^\s\x00-\x1F\x7F-\x9F]([^\x00-\x1F\x7F-\x9F]*[^\s\x00-\x1F\x7F-\x9F])?$")]
    pub given_name: Option<Option<String>>,
    #[serde(
        default,
        deserialize_with = "double_option",
        skip_serializing_if = "Option::is_none"
    )]
    #[schema(value_type = Option<String>, min_length = 1, max_length = 128, pattern = r"^[^\s\x00-\x1F\x7F-\x9F]([^\x00-\x1F\x7F-\x9F]*[^\s\x00-\x1F\x7F-\x9F])?$")]
    pub family_name: Option<Option<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub enabled: Option<bool>,
    /// Replaces all of the person's attributes (`{}` removes them).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub attributes: Option<BTreeMap<String, String>>,
}

pub(crate) fn parse_new_user(body: CreateUser) -> Result<NewUser, FieldErrors> {
    let mut e = FieldErrors::new();
    let user_name = required(&mut e, "userName", body.user_name)
        .and_then(|v| e.check("userName", UserName::parse(v)));
    let email =
        required(&mut e, "email", body.email).and_then(|v| e.check("email", Email::parse(v)));
    let given_name = body
        .given_name
        .and_then(|v| e.check("givenName", PersonName::parse(v)));
    let family_name = body
        .family_name
        .and_then(|v| e.check("familyName", PersonName::parse(v)));
    let display = body.display_name.or_else(|| {
        let joined = [given_name.as_ref(), family_name.as_ref()]
            .into_iter()
            .flatten()
            .map(PersonName::as_str)
            .collect::<Vec<_>>()
            .join(" ");
        let fallback = if joined.is_empty() {
            user_name.as_ref().map(|u| u.as_str().to_owned())?
        } else {
            joined
        };
        Some(fallback)
    });
    let display_name = display.and_then(|v| e.check("displayName", DisplayName::parse(v)));
    let attributes = match body.attributes {
        None => Some(UserAttributes::default()),
        Some(map) => e.check("attributes", UserAttributes::parse(map)),
    };
    e.finish(|| {
        Some(NewUser {
            user_name: user_name?,
            email: email?,
            display_name: display_name?,
            given_name,
            family_name,
            enabled: body.enabled.unwrap_or(true),
            attributes: attributes?,
        })
    })
}

pub(crate) fn parse_patch(body: PatchUser) -> Result<UserPatch, FieldErrors> {
    let mut e = FieldErrors::new();
    let patch = UserPatch {
        user_name: body
            .user_name
            .and_then(|v| e.check("userName", UserName::parse(v))),
        email: body.email.and_then(|v| e.check("email", Email::parse(v))),
        display_name: body
            .display_name
            .and_then(|v| e.check("displayName", DisplayName::parse(v))),
        given_name: match body.given_name {
            None => None,
            Some(None) => Some(None),
            Some(Some(v)) => e.check("givenName", PersonName::parse(v)).map(Some),
        },
        family_name: match body.family_name {
            None => None,
            Some(None) => Some(None),
            Some(Some(v)) => e.check("familyName", PersonName::parse(v)).map(Some),
        },
        enabled: body.enabled,
        attributes: body
            .attributes
            .and_then(|map| e.check("attributes", UserAttributes::parse(map))),
    };
    e.finish(|| Some(patch))
}

#[utoipa::path(post, path = "/admin/v1/users", tag = "users", request_body = CreateUser,
    responses((status = 201, body = UserView), (status = 400, body = ErrorBody), (status = 409, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn create(
    admin: AdminPrincipal,
    state: web::Data<Admin>,
    body: web::Json<CreateUser>,
) -> Result<HttpResponse, ApiError> {
    let new = parse_new_user(body.into_inner())?;
    let user = state.directory.create_user(admin.actor, new).await?;
    Ok(HttpResponse::Created().json(UserView::from(user)))
}

#[utoipa::path(get, path = "/admin/v1/users", tag = "users", params(ListQuery),
    responses((status = 200, body = UserList), (status = 400, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn list(
    _admin: AdminPrincipal,
    state: web::Data<Admin>,
    q: web::Query<ListQuery>,
) -> Result<HttpResponse, ApiError> {
    let page = state.directory.list_users(q.page()?).await?;
    Ok(HttpResponse::Ok().json(UserList {
        next_token: next_token(page.next),
        users: page.items.into_iter().map(Into::into).collect(),
    }))
}

#[utoipa::path(get, path = "/admin/v1/users/{userId}", tag = "users",
    params(("userId" = Uuid, Path)),
    responses((status = 200, body = UserView), (status = 404, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn get(
    _admin: AdminPrincipal,
    state: web::Data<Admin>,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let id: UserId = parse_id("userId", &path)?;
    Ok(HttpResponse::Ok().json(UserView::from(state.directory.get_user(id).await?)))
}

#[utoipa::path(patch, path = "/admin/v1/users/{userId}", tag = "users",
    params(("userId" = Uuid, Path)), request_body = PatchUser,
    responses((status = 200, body = UserView), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn patch(
    admin: AdminPrincipal,
    state: web::Data<Admin>,
    path: web::Path<String>,
    body: web::Json<PatchUser>,
) -> Result<HttpResponse, ApiError> {
    let id: UserId = parse_id("userId", &path)?;
    let patch = parse_patch(body.into_inner())?;
    let user = state.directory.update_user(admin.actor, id, patch).await?;
    if !user.enabled {
        // A disabled person is signed out everywhere at once.
        state.sessions.revoke_user_sessions(id).await?;
    }
    Ok(HttpResponse::Ok().json(UserView::from(user)))
}

#[utoipa::path(delete, path = "/admin/v1/users/{userId}", tag = "users",
    params(("userId" = Uuid, Path)),
    responses((status = 204), (status = 404, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn delete(
    admin: AdminPrincipal,
    state: web::Data<Admin>,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let id: UserId = parse_id("userId", &path)?;
    state.directory.delete_user(admin.actor, id).await?;
    state.sessions.revoke_user_sessions(id).await?;
    state.provisioning.changed();
    Ok(HttpResponse::NoContent().finish())
}

#[derive(Debug, Serialize, ToSchema)]
pub struct UserGroups {
    pub groups: Vec<GroupView>,
}

#[utoipa::path(get, path = "/admin/v1/users/{userId}/groups", tag = "users",
    params(("userId" = Uuid, Path)),
    responses((status = 200, body = UserGroups), (status = 404, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn groups(
    _admin: AdminPrincipal,
    state: web::Data<Admin>,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let id: UserId = parse_id("userId", &path)?;
    state.directory.get_user(id).await?;
    let groups = state.directory.list_user_groups(id).await?;
    Ok(HttpResponse::Ok().json(UserGroups {
        groups: groups.into_iter().map(Into::into).collect(),
    }))
}

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::resource("/users")
            .route(web::post().to(create))
            .route(web::get().to(list)),
    )
    .service(
        web::resource("/users/{userId}")
            .route(web::get().to(get))
            .route(web::patch().to(patch))
            .route(web::delete().to(delete)),
    )
    .service(web::resource("/users/{userId}/groups").route(web::get().to(groups)));
}
