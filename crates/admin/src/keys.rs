//! `/admin/v1/keys`: the OIDC token-signing keys and the SAML signing keys (public facts only,
//! never a private half), and rotating the OIDC keys by hand (both also rotate on their own
//! schedule).

use actix_web::{HttpResponse, web};
use chrono::{DateTime, Utc};
use portcullis_oidc::keys::{KeyError, KeyInfo};
use portcullis_saml::keys::{SamlKeyError, SamlKeyInfo};
use serde::Serialize;
use utoipa::ToSchema;

use super::auth::AdminPrincipal;
use super::error::{ApiError, ErrorBody};
use crate::Admin;

/// One signing key.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct KeyView {
    /// The JWS `kid` (OIDC), or the key's id in the SAML metadata's certificates (SAML).
    pub kid: String,
    /// What the key signs: `oidc` (tokens; listed in `keys`) or `saml` (assertions and
    /// responses; listed in `samlKeys`).
    #[schema(example = "oidc")]
    pub purpose: &'static str,
    /// `RS256`, `ES256` or `EdDSA` (OIDC); `RSA-SHA256` (SAML).
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
            purpose: "oidc",
            algorithm: k.algorithm.as_str().into(),
            state: k.state.into(),
            created_at: k.created_at,
            active_from: k.active_from,
            retired_at: k.retired_at,
        }
    }
}

impl From<SamlKeyInfo> for KeyView {
    fn from(k: SamlKeyInfo) -> Self {
        Self {
            kid: k.kid,
            purpose: "saml",
            algorithm: k.algorithm,
            state: k.state.into(),
            created_at: k.created_at,
            active_from: k.active_from,
            retired_at: k.retired_at,
        }
    }
}

/// The key set.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct KeyList {
    /// The OIDC token-signing keys (the JWKS), newest first.
    pub keys: Vec<KeyView>,
    /// The SAML signing keys (the certificates in the IdP metadata), newest first. A field of its
    /// own so that clients reading `keys` as the JWKS's keys see what they always saw.
    pub saml_keys: Vec<KeyView>,
}

/// Both key sets as they are now.
async fn key_set(state: &Admin, oidc: Vec<KeyInfo>) -> Result<KeyList, ApiError> {
    let saml = state.saml.keys.list().await.map_err(saml_key_error)?;
    Ok(KeyList {
        keys: oidc.into_iter().map(KeyView::from).collect(),
        saml_keys: saml.into_iter().map(KeyView::from).collect(),
    })
}

fn saml_key_error(e: SamlKeyError) -> ApiError {
    match e {
        SamlKeyError::Unavailable(store) => ApiError::Unavailable(store),
        other => ApiError::Internal(anyhow::Error::new(other).context("SAML signing keys")),
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

/// Every published key, OIDC (`keys`) and SAML (`samlKeys`): pending, active, and retired ones
/// still published.
#[utoipa::path(get, path = "/admin/v1/keys", tag = "keys",
    responses((status = 200, body = KeyList), (status = 503, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn list(
    _admin: AdminPrincipal,
    state: web::Data<Admin>,
) -> Result<HttpResponse, ApiError> {
    let keys = state.oidc.keys.list().await.map_err(key_error)?;
    Ok(HttpResponse::Ok().json(key_set(&state, keys).await?))
}

/// Creates a new OIDC key per algorithm, published at once and signing after the publish-ahead
/// delay; the current keys retire when the new ones start signing. Answers the key set
/// afterwards (the SAML keys unchanged: they rotate on their own schedule).
#[utoipa::path(post, path = "/admin/v1/keys/rotate", tag = "keys",
    responses((status = 200, body = KeyList), (status = 503, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn rotate(
    admin: AdminPrincipal,
    state: web::Data<Admin>,
) -> Result<HttpResponse, ApiError> {
    let keys = state
        .oidc
        .keys
        .rotate(admin.actor)
        .await
        .map_err(key_error)?;
    Ok(HttpResponse::Ok().json(key_set(&state, keys).await?))
}

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(web::resource("/keys").route(web::get().to(list)))
        .service(web::resource("/keys/rotate").route(web::post().to(rotate)));
}
