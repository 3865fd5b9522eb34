//! `/admin/v1/users/{userId}/consents`: what a person allowed OIDC clients (self-registered
//! SSO-OIDC clients, and applications that ask for consent), and withdrawing it — which also
//! ends the tokens the client holds for them.

use actix_web::{HttpResponse, web};
use chrono::{DateTime, Utc};
use portcullis_domain::{Consent, UserId};
use portcullis_oidc::consent::ConsentError;
use serde::Serialize;
use utoipa::ToSchema;

use super::auth::AdminPrincipal;
use super::error::{ApiError, ErrorBody};
use super::wire::parse_id;
use crate::Admin;

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ConsentView {
    pub client_id: String,
    /// The client's name when the person consented.
    pub client_name: String,
    pub scopes: Vec<String>,
    pub granted_at: DateTime<Utc>,
    /// `null`: until revoked.
    pub expires_at: Option<DateTime<Utc>>,
}

impl From<Consent> for ConsentView {
    fn from(c: Consent) -> Self {
        Self {
            client_id: c.client_id,
            client_name: c.client_name,
            scopes: c.scopes,
            granted_at: c.granted_at,
            expires_at: c.expires_at,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ConsentList {
    pub consents: Vec<ConsentView>,
}

impl From<ConsentError> for ApiError {
    fn from(e: ConsentError) -> Self {
        match e {
            ConsentError::NotFound => ApiError::NotFound("consent not found".into()),
            ConsentError::Store(e) => e.into(),
            ConsentError::Sessions(e) => e.into(),
        }
    }
}

async fn user_id(state: &Admin, raw: &str) -> Result<UserId, ApiError> {
    let id: UserId = parse_id("userId", raw)?;
    state.directory.get_user(id).await?;
    Ok(id)
}

#[utoipa::path(get, path = "/admin/v1/users/{userId}/consents", tag = "users",
    params(("userId" = uuid::Uuid, Path)),
    responses((status = 200, body = ConsentList), (status = 401, body = ErrorBody),
        (status = 404, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn list(
    _admin: AdminPrincipal,
    state: web::Data<Admin>,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let id = user_id(&state, &path).await?;
    let consents = state.oidc.consents(id).await?;
    Ok(HttpResponse::Ok().json(ConsentList {
        consents: consents.into_iter().map(Into::into).collect(),
    }))
}

#[utoipa::path(delete, path = "/admin/v1/users/{userId}/consents/{clientId}", tag = "users",
    params(("userId" = uuid::Uuid, Path), ("clientId" = String, Path, max_length = 128)),
    responses((status = 204), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn revoke(
    admin: AdminPrincipal,
    state: web::Data<Admin>,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, ApiError> {
    let id = user_id(&state, &path.0).await?;
    state.oidc.revoke_consent(admin.actor, id, &path.1).await?;
    Ok(HttpResponse::NoContent().finish())
}

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(web::resource("/users/{userId}/consents").route(web::get().to(list)))
        .service(
            web::resource("/users/{userId}/consents/{clientId}").route(web::delete().to(revoke)),
        );
}
