//! `/admin/v1/keys`: the OIDC token-signing keys (public facts only, never a private half), and
//! rotating them by hand (they also rotate on their own schedule).

use actix_web::{HttpResponse, web};
use chrono::{DateTime, Utc};
use portcullis_idp::oidc::keys::{KeyError, KeyInfo};
use serde::Serialize;
use utoipa::ToSchema;

use super::auth::AdminPrincipal;
use super::error::{ApiError, ErrorBody};
use crate::state::AppState;

/// One signing key.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct KeyView {
    /// The JWS `kid`.
    pub kid: String,
    /// `RS256`, `ES256` or `EdDSA`.
    pub algorithm: String,
    /// `pending` (published, not yet signing), `active` or `retired` (published, not signing).
    pub state: String,
    pub created_at: DateTime<Utc>,
    /// When it starts (or started) signing.
    pub active_from: DateTime<Utc>,
    pub retired_at: Option<DateTime<Utc>>,
}

impl From<KeyInfo> for KeyView {
    fn from(k: KeyInfo) -> Self {
        Self {
            kid: k.kid,
            algorithm: k.algorithm.as_str().into(),
            state: k.state.into(),
            created_at: k.created_at,
            active_from: k.active_from,
            retired_at: k.retired_at,
        }
    }
}

/// The key set.
#[derive(Debug, Serialize, ToSchema)]
pub struct KeyList {
    pub keys: Vec<KeyView>,
}

impl From<Vec<KeyInfo>> for KeyList {
    fn from(keys: Vec<KeyInfo>) -> Self {
        Self {
            keys: keys.into_iter().map(KeyView::from).collect(),
        }
    }
}

/// The directory being unreachable is worth retrying (503); anything else is a fault the
/// operator must look at in the logs, never shown to the client.
fn key_error(e: KeyError) -> ApiError {
    match e {
        KeyError::Unavailable(store) => ApiError::Unavailable(store),
        other => ApiError::Internal(anyhow::Error::new(other).context("signing keys")),
    }
}

/// Every published key: pending, active, and retired ones still published.
#[utoipa::path(get, path = "/admin/v1/keys", tag = "keys",
    responses((status = 200, body = KeyList), (status = 503, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn list(
    _admin: AdminPrincipal,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let keys = state.idp.keys.list().await.map_err(key_error)?;
    Ok(HttpResponse::Ok().json(KeyList::from(keys)))
}

/// Creates a new key per algorithm, published at once and signing after the publish-ahead
/// delay; the current keys retire when the new ones start signing. Answers the key set
/// afterwards.
#[utoipa::path(post, path = "/admin/v1/keys/rotate", tag = "keys",
    responses((status = 200, body = KeyList), (status = 503, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn rotate(
    admin: AdminPrincipal,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let keys = state
        .idp
        .keys
        .rotate(admin.actor)
        .await
        .map_err(key_error)?;
    Ok(HttpResponse::Ok().json(KeyList::from(keys)))
}

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(web::resource("/keys").route(web::get().to(list)))
        .service(web::resource("/keys/rotate").route(web::post().to(rotate)));
}
