//! `/admin/v1/applications`: business applications and who may use them.

use actix_web::{HttpRequest, HttpResponse, web};
use chrono::{DateTime, Utc};
use portcullis_domain::{
    Application, ApplicationAssignment, ApplicationId, ApplicationKind, Description, DisplayName,
    FieldErrors, NewApplication, Principal,
};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use super::auth::AdminPrincipal;
use super::error::{ApiError, ErrorBody};
use super::paging::{ListQuery, next_token};
use super::wire::{body_or_query, parse_id, parse_principal, required};
use crate::state::AppState;

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ApplicationView {
    pub application_id: Uuid,
    pub name: String,
    pub description: String,
    /// `OIDC` or `SAML`.
    pub kind: String,
    pub enabled: bool,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl From<Application> for ApplicationView {
    fn from(a: Application) -> Self {
        Self {
            application_id: a.id.as_uuid(),
            name: a.name.into(),
            description: a.description.into(),
            kind: a.kind.as_str().into(),
            enabled: a.enabled,
            created_at: a.created_at,
            updated_at: a.updated_at,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ApplicationList {
    pub applications: Vec<ApplicationView>,
    pub next_token: Option<String>,
}

/// A new application (POST: `name` and `kind` required) or the fields to change (PATCH; the kind
/// cannot change).
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ApplicationBody {
    pub name: Option<String>,
    pub description: Option<String>,
    /// `OIDC` or `SAML`.
    pub kind: Option<String>,
    pub enabled: Option<bool>,
}

/// A principal assigned to an application.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PrincipalBody {
    /// `USER` or `GROUP`.
    pub principal_type: Option<String>,
    pub principal_id: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct PrincipalView {
    pub principal_type: String,
    pub principal_id: Uuid,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ApplicationAssignmentList {
    pub assignments: Vec<PrincipalView>,
}

fn parse(b: ApplicationBody, cur: Option<&Application>) -> Result<NewApplication, FieldErrors> {
    let mut e = FieldErrors::new();
    let name = match (b.name, cur) {
        (Some(v), _) => e.check("name", DisplayName::parse(v)),
        (None, Some(c)) => Some(c.name.clone()),
        (None, None) => required(&mut e, "name", None),
    };
    let description = match (b.description, cur) {
        (Some(v), _) => e.check("description", Description::parse(v)),
        (None, Some(c)) => Some(c.description.clone()),
        (None, None) => Some(Description::default_empty()),
    };
    let kind = match (b.kind, cur) {
        (Some(v), Some(c)) => match v.parse::<ApplicationKind>() {
            Ok(k) if k == c.kind => Some(k),
            Ok(_) => {
                e.add("kind", "cannot be changed after creation");
                None
            }
            Err(err) => e.check("kind", Err(err)),
        },
        (Some(v), None) => e.check("kind", v.parse::<ApplicationKind>()),
        (None, Some(c)) => Some(c.kind),
        (None, None) => required(&mut e, "kind", None),
    };
    let enabled = b.enabled.or(cur.map(|c| c.enabled)).unwrap_or(true);
    e.finish(|| {
        Some(NewApplication {
            name: name?,
            description: description?,
            kind: kind?,
            enabled,
        })
    })
}

fn parse_assignment(
    app: ApplicationId,
    b: PrincipalBody,
) -> Result<ApplicationAssignment, FieldErrors> {
    let mut e = FieldErrors::new();
    let principal = parse_principal(&mut e, b.principal_type, b.principal_id);
    e.finish(|| {
        Some(ApplicationAssignment {
            application_id: app,
            principal: principal?,
        })
    })
}

fn principal_view(p: Principal) -> PrincipalView {
    PrincipalView {
        principal_type: p.principal_type().as_str().into(),
        principal_id: p.uuid(),
    }
}

#[utoipa::path(post, path = "/admin/v1/applications", tag = "applications", request_body = ApplicationBody,
    responses((status = 201, body = ApplicationView), (status = 400, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn create(
    admin: AdminPrincipal,
    state: web::Data<AppState>,
    body: web::Json<ApplicationBody>,
) -> Result<HttpResponse, ApiError> {
    let new = parse(body.into_inner(), None)?;
    let app = state.directory.create_application(admin.actor, new).await?;
    Ok(HttpResponse::Created().json(ApplicationView::from(app)))
}

#[utoipa::path(get, path = "/admin/v1/applications", tag = "applications", params(ListQuery),
    responses((status = 200, body = ApplicationList), (status = 400, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn list(
    _admin: AdminPrincipal,
    state: web::Data<AppState>,
    q: web::Query<ListQuery>,
) -> Result<HttpResponse, ApiError> {
    let page = state.directory.list_applications(q.page()?).await?;
    Ok(HttpResponse::Ok().json(ApplicationList {
        next_token: next_token(page.next),
        applications: page.items.into_iter().map(Into::into).collect(),
    }))
}

#[utoipa::path(get, path = "/admin/v1/applications/{applicationId}", tag = "applications",
    params(("applicationId" = Uuid, Path)),
    responses((status = 200, body = ApplicationView), (status = 404, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn get(
    _admin: AdminPrincipal,
    state: web::Data<AppState>,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let id: ApplicationId = parse_id("applicationId", &path)?;
    Ok(HttpResponse::Ok().json(ApplicationView::from(
        state.directory.get_application(id).await?,
    )))
}

#[utoipa::path(patch, path = "/admin/v1/applications/{applicationId}", tag = "applications",
    params(("applicationId" = Uuid, Path)), request_body = ApplicationBody,
    responses((status = 200, body = ApplicationView), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn patch(
    admin: AdminPrincipal,
    state: web::Data<AppState>,
    path: web::Path<String>,
    body: web::Json<ApplicationBody>,
) -> Result<HttpResponse, ApiError> {
    let id: ApplicationId = parse_id("applicationId", &path)?;
    let current = state.directory.get_application(id).await?;
    let new = parse(body.into_inner(), Some(&current))?;
    let app = state
        .directory
        .update_application(admin.actor, id, new)
        .await?;
    Ok(HttpResponse::Ok().json(ApplicationView::from(app)))
}

#[utoipa::path(delete, path = "/admin/v1/applications/{applicationId}", tag = "applications",
    params(("applicationId" = Uuid, Path)),
    responses((status = 204), (status = 404, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn delete(
    admin: AdminPrincipal,
    state: web::Data<AppState>,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let id: ApplicationId = parse_id("applicationId", &path)?;
    state.directory.delete_application(admin.actor, id).await?;
    Ok(HttpResponse::NoContent().finish())
}

#[utoipa::path(get, path = "/admin/v1/applications/{applicationId}/assignments", tag = "applications",
    params(("applicationId" = Uuid, Path)),
    responses((status = 200, body = ApplicationAssignmentList), (status = 404, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn list_assignments(
    _admin: AdminPrincipal,
    state: web::Data<AppState>,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let id: ApplicationId = parse_id("applicationId", &path)?;
    state.directory.get_application(id).await?;
    let principals = state.directory.list_application_assignments(id).await?;
    Ok(HttpResponse::Ok().json(ApplicationAssignmentList {
        assignments: principals.into_iter().map(principal_view).collect(),
    }))
}

#[utoipa::path(post, path = "/admin/v1/applications/{applicationId}/assignments", tag = "applications",
    params(("applicationId" = Uuid, Path)), request_body = PrincipalBody,
    responses((status = 201, body = PrincipalView), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn assign(
    admin: AdminPrincipal,
    state: web::Data<AppState>,
    path: web::Path<String>,
    body: web::Json<PrincipalBody>,
) -> Result<HttpResponse, ApiError> {
    let id: ApplicationId = parse_id("applicationId", &path)?;
    let a = parse_assignment(id, body.into_inner())?;
    state.directory.get_application(id).await?;
    state.directory.assign_application(admin.actor, a).await?;
    Ok(HttpResponse::Created().json(principal_view(a.principal)))
}

/// The principal to remove goes in a JSON body or in the query string.
#[utoipa::path(delete, path = "/admin/v1/applications/{applicationId}/assignments", tag = "applications",
    params(("applicationId" = Uuid, Path)), request_body = PrincipalBody,
    responses((status = 204), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn unassign(
    admin: AdminPrincipal,
    state: web::Data<AppState>,
    path: web::Path<String>,
    req: HttpRequest,
    body: web::Bytes,
) -> Result<HttpResponse, ApiError> {
    let id: ApplicationId = parse_id("applicationId", &path)?;
    let a = parse_assignment(id, body_or_query(&body, req.query_string())?)?;
    state.directory.unassign_application(admin.actor, a).await?;
    Ok(HttpResponse::NoContent().finish())
}

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::resource("/applications")
            .route(web::post().to(create))
            .route(web::get().to(list)),
    )
    .service(
        web::resource("/applications/{applicationId}")
            .route(web::get().to(get))
            .route(web::patch().to(patch))
            .route(web::delete().to(delete)),
    )
    .service(
        web::resource("/applications/{applicationId}/assignments")
            .route(web::get().to(list_assignments))
            .route(web::post().to(assign))
            .route(web::delete().to(unassign)),
    );
}
