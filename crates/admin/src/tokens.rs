//! `/admin/v1/tokens`: administrator API tokens. A token's secret is shown once, at creation.

use actix_web::{HttpResponse, web};
use chrono::{DateTime, Utc};
use portcullis_domain::{
    AdminToken, AdminTokenId, DisplayName, FieldErrors, NewAdminToken,
    duration::parse_iso8601_seconds,
};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use super::auth::{AdminPrincipal, generate_token};
use super::error::{ApiError, ErrorBody};
use super::wire::{parse_id, required};
use crate::Admin;

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct TokenView {
    pub token_id: Uuid,
    pub name: String,
    pub created_at: DateTime<Utc>,
    pub expires_at: Option<DateTime<Utc>>,
    pub bootstrap: bool,
}

impl From<AdminToken> for TokenView {
    fn from(t: AdminToken) -> Self {
        Self {
            token_id: t.id.as_uuid(),
            name: t.name.into(),
            created_at: t.created_at,
            expires_at: t.expires_at,
            bootstrap: t.bootstrap,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct TokenList {
    pub tokens: Vec<TokenView>,
}

/// The new token: `token` is the secret, shown only in this response.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct CreatedToken {
    pub token: String,
    #[serde(flatten)]
    pub info: TokenView,
}

impl std::fmt::Debug for CreatedToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CreatedToken")
            .field("token", &"<redacted>")
            .field("info", &self.info)
            .finish()
    }
}

#[derive(Debug, Default, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CreateToken {
    #[schema(
        required = true,
        nullable = false,
        min_length = 1,
        max_length = 256,
        pattern = r"^[^\s\x00-\x1F\x7F-\x9F]([^\x00-\x1F\x7F-\x9F]*[^\s\x00-\x1F\x7F-\x9F])?$"
    )]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// ISO-8601 lifetime (e.g. `P30D`), at most 10 years; omitted: the token does not expire.
    #[schema(
        pattern = r"^P([0-9]+W|[0-9]+D|([0-9]+D)?T([0-9]+H([0-9]+M)?([0-9]+S)?|[0-9]+M([0-9]+S)?|[0-9]+S))$"
    )]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expires_in: Option<String>,
}

#[utoipa::path(get, path = "/admin/v1/tokens", tag = "tokens",
    responses((status = 200, body = TokenList)),
    security(("bearer" = [])))]
pub async fn list(
    _admin: AdminPrincipal,
    state: web::Data<Admin>,
) -> Result<HttpResponse, ApiError> {
    let tokens = state.directory.list_admin_tokens().await?;
    Ok(HttpResponse::Ok().json(TokenList {
        tokens: tokens.into_iter().map(Into::into).collect(),
    }))
}

#[utoipa::path(post, path = "/admin/v1/tokens", tag = "tokens", request_body = CreateToken,
    responses((status = 201, body = CreatedToken), (status = 400, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn create(
    admin: AdminPrincipal,
    state: web::Data<Admin>,
    body: web::Json<CreateToken>,
) -> Result<HttpResponse, ApiError> {
    let body = body.into_inner();
    let mut e = FieldErrors::new();
    let name =
        required(&mut e, "name", body.name).and_then(|v| e.check("name", DisplayName::parse(v)));
    let expires_at = match body.expires_in {
        None => Some(None),
        Some(v) => e
            .check("expiresIn", parse_iso8601_seconds(&v))
            .and_then(|secs| {
                let secs = i64::try_from(secs)
                    .ok()
                    .filter(|s| *s > 0 && *s <= 10 * 366 * 86_400);
                if secs.is_none() {
                    e.add("expiresIn", "must be between 1 second and 10 years");
                }
                secs
            })
            .map(|secs| Some(Utc::now() + chrono::Duration::seconds(secs))),
    };
    let (name, expires_at) = e.finish(|| Some((name?, expires_at?)))?;
    let (token, hash) = generate_token();
    let stored = state
        .directory
        .create_admin_token(
            admin.actor,
            NewAdminToken {
                name,
                hash,
                expires_at,
                bootstrap: false,
            },
        )
        .await?;
    Ok(HttpResponse::Created().json(CreatedToken {
        token,
        info: stored.into(),
    }))
}

#[utoipa::path(delete, path = "/admin/v1/tokens/{tokenId}", tag = "tokens",
    params(("tokenId" = Uuid, Path)),
    responses((status = 204), (status = 404, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn revoke(
    admin: AdminPrincipal,
    state: web::Data<Admin>,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let id: AdminTokenId = parse_id("tokenId", &path)?;
    state.directory.revoke_admin_token(admin.actor, id).await?;
    Ok(HttpResponse::NoContent().finish())
}

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::resource("/tokens")
            .route(web::get().to(list))
            .route(web::post().to(create)),
    )
    .service(web::resource("/tokens/{tokenId}").route(web::delete().to(revoke)));
}
