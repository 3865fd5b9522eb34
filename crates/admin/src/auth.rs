//! Administrator authentication. Handlers that change or read the directory take an
//! [`AdminPrincipal`], which only this extractor can produce after checking the bearer token:
//! forgetting the check fails to compile instead of failing open.

use std::future::Future;
use std::pin::Pin;

use actix_web::{FromRequest, HttpRequest, dev::Payload, http::header, web};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use portcullis_domain::Actor;
use rand::RngCore;
use sha2::{Digest, Sha256};

use super::error::ApiError;
use crate::Admin;

/// Prefix of every admin token, so that leaked tokens are easy to recognise and scan for.
pub const TOKEN_PREFIX: &str = "pcat_";

/// A verified administrator.
#[derive(Debug, Clone, Copy)]
pub struct AdminPrincipal {
    pub actor: Actor,
}

/// A new random admin token (256 bits) and the SHA-256 hash that is stored instead of it.
pub fn generate_token() -> (String, [u8; 32]) {
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    let token = format!("{TOKEN_PREFIX}{}", URL_SAFE_NO_PAD.encode(bytes));
    let hash = hash_token(&token);
    (token, hash)
}

/// SHA-256 of a token, the only form in which tokens are stored or compared.
pub fn hash_token(token: &str) -> [u8; 32] {
    Sha256::digest(token.as_bytes()).into()
}

impl FromRequest for AdminPrincipal {
    type Error = ApiError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, Self::Error>>>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let state = req.app_data::<web::Data<Admin>>().cloned();
        let header = req
            .headers()
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        Box::pin(async move {
            let state = state.ok_or_else(|| ApiError::Internal(anyhow::anyhow!("no app state")))?;
            let token = header
                .as_deref()
                .and_then(|h| {
                    h.strip_prefix("Bearer ")
                        .or_else(|| h.strip_prefix("bearer "))
                })
                .map(str::trim)
                .filter(|t| !t.is_empty())
                .ok_or(ApiError::Unauthorized)?;
            // Look-up by hash: the stored value is the hash, so the comparison never touches the
            // secret and its timing says nothing about it.
            let found = state
                .directory
                .find_admin_token(&hash_token(token), chrono::Utc::now())
                .await?
                .ok_or(ApiError::Unauthorized)?;
            let actor = if found.bootstrap {
                Actor::Bootstrap
            } else {
                Actor::AdminToken(found.id)
            };
            Ok(AdminPrincipal { actor })
        })
    }
}
